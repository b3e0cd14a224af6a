//! Comparing a cluster with a backup, object by object, and reading which
//! versions the kinds' CRDs serve: what a shadow rehearsal reports once the
//! procedure has run on the shadow. Reads only.

use std::collections::HashMap;
use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;

use super::connect::Connection;
use super::error::ClusterError;
use super::manifest::{self, KindEntry, Manifest};
use super::resource;
use super::strip::same_object;

/// One kind of a backup against the cluster.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindComparison {
    /// `plural.group`.
    pub resource: String,
    /// Objects in the backup (those being deleted when it was taken left out).
    pub saved: u64,
    /// Found on the cluster with the content the backup holds.
    pub identical: u64,
    /// Every saved object that is missing or different, one line each.
    pub differences: Vec<String>,
    /// Why the kind could not be compared at all (not served, say).
    pub problem: Option<String>,
}

/// Compares every object of the backup in `dir` with the cluster's: the same
/// namespace and name, and the same content a restore would put back (spec,
/// labels, annotations, finalizers; not server-set fields or uids).
pub async fn with_backup(conn: &Connection, dir: &Path) -> Result<Vec<KindComparison>, ClusterError> {
    let manifest = Manifest::read(dir)?;
    let mut out = Vec::new();
    for entry in &manifest.kinds {
        out.push(compare_kind(conn, dir, &manifest, entry).await?);
    }
    Ok(out)
}

async fn compare_kind(
    conn: &Connection,
    dir: &Path,
    manifest: &Manifest,
    entry: &KindEntry,
) -> Result<KindComparison, ClusterError> {
    let mut kind = KindComparison { resource: entry.resource.clone(), ..KindComparison::default() };
    let live = match live_objects(conn, &entry.resource).await {
        Ok(live) => live,
        Err(ClusterError::NotServed { .. }) => {
            kind.problem = Some("the cluster does not serve this kind".into());
            HashMap::new()
        }
        Err(e) => return Err(e),
    };
    let left_out: Vec<&str> =
        manifest.being_deleted.iter().filter_map(|b| b.strip_prefix(&entry.resource).map(str::trim)).collect();
    manifest::scan_file(&dir.join(&entry.file), |saved| {
        let key = manifest::object_key(&saved);
        if left_out.contains(&key.as_str()) {
            return Ok(());
        }
        kind.saved += 1;
        match live.get(&key) {
            Some(found) if same_object(found, &saved) => kind.identical += 1,
            Some(_) => kind.differences.push(format!("{} {key}: different content", entry.resource)),
            None => kind.differences.push(format!("{} {key}: missing", entry.resource)),
        }
        Ok(())
    })?;
    Ok(kind)
}

/// Every object of a kind on the cluster, by `namespace/name`.
async fn live_objects(conn: &Connection, name: &str) -> Result<HashMap<String, Value>, ClusterError> {
    let resolved = resource::resolve(&conn.client, name).await?;
    let api: Api<DynamicObject> = Api::all_with(conn.client.clone(), &resolved.api);
    let list = api.list(&ListParams::default()).await.map_err(|e| conn.unreachable_or(e, "list objects"))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .map(|o| (manifest::object_key(&o), o))
        .collect())
}

/// The versions a kind's CRD serves, and the one it stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServedVersions {
    pub resource: String,
    /// Empty when there is no CRD of that name.
    pub served: Vec<String>,
    pub storage: Option<String>,
}

impl ServedVersions {
    /// `v1alpha1, v1alpha2 (stored)`, or `no CRD`.
    pub fn describe(&self) -> String {
        if self.served.is_empty() {
            return "no CRD".into();
        }
        let shown: Vec<String> = self
            .served
            .iter()
            .map(|v| if Some(v) == self.storage.as_ref() { format!("{v} (stored)") } else { v.clone() })
            .collect();
        shown.join(", ")
    }
}

/// What each kind's CRD (named `plural.group`) serves now.
pub async fn served_versions(conn: &Connection, resources: &[String]) -> Result<Vec<ServedVersions>, ClusterError> {
    let crds: Api<CustomResourceDefinition> = Api::all(conn.client.clone());
    let mut out = Vec::new();
    for resource in resources {
        let crd = crds.get_opt(resource).await.map_err(|e| conn.unreachable_or(e, "read a CRD"))?;
        let versions = crd.map(|c| c.spec.versions).unwrap_or_default();
        out.push(ServedVersions {
            resource: resource.clone(),
            served: versions.iter().filter(|v| v.served).map(|v| v.name.clone()).collect(),
            storage: versions.iter().find(|v| v.storage).map(|v| v.name.clone()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_version_is_marked_and_a_missing_crd_said() {
        let v = ServedVersions {
            resource: "ratelimits.specs.smi.nginx.com".into(),
            served: vec!["v1alpha1".into(), "v1alpha2".into()],
            storage: Some("v1alpha2".into()),
        };
        assert_eq!(v.describe(), "v1alpha1, v1alpha2 (stored)");
        let none = ServedVersions { served: vec![], storage: None, ..v };
        assert_eq!(none.describe(), "no CRD");
    }
}
