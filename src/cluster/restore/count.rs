//! Counting the objects of a kind in the cluster, for a restore's
//! verification, a backup's proof and a resume's comparison.

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject, ListParams};

use super::super::connect::Connection;
use super::super::error::ClusterError;
use super::super::manifest::Manifest;
use super::super::resource::Resolved;

/// Counts the objects of a kind in the cluster, in the given namespaces or all.
pub async fn live_count(
    conn: &Connection,
    resolved: &Resolved,
    namespaces: Option<&[String]>,
) -> Result<u64, ClusterError> {
    let Some(namespaces) = namespaces.filter(|_| resolved.namespaced) else {
        return count_in(Api::all_with(conn.client.clone(), &resolved.api), &resolved.name).await;
    };
    let mut total = 0;
    for ns in namespaces {
        total += count_in(Api::namespaced_with(conn.client.clone(), ns, &resolved.api), &resolved.name).await?;
    }
    Ok(total)
}

/// Counts with metadata-only pages. The first asks for one object: the server's
/// count of the rest usually answers without the API server reading them all,
/// which a restore's verification and a backup's proof would otherwise pay for
/// every object; without that count, pages of 500 follow.
async fn count_in(api: Api<DynamicObject>, name: &str) -> Result<u64, ClusterError> {
    let mut total = 0u64;
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(if token.is_none() { 1 } else { 500 });
        params.continue_token = token.clone();
        let list = api.list_metadata(&params).await.map_err(|e| ClusterError::api(format!("count {name}"), e))?;
        total += list.items.len() as u64;
        if token.is_none()
            && let Some(remaining) = list.metadata.remaining_item_count
        {
            return Ok(total + u64::try_from(remaining).unwrap_or(0));
        }
        token = list.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(total);
        }
    }
}

/// Counts per kind of a manifest, for reports.
pub fn expected_counts(manifest: &Manifest) -> BTreeMap<String, u64> {
    manifest.kinds.iter().map(|k| (k.resource.clone(), k.count)).collect()
}
