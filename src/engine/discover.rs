//! Defaults read from the cluster for a variable that says where to look
//! (`discover:`): the namespaces whose pods run an image, a setting the
//! product was deployed with, or the chart version of a Helm release. Each gives the default and a sentence for the
//! question, saying what was found, or why nothing was.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cluster::Connection;
use crate::cluster::detect::{self, Finding};
use crate::cluster::settings::{self, ConfigMapKey};
use crate::runbook::model::{ConfigMapField, Discover, HelmReleaseRef};

/// The discovered default (if any) and what the question says about it.
pub(super) async fn discovered(
    conn: &Connection,
    discover: &Discover,
    values: &BTreeMap<String, String>,
) -> (Option<String>, String) {
    if let Some(image) = &discover.namespaces_running {
        return namespaces_running(conn, image).await;
    }
    if let Some(release) = &discover.helm_chart_version {
        return chart_version(conn, release, values).await;
    }
    match &discover.config_map {
        Some(field) => setting(conn, field, values).await,
        None => (None, String::new()),
    }
}

/// The chart version of the release's deployed revision.
async fn chart_version(
    conn: &Connection,
    at: &HelmReleaseRef,
    values: &BTreeMap<String, String>,
) -> (Option<String>, String) {
    let (ns, release) = (at.namespace.render_partial(values), at.release.render_partial(values));
    let info = match detect::deployed_release(conn, &ns, &release).await {
        Ok(Ok(info)) => info,
        Ok(Err(Finding::Absent(why) | Finding::Unreadable(why) | Finding::Conflicting(why))) => {
            return (None, format!("No chart version read from the cluster: {why}."));
        }
        Ok(Err(Finding::Found { source, .. })) => return (None, format!("No chart version read from {source}.")),
        Err(e) => return (None, format!("Helm release {ns}/{release} could not be read: {e}")),
    };
    match info.chart_version {
        Some(version) => (
            Some(version.clone()),
            format!(
                "Found on the cluster: Helm release {ns}/{release} (revision {}) runs chart {} {version}.",
                info.revision, info.chart_name
            ),
        ),
        None => (None, format!("Helm release {ns}/{release} names no chart version.")),
    }
}

/// The namespaces whose pods run `image`, comma-separated, and a line saying
/// what was found (with the count of pods in each) for the question.
async fn namespaces_running(conn: &Connection, image: &str) -> (Option<String>, String) {
    let pods = match crate::cluster::skew::running_versions(conn, image).await {
        Ok(pods) => pods,
        Err(e) => return (None, format!("Pods running {image} could not be listed: {e}")),
    };
    let mut per_namespace: BTreeMap<String, usize> = BTreeMap::new();
    for pod in pods.values().flatten() {
        *per_namespace.entry(pod.split('/').next().unwrap_or_default().to_string()).or_default() += 1;
    }
    if per_namespace.is_empty() {
        return (None, format!("No pod on the cluster runs {image}."));
    }
    let counted: Vec<String> =
        per_namespace.iter().map(|(ns, n)| format!("{ns} ({})", crate::plan::counted(*n, "pod"))).collect();
    let found = per_namespace.into_keys().collect::<Vec<_>>().join(",");
    (Some(found), format!("Found on the cluster, running {image}: {}.", counted.join(", ")))
}

/// One field of the JSON document in a ConfigMap key.
async fn setting(
    conn: &Connection,
    field: &ConfigMapField,
    values: &BTreeMap<String, String>,
) -> (Option<String>, String) {
    let at = ConfigMapKey {
        namespace: field.namespace.render_partial(values),
        name: field.name.clone(),
        key: field.key.clone(),
    };
    let where_ = format!("{} at {}", at, if field.pointer.is_empty() { "/" } else { &field.pointer });
    let bytes = match settings::read(conn, &at).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return (None, format!("Not found on the cluster: {at} does not exist.")),
        Err(e) => return (None, format!("{at} could not be read: {e}")),
    };
    match field_value(&bytes, field) {
        Ok(value) => {
            let shown = if value.is_empty() { "(empty)" } else { value.as_str() };
            (Some(value.clone()), format!("Found on the cluster, {where_}: {shown}."))
        }
        Err(why) => (None, format!("Not read from the cluster: {where_} {why}.")),
    }
}

/// The value of the field as the variable takes it: a string as it is, a
/// number or boolean as written, a list of strings joined with commas; then
/// the capture's first group, then the map.
pub(super) fn field_value(bytes: &[u8], field: &ConfigMapField) -> Result<String, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("is not JSON ({e})"))?;
    let found = doc.pointer(&field.pointer).ok_or("is not in the document")?;
    let mut value = match found {
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => found.to_string(),
        Value::Array(items) => {
            let words: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            words.ok_or("is a list of more than strings")?.join(",")
        }
        Value::Null | Value::Object(_) => return Err("holds no single value".into()),
    };
    if let Some(capture) = &field.capture {
        let re = regex::Regex::new(capture).map_err(|e| format!("cannot be matched ({e})"))?;
        let group = re
            .captures(&value)
            .and_then(|c| c.get(1))
            .ok_or_else(|| format!("`{value}` does not match `{capture}`"))?;
        value = group.as_str().to_string();
    }
    Ok(field.map.get(&value).cloned().unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::field_value;
    use crate::runbook::model::ConfigMapField;

    fn field(pointer: &str, capture: Option<&str>, map: &[(&str, &str)]) -> ConfigMapField {
        serde_json::from_value(serde_json::json!({
            "namespace": "nginx-mesh", "name": "mesh-config", "key": "mesh-config.json",
            "pointer": pointer, "capture": capture,
            "map": map.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
        }))
        .unwrap()
    }

    const DOC: &[u8] = br#"{"mtls": {"mode": "strict"}, "injection": {"isAutoInjectEnabled": false,
        "enabledNamespaces": ["a", "b"]}, "sidecarImage": {"image": "reg.example:5000/nsm/nginx-mesh-sidecar:1.6.0"},
        "telemetry": {}}"#;

    #[test]
    fn a_field_is_read_as_the_variable_takes_it() {
        assert_eq!(field_value(DOC, &field("/mtls/mode", None, &[])), Ok("strict".into()));
        assert_eq!(field_value(DOC, &field("/injection/enabledNamespaces", None, &[])), Ok("a,b".into()));
        let inverted = field("/injection/isAutoInjectEnabled", None, &[("true", "false"), ("false", "true")]);
        assert_eq!(field_value(DOC, &inverted), Ok("true".into()));
        let registry = field("/sidecarImage/image", Some("^(.+)/nginx-mesh-sidecar:"), &[]);
        assert_eq!(field_value(DOC, &registry), Ok("reg.example:5000/nsm".into()));
    }

    #[test]
    fn a_field_that_is_missing_or_not_one_value_says_why() {
        assert_eq!(field_value(DOC, &field("/mtls/nope", None, &[])), Err("is not in the document".into()));
        assert_eq!(field_value(DOC, &field("/telemetry", None, &[])), Err("holds no single value".into()));
        assert!(field_value(b"{", &field("/a", None, &[])).unwrap_err().starts_with("is not JSON"));
        let no_match = field_value(DOC, &field("/mtls/mode", Some("^x(.)"), &[])).unwrap_err();
        assert_eq!(no_match, "`strict` does not match `^x(.)`");
    }
}
