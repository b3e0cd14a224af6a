//! Re-creating objects from a verified backup: kinds served and CRDs Established
//! first, namespaces present, then objects created a bounded number at a time,
//! each with its own outcome. Nothing that already exists is overwritten.
//! The report and its summary are in [`report`], owner references in
//! [`owners`], counting live objects in [`count`], reading the backup a
//! window of objects at a time in [`stream`].

mod count;
mod owners;
mod report;
mod stream;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch};
use serde_json::Value;

use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::manifest::{self, KindEntry, Manifest};
use super::resource::{self, Resolved};
use super::retry::{Look, poll_until};
use super::strip::same_object;
use super::{Mode, retry};
use crate::base::progress::{OpEvent, Reporter};

pub use count::{expected_counts, live_count};
use owners::OwnerLinks;
pub use report::{KindCounts, ObjectOutcome, Outcome, RestoreReport};

#[derive(Debug, Clone)]
pub struct RestoreRequest {
    pub dir: PathBuf,
    pub concurrency: usize,
    /// The most objects read from the backup and not yet finished (created,
    /// failed or left out) at any time: the restore's memory for objects is
    /// bounded by this, not by the size of the backup (objects whose owner is
    /// in the backup are kept aside for the second pass, outside this bound).
    /// `None`: [`RestoreRequest::DEFAULT_WINDOW_PER_CREATE`] times
    /// `concurrency`, so reading stays ahead of the creates. A window below
    /// `concurrency` also limits the creates in flight to it.
    pub window: Option<usize>,
    pub mode: Mode,
    /// How long to wait for kinds to be served and namespaces to exist.
    pub readiness_timeout: Duration,
    /// How long one call (a create, or a read it needs) is retried while the API
    /// server is unreachable or overloaded before the restore gives up on it.
    pub retry_budget: Duration,
}

impl RestoreRequest {
    /// Creates in flight at once. On the 2-core test bed a raw create loop peaked
    /// at 32-64 (docs/benchmarks.md); more only queues in the API server.
    pub const DEFAULT_CONCURRENCY: usize = 32;

    /// Objects read ahead per create in flight when no window is set: enough
    /// that a create finishing finds the next object parsed, few enough that
    /// the window stays a few MB of objects.
    pub const DEFAULT_WINDOW_PER_CREATE: usize = 4;

    /// Two minutes: an API server restart or a short outage passes within it.
    pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(120);

    pub fn new(dir: PathBuf, mode: Mode) -> Self {
        RestoreRequest {
            dir,
            concurrency: Self::DEFAULT_CONCURRENCY,
            window: None,
            mode,
            readiness_timeout: Duration::from_secs(120),
            retry_budget: Self::DEFAULT_RETRY_BUDGET,
        }
    }

    /// The window in effect: `window`, or the default for `concurrency`; at least 1.
    pub fn window(&self) -> usize {
        self.window.unwrap_or(self.concurrency.saturating_mul(Self::DEFAULT_WINDOW_PER_CREATE)).max(1)
    }
}

/// Restores the backup in `req.dir`. Refuses a backup that does not match its
/// manifest. Object failures are reported, not raised: the report says which.
pub async fn restore(conn: &Connection, req: &RestoreRequest, report: Reporter) -> Result<RestoreReport, ClusterError> {
    let manifest = manifest::verify_files(&req.dir)?;
    conn.identity().await?;
    let deadline = Instant::now() + req.readiness_timeout;
    let mut kinds = Vec::new();
    for entry in &manifest.kinds {
        let served = wait_until_served(conn, &entry.resource, deadline, &report).await?;
        kinds.push((entry.clone(), endpoint_for(conn, &req.dir, entry, served, &report).await?));
    }
    let index = index_backup(&req.dir, &manifest)?;
    let missing_ns = wait_for_namespaces(conn, &index.namespaces, deadline, req.mode, &report).await?;
    let owners = OwnerLinks::new(conn, index.uids, req.retry_budget);
    let state = Shared {
        conn,
        mode: req.mode,
        retry_budget: req.retry_budget,
        report: report.clone(),
        total: manifest.total(),
        done: Mutex::new(0),
        owners,
        missing_ns,
        being_deleted: manifest.being_deleted.iter().cloned().collect(),
        created_uids: Mutex::new(HashMap::new()),
        unreachable: std::sync::atomic::AtomicBool::new(false),
    };
    let counts = kinds
        .iter()
        .map(|(entry, _)| KindCounts {
            resource: entry.resource.clone(),
            expected: entry.count,
            ..KindCounts::default()
        })
        .collect();
    let mut result = RestoreReport { kinds: counts, ..RestoreReport::default() };
    let deferred = restore_kinds(&state, req, &kinds, &mut result).await?;
    // Objects whose owners are in the backup go last, so their owners exist.
    for (kind, object) in deferred {
        let outcome = state.restore_one(&kinds[kind].1, object).await;
        record(&mut result, kind, outcome);
    }
    if state.unreachable.load(std::sync::atomic::Ordering::SeqCst) {
        let failed = result.failed();
        return Err(ClusterError::Unreachable {
            server: conn.server.clone(),
            message: format!(
                "it stopped answering during the restore and {failed} objects were not restored; run the restore \
                 again once it is back (objects already restored are left as they are)"
            ),
        });
    }
    result.dropped_owner_refs = state.owners.dropped();
    for (counts, (_, resolved)) in result.kinds.iter_mut().zip(&kinds) {
        if req.mode == Mode::Real {
            counts.live = Some(live_count(conn, resolved, manifest.namespaces.as_deref()).await?);
        }
    }
    result.verified = result.kinds.iter().all(|k| {
        let accounted = k.created + k.validated + k.identical + k.different;
        let wanted = k.expected - k.left_out;
        accounted == wanted && k.live.is_none_or(|live| live >= wanted)
    });
    Ok(result)
}

fn tally(counts: &mut KindCounts, outcome: &Outcome) {
    match outcome {
        Outcome::Created => counts.created += 1,
        Outcome::Validated => counts.validated += 1,
        Outcome::AlreadyIdentical => counts.identical += 1,
        Outcome::AlreadyDifferent => counts.different += 1,
        Outcome::Failed(_) => counts.failed += 1,
        Outcome::LeftOut => counts.left_out += 1,
    }
}

struct Shared<'a> {
    conn: &'a Connection,
    mode: Mode,
    retry_budget: Duration,
    report: Reporter,
    total: u64,
    done: Mutex<u64>,
    owners: OwnerLinks,
    missing_ns: HashSet<String>,
    /// Old uid -> uid of the re-created object, for re-linking owner references.
    created_uids: Mutex<HashMap<String, String>>,
    /// `plural.group namespace/name` of objects being deleted when saved.
    being_deleted: HashSet<String>,
    /// Set once a create gave up because the API server stopped answering: the
    /// objects after it are not tried, so a lasting outage ends the restore after
    /// one retry budget instead of one budget per object.
    unreachable: std::sync::atomic::AtomicBool,
}

/// Creates every object whose owner is not in the backup, `req.concurrency` at a
/// time across kinds, reading each kind's file as the creates go: at most
/// [`RestoreRequest::window`] objects are read and not yet finished at any time
/// (see [`stream`]), and the next kind's objects are read while the last of the
/// one before are created, so the creates never drain between kinds. A file
/// that cannot be read stops the reading; its error is returned once the
/// creates in flight have finished. Returns the objects left for later, with
/// their kind's index.
async fn restore_kinds(
    state: &Shared<'_>,
    req: &RestoreRequest,
    kinds: &[(KindEntry, Resolved)],
    result: &mut RestoreReport,
) -> Result<Vec<(usize, Value)>, ClusterError> {
    let files = kinds.iter().map(|(entry, _)| req.dir.join(&entry.file)).collect();
    let (objects, reader) = stream::open(files, req.window(), state.owners.deferral());
    let mut outcomes = objects
        .map(|read| async move {
            let outcome = state.restore_one(&kinds[read.kind].1, read.object).await;
            // Done with the object: its place in the window goes to the next one.
            drop(read.slot);
            (read.kind, outcome)
        })
        .buffer_unordered(req.concurrency.max(1));
    while let Some((kind, o)) = outcomes.next().await {
        record(result, kind, o);
    }
    drop(outcomes);
    reader.finish().await
}

/// Counts an outcome for its kind and keeps it when the operator should see it.
fn record(result: &mut RestoreReport, kind: usize, o: ObjectOutcome) {
    if let Some(counts) = result.kinds.get_mut(kind) {
        tally(counts, &o.outcome);
    }
    if !matches!(o.outcome, Outcome::Created | Outcome::Validated | Outcome::AlreadyIdentical) {
        result.notable.push(o);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared<'_> {
    async fn restore_one(&self, resolved: &Resolved, mut object: Value) -> ObjectOutcome {
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let key = format!("{} {}", resolved.name, super::manifest::object_key(&object));
        let outcome = if self.being_deleted.contains(&key) {
            Outcome::LeftOut
        } else if namespace.as_ref().is_some_and(|ns| self.missing_ns.contains(ns)) {
            Outcome::Failed(format!("namespace {} does not exist", namespace.as_deref().unwrap_or_default()))
        } else if let Err(why) = self.owners.relink(&mut object, &self.created_uids).await {
            Outcome::Failed(why)
        } else {
            // Only when the CRD converts without a webhook (see endpoint_for): the
            // same object under the name of a version the cluster serves.
            if object.get("apiVersion").and_then(Value::as_str) != Some(resolved.api.api_version.as_str()) {
                object["apiVersion"] = Value::String(resolved.api.api_version.clone());
            }
            self.create(resolved, namespace.as_deref(), &name, object).await
        };
        let done = {
            let mut d = self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *d += 1;
            *d
        };
        (self.report)(OpEvent::Progress { done, total: Some(self.total), bytes: 0, what: resolved.name.clone() });
        ObjectOutcome { resource: resolved.name.clone(), namespace, name, outcome }
    }

    async fn create(&self, resolved: &Resolved, namespace: Option<&str>, name: &str, object: Value) -> Outcome {
        if self.unreachable.load(std::sync::atomic::Ordering::SeqCst) {
            return Outcome::Failed("not tried: the API server stopped answering".into());
        }
        self.try_create(resolved, namespace, name, object).await
    }

    fn note_outage(&self, e: &kube::Error) {
        if !matches!(e, kube::Error::Api(_)) {
            self.unreachable.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    async fn try_create(&self, resolved: &Resolved, namespace: Option<&str>, name: &str, object: Value) -> Outcome {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if resolved.namespaced => Api::namespaced_with(self.conn.client.clone(), ns, &resolved.api),
            _ => Api::all_with(self.conn.client.clone(), &resolved.api),
        };
        let dynamic: DynamicObject = match serde_json::from_value(object.clone()) {
            Ok(d) => d,
            Err(e) => return Outcome::Failed(format!("the saved object is not a Kubernetes object: {e}")),
        };
        let report = self.report.clone();
        let on_retry = |e: &kube::Error, wait: Duration| {
            report(OpEvent::Line(format!("{name}: {}; retrying in {wait:?}", retry::describe(e))))
        };
        if self.mode.is_rehearsal() {
            // A dry-run apply validates objects that already exist too, where a dry-run
            // create would only answer AlreadyExists.
            let params = self.mode.apply_params(true);
            let result = retry::with_retry(self.retry_budget, on_retry, async || {
                api.patch(name, &params, &Patch::Apply(&dynamic)).await
            })
            .await;
            return match result {
                Ok(_) => Outcome::Validated,
                Err(e) => {
                    self.note_outage(&e);
                    Outcome::Failed(server_message(&e))
                }
            };
        }
        let params = self.mode.post_params();
        match retry::with_retry(self.retry_budget, on_retry, async || api.create(&params, &dynamic).await).await {
            Ok(created) => {
                if let (Some(old), Some(new)) =
                    (object.pointer("/metadata/uid").and_then(Value::as_str), created.metadata.uid)
                {
                    self.created_uids
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(old.to_string(), new);
                }
                Outcome::Created
            }
            Err(e) if api_status(&e) == Some(409) => {
                match retry::with_retry(self.retry_budget, |_, _| {}, async || api.get(name).await).await {
                    Ok(existing) => {
                        let existing = serde_json::to_value(existing).unwrap_or(Value::Null);
                        if same_object(&existing, &object) {
                            Outcome::AlreadyIdentical
                        } else {
                            Outcome::AlreadyDifferent
                        }
                    }
                    Err(e) => {
                        self.note_outage(&e);
                        Outcome::Failed(format!("it already exists but cannot be read: {}", server_message(&e)))
                    }
                }
            }
            Err(e) => {
                self.note_outage(&e);
                Outcome::Failed(server_message(&e))
            }
        }
    }
}

fn server_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

/// The endpoint a kind's saved objects are created through: that of the version
/// they were saved under, whenever the cluster still serves it (an API server
/// refuses an object whose apiVersion is not the endpoint's). When it does not,
/// a CRD whose versions convert with strategy `None` (the same schema under
/// another name) takes them through `served`; any other kind fails here,
/// before anything of it is created, naming the versions.
async fn endpoint_for(
    conn: &Connection,
    dir: &std::path::Path,
    entry: &KindEntry,
    served: Resolved,
    report: &Reporter,
) -> Result<Resolved, ClusterError> {
    if served.api.api_version == entry.api_version {
        return Ok(served);
    }
    let version = entry.api_version.rsplit('/').next().unwrap_or(&entry.api_version);
    if let Some(saved) = resource::resolve_version(&conn.client, &entry.resource, version).await? {
        return Ok(saved);
    }
    let crds: Api<CustomResourceDefinition> = Api::all(conn.client.clone());
    let crd = crds.get_opt(&entry.resource).await.map_err(|e| conn.unreachable_or(e, "read the CRD"))?;
    let strategy = crd.as_ref().and_then(|c| c.spec.conversion.as_ref()).map_or("None", |c| c.strategy.as_str());
    let served_versions: Vec<String> =
        crd.iter().flat_map(|c| c.spec.versions.iter().filter(|v| v.served).map(|v| v.name.clone())).collect();
    if crd.is_some() && strategy == "None" {
        report(OpEvent::Warning(format!(
            "{} was saved as {}, which the cluster no longer serves; its CRD converts without a webhook \
             (strategy None), so the objects are created as {}",
            entry.resource, entry.api_version, served.api.api_version
        )));
        return Ok(served);
    }
    Err(ClusterError::Backup {
        dir: dir.to_path_buf(),
        problem: format!(
            "{} was saved as {}, which the cluster does not serve (it serves {}), and its CRD converts with \
             strategy {strategy}, so the saved objects cannot be sent as they are; nothing of this backup was \
             created. Deploy a release that still serves {} (or convert the saved files yourself) and restore again",
            entry.resource,
            entry.api_version,
            if served_versions.is_empty() { served.api.api_version.clone() } else { served_versions.join(", ") },
            entry.api_version
        ),
    })
}

/// Waits until the cluster serves `name` and, for custom resources, its CRD is
/// Established, so creates do not race a just-installed CRD.
async fn wait_until_served(
    conn: &Connection,
    name: &str,
    deadline: Instant,
    report: &Reporter,
) -> Result<Resolved, ClusterError> {
    let crds: Api<CustomResourceDefinition> = Api::all(conn.client.clone());
    let on_wait = |why: &str| report(OpEvent::Line(format!("waiting: {why}")));
    let look = async || match resource::resolve(&conn.client, name).await {
        Ok(r) => match crds.get_opt(name).await {
            Ok(Some(crd)) if !is_established(&crd) => Look::NotYet(format!("CRD {name} is not Established yet")),
            Ok(_) => Look::Ready(r),
            Err(e) => Look::NotYet(format!("cannot read CRD {name}: {e}")),
        },
        Err(e @ ClusterError::NotServed { .. }) => Look::NotYet(e.to_string()),
        Err(ClusterError::Api { action, source }) if !matches!(*source, kube::Error::Api(_)) => {
            Look::Failed(conn.unreachable_or(*source, &action))
        }
        Err(e) => Look::Failed(e),
    };
    let deadline = tokio::time::Instant::from_std(deadline);
    poll_until(deadline, Duration::from_millis(500), on_wait, look).await?.map_err(|why| ClusterError::NotServed {
        resource: name.to_string(),
        hint: Some(format!("{why}; redeploy the product so its CRDs exist, then run the restore again")),
    })
}

pub fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

/// What a pass over the backup learns before anything is created.
struct BackupIndex {
    namespaces: Vec<String>,
    /// uid of every saved object.
    uids: HashSet<String>,
}

fn index_backup(dir: &std::path::Path, manifest: &Manifest) -> Result<BackupIndex, ClusterError> {
    let mut namespaces = std::collections::BTreeSet::new();
    let mut uids = HashSet::new();
    for entry in &manifest.kinds {
        manifest::scan_file(&dir.join(&entry.file), |o| {
            if let Some(ns) = o.pointer("/metadata/namespace").and_then(Value::as_str) {
                namespaces.insert(ns.to_string());
            }
            if let Some(uid) = o.pointer("/metadata/uid").and_then(Value::as_str) {
                uids.insert(uid.to_string());
            }
            Ok(())
        })?;
    }
    Ok(BackupIndex { namespaces: namespaces.into_iter().collect(), uids })
}

/// Waits for the namespaces objects live in; returns those still missing at the
/// deadline (their objects fail with that reason rather than the whole restore).
async fn wait_for_namespaces(
    conn: &Connection,
    wanted: &[String],
    deadline: Instant,
    mode: Mode,
    report: &Reporter,
) -> Result<HashSet<String>, ClusterError> {
    let api: Api<Namespace> = Api::all(conn.client.clone());
    let mut missing: HashSet<String> = wanted.iter().cloned().collect();
    loop {
        let mut still = HashSet::new();
        for ns in &missing {
            match api.get_opt(ns).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    still.insert(ns.clone());
                }
                Err(e) => return Err(conn.unreachable_or(e, &format!("read namespace {ns}"))),
            }
        }
        missing = still;
        // In rehearsal nothing was removed, so there is nothing to wait for.
        if missing.is_empty() || mode.is_rehearsal() || Instant::now() >= deadline {
            if !missing.is_empty() {
                let mut list: Vec<_> = missing.iter().cloned().collect();
                list.sort();
                report(OpEvent::Warning(format!(
                    "namespaces missing, their objects cannot be restored: {}",
                    list.join(", ")
                )));
            }
            return Ok(missing);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
