//! Backing up custom resources: every kind listed page by page (several kinds at
//! once), each page streamed to its file as it arrives, so memory stays flat
//! however many objects there are. The manifest is marked complete only when every
//! kind was listed to the end and the counts agree.

pub(super) mod writer;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::connect::Connection;
use super::error::ClusterError;
use super::manifest::{self, KindEntry, Manifest};
use super::resource::{self, Resolved};
use super::retry;
use crate::base::progress::{OpEvent, Reporter};
use crate::durable;

use writer::KindWriter;

/// How long one page may keep failing for passing reasons before the backup gives up.
const PAGE_RETRY_BUDGET: Duration = Duration::from_secs(120);
/// How often a kind is listed again from the start after its continue token expired.
const RELISTS: u32 = 3;

#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// Kinds as `plural.group`.
    pub resources: Vec<String>,
    /// Only these namespaces; all namespaces when `None`.
    pub namespaces: Option<Vec<String>>,
    pub dir: PathBuf,
    pub page_size: u32,
    /// How many kinds are listed at once.
    pub concurrency: usize,
    /// The operator has seen what changed since the last backup here and asked
    /// for a new one: a kind now empty is not taken for a removal that ran.
    pub refresh: bool,
}

impl BackupRequest {
    pub fn new(resources: Vec<String>, dir: PathBuf) -> Self {
        BackupRequest { resources, namespaces: None, dir, page_size: 500, concurrency: 4, refresh: false }
    }
}

/// One page of a list.
#[derive(Debug, Default)]
pub struct Page {
    pub items: Vec<Value>,
    pub continue_token: Option<String>,
    /// How many objects remain after this page, when the server says.
    pub remaining: Option<i64>,
}

/// Where pages come from: the API server, or a stand-in in unit tests.
pub trait PageSource {
    fn page(&mut self, token: Option<String>, limit: u32) -> impl Future<Output = Result<Page, kube::Error>> + Send;
}

/// Lists one kind in one namespace (or all) from the API server.
pub struct ApiPages {
    api: Api<DynamicObject>,
    api_version: String,
    kind: String,
}

impl ApiPages {
    pub fn new(conn: &Connection, resolved: &Resolved, namespace: Option<&str>) -> Self {
        let api = match namespace {
            Some(ns) if resolved.namespaced => Api::namespaced_with(conn.client.clone(), ns, &resolved.api),
            _ => Api::all_with(conn.client.clone(), &resolved.api),
        };
        ApiPages { api, api_version: resolved.api.api_version.clone(), kind: resolved.api.kind.clone() }
    }
}

impl PageSource for ApiPages {
    async fn page(&mut self, token: Option<String>, limit: u32) -> Result<Page, kube::Error> {
        let mut params = ListParams::default().limit(limit);
        params.continue_token = token;
        let list = self.api.list(&params).await?;
        let items = list
            .items
            .into_iter()
            .map(|obj| {
                let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
                // List items carry no apiVersion or kind; a file to re-create from needs both.
                if let Some(map) = v.as_object_mut() {
                    map.insert("apiVersion".into(), Value::String(self.api_version.clone()));
                    map.insert("kind".into(), Value::String(self.kind.clone()));
                }
                v
            })
            .collect();
        Ok(Page {
            items,
            continue_token: list.metadata.continue_.filter(|t| !t.is_empty()),
            remaining: list.metadata.remaining_item_count,
        })
    }
}

/// What listing one kind produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KindResult {
    pub count: u64,
    pub bytes: u64,
    pub sha256: String,
    /// uids of the saved objects, and how many objects name an owner.
    pub uids: Vec<String>,
    pub owner_uids: Vec<String>,
    /// Each object's resourceVersion when it was saved, for the proof.
    pub versions: Vec<manifest::ObjectVersion>,
    /// Set when the listed count disagrees with what the server announced.
    pub mismatch: Option<String>,
    /// `namespace/name` of the objects that were being deleted when saved.
    pub being_deleted: Vec<String>,
}

/// Backs up every requested kind into `req.dir` and writes the manifest.
/// Returns the manifest; an incomplete backup is an error (its manifest on disk
/// says incomplete, with the reasons).
pub async fn backup(conn: &Connection, req: &BackupRequest, report: Reporter) -> Result<Manifest, ClusterError> {
    durable::create_private_dir(&req.dir).map_err(|e| ClusterError::io("create backup folder", &req.dir, e))?;
    // Nothing in the folder may look complete while the new backup is being taken.
    // A complete backup taken here before (a retry, a resume) says what existed
    // then: a kind it held objects of that now has none is a warning sign that a
    // removal already ran, not a backup to prove.
    // It is moved aside, never overwritten: listing writes the kind files anew,
    // and a retry after a half-done removal would otherwise replace the only
    // good copy with what is left.
    let earlier = match Manifest::read(&req.dir).ok().filter(|m| m.complete) {
        Some(m) => {
            let kept = set_aside(&req.dir, &m)?;
            report(OpEvent::Line(format!(
                "the backup taken here at {} is kept, moved to {}",
                m.created_at,
                kept.display()
            )));
            Some((m, kept))
        }
        None => None,
    };
    for old in [manifest::MANIFEST_FILE, manifest::VERSIONS_FILE].map(|f| req.dir.join(f)) {
        if old.exists() {
            std::fs::remove_file(&old).map_err(|e| ClusterError::io("remove the earlier", &old, e))?;
        }
    }
    let identity = conn.identity().await?;
    let mut manifest = Manifest::new(Some(identity));
    manifest.namespaces = req.namespaces.clone();
    let mut resolved = Vec::new();
    for name in &req.resources {
        match resource::resolve(&conn.client, name).await {
            Ok(r) => resolved.push(r),
            // A kind the cluster does not serve cannot be listed, so nobody can
            // say what of it existed: its CRD may have gone with a removal that
            // already ran. Such a backup proves nothing.
            Err(ClusterError::NotServed { resource, hint }) => {
                manifest.problems.push(format!(
                    "{resource} is not served by the cluster{}, so what of it exists cannot be saved or counted. \
                     If a removal already ran, its CRD went with it: restore from the backup taken before that. \
                     If this release never had the kind, the runbook's backup list is wrong for it",
                    hint.map(|h| format!(" ({h})")).unwrap_or_default()
                ));
                manifest.not_served.push(resource);
            }
            Err(e) => return Err(e),
        }
    }
    let done = Arc::new(Mutex::new((0u64, 0u64)));
    // Once a kind fails because the server stopped answering, kinds not yet started
    // are not tried: the outcome (incomplete) is known, and waiting longer helps nobody.
    let outage = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let results: Vec<(Resolved, Result<KindResult, ClusterError>)> = futures::stream::iter(resolved)
        .map(|r| {
            let (report, done, outage) = (report.clone(), done.clone(), outage.clone());
            async move {
                if outage.load(std::sync::atomic::Ordering::SeqCst) {
                    let e = ClusterError::Unreachable {
                        server: conn.server.clone(),
                        message: "not listed: the server stopped answering".into(),
                    };
                    return (r, Err(e));
                }
                let result = backup_kind(conn, &r, req, report, done).await;
                if let Err(ClusterError::Api { source, .. }) = &result
                    && !matches!(**source, kube::Error::Api(_))
                {
                    outage.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                (r, result)
            }
        })
        .buffer_unordered(req.concurrency.max(1))
        .collect()
        .await;
    let mut all_uids = HashSet::new();
    let mut owner_uids = Vec::new();
    let mut versions = manifest::Versions::default();
    for (r, result) in results {
        match result {
            Ok(k) => {
                if let Some(m) = &k.mismatch {
                    manifest.problems.push(m.clone());
                }
                all_uids.extend(k.uids.iter().cloned());
                owner_uids.extend(k.owner_uids.iter().cloned());
                manifest.being_deleted.extend(k.being_deleted.iter().map(|key| format!("{} {key}", r.name)));
                versions.kinds.insert(r.name.clone(), k.versions);
                manifest.kinds.push(KindEntry {
                    resource: r.name.clone(),
                    api_version: r.api.api_version.clone(),
                    kind: r.api.kind.clone(),
                    namespaced: r.namespaced,
                    file: manifest::file_name(&r.name),
                    count: k.count,
                    bytes: k.bytes,
                    sha256: k.sha256,
                });
            }
            Err(e) => manifest.problems.push(format!("{}: {e}", r.name)),
        }
    }
    manifest.kinds.sort_by(|a, b| a.resource.cmp(&b.resource));
    manifest.being_deleted.sort();
    if let Some((earlier, kept)) = earlier.as_ref().filter(|_| !req.refresh) {
        manifest.problems.extend(emptied_since(earlier, kept, &manifest));
    }
    manifest.external_owner_refs = owner_uids.iter().filter(|u| !all_uids.contains(*u)).count() as u64;
    manifest.complete = manifest.problems.is_empty();
    if !manifest.complete {
        // Nothing may use an incomplete backup, and after a full disk its files hold
        // the space the session needs to record the failure; the manifest says why.
        for kind in &manifest.kinds {
            let _ = std::fs::remove_file(req.dir.join(&kind.file));
        }
    }
    if manifest.complete {
        versions.write(&req.dir)?;
    }
    manifest.write(&req.dir)?;
    if manifest.complete {
        Ok(manifest)
    } else {
        Err(ClusterError::Backup {
            dir: req.dir.clone(),
            problem: format!("incomplete: {}", manifest.problems.join("; ")),
        })
    }
}

/// Kinds the `earlier` complete backup of the same folder held objects of and
/// the new one finds none of, each as a problem for the operator.
fn emptied_since(earlier: &Manifest, kept: &Path, now: &Manifest) -> Vec<String> {
    now.kinds
        .iter()
        .filter(|k| k.count == 0)
        .filter_map(|k| {
            let before = earlier.kinds.iter().find(|e| e.resource == k.resource && e.count > 0)?;
            Some(format!(
                "{}: no objects now, but the backup taken here at {} saved {}; a removal may already have run. \
                 Restore them from that backup (kept in {}) before going on",
                k.resource,
                earlier.created_at,
                before.count,
                kept.display()
            ))
        })
        .collect()
}

/// Moves the files of the complete backup `m` in `dir` into a new sibling
/// folder named for the time it was taken, and returns that folder.
fn set_aside(dir: &Path, m: &Manifest) -> Result<PathBuf, ClusterError> {
    let stamp: String = m.created_at.chars().filter(char::is_ascii_alphanumeric).collect();
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    let mut kept = dir.with_file_name(format!("{name}.taken-{stamp}"));
    let mut n = 1;
    while kept.exists() {
        n += 1;
        kept = dir.with_file_name(format!("{name}.taken-{stamp}-{n}"));
    }
    durable::create_private_dir(&kept).map_err(|e| ClusterError::io("create folder", &kept, e))?;
    let files = m.kinds.iter().map(|k| k.file.as_str()).chain([manifest::VERSIONS_FILE, manifest::MANIFEST_FILE]);
    for file in files {
        let (from, to) = (dir.join(file), kept.join(file));
        if from.exists() {
            std::fs::rename(&from, &to).map_err(|e| ClusterError::io("move the earlier backup file", &from, e))?;
        }
    }
    for d in [&kept, &dir.to_path_buf()] {
        durable::sync_dir(d).map_err(|e| ClusterError::io("sync", d, e))?;
    }
    Ok(kept)
}

async fn backup_kind(
    conn: &Connection,
    r: &Resolved,
    req: &BackupRequest,
    report: Reporter,
    done: Arc<Mutex<(u64, u64)>>,
) -> Result<KindResult, ClusterError> {
    let final_path = req.dir.join(manifest::file_name(&r.name));
    let part = req.dir.join(format!(".{}.part", manifest::file_name(&r.name)));
    let result = write_kind(conn, r, req, report, done, &part).await;
    if result.is_err() {
        // A partial file is never used, and on a full disk it holds the space the
        // session needs to record the failure.
        let _ = std::fs::remove_file(&part);
    }
    let result = result?;
    std::fs::rename(&part, &final_path).map_err(|e| ClusterError::io("rename backup file", &final_path, e))?;
    durable::sync_dir(&req.dir).map_err(|e| ClusterError::io("sync backup folder", &req.dir, e))?;
    Ok(result)
}

/// Lists every namespace of one kind into the `.part` file.
async fn write_kind(
    conn: &Connection,
    r: &Resolved,
    req: &BackupRequest,
    report: Reporter,
    done: Arc<Mutex<(u64, u64)>>,
    part: &Path,
) -> Result<KindResult, ClusterError> {
    let namespaces: Vec<Option<String>> = match &req.namespaces {
        Some(list) if r.namespaced => list.iter().cloned().map(Some).collect(),
        _ => vec![None],
    };
    let mut writer = KindWriter::create(part, &r.name)?;
    let mut result = KindResult::default();
    for ns in namespaces {
        let mut source = ApiPages::new(conn, r, ns.as_deref());
        let what = format!("{}{}", r.name, ns.as_ref().map(|n| format!(" in {n}")).unwrap_or_default());
        let listed = list_into(&mut source, &mut writer, req.page_size, &what, &report, &done).await?;
        result.mismatch = result.mismatch.or(listed.mismatch);
    }
    Ok(KindResult { mismatch: result.mismatch, ..writer.finish()? })
}

/// Lists every page from `source` into `writer`. A continue token that expired
/// (410 Gone) starts the listing over, discarding what this listing wrote.
pub async fn list_into<S: PageSource>(
    source: &mut S,
    writer: &mut KindWriter,
    page_size: u32,
    what: &str,
    report: &Reporter,
    done: &Mutex<(u64, u64)>,
) -> Result<KindResult, ClusterError> {
    let mark = writer.mark();
    let mut relists = 0;
    'relist: loop {
        let mut token = None;
        let mut announced: Option<u64> = None;
        let mut listed = 0u64;
        loop {
            let page = retry::with_retry(
                PAGE_RETRY_BUDGET,
                |e, wait| report(OpEvent::Line(format!("{what}: {}; retrying in {wait:?}", retry::describe(e)))),
                async || source.page(token.clone(), page_size).await,
            )
            .await;
            let page = match page {
                Ok(p) => p,
                Err(e) if super::error::api_status(&e) == Some(410) && relists < RELISTS => {
                    relists += 1;
                    report(OpEvent::Line(format!(
                        "{what}: the list expired before it finished; listing again from the start"
                    )));
                    writer.rewind(mark)?;
                    continue 'relist;
                }
                Err(e) => return Err(ClusterError::api(format!("list {what}"), e)),
            };
            if announced.is_none() {
                announced = page.remaining.map(|r| page.items.len() as u64 + u64::try_from(r).unwrap_or(0));
            }
            let n = page.items.len() as u64;
            for item in page.items {
                writer.write(item)?;
            }
            listed += n;
            let (objects, bytes) = {
                let mut d = done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                d.0 += n;
                d.1 = d.1.max(writer.bytes());
                *d
            };
            report(OpEvent::Progress { done: objects, total: None, bytes, what: what.to_string() });
            token = page.continue_token;
            if token.is_none() {
                let mismatch = announced.filter(|expected| *expected != listed).map(|expected| {
                    format!("{what}: the server announced {expected} objects but {listed} were listed")
                });
                return Ok(KindResult { count: listed, mismatch, ..KindResult::default() });
            }
        }
    }
}

#[cfg(test)]
mod tests;
