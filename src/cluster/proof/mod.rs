//! Proving a backup right before anything destructive runs: the files match the
//! manifest (SHA-256 and counts), and the cluster holds exactly the objects that
//! were saved, each unchanged since — the same uid, and either the same
//! resourceVersion or, where that moved (a status update moves it too), the same
//! content a restore would put back. Anything else is drift, listed object by
//! object ([`ClusterError::Drift`]). One saved object per kind is also sent as a
//! server-side dry-run create, which must answer AlreadyExists: the files are
//! objects the API server accepts.
//!
//! A backup taken before stepwise kept resourceVersions (no versions.json) is
//! proven the older way: equal counts and a dry-run create of every object.

mod listing;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject};
use serde::Serialize;
use serde_json::Value;

use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::manifest::{self, Manifest};
use super::resource;
use super::restore::live_count;
use super::strip::strip_server_fields;
use super::{Mode, retry};
use crate::base::progress::{OpEvent, Reporter};

use listing::live_versions;
pub use listing::protobuf_page;

/// Objects per page when listing metadata. A list that goes on past its first
/// page is answered from etcd, not the API server's watch cache, once the cache
/// no longer holds that first page's snapshot (a kind nobody wrote for a minute
/// or so: the usual state before a destructive step), and then costs the API
/// server several times the CPU. A page this large lists most kinds in one
/// request, while a page of metadata still stays a few tens of megabytes.
const PAGE: u32 = 10_000;
/// How many kinds are proven at once: every kind of the shipped products
/// (NGINX Service Mesh has six), so the proof waits on one round of lists.
const KINDS_AT_ONCE: usize = 8;

/// What the proof established, shown to the operator as the reason a
/// destructive step is unlocked.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    pub dir: String,
    pub objects: u64,
    pub kinds: Vec<(String, u64)>,
    pub how: How,
}

/// Which proof was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum How {
    /// Every object unchanged since the backup; one per kind dry-run.
    Unchanged,
    /// Equal counts and every object dry-run (a backup without versions.json).
    EveryObjectDryRun,
}

impl Proof {
    pub fn summary(&self) -> String {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let checked = match self.how {
            How::Unchanged => {
                "and the cluster holds exactly these objects, each unchanged since the backup (same uid; same \
                 resourceVersion or the same content); one object per kind dry-runs as AlreadyExists"
            }
            How::EveryObjectDryRun => "counts equal the cluster's, and every object dry-runs as AlreadyExists",
        };
        format!(
            "backup {} proven: {} objects ({}), SHA-256 sums match, {checked}",
            self.dir,
            self.objects,
            kinds.join(", ")
        )
    }
}

/// Proves the backup in `dir` against the live cluster. Any doubt is an error;
/// objects changed, created or deleted since the backup are [`ClusterError::Drift`].
pub async fn prove(conn: &Connection, dir: &std::path::Path, report: Reporter) -> Result<Proof, ClusterError> {
    let manifest = Manifest::read(dir)?;
    let fail = |problem: String| ClusterError::Backup { dir: dir.to_path_buf(), problem };
    check_cluster(conn, &manifest).map_err(fail)?;
    let Some(versions) = manifest::Versions::read(dir)? else {
        let manifest = manifest::verify_files(dir)?;
        return prove_by_dry_run(conn, dir, &manifest, report).await;
    };
    // The files are checked against their sums while the cluster is listed: both
    // must hold, and a damaged file is reported before any drift.
    let files = tokio::task::spawn_blocking({
        let dir = dir.to_path_buf();
        move || manifest::verify_files(&dir)
    });
    let drift = compare_kinds(conn, dir, &manifest, &versions, report).await;
    files.await.map_err(|e| fail(format!("checking the files stopped: {e}")))??;
    let drift = drift?;
    if !drift.is_empty() {
        return Err(ClusterError::Drift { dir: dir.to_path_buf(), changes: drift });
    }
    let kinds = manifest.kinds.iter().map(|e| (e.resource.clone(), e.count)).collect();
    Ok(Proof { dir: dir.display().to_string(), objects: manifest.total(), kinds, how: How::Unchanged })
}

/// Every kind proven, several at once (one kind's list runs while another's
/// answer is compared): the drift, in the manifest's order.
async fn compare_kinds(
    conn: &Connection,
    dir: &std::path::Path,
    manifest: &Manifest,
    versions: &manifest::Versions,
    report: Reporter,
) -> Result<Vec<String>, ClusterError> {
    let done = AtomicU64::new(0);
    let total = manifest.total();
    let drift: Vec<Vec<String>> = futures::stream::iter(&manifest.kinds)
        .map(|entry| {
            let (done, report) = (&done, report.clone());
            async move {
                let drift = prove_kind(conn, dir, manifest, entry, versions).await?;
                let n = done.fetch_add(entry.count, Ordering::Relaxed) + entry.count;
                report(OpEvent::Progress { done: n, total: Some(total), bytes: 0, what: "proving backup".into() });
                Ok::<_, ClusterError>(drift)
            }
        })
        .buffered(KINDS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(drift.into_iter().flatten().collect())
}

/// One kind: every live object compared with the saved ones (the drift, one
/// line an object), and its first saved object sent as a dry-run create.
async fn prove_kind(
    conn: &Connection,
    dir: &std::path::Path,
    manifest: &Manifest,
    entry: &manifest::KindEntry,
    versions: &manifest::Versions,
) -> Result<Vec<String>, ClusterError> {
    let resolved = resource::resolve(&conn.client, &entry.resource).await?;
    let saved = versions.kinds.get(&entry.resource).map(Vec::as_slice).unwrap_or_default();
    // The dry run is one round trip; it goes out while the kind is listed.
    let dry_run = async {
        let Some(first) = manifest::first_object(&dir.join(&entry.file))? else { return Ok(()) };
        dry_run_create(conn, &resolved, first)
            .await
            .map_err(|e| ClusterError::Backup { dir: dir.to_path_buf(), problem: format!("{}: {e}", entry.resource) })
    };
    let (live, dry_run) = tokio::join!(live_versions(conn, &resolved, manifest.namespaces.as_deref()), dry_run);
    let drift = compare_kind(conn, dir, entry, &resolved, saved, &live?).await?;
    dry_run?;
    Ok(drift)
}

/// What differs between the saved objects of one kind and the live ones, one
/// line per object: created or deleted since, or changed (naming the parts).
async fn compare_kind(
    conn: &Connection,
    dir: &std::path::Path,
    entry: &manifest::KindEntry,
    resolved: &resource::Resolved,
    saved: &[manifest::ObjectVersion],
    live: &[manifest::ObjectVersion],
) -> Result<Vec<String>, ClusterError> {
    let by_uid: HashMap<&str, &manifest::ObjectVersion> = saved.iter().map(|v| (v.uid.as_str(), v)).collect();
    let live_uids: HashSet<&str> = live.iter().map(|v| v.uid.as_str()).collect();
    let kind = &entry.resource;
    let mut drift = Vec::new();
    let mut moved = Vec::new();
    for v in live {
        match by_uid.get(v.uid.as_str()) {
            None => drift.push(format!("{kind} {}: created since the backup", v.key)),
            Some(s) if s.resource_version != v.resource_version => moved.push(v),
            Some(_) => {}
        }
    }
    for s in saved.iter().filter(|s| !live_uids.contains(s.uid.as_str())) {
        drift.push(format!("{kind} {}: deleted since the backup", s.key));
    }
    if moved.is_empty() {
        return Ok(drift);
    }
    // Only objects whose version moved are read whole and compared.
    let wanted: HashSet<&str> = moved.iter().map(|v| v.uid.as_str()).collect();
    let mut saved_objects = HashMap::new();
    manifest::scan_file(&dir.join(&entry.file), |o| {
        if let Some(uid) = o.pointer("/metadata/uid").and_then(Value::as_str).filter(|u| wanted.contains(u)) {
            saved_objects.insert(uid.to_string(), o);
        }
        Ok(())
    })?;
    for v in moved {
        let (ns, name) = v.key.split_once('/').map_or((None, v.key.as_str()), |(n, m)| (Some(n), m));
        let api: Api<DynamicObject> = match ns {
            Some(ns) if resolved.namespaced => Api::namespaced_with(conn.client.clone(), ns, &resolved.api),
            _ => Api::all_with(conn.client.clone(), &resolved.api),
        };
        let Some(object) =
            api.get_opt(name).await.map_err(|e| conn.unreachable_or(e, &format!("read {kind} {}", v.key)))?
        else {
            drift.push(format!("{kind} {}: deleted since the backup", v.key));
            continue;
        };
        let mut now = serde_json::to_value(&object).unwrap_or_default();
        strip_server_fields(&mut now);
        // As the backup wrote it: the listed version's apiVersion and kind.
        if let Some(map) = now.as_object_mut() {
            map.insert("apiVersion".into(), Value::String(resolved.api.api_version.clone()));
            map.insert("kind".into(), Value::String(resolved.api.kind.clone()));
        }
        let parts = differences(saved_objects.get(&v.uid).unwrap_or(&Value::Null), &now);
        if !parts.is_empty() {
            drift.push(format!("{kind} {}: changed since the backup ({})", v.key, parts.join(", ")));
        }
    }
    Ok(drift)
}

/// The parts of two objects (as a restore would create them) that differ:
/// top-level fields, and metadata fields by name.
fn differences(saved: &Value, now: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let fields = |v: &Value| v.as_object().cloned().unwrap_or_default();
    let (a, b) = (fields(saved), fields(now));
    let mut parts = Vec::new();
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        if key == "metadata" {
            let meta = |m: Option<&Value>| m.and_then(Value::as_object).unwrap_or(&empty).clone();
            let (ma, mb) = (meta(a.get(key)), meta(b.get(key)));
            let mut names: Vec<&String> = ma.keys().chain(mb.keys()).collect();
            names.sort();
            names.dedup();
            parts.extend(names.into_iter().filter(|n| ma.get(*n) != mb.get(*n)).map(|n| format!("metadata.{n}")));
        } else if a.get(key) != b.get(key) {
            parts.push(key.clone());
        }
    }
    parts
}

/// The older proof, for a backup without versions.json: equal counts, and a
/// dry-run create of every saved object.
async fn prove_by_dry_run(
    conn: &Connection,
    dir: &std::path::Path,
    manifest: &Manifest,
    report: Reporter,
) -> Result<Proof, ClusterError> {
    let fail = |problem: String| ClusterError::Backup { dir: dir.to_path_buf(), problem };
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
    Ok(Proof { dir: dir.display().to_string(), objects: total, kinds, how: How::EveryObjectDryRun })
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
            saved.insert(manifest::object_key(&o));
            Ok(())
        })?;
        for object in live_objects(conn, &resolved, manifest.namespaces.as_deref()).await? {
            let key = manifest::object_key(&serde_json::to_value(&object).unwrap_or_default());
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
