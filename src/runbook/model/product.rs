//! The product file: what the product is, how to detect it and its facts on a
//! cluster, its variables, and the rules for moving between its versions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runbook::located::Located;
use crate::runbook::template::Template;
use crate::runbook::version::{Version, VersionFormat, VersionRange};

/// `runbooks/<product>/product.yaml`: what the product is, how to find it on a
/// cluster, and the rules for moving between its versions.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Identifier used on the command line; must equal the directory name.
    pub id: Located<String>,
    /// Name shown to operators.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Known releases. The planner stops only at these between the installed and
    /// the target version, choosing the newest patch of each minor line.
    pub releases: Vec<Version>,
    /// What the vendor writes before the version number, when it writes
    /// something: `stable-` for `stable-2.14.10`, `v` for `v1.6.0`. Releases,
    /// `--from`/`--to` and detected image tags and Helm app versions may carry
    /// it; stepwise shows versions with it and `{{from_version}}`/`{{to_version}}`
    /// include it. Version ranges are written without it.
    pub version_prefix: Option<String>,
    /// Facts about an installation that decide which procedure fits.
    #[serde(default)]
    pub facts: Vec<Fact>,
    /// Variables every procedure of this product may use.
    #[serde(default)]
    pub variables: Vec<Variable>,
    /// Ways to find the installed version, tried in order.
    #[serde(default)]
    pub detect: Vec<Detect>,
    /// Which single hops between versions are allowed.
    pub path: PathPolicy,
    /// Notes shown for hops they apply to.
    #[serde(default)]
    pub notes: Vec<VersionNote>,
    /// Other products whose version notes also apply: version for version,
    /// unless `built_on` says which of their releases a version is built on.
    #[serde(default)]
    pub includes_notes_of: Vec<String>,
    /// Which release of an included product a range of this product's versions
    /// is built on, when the numbers differ: Kong Mesh 1.4 runs Kuma 1.3, so a
    /// Kong Mesh hop shows the Kuma notes of the Kuma releases it brings.
    #[serde(default)]
    pub built_on: Vec<BuiltOn>,
    /// How far behind the control plane what runs beside it may be, as the
    /// vendor states it; checked on the cluster before the first step.
    #[serde(default)]
    pub skew: Vec<SkewRule>,
    /// Values that belong to a release, such as the chart version that ships
    /// it: release → name → value. A hop's templates see the values of the
    /// release it goes to as `{{name}}`; the operator is never asked for them.
    #[serde(default)]
    pub release_values: BTreeMap<String, BTreeMap<String, String>>,
    /// How a scratch cluster gets the product for a shadow rehearsal
    /// (`stepwise rehearse --shadow-context`), by install method: a value of
    /// the `install_method` fact, or `default` for a product without one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shadow: BTreeMap<String, ShadowRecipe>,
}

/// The value a shadow recipe's commands see as the path of the primary's Helm values.
pub const PRIMARY_VALUES: &str = "primary_values";

/// The commands that put the installed release on a shadow cluster and take
/// it away again. Their templates see the session's values: the variables
/// (the settings read from the primary cluster among them), the facts,
/// `{{from_version}}` and `{{to_version}}`. KUBECONFIG points at the shadow.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowRecipe {
    /// Installs the release the primary runs, with its settings.
    pub install: super::action::CommandSpec,
    /// Removes the product from the shadow once the rehearsal has ended
    /// (by then it runs the target release, or whatever the procedure left).
    pub remove: super::action::CommandSpec,
    /// Namespaces, comma-separated once rendered, that get a stand-in
    /// Deployment each on the shadow, so the procedure's re-roll has workloads
    /// to restart (for a mesh: `{{meshed_namespaces}}`).
    pub workloads: Option<Template>,
    /// For a Helm install: the primary's release whose values the shadow is
    /// installed with. stepwise reads them from the release (as `helm get
    /// values` would) into a private file in the shadow's working folder, and
    /// the commands see its path as `{{primary_values}}`.
    pub helm_values: Option<HelmReleaseRef>,
}

/// A Helm release on the cluster.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelmReleaseRef {
    pub namespace: Template,
    pub release: Template,
}

impl Product {
    /// How the product writes its versions.
    pub fn version_format(&self) -> VersionFormat {
        VersionFormat::new(self.version_prefix.as_deref().unwrap_or_default())
    }

    /// The release of the included product `other` that `version` is built on;
    /// `None` when the offset would go below minor 0.
    pub fn base_version(&self, other: &str, version: &Version) -> Option<Version> {
        let Some(rule) = self.built_on.iter().find(|b| b.product.value == other && b.versions.matches(version)) else {
            return Some(version.clone());
        };
        let minor = i64::try_from(version.minor()).ok()?.checked_add(rule.minor_offset)?;
        Some(Version::new(version.major(), u64::try_from(minor).ok()?, version.patch()))
    }

    /// Writes every release the product's way; a release with a label the
    /// product does not write keeps it (validation reports it).
    pub fn adopt_version_format(&mut self) {
        let format = self.version_format();
        for release in &mut self.releases {
            if let Ok(adopted) = format.adopt(release.clone()) {
                *release = adopted;
            }
        }
    }
}

/// Versions of this product in `versions` are built on the release of
/// `product` whose minor is `minor_offset` away: `-1` reads Kong Mesh 1.4.2 as
/// Kuma 1.3.2. Versions no entry covers are built on the same number.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuiltOn {
    /// An included product (one of `includes_notes_of`).
    pub product: Located<String>,
    /// This product's versions the entry covers.
    pub versions: Located<VersionRange>,
    /// Minor releases between this product's number and the base's.
    pub minor_offset: i64,
}

/// Containers of an image (a data-plane sidecar, say) may run at most
/// `max_minors_behind` minor releases behind the release a hop goes to. A hop
/// that would leave one further behind is refused before anything runs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkewRule {
    /// What it is, as operators call it: `data plane`.
    pub what: String,
    /// The image's name: the last part of its path, without registry or tag
    /// (`kuma-dp` matches `docker.io/kong/kuma-dp:2.7.3`).
    pub image: String,
    /// Minor releases it may be behind, counted over the product's releases.
    pub max_minors_behind: u32,
    /// What the operator does when something is further behind.
    pub advice: String,
}

/// An installation property such as `platform` or `install_method`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    pub name: Located<String>,
    #[serde(default)]
    pub description: String,
    /// Every value the fact can take.
    pub values: Vec<String>,
    /// The value assumed when neither detection nor the operator says otherwise.
    pub default: Located<String>,
    /// How the value is read from the cluster when the operator does not give it.
    pub detect: Option<FactDetect>,
}

/// A fact read from the cluster: the value it takes when the cluster serves an
/// API group (OpenShift serves `config.openshift.io`, for instance).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FactDetect {
    /// The API group whose presence decides, e.g. `config.openshift.io`.
    pub api_group: String,
    /// The fact's value when the group is served; one of the fact's `values`.
    pub value: String,
}

/// A value the operator supplies (or accepts the default of) before a run.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub name: Located<String>,
    pub description: String,
    pub default: Option<Template>,
    /// A regular expression the whole value must match.
    pub pattern: Option<Located<String>>,
    /// The only values allowed, when the set is closed.
    #[serde(default)]
    pub choices: Vec<String>,
    /// A password, token or key: its value is asked for without echo and masked
    /// wherever stepwise shows or records text (screen, transcript, log, report).
    #[serde(default)]
    pub secret: bool,
    /// A default read from the cluster when the variable has no value.
    pub discover: Option<Discover>,
}

impl Variable {
    /// Whether `value` is one the variable allows: one of its choices, and
    /// matching its pattern; the error says what is allowed.
    pub fn check(&self, value: &str) -> Result<(), String> {
        if !self.choices.is_empty() && !self.choices.iter().any(|c| c == value) {
            return Err(format!("`{value}` is not one of: {}", self.choices.join(", ")));
        }
        if let Some(pattern) = &self.pattern {
            let re = regex::Regex::new(&format!("^(?:{})$", pattern.value)).map_err(|e| e.to_string())?;
            if !re.is_match(value) {
                return Err(format!("`{value}` does not match the pattern {}", pattern.value));
            }
        }
        Ok(())
    }
}

/// Where a variable's default comes from on the cluster. Exactly one key is set.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Discover {
    /// The namespaces (comma-separated) whose pods run a container of this image,
    /// named without registry, path or tag: `kuma-dp` finds the meshed namespaces.
    pub namespaces_running: Option<String>,
    /// A field of a JSON document kept in a ConfigMap: the setting a product was
    /// deployed with, so that deploying it again keeps it.
    pub config_map: Option<ConfigMapField>,
    /// The chart version of the deployed revision of a Helm release: the chart
    /// the operator runs now, to keep while the product's version changes.
    pub helm_chart_version: Option<HelmReleaseRef>,
}

/// One field of a JSON document stored under a key of a ConfigMap (in `data`
/// or `binaryData`). A string is taken as it is, a number or boolean as written,
/// a list of strings joined with commas; anything else is not a value.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigMapField {
    /// The ConfigMap's namespace (a template: `{{namespace}}`).
    pub namespace: Template,
    pub name: String,
    /// The key whose value is the JSON document.
    pub key: String,
    /// Where the field is in the document, as a JSON Pointer: `/mtls/mode`.
    pub pointer: String,
    /// A regular expression whose first group is the value, for a field that
    /// holds more than the value (`^(.+)/nginx-mesh-sidecar:` takes the registry
    /// out of an image name).
    pub capture: Option<String>,
    /// Found values put in the words of the variable (`{"true": "false"}` turns
    /// "injection enabled" into "do not disable injection").
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

/// One way to detect the installed version. Exactly one key is set.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    /// Read the tag of a Deployment container's image.
    pub deployment_image: Option<DeploymentImage>,
    /// Read the chart or app version of a Helm release.
    pub helm_release: Option<HelmRelease>,
    /// Facts this detection establishes when it finds the product.
    #[serde(default)]
    pub sets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentImage {
    pub namespace: Template,
    pub name: Template,
    /// Container name; the first container when absent.
    pub container: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelmRelease {
    pub namespace: Template,
    pub release: Template,
    /// Which version to read from the release.
    #[serde(default)]
    pub version_from: HelmVersionField,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HelmVersionField {
    #[default]
    AppVersion,
    ChartVersion,
}

/// The upgrade-path policy: a hop from one version to another is allowed when at
/// least one rule allows it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathPolicy {
    pub rules: Vec<HopRule>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HopRule {
    /// Why the rule exists, shown in plans and refusals.
    pub reason: String,
    /// Versions a hop may start from (any when absent).
    pub from: Option<Located<VersionRange>>,
    /// Versions a hop may end at (any when absent).
    pub to: Option<Located<VersionRange>>,
    /// The most minor versions one hop may cross within a major version.
    pub max_minor: Option<u64>,
    /// Whether a hop may cross into a new major version.
    #[serde(default)]
    pub allow_major: bool,
    /// Text the operator must acknowledge before a hop this rule allows.
    pub acknowledge: Option<String>,
}

/// A note shown for every hop whose start and end versions match.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionNote {
    pub id: Located<String>,
    pub severity: Severity,
    pub title: String,
    pub text: String,
    pub from: Option<Located<VersionRange>>,
    pub to: Option<Located<VersionRange>>,
    /// Facts the installation must have for the note to show: fact name to
    /// the values that fit. A fact the product does not know (in a product
    /// that includes this product's notes) does not hide the note.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: FactValues,
}

/// Facts and the values of each that fit: `{install_method: [helm]}`.
pub type FactValues = BTreeMap<Located<String>, Vec<Located<String>>>;

/// Whether `facts` give every named fact one of its listed values; a fact
/// missing from `facts` fits when `missing_fits`.
pub fn facts_fit(wanted: &FactValues, facts: &BTreeMap<String, String>, missing_fits: bool) -> bool {
    wanted.iter().all(|(fact, allowed)| match facts.get(&fact.value) {
        Some(v) => allowed.iter().any(|x| &x.value == v),
        None => missing_fits,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information; needs no answer.
    Info,
    /// The operator must acknowledge it before the run goes on.
    Warning,
    /// A breaking change; acknowledged like a warning, shown more prominently.
    Breaking,
}

impl Detect {
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        if let Some(d) = &self.deployment_image {
            out.extend([&d.namespace, &d.name]);
        }
        if let Some(h) = &self.helm_release {
            out.extend([&h.namespace, &h.release]);
        }
        out
    }
}
