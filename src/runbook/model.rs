//! The runbook format: what a product file and a procedure file may say.
//!
//! These types are the format's single source of truth: the loader reads YAML into
//! them, and `assets/runbook.schema.json` is generated from them. Every struct
//! rejects unknown fields so a misspelt key is an error, not a silently ignored line.
//!
//! Steps name their kind by the one action key they carry (`backup:`, `command:`,
//! ...) rather than by a `kind:` tag: the YAML reader can then keep exact positions
//! for everything inside a step.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::arg::Arg;
use super::duration::Timeout;
use super::located::Located;
use super::template::Template;
use super::version::{Version, VersionRange};

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
    /// Other products whose version notes also apply, version for version.
    #[serde(default)]
    pub includes_notes_of: Vec<String>,
    /// How far behind the control plane what runs beside it may be, as the
    /// vendor states it; checked on the cluster before the first step.
    #[serde(default)]
    pub skew: Vec<SkewRule>,
    /// Values that belong to a release, such as the chart version that ships
    /// it: release → name → value. A hop's templates see the values of the
    /// release it goes to as `{{name}}`; the operator is never asked for them.
    #[serde(default)]
    pub release_values: BTreeMap<String, BTreeMap<String, String>>,
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

/// A procedure file: how to perform one kind of hop.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    pub id: Located<String>,
    /// The product id this procedure belongs to.
    pub product: Located<String>,
    pub title: String,
    pub description: String,
    /// How much the procedure disturbs the running system; when several procedures
    /// fit a hop the planner picks the least disruptive.
    pub disruption: Disruption,
    pub applies: Applies,
    #[serde(default)]
    pub variables: Vec<Variable>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disruption {
    Low,
    Medium,
    High,
}

/// When a procedure fits a hop.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Applies {
    pub from: Located<VersionRange>,
    pub to: Located<VersionRange>,
    /// Only when `from` is the release immediately before `to`: on the minor line
    /// right before `to`'s in the product's list (any patch of it), or an earlier
    /// patch of `to`'s own line.
    #[serde(default)]
    pub previous_release_only: bool,
    /// Facts the installation must have: fact name to the values that fit.
    #[serde(default)]
    pub when: FactValues,
}

/// When a step belongs to a hop: the hop's versions and the installation's
/// facts. A step whose condition does not hold is left out of that hop's plan,
/// and so out of its rehearsal and run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepCondition {
    /// Versions the hop starts from (any when absent).
    pub from: Option<Located<VersionRange>>,
    /// Versions the hop goes to (any when absent).
    pub to: Option<Located<VersionRange>>,
    /// Facts the installation must have: fact name to the values that fit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: FactValues,
}

impl StepCondition {
    pub fn holds(&self, from: &Version, to: &Version, facts: &BTreeMap<String, String>) -> bool {
        self.from.as_ref().is_none_or(|r| r.matches(from))
            && self.to.as_ref().is_none_or(|r| r.matches(to))
            && facts_fit(&self.facts, facts, false)
    }
}

/// One step of a procedure. Exactly one action key (`note`, `check`, `backup`,
/// `command`, `apply`, `restore`, `rollout_restart`, `wait`, `delete`, `manual`) is set.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: Located<String>,
    /// A template: shown with the session's values (`Restart {{meshed_namespaces}}`).
    pub title: Template,
    /// What the step does and why, in the operator's terms. A template, shown
    /// with the session's values.
    pub explain: Template,
    /// Whether the step removes or replaces something that only a backup can bring back.
    #[serde(default)]
    pub destructive: bool,
    /// How the operator confirms the step; see [`Step::confirmation`] for the default.
    pub confirm: Option<Confirm>,
    /// Whether the operator may skip the step.
    #[serde(default)]
    pub skippable: bool,
    /// The kube context to act on, usually a variable (for procedures spanning clusters).
    pub context: Option<Template>,
    /// Repeat the step for each comma-separated item of this variable, with the
    /// item available as `{{item}}` (for example once per zone cluster).
    pub for_each: Option<Located<String>>,
    /// Only for some hops or installations: a step whose condition does not
    /// hold is not part of the hop's plan.
    pub when: Option<StepCondition>,
    pub note: Option<NoteAction>,
    pub check: Option<CheckAction>,
    pub backup: Option<BackupAction>,
    pub command: Option<CommandAction>,
    pub apply: Option<ApplyAction>,
    pub restore: Option<RestoreAction>,
    pub rollout_restart: Option<RolloutRestartAction>,
    pub wait: Option<WaitAction>,
    pub delete: Option<DeleteAction>,
    pub manual: Option<ManualAction>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Confirm {
    /// Runs without asking.
    None,
    /// Asks yes or no.
    Yes,
    /// The operator types this word (a template, such as the namespace).
    Typed(Template),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteAction {
    pub severity: Severity,
    pub text: Template,
}

/// A check that must pass before the procedure goes on.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckAction {
    /// These custom-resource kinds (`plural.group`) are served by the cluster.
    CrdsExist(Vec<Template>),
    /// A Deployment exists and is available.
    DeploymentAvailable(ObjectRef),
    /// A Deployment runs at least `min` replicas; otherwise warn (or fail).
    MinReplicas(MinReplicas),
    /// A command exits with status 0.
    CommandSucceeds(CommandSpec),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    pub namespace: Template,
    pub name: Template,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinReplicas {
    pub namespace: Template,
    pub name: Template,
    pub min: u32,
    /// Fail instead of warning when the count is lower.
    #[serde(default)]
    pub required: bool,
}

/// Saves custom resources to the session's backup folder.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupAction {
    /// Resource kinds as `plural.group`, e.g. `trafficsplits.split.smi-spec.io`.
    pub resources: Vec<Template>,
    /// Namespaces to back up; all namespaces when absent.
    pub namespaces: Option<Vec<Template>>,
}

/// A child process, from an argument vector (never a shell string).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The program and its arguments, one element per argument (see [`Arg`]).
    pub argv: Vec<Arg>,
    #[serde(default)]
    pub env: BTreeMap<String, Template>,
    pub timeout: Option<Timeout>,
    /// The command changes nothing: it only reads, or prints manifests for
    /// stepwise to apply. A rehearsal runs it; without this, a rehearsal shows
    /// it and runs nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandAction {
    /// The program and its arguments, one element per argument: a template, or
    /// `{flag, value}` passed as `FLAG=VALUE` and left out when the value is empty.
    pub argv: Vec<Arg>,
    /// The same command in a form that changes nothing; run in rehearsal. Without
    /// it, rehearsal shows the command but does not run it.
    pub dry_run_argv: Option<Vec<Arg>>,
    #[serde(default)]
    pub env: BTreeMap<String, Template>,
    pub timeout: Option<Timeout>,
    /// The command changes nothing (it only reads): a rehearsal runs it as it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// A command that exits 0 when this step's work is already done; offered when
    /// resuming after the step was cut short.
    pub verify: Option<CommandSpec>,
}

/// Server-side apply of manifests, from a file or from a command's standard output.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ApplyAction {
    /// A YAML file, relative to the runbook file's directory unless absolute.
    File(Template),
    /// A command that prints manifests (it must change nothing itself).
    Command(CommandSpec),
}

/// Re-creates what a backup step saved.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreAction {
    /// The id of the backup step to restore from.
    pub from: Located<String>,
    /// How many objects are created at once.
    pub concurrency: Option<usize>,
}

pub use crate::base::WorkloadKind;

/// Restarts workloads the way `kubectl rollout restart` does, then waits for them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutRestartAction {
    /// Namespaces to look in; all namespaces when absent.
    pub namespaces: Option<Vec<Template>>,
    /// A label selector the workloads must match.
    pub selector: Option<Template>,
    /// A pod-template annotation (`key` or `key=value`) the workloads must carry.
    pub annotation: Option<Template>,
    /// Workload kinds; all three when absent.
    pub kinds: Option<Vec<WorkloadKind>>,
    /// Also delete matching pods that no controller owns.
    #[serde(default)]
    pub delete_unowned_pods: bool,
    pub timeout: Option<Timeout>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitAction {
    #[serde(rename = "for")]
    pub condition: WaitFor,
    pub timeout: Option<Timeout>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WaitFor {
    /// An object no longer exists.
    Gone(GoneRef),
    /// A Deployment is available with all replicas updated.
    DeploymentAvailable(ObjectRef),
    /// A CustomResourceDefinition (`plural.group`) is Established.
    CrdEstablished(Template),
    /// A namespace has been deleted completely.
    NamespaceGone(Template),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoneRef {
    /// `plural.group` (or a core plural such as `pods`), e.g. `jobs.batch`.
    pub resource: Template,
    pub namespace: Option<Template>,
    pub name: Template,
}

/// Deletes objects through the API, by name or by label selector, and waits
/// until they are gone. A delete step is destructive: it needs
/// `destructive: true` and `confirm: {typed: ...}`. A rehearsal deletes as a
/// server-side dry run, which lists what would be deleted.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAction {
    /// `plural.group` (or a core plural such as `configmaps`), e.g. `jobs.batch`;
    /// a template.
    pub resource: Template,
    /// The objects' namespace (a template); for a namespaced kind without it,
    /// a selector looks in every namespace.
    pub namespace: Option<Template>,
    /// The objects' names (templates). Exactly one of `names` and `selector`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<Template>,
    /// A label selector (a template) such as `app=acme-migrations`.
    pub selector: Option<Template>,
    /// Wait until every deleted object is gone (finalizers done).
    #[serde(default = "yes")]
    pub wait: bool,
    pub timeout: Option<Timeout>,
}

fn yes() -> bool {
    true
}

/// Something only the operator can do; the run waits until they say it is done.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualAction {
    pub instructions: Template,
    pub verify: Option<CommandSpec>,
}

/// The keys of a step that name its action.
pub const ACTION_KEYS: [&str; 10] =
    ["note", "check", "backup", "command", "apply", "restore", "rollout_restart", "wait", "delete", "manual"];

/// A step's action, once the loader has checked that exactly one key is set.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Note(&'a NoteAction),
    Check(&'a CheckAction),
    Backup(&'a BackupAction),
    Command(&'a CommandAction),
    Apply(&'a ApplyAction),
    Restore(&'a RestoreAction),
    RolloutRestart(&'a RolloutRestartAction),
    Wait(&'a WaitAction),
    Delete(&'a DeleteAction),
    Manual(&'a ManualAction),
}

impl Action<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Note(_) => "note",
            Action::Check(_) => "check",
            Action::Backup(_) => "backup",
            Action::Command(_) => "command",
            Action::Apply(_) => "apply",
            Action::Restore(_) => "restore",
            Action::RolloutRestart(_) => "rollout_restart",
            Action::Wait(_) => "wait",
            Action::Delete(_) => "delete",
            Action::Manual(_) => "manual",
        }
    }
}

impl Step {
    /// Every action key that is set, so the loader can insist on exactly one.
    pub fn actions(&self) -> Vec<Action<'_>> {
        let candidates = [
            self.note.as_ref().map(Action::Note),
            self.check.as_ref().map(Action::Check),
            self.backup.as_ref().map(Action::Backup),
            self.command.as_ref().map(Action::Command),
            self.apply.as_ref().map(Action::Apply),
            self.restore.as_ref().map(Action::Restore),
            self.rollout_restart.as_ref().map(Action::RolloutRestart),
            self.wait.as_ref().map(Action::Wait),
            self.delete.as_ref().map(Action::Delete),
            self.manual.as_ref().map(Action::Manual),
        ];
        candidates.into_iter().flatten().collect()
    }

    /// The step's action. Steps in a loaded catalog always have exactly one.
    pub fn action(&self) -> Action<'_> {
        self.actions().into_iter().next().expect("the loader guarantees every step has one action")
    }

    /// How the step is confirmed: as written, or by default `none` for steps that
    /// only read or inform, and `yes` for the rest.
    pub fn confirmation(&self) -> Confirm {
        if let Some(c) = &self.confirm {
            return c.clone();
        }
        match self.action() {
            Action::Note(n) if n.severity == Severity::Info => Confirm::None,
            Action::Check(_) | Action::Backup(_) | Action::Wait(_) => Confirm::None,
            _ => Confirm::Yes,
        }
    }

    /// Every template the step uses, for checking that variables are defined.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out: Vec<&Template> = vec![&self.title, &self.explain];
        out.extend(self.context.iter());
        if let Some(Confirm::Typed(t)) = &self.confirm {
            out.push(t);
        }
        match self.actions().first() {
            None => {}
            Some(Action::Note(n)) => out.push(&n.text),
            Some(Action::Check(c)) => match c {
                CheckAction::CrdsExist(v) => out.extend(v),
                CheckAction::DeploymentAvailable(o) => out.extend([&o.namespace, &o.name]),
                CheckAction::MinReplicas(m) => out.extend([&m.namespace, &m.name]),
                CheckAction::CommandSucceeds(c) => out.extend(c.templates()),
            },
            Some(Action::Backup(b)) => {
                out.extend(&b.resources);
                out.extend(b.namespaces.iter().flatten());
            }
            Some(Action::Command(c)) => {
                out.extend(c.argv.iter().map(Arg::template));
                out.extend(c.dry_run_argv.iter().flatten().map(Arg::template));
                out.extend(c.env.values());
                out.extend(c.verify.iter().flat_map(CommandSpec::templates));
            }
            Some(Action::Apply(ApplyAction::File(f))) => out.push(f),
            Some(Action::Apply(ApplyAction::Command(c))) => out.extend(c.templates()),
            Some(Action::Restore(_)) => {}
            Some(Action::RolloutRestart(r)) => {
                out.extend(r.namespaces.iter().flatten());
                out.extend(r.selector.iter().chain(r.annotation.iter()));
            }
            Some(Action::Wait(w)) => match &w.condition {
                WaitFor::Gone(g) => out.extend([&g.resource, &g.name].into_iter().chain(g.namespace.iter())),
                WaitFor::DeploymentAvailable(o) => out.extend([&o.namespace, &o.name]),
                WaitFor::CrdEstablished(t) | WaitFor::NamespaceGone(t) => out.push(t),
            },
            Some(Action::Delete(d)) => {
                out.push(&d.resource);
                out.extend(d.namespace.iter().chain(&d.names).chain(d.selector.iter()));
            }
            Some(Action::Manual(m)) => {
                out.push(&m.instructions);
                out.extend(m.verify.iter().flat_map(CommandSpec::templates));
            }
        }
        out
    }
}

impl Step {
    /// Whether the step belongs to a hop from `from` to `to` with these facts.
    pub fn applies_to(&self, from: &Version, to: &Version, facts: &BTreeMap<String, String>) -> bool {
        self.when.as_ref().is_none_or(|c| c.holds(from, to, facts))
    }

    /// Every argument vector the step runs, its checks and verifications included.
    pub fn argvs(&self) -> Vec<&[Arg]> {
        let specs: Vec<&CommandSpec> = match self.actions().first() {
            Some(Action::Check(CheckAction::CommandSucceeds(c))) => vec![c],
            Some(Action::Command(c)) => {
                let mut out: Vec<&[Arg]> = vec![&c.argv];
                out.extend(c.dry_run_argv.as_deref());
                out.extend(c.verify.iter().map(|v| v.argv.as_slice()));
                return out;
            }
            Some(Action::Apply(ApplyAction::Command(c))) => vec![c],
            Some(Action::Manual(m)) => m.verify.iter().collect(),
            _ => Vec::new(),
        };
        specs.into_iter().map(|c| c.argv.as_slice()).collect()
    }
}

impl CommandSpec {
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.argv.iter().map(Arg::template).chain(self.env.values())
    }
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
