//! Resolving `plural.group` names (how runbooks and kubectl name kinds) to the
//! API resource the cluster actually serves.

use kube::Client;
use kube::discovery::{self, ApiResource, Scope};

use super::error::ClusterError;

/// A served resource kind.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// As written: `trafficsplits.split.smi-spec.io`, or `pods` for the core group.
    pub name: String,
    pub api: ApiResource,
    pub namespaced: bool,
}

/// Splits `plural.group` into its parts; a name without a dot is a core kind.
pub fn split_name(name: &str) -> (&str, &str) {
    name.split_once('.').unwrap_or((name, ""))
}

/// How the cluster serves `name` at `version` exactly; `None` when it does not.
pub async fn resolve_version(client: &Client, name: &str, version: &str) -> Result<Option<Resolved>, ClusterError> {
    let (plural, group) = split_name(name);
    let api_group = match discovery::group(client, group).await {
        Ok(g) => g,
        Err(e) if group_unknown(&e) => return Ok(None),
        Err(e) => return Err(ClusterError::api(format!("discover API group `{group}`"), e)),
    };
    Ok(api_group
        .versioned_resources(version)
        .into_iter()
        .find(|(ar, _)| ar.plural == plural)
        .map(|(api, caps)| Resolved { name: name.to_string(), api, namespaced: caps.scope == Scope::Namespaced }))
}

/// Finds how the cluster serves `name`. Uses per-group discovery, which works on
/// servers with and without aggregated discovery, and considers every served
/// version (a group may prefer a version that lacks this kind).
pub async fn resolve(client: &Client, name: &str) -> Result<Resolved, ClusterError> {
    let (plural, group) = split_name(name);
    let api_group = match discovery::group(client, group).await {
        Ok(g) => g,
        Err(e) if group_unknown(&e) => {
            return Err(ClusterError::NotServed {
                resource: name.to_string(),
                hint: Some(format!("no API group `{group}`; is its CustomResourceDefinition installed?")),
            });
        }
        Err(e) => return Err(ClusterError::api(format!("discover API group `{group}`"), e)),
    };
    api_group
        .resources_by_stability()
        .into_iter()
        .find(|(ar, _)| ar.plural == plural)
        .map(|(api, caps)| Resolved { name: name.to_string(), api, namespaced: caps.scope == Scope::Namespaced })
        .ok_or_else(|| ClusterError::NotServed {
            resource: name.to_string(),
            hint: Some(format!("group `{group}` is served but has no resource `{plural}`")),
        })
}

/// Whether discovery failed because the server does not (yet) serve the group:
/// a CRD created a moment ago is answered 404 until discovery has caught up.
fn group_unknown(e: &kube::Error) -> bool {
    match e {
        kube::Error::Discovery(_) => true,
        kube::Error::Api(status) => status.code == 404,
        _ => false,
    }
}
