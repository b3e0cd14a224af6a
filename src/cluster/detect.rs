//! Finding the installed version of a product the way its product file says: the
//! image tag of a Deployment's container, or the chart or app version of a Helm
//! release (read from Helm's own release Secret, without the helm binary).
//!
//! Every detection entry is tried, in order, so that sources that disagree are
//! noticed rather than the first one silently winning. "Not installed" and
//! "ambiguous" are distinct errors, because they call for different actions.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde_json::Value;

use super::connect::Connection;
use super::error::ClusterError;
use crate::base::{Version, VersionFormat};

/// The Secret type Helm 3 and later store releases in.
pub const HELM_RELEASE_TYPE: &str = "helm.sh/release.v1";
/// A decoded release larger than this is refused rather than read into memory.
const MAX_RELEASE_BYTES: u64 = 64 << 20;

/// The installed version and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detected {
    pub version: Version,
    /// Where the version was read, in the operator's terms.
    pub source: String,
    /// Other sources that found the same version.
    pub confirmed_by: Vec<String>,
    /// Facts the finding entries set; an earlier entry wins over a later one.
    pub facts: BTreeMap<String, String>,
    /// Sources that found something they could not read as a version.
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("{product} does not appear to be installed: {}", looked.join("; "))]
    NotInstalled { product: String, looked: Vec<String> },
    #[error("the installed version of {product} is ambiguous ({reason}): {}", findings.join("; "))]
    Ambiguous { product: String, reason: String, findings: Vec<String> },
    #[error("{product} is installed, but its version cannot be read: {}", problems.join("; "))]
    Unreadable { product: String, problems: Vec<String> },
    /// The product file's detection settings could not be rendered (the engine
    /// renders them, and words the cause).
    #[error("cannot render the detection settings of {product}: {source}")]
    Settings {
        product: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// What one detection entry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Found {
        version: Version,
        source: String,
    },
    /// Nothing there; says what was looked at.
    Absent(String),
    /// Something there whose version cannot be read.
    Unreadable(String),
    /// Something there that names more than one version.
    Conflicting(String),
}

/// What to detect: the product's name and each place to look, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectRequest {
    pub product: String,
    pub sources: Vec<Source>,
    /// How the product writes versions: a found version with another label
    /// (`edge-24.1.1` where releases are `stable-…`) is not one of its releases.
    pub format: VersionFormat,
}

/// One place to look, with the facts it establishes when it finds the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub look: Look,
    pub sets: BTreeMap<String, String>,
}

/// Where a version is read, with every name rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// The tag of a Deployment container's image (the only tag all containers
    /// share when no container is named).
    DeploymentImage { namespace: String, name: String, container: Option<String> },
    /// A version of the deployed revision of a Helm release.
    HelmRelease { namespace: String, release: String, field: ReleaseField },
    /// An entry that names nothing to look at.
    Nothing,
}

/// Which version of a Helm release to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseField {
    AppVersion,
    ChartVersion,
}

/// A fact the cluster tells by serving an API group: `name` takes `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactProbe {
    pub name: String,
    pub api_group: String,
    pub value: String,
}

/// The facts the cluster itself tells (a fact whose API group is served takes
/// the value it declares), with why. A fact whose group is not served keeps its
/// default.
pub async fn detect_facts(
    conn: &Connection,
    wanted: Vec<FactProbe>,
) -> Result<Vec<(String, String, String)>, ClusterError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let groups = conn.client.list_api_groups().await.map_err(|e| conn.unreachable_or(e, "list the API groups"))?;
    let served: std::collections::BTreeSet<&str> = groups.groups.iter().map(|g| g.name.as_str()).collect();
    Ok(wanted
        .into_iter()
        .filter(|p| served.contains(p.api_group.as_str()))
        .map(|p| (p.name, p.value, format!("the cluster serves {}", p.api_group)))
        .collect())
}

/// Detects the installed version: every source is looked at, and the findings
/// must agree.
pub async fn detect(conn: &Connection, req: &DetectRequest) -> Result<Detected, DetectError> {
    let product = &req.product;
    let mut findings = Vec::new();
    for source in &req.sources {
        let finding = in_format(&req.format, detect_one(conn, &source.look).await?);
        tracing::debug!(%product, ?finding, "detection entry looked at");
        findings.push((finding, source.sets.clone()));
    }
    let detected = conclude(product, findings);
    match &detected {
        Ok(d) => tracing::info!(%product, version = %d.version, source = %d.source, "detected"),
        Err(e) => tracing::warn!(%product, error = %e, "detection found no single version"),
    }
    detected
}

/// A found version written the product's way, or unreadable when it carries a
/// label the product does not write.
pub fn in_format(format: &VersionFormat, finding: Finding) -> Finding {
    match finding {
        Finding::Found { version, source } => match format.adopt(version) {
            Ok(version) => Finding::Found { version, source },
            Err(e) => Finding::Unreadable(format!("{source}: {e}")),
        },
        other => other,
    }
}

/// Turns every entry's finding into one answer.
pub fn conclude(product: &str, findings: Vec<(Finding, BTreeMap<String, String>)>) -> Result<Detected, DetectError> {
    let conflicting = texts(&findings, |f| matches!(f, Finding::Conflicting(_)));
    if !conflicting.is_empty() {
        let reason = "a source names more than one version".into();
        return Err(DetectError::Ambiguous { product: product.into(), reason, findings: conflicting });
    }
    let found: Vec<(&Version, &String, &BTreeMap<String, String>)> = findings
        .iter()
        .filter_map(|(f, sets)| match f {
            Finding::Found { version, source } => Some((version, source, sets)),
            _ => None,
        })
        .collect();
    let unreadable = texts(&findings, |f| matches!(f, Finding::Unreadable(_)));
    let Some(&(first, source, _)) = found.first() else {
        if !unreadable.is_empty() {
            return Err(DetectError::Unreadable { product: product.into(), problems: unreadable });
        }
        let looked = texts(&findings, |f| matches!(f, Finding::Absent(_)));
        return Err(DetectError::NotInstalled { product: product.into(), looked });
    };
    // Equal as versions, not as text: `1.6` and `1.6.0` agree.
    if found.iter().any(|(v, _, _)| v.cmp(&first) != std::cmp::Ordering::Equal) {
        return Err(DetectError::Ambiguous {
            product: product.into(),
            reason: "the detection sources disagree".into(),
            findings: found.iter().map(|(v, s, _)| format!("{s} says {v}")).collect(),
        });
    }
    let mut facts = BTreeMap::new();
    for (_, _, sets) in &found {
        for (k, v) in sets.iter() {
            facts.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(Detected {
        version: first.clone(),
        source: source.clone(),
        confirmed_by: found.iter().skip(1).map(|(_, s, _)| (*s).clone()).collect(),
        facts,
        notes: unreadable,
    })
}

/// The texts of the findings `pick` chooses (every kind but `Found` carries one).
fn texts(findings: &[(Finding, BTreeMap<String, String>)], pick: impl Fn(&Finding) -> bool) -> Vec<String> {
    findings
        .iter()
        .filter(|(f, _)| pick(f))
        .filter_map(|(f, _)| match f {
            Finding::Absent(t) | Finding::Unreadable(t) | Finding::Conflicting(t) => Some(t.clone()),
            Finding::Found { .. } => None,
        })
        .collect()
}

/// Looks at one source.
pub async fn detect_one(conn: &Connection, look: &Look) -> Result<Finding, ClusterError> {
    match look {
        Look::DeploymentImage { namespace, name, container } => {
            deployment_image(conn, container.as_deref(), namespace, name).await
        }
        Look::HelmRelease { namespace, release, field } => helm_release(conn, *field, namespace, release).await,
        Look::Nothing => Ok(Finding::Absent("a detection entry with nothing to look at".into())),
    }
}

/// The tag of an image reference, if it has one: `repo/name:tag` and
/// `repo/name:tag@sha256:...` give `tag`; a registry port (`host:5000/x`) is not a tag.
pub fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let last_segment_start = without_digest.rfind('/').map_or(0, |i| i + 1);
    let last_segment = &without_digest[last_segment_start..];
    last_segment.split_once(':').map(|(_, tag)| tag).filter(|t| !t.is_empty())
}

async fn deployment_image(
    conn: &Connection,
    container: Option<&str>,
    ns: &str,
    name: &str,
) -> Result<Finding, ClusterError> {
    let api: Api<Deployment> = Api::namespaced(conn.client.clone(), ns);
    let found = api.get_opt(name).await.map_err(|e| conn.unreachable_or(e, &format!("read deployment {ns}/{name}")))?;
    Ok(match found {
        None => Finding::Absent(format!("no Deployment {ns}/{name}")),
        Some(d) => deployment_finding(&d, container),
    })
}

/// Reads the version from a Deployment's image tags. Without a container name,
/// every container must carry the same tag.
pub fn deployment_finding(d: &Deployment, container: Option<&str>) -> Finding {
    let at = format!(
        "Deployment {}/{}",
        d.metadata.namespace.as_deref().unwrap_or(""),
        d.metadata.name.as_deref().unwrap_or("")
    );
    let containers: Vec<(String, String)> = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.iter().map(|c| (c.name.clone(), c.image.clone().unwrap_or_default())).collect())
        .unwrap_or_default();
    let chosen: Vec<&(String, String)> = match container {
        Some(wanted) => containers.iter().filter(|(n, _)| n == wanted).collect(),
        None => containers.iter().collect(),
    };
    if chosen.is_empty() {
        let names: Vec<&str> = containers.iter().map(|(n, _)| n.as_str()).collect();
        return Finding::Unreadable(format!(
            "{at} has no container `{}` (it has: {})",
            container.unwrap_or_default(),
            names.join(", ")
        ));
    }
    let mut tags: Vec<&str> = chosen.iter().map(|(_, image)| image_tag(image).unwrap_or("")).collect();
    tags.dedup();
    if tags.len() > 1 {
        let each: Vec<String> = chosen.iter().map(|(n, i)| format!("{n}={i}")).collect();
        return Finding::Conflicting(format!(
            "{at} runs containers with different image tags ({}); name the container in the product file",
            each.join(", ")
        ));
    }
    let (container_name, image) = chosen[0];
    let source = format!("image tag of container `{container_name}` in {at} ({image})");
    match image_tag(image) {
        None => Finding::Unreadable(format!("{source} has no tag")),
        Some(tag) => match Version::parse(tag) {
            Ok(version) => Finding::Found { version, source },
            Err(e) => Finding::Unreadable(format!("{source}: {e}")),
        },
    }
}

/// What stepwise reads from a Helm release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInfo {
    pub name: String,
    pub revision: u64,
    pub status: String,
    pub chart_name: String,
    pub chart_version: Option<String>,
    pub app_version: Option<String>,
    /// The values the release was installed with (`helm get values`), which
    /// may hold secrets: never shown.
    pub config: Value,
}

/// Decodes the `release` value of a Helm release Secret (the bytes after the
/// Secret's own base64): base64 of gzip of JSON, or base64 of plain JSON.
pub fn decode_release(data: &[u8]) -> Result<ReleaseInfo, String> {
    let text: Vec<u8> = data.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| format!("the release is not base64: {e}"))?;
    let json = if raw.starts_with(&[0x1f, 0x8b]) { gunzip(&raw)? } else { raw };
    let release: Value = serde_json::from_slice(&json).map_err(|e| format!("the release is not JSON: {e}"))?;
    let text_at = |p: &str| release.pointer(p).and_then(Value::as_str).map(str::to_string);
    Ok(ReleaseInfo {
        name: text_at("/name").unwrap_or_default(),
        revision: release.pointer("/version").and_then(Value::as_u64).unwrap_or(0),
        status: text_at("/info/status").unwrap_or_default(),
        chart_name: text_at("/chart/metadata/name").unwrap_or_default(),
        chart_version: text_at("/chart/metadata/version").filter(|v| !v.is_empty()),
        app_version: text_at("/chart/metadata/appVersion").filter(|v| !v.is_empty()),
        config: release.pointer("/config").cloned().unwrap_or(Value::Null),
    })
}

fn gunzip(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(MAX_RELEASE_BYTES)
        .read_to_end(&mut out)
        .map_err(|e| format!("the release is not valid gzip: {e}"))?;
    Ok(out)
}

/// A release Secret's revision, from its `version` label or its name's `.vN`.
fn revision_of(secret: &Secret) -> u64 {
    let labels = secret.metadata.labels.as_ref();
    labels
        .and_then(|l| l.get("version"))
        .and_then(|v| v.parse().ok())
        .or_else(|| {
            let name = secret.metadata.name.as_deref().unwrap_or("");
            name.rsplit_once(".v").and_then(|(_, n)| n.parse().ok())
        })
        .unwrap_or(0)
}

async fn helm_release(
    conn: &Connection,
    field: ReleaseField,
    ns: &str,
    release: &str,
) -> Result<Finding, ClusterError> {
    Ok(match deployed_release(conn, ns, release).await? {
        Ok(info) => release_finding(field, ns, release, &info),
        Err(finding) => finding,
    })
}

/// The newest deployed revision of a Helm release, read from its Secrets, or
/// why there is none (absent, or unreadable).
pub async fn deployed_release(
    conn: &Connection,
    ns: &str,
    release: &str,
) -> Result<Result<ReleaseInfo, Finding>, ClusterError> {
    let api: Api<Secret> = Api::namespaced(conn.client.clone(), ns);
    let params = ListParams::default().labels(&format!("owner=helm,name={release}"));
    let list = api
        .list(&params)
        .await
        .map_err(|e| conn.unreachable_or(e, &format!("list Helm release secrets in namespace {ns}")))?;
    let mut secrets: Vec<Secret> =
        list.items.into_iter().filter(|s| s.type_.as_deref() == Some(HELM_RELEASE_TYPE)).collect();
    if secrets.is_empty() {
        return Ok(Err(Finding::Absent(format!("no Helm release {release} in namespace {ns}"))));
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(revision_of(s)));
    let mut newest = None;
    for secret in &secrets {
        let secret_name = secret.metadata.name.clone().unwrap_or_default();
        let Some(data) = secret.data.as_ref().and_then(|d| d.get("release")) else { continue };
        let info = match decode_release(&data.0) {
            Ok(info) => info,
            Err(e) => return Ok(Err(Finding::Unreadable(format!("Helm release Secret {ns}/{secret_name}: {e}")))),
        };
        if info.status == "deployed" {
            return Ok(Ok(info));
        }
        newest.get_or_insert((info.revision, info.status));
    }
    let latest = newest.map(|(r, s)| format!(" (the newest, revision {r}, is {s})")).unwrap_or_default();
    Ok(Err(Finding::Absent(format!("Helm release {release} in namespace {ns} has no deployed revision{latest}"))))
}

/// Reads the version the product file asks for from a deployed release.
pub fn release_finding(field: ReleaseField, ns: &str, release: &str, info: &ReleaseInfo) -> Finding {
    let (field, value) = match field {
        ReleaseField::AppVersion => ("app version", &info.app_version),
        ReleaseField::ChartVersion => ("chart version", &info.chart_version),
    };
    let chart = format!("{}-{}", info.chart_name, info.chart_version.as_deref().unwrap_or("?"));
    let source = format!("{field} of Helm release {ns}/{release} (revision {}, chart {chart})", info.revision);
    match value {
        None => Finding::Unreadable(format!("{source} is not set")),
        Some(text) => match Version::parse(text) {
            Ok(version) => Finding::Found { version, source },
            Err(e) => Finding::Unreadable(format!("{source}: {e}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(tag: &str) -> Finding {
        let version = Version::parse(tag).unwrap();
        Finding::Found { version, source: format!("image tag of container `cp` ({tag})") }
    }

    #[test]
    fn a_found_version_is_written_the_products_way_or_refused() {
        let linkerd = VersionFormat::new("stable-");
        match in_format(&linkerd, found("stable-2.14.10")) {
            Finding::Found { version, .. } => assert_eq!(version.to_string(), "stable-2.14.10"),
            other => panic!("{other:?}"),
        }
        match in_format(&linkerd, found("2.14.10")) {
            Finding::Found { version, .. } => assert_eq!(version.to_string(), "stable-2.14.10"),
            other => panic!("{other:?}"),
        }
        match in_format(&linkerd, found("edge-24.1.1")) {
            Finding::Unreadable(why) => assert!(why.contains("(edge-24.1.1): `edge-24.1.1` is not a version"), "{why}"),
            other => panic!("{other:?}"),
        }
        match in_format(&VersionFormat::default(), found("v1.6.0")) {
            Finding::Found { version, .. } => assert_eq!(version.to_string(), "1.6.0"),
            other => panic!("{other:?}"),
        }
    }
}
