//! Proving a backup before anything destructive runs: the files match the
//! manifest, the cluster still holds exactly as many objects as were saved, and a
//! server-side dry-run create of every saved object answers AlreadyExists — which
//! shows each object is valid and that the file holds every one of them.

use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use serde::Serialize;
use serde_json::Value;

use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::manifest::{self, Manifest};
use super::progress::{OpEvent, Reporter};
use super::resource;
use super::restore::live_count;
use super::{Mode, retry};

/// What the proof established, shown to the operator as the reason a
/// destructive step is unlocked.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    pub dir: String,
    pub objects: u64,
    pub kinds: Vec<(String, u64)>,
}

impl Proof {
    pub fn summary(&self) -> String {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(
            "backup {} proven: {} objects ({}), SHA-256 sums match, counts equal the cluster's, and every object dry-runs as AlreadyExists",
            self.dir,
            self.objects,
            kinds.join(", ")
        )
    }
}

/// Proves the backup in `dir` against the live cluster. Any doubt is an error.
pub async fn prove(conn: &Connection, dir: &std::path::Path, report: Reporter) -> Result<Proof, ClusterError> {
    let manifest = manifest::verify_files(dir)?;
    let fail = |problem: String| ClusterError::Backup { dir: dir.to_path_buf(), problem };
    check_cluster(conn, &manifest).map_err(fail)?;
    let mut kinds = Vec::new();
    let total = manifest.total();
    let done = Mutex::new(0u64);
    for entry in &manifest.kinds {
        let resolved = resource::resolve(&conn.client, &entry.resource).await?;
        let live = live_count(conn, &resolved, manifest.namespaces.as_deref()).await?;
        if live != entry.count {
            return Err(fail(format!(
                "{} objects of {} are in the cluster but the backup holds {}; take the backup again",
                live, entry.resource, entry.count
            )));
        }
        let mut objects = Vec::with_capacity(usize::try_from(entry.count).unwrap_or(0));
        manifest::scan_file(&dir.join(&entry.file), |o| {
            objects.push(o);
            Ok(())
        })?;
        let failures: Vec<String> = futures::stream::iter(objects)
            .map(|object| {
                let (resolved, report, done) = (&resolved, report.clone(), &done);
                async move {
                    let verdict = dry_run_create(conn, resolved, object).await;
                    let n = {
                        let mut d = done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        *d += 1;
                        *d
                    };
                    if n % 100 == 0 || n == total {
                        report(OpEvent::Progress {
                            done: n,
                            total: Some(total),
                            bytes: 0,
                            what: "proving backup".into(),
                        });
                    }
                    verdict
                }
            })
            .buffer_unordered(16)
            .filter_map(|r| async move { r.err() })
            .collect()
            .await;
        if let Some(first) = failures.first() {
            return Err(fail(format!(
                "{} of {} objects did not prove out; first: {first}",
                failures.len(),
                entry.resource
            )));
        }
        kinds.push((entry.resource.clone(), entry.count));
    }
    Ok(Proof { dir: dir.display().to_string(), objects: total, kinds })
}

/// The proof for a destructive step that has already started once (it failed,
/// was interrupted, or stepwise was killed while it ran): the cluster is
/// expected to differ from the backup by then — objects gone with their CRDs —
/// so what is proven is the files, and that no object appeared since the backup
/// that it does not hold (which the step would take with it unsaved).
pub async fn prove_after_start(conn: &Connection, dir: &std::path::Path) -> Result<String, ClusterError> {
    let manifest = manifest::verify_files(dir)?;
    let fail = |problem: String| ClusterError::Backup { dir: dir.to_path_buf(), problem };
    check_cluster(conn, &manifest).map_err(fail)?;
    let mut unsaved = Vec::new();
    for entry in &manifest.kinds {
        let resolved = match resource::resolve(&conn.client, &entry.resource).await {
            Ok(r) => r,
            // Gone with its CRD: nothing of it can be lost any more.
            Err(ClusterError::NotServed { .. }) => continue,
            Err(e) => return Err(e),
        };
        let mut saved = std::collections::HashSet::new();
        manifest::scan_file(&dir.join(&entry.file), |o| {
            saved.insert(object_key(&o));
            Ok(())
        })?;
        for object in live_objects(conn, &resolved, manifest.namespaces.as_deref()).await? {
            let key = object_key(&serde_json::to_value(&object).unwrap_or_default());
            if !saved.contains(&key) {
                unsaved.push(format!("{} {key}", entry.resource));
            }
        }
    }
    if !unsaved.is_empty() {
        let first: Vec<&str> = unsaved.iter().take(5).map(String::as_str).collect();
        return Err(fail(format!(
            "{} objects were created after the backup and are not in it (first: {}); take the backup again before \
             this step runs again",
            unsaved.len(),
            first.join(", ")
        )));
    }
    Ok(format!(
        "backup {} proven: {} objects, SHA-256 sums match; this step has run before, so the cluster is not \
         compared with it, only checked for objects the backup does not hold (none)",
        dir.display(),
        manifest.total()
    ))
}

/// `namespace/name`, or `name` for cluster-scoped objects.
fn object_key(object: &Value) -> String {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    match object.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// Every live object of a kind, in the given namespaces or all.
async fn live_objects(
    conn: &Connection,
    resolved: &resource::Resolved,
    namespaces: Option<&[String]>,
) -> Result<Vec<DynamicObject>, ClusterError> {
    let apis: Vec<Api<DynamicObject>> = match namespaces.filter(|_| resolved.namespaced) {
        Some(list) => list.iter().map(|ns| Api::namespaced_with(conn.client.clone(), ns, &resolved.api)).collect(),
        None => vec![Api::all_with(conn.client.clone(), &resolved.api)],
    };
    let mut all = Vec::new();
    for api in apis {
        let list = api
            .list(&Default::default())
            .await
            .map_err(|e| conn.unreachable_or(e, &format!("list {}", resolved.name)))?;
        all.extend(list.items);
    }
    Ok(all)
}

fn check_cluster(conn: &Connection, manifest: &Manifest) -> Result<(), String> {
    match &manifest.cluster {
        Some(c) if c.server != conn.server => {
            Err(format!("it was taken from {}, not from this cluster ({})", c.server, conn.server))
        }
        _ => Ok(()),
    }
}

/// A dry-run create must answer 409 AlreadyExists for an object that is in the
/// cluster and valid; anything else says what is wrong with it.
async fn dry_run_create(conn: &Connection, resolved: &resource::Resolved, object: Value) -> Result<(), String> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
    let api: Api<DynamicObject> = match &ns {
        Some(ns) if resolved.namespaced => Api::namespaced_with(conn.client.clone(), ns, &resolved.api),
        _ => Api::all_with(conn.client.clone(), &resolved.api),
    };
    let dynamic: DynamicObject =
        serde_json::from_value(object).map_err(|e| format!("{name}: not a Kubernetes object ({e})"))?;
    let params = Mode::Rehearsal.post_params();
    let result =
        retry::with_retry(Duration::from_secs(60), |_, _| {}, async || api.create(&params, &dynamic).await).await;
    let place = format!("{}{name}", ns.map(|n| format!("{n}/")).unwrap_or_default());
    match result {
        Err(e) if api_status(&e) == Some(409) => Ok(()),
        Ok(_) => Err(format!("{place} is in the backup but not in the cluster")),
        Err(e) => Err(format!("{place}: {e}")),
    }
}
