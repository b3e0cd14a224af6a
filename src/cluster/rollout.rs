//! Restarting workloads the way `kubectl rollout restart` does (a new
//! `kubectl.kubernetes.io/restartedAt` pod-template annotation), deleting pods no
//! controller owns when asked, and waiting for the rollouts with the rules of
//! `kubectl rollout status`. kube's own `Api::restart()` is not used: it writes a
//! different annotation and cannot dry-run.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::{Mode, retry};
use crate::base::WorkloadKind;
use crate::base::progress::{OpEvent, Reporter};

/// The annotation `kubectl rollout restart` sets; tools and operators look for it.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// How long rollouts may take when the runbook gives no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one list, patch or delete may keep failing for passing reasons.
const CALL_RETRY_BUDGET: Duration = Duration::from_secs(60);
const ALL_KINDS: [WorkloadKind; 3] = [WorkloadKind::Deployment, WorkloadKind::StatefulSet, WorkloadKind::DaemonSet];

/// A workload by kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", kind_name(self.kind), self.namespace, self.name)
    }
}

/// A pod by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for PodRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pod {}/{}", self.namespace, self.name)
    }
}

/// A workload that matched but is not restarted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub workload: WorkloadRef,
    pub reason: String,
}

/// The lower-case kind name kubectl prints.
pub fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::StatefulSet => "statefulset",
        WorkloadKind::DaemonSet => "daemonset",
    }
}

/// Which workloads a restart is about. The label selector is not here: the API
/// server applies it when listing.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    /// Only these namespaces; all namespaces when `None`.
    pub namespaces: Option<Vec<String>>,
    /// A pod-template annotation, `key` or `key=value`.
    pub annotation: Option<String>,
    /// Workload kinds; all three when empty.
    pub kinds: Vec<WorkloadKind>,
    pub delete_unowned_pods: bool,
}

impl Criteria {
    fn kinds(&self) -> Vec<WorkloadKind> {
        if self.kinds.is_empty() { ALL_KINDS.to_vec() } else { self.kinds.clone() }
    }

    fn wants_kind(&self, kind: WorkloadKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    fn wants_namespace(&self, ns: &str) -> bool {
        self.namespaces.as_ref().is_none_or(|list| list.iter().any(|n| n == ns))
    }

    fn wants_annotations(&self, annotations: Option<&BTreeMap<String, String>>) -> bool {
        let Some(wanted) = &self.annotation else { return true };
        let (key, value) = match wanted.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (wanted.trim(), None),
        };
        match annotations.and_then(|a| a.get(key)) {
            Some(actual) => value.is_none_or(|v| v == actual),
            None => false,
        }
    }
}

/// What the cluster holds, as listed (already narrowed by the label selector).
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub deployments: Vec<Deployment>,
    pub statefulsets: Vec<StatefulSet>,
    pub daemonsets: Vec<DaemonSet>,
    pub pods: Vec<Pod>,
}

/// What a restart will touch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub restart: Vec<WorkloadRef>,
    pub skipped: Vec<Skipped>,
    pub delete_pods: Vec<PodRef>,
}

/// Chooses workloads (and unowned pods) from listed objects. Pure, so the rules
/// can be tested without a cluster.
pub fn select(criteria: &Criteria, listed: &Listed) -> Selection {
    let mut selection = Selection::default();
    let candidates = listed
        .deployments
        .iter()
        .map(|d| {
            candidate(
                WorkloadKind::Deployment,
                &d.metadata,
                d.spec.as_ref().and_then(|s| s.template.metadata.as_ref()),
                deployment_skip(d),
            )
        })
        .chain(listed.statefulsets.iter().map(|s| {
            candidate(
                WorkloadKind::StatefulSet,
                &s.metadata,
                s.spec.as_ref().and_then(|s| s.template.metadata.as_ref()),
                statefulset_skip(s),
            )
        }))
        .chain(listed.daemonsets.iter().map(|d| {
            candidate(
                WorkloadKind::DaemonSet,
                &d.metadata,
                d.spec.as_ref().and_then(|s| s.template.metadata.as_ref()),
                daemonset_skip(d),
            )
        }));
    for (workload, template_annotations, skip) in candidates {
        if !criteria.wants_kind(workload.kind)
            || !criteria.wants_namespace(&workload.namespace)
            || !criteria.wants_annotations(template_annotations)
        {
            continue;
        }
        match skip {
            Some(reason) => selection.skipped.push(Skipped { workload, reason }),
            None => selection.restart.push(workload),
        }
    }
    if criteria.delete_unowned_pods {
        selection.delete_pods = listed
            .pods
            .iter()
            .filter(|p| is_unowned_live_pod(p))
            .filter(|p| criteria.wants_namespace(&p.namespace().unwrap_or_default()))
            .filter(|p| criteria.wants_annotations(p.metadata.annotations.as_ref()))
            .map(|p| PodRef { namespace: p.namespace().unwrap_or_default(), name: p.name_any() })
            .collect();
    }
    selection
}

type Candidate<'a> = (WorkloadRef, Option<&'a BTreeMap<String, String>>, Option<String>);

fn candidate<'a>(
    kind: WorkloadKind,
    meta: &ObjectMeta,
    template: Option<&'a ObjectMeta>,
    skip: Option<String>,
) -> Candidate<'a> {
    let workload = WorkloadRef {
        kind,
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
    };
    (workload, template.and_then(|t| t.annotations.as_ref()), skip)
}

fn deployment_skip(d: &Deployment) -> Option<String> {
    // kubectl refuses too: a paused Deployment would not roll out, and the wait would time out.
    d.spec
        .as_ref()
        .and_then(|s| s.paused)
        .filter(|p| *p)
        .map(|_| "it is paused; resume it (`kubectl rollout resume`) and restart it again".to_string())
}

fn statefulset_skip(s: &StatefulSet) -> Option<String> {
    let strategy = s.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref());
    on_delete_skip(strategy)
}

fn daemonset_skip(d: &DaemonSet) -> Option<String> {
    let strategy = d.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref());
    on_delete_skip(strategy)
}

fn on_delete_skip(strategy: Option<&str>) -> Option<String> {
    // With OnDelete a template change replaces no pod, so a restart would do nothing.
    (strategy == Some("OnDelete"))
        .then(|| "its update strategy is OnDelete: its pods are replaced only when deleted".to_string())
}

/// A pod no controller owns that is still running or about to.
fn is_unowned_live_pod(pod: &Pod) -> bool {
    let controlled = pod.owner_references().iter().any(|r| r.controller == Some(true));
    let terminating = pod.metadata.deletion_timestamp.is_some();
    // Mirror pods belong to the kubelet's static manifests; deleting them does nothing.
    let mirror = pod.annotations().contains_key("kubernetes.io/config.mirror");
    let finished = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
    !controlled && !terminating && !mirror && !finished
}

/// Where a rollout stands, by the rules of `kubectl rollout status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    Pending(String),
    Complete(String),
    /// It will not finish by waiting (for example its progress deadline passed).
    Failed(String),
}

impl Rollout {
    pub fn message(&self) -> &str {
        match self {
            Rollout::Pending(m) | Rollout::Complete(m) | Rollout::Failed(m) => m,
        }
    }
}

pub fn deployment_rollout(d: &Deployment) -> Rollout {
    let name = d.name_any();
    let generation = d.metadata.generation.unwrap_or(0);
    let status = d.status.clone().unwrap_or_default();
    if generation > status.observed_generation.unwrap_or(0) {
        return Rollout::Pending("waiting for the deployment spec update to be observed".into());
    }
    let deadline_passed = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
    if deadline_passed {
        return Rollout::Failed(format!("deployment {name} exceeded its progress deadline"));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if let Some(wanted) = d.spec.as_ref().and_then(|s| s.replicas)
        && updated < wanted
    {
        return Rollout::Pending(format!("{updated} out of {wanted} new replicas have been updated"));
    }
    if replicas > updated {
        return Rollout::Pending(format!("{} old replicas are pending termination", replicas - updated));
    }
    if available < updated {
        return Rollout::Pending(format!("{available} of {updated} updated replicas are available"));
    }
    Rollout::Complete(format!("deployment {name} successfully rolled out"))
}

pub fn statefulset_rollout(s: &StatefulSet) -> Rollout {
    let spec = s.spec.clone().unwrap_or_default();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    if strategy.type_.as_deref().is_some_and(|t| t != "RollingUpdate") {
        return Rollout::Failed("rollout status is only available for the RollingUpdate strategy".into());
    }
    let status = s.status.clone().unwrap_or_default();
    let observed = status.observed_generation.unwrap_or(0);
    if observed == 0 || s.metadata.generation.unwrap_or(0) > observed {
        return Rollout::Pending("waiting for the statefulset spec update to be observed".into());
    }
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    if let Some(wanted) = spec.replicas
        && ready < wanted
    {
        return Rollout::Pending(format!("waiting for {} pods to be ready", wanted - ready));
    }
    let partition = strategy.rolling_update.as_ref().and_then(|r| r.partition).unwrap_or(0);
    if partition > 0 {
        let wanted = spec.replicas.unwrap_or(1) - partition;
        if updated < wanted {
            return Rollout::Pending(format!(
                "partitioned roll out: {updated} out of {wanted} new pods have been updated"
            ));
        }
        return Rollout::Complete(format!("partitioned roll out complete: {updated} new pods have been updated"));
    }
    let update_revision = status.update_revision.unwrap_or_default();
    if spec.replicas.is_some_and(|wanted| updated < wanted)
        || Some(&update_revision) != status.current_revision.as_ref()
    {
        return Rollout::Pending(format!("rolling update: {updated} pods at revision {update_revision}"));
    }
    Rollout::Complete(format!("statefulset rolling update complete: {updated} pods at revision {update_revision}"))
}

pub fn daemonset_rollout(d: &DaemonSet) -> Rollout {
    let strategy = d.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref());
    if strategy.is_some_and(|t| t != "RollingUpdate") {
        return Rollout::Failed("rollout status is only available for the RollingUpdate strategy".into());
    }
    let status = d.status.clone().unwrap_or_default();
    if d.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0) {
        return Rollout::Pending("waiting for the daemon set spec update to be observed".into());
    }
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    if updated < desired {
        return Rollout::Pending(format!("{updated} out of {desired} new pods have been updated"));
    }
    if available < desired {
        return Rollout::Pending(format!("{available} of {desired} updated pods are available"));
    }
    Rollout::Complete(format!("daemon set {} successfully rolled out", d.name_any()))
}

/// A rollout restart as resolved for one run.
#[derive(Debug, Clone)]
pub struct RolloutRequest {
    pub criteria: Criteria,
    /// A label selector, applied by the API server.
    pub selector: Option<String>,
    pub timeout: Duration,
    pub mode: Mode,
}

/// Namespace names never hold a comma, so an entry that does is a list variable
/// (such as `{{meshed_namespaces}}`) given whole: it stands for each of its names.
pub fn split_namespaces(entries: &[String]) -> Vec<String> {
    entries.iter().flat_map(|e| e.split(',')).map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect()
}

/// What a rollout restart did (or, in rehearsal, would do).
#[derive(Debug, Clone, Serialize)]
pub struct RolloutSummary {
    pub mode: Mode,
    pub restarted: Vec<WorkloadRef>,
    pub skipped: Vec<Skipped>,
    pub deleted_pods: Vec<PodRef>,
    /// Whether every rollout was waited for until it finished (never in rehearsal).
    pub waited: bool,
}

/// Restarts the selected workloads, deletes unowned pods when asked, then waits
/// for every rollout. In rehearsal every write is a server-side dry run and
/// nothing is waited for.
pub async fn rollout_restart(
    conn: &Connection,
    req: &RolloutRequest,
    report: Reporter,
) -> Result<RolloutSummary, ClusterError> {
    let listed = list(conn, req, &report).await?;
    let mut selection = select(&req.criteria, &listed);
    let stamp = restarted_at_now()?;
    let verb = if req.mode.is_rehearsal() { "would restart" } else { "restarted" };
    let mut restarted = Vec::new();
    for workload in std::mem::take(&mut selection.restart) {
        if restart_one(conn, &workload, &stamp, req.mode, &report).await? {
            report(OpEvent::Line(format!("{verb} {workload}")));
            restarted.push(workload);
        } else {
            let reason = "it was deleted before it could be restarted".to_string();
            selection.skipped.push(Skipped { workload, reason });
        }
    }
    selection.restart = restarted;
    for s in &selection.skipped {
        report(OpEvent::Warning(format!("{} is not restarted: {}", s.workload, s.reason)));
    }
    let mut deleted = Vec::new();
    for pod in &selection.delete_pods {
        if delete_pod(conn, pod, req.mode, &report).await? {
            let verb = if req.mode.is_rehearsal() { "would delete" } else { "deleted" };
            report(OpEvent::Line(format!("{verb} {pod}, which no controller owns")));
            deleted.push(pod.clone());
        }
    }
    let waited = if req.mode.is_rehearsal() {
        report(OpEvent::Line(format!("would wait for {} rollouts", selection.restart.len())));
        false
    } else {
        wait_for_rollouts(conn, &selection.restart, req.selector.as_deref(), req.timeout, report).await?;
        true
    };
    Ok(RolloutSummary {
        mode: req.mode,
        restarted: selection.restart,
        skipped: selection.skipped,
        deleted_pods: deleted,
        waited,
    })
}

/// The annotation value kubectl writes: RFC 3339 to the second.
fn restarted_at_now() -> Result<String, ClusterError> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .map_err(|e| ClusterError::Other(format!("cannot format the restart time: {e}")))
}

/// The patch `kubectl rollout restart` sends.
pub fn restart_patch(stamp: &str) -> serde_json::Value {
    serde_json::json!({ "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT: stamp } } } } })
}

async fn list(conn: &Connection, req: &RolloutRequest, report: &Reporter) -> Result<Listed, ClusterError> {
    let mut listed = Listed::default();
    let scopes: Vec<Option<&str>> = match &req.criteria.namespaces {
        Some(list) => list.iter().map(|n| Some(n.as_str())).collect(),
        None => vec![None],
    };
    let selector = req.selector.as_deref();
    for ns in scopes {
        for kind in req.criteria.kinds() {
            match kind {
                WorkloadKind::Deployment => listed.deployments.extend(list_all(conn, ns, selector, report).await?),
                WorkloadKind::StatefulSet => listed.statefulsets.extend(list_all(conn, ns, selector, report).await?),
                WorkloadKind::DaemonSet => listed.daemonsets.extend(list_all(conn, ns, selector, report).await?),
            }
        }
        if req.criteria.delete_unowned_pods {
            listed.pods.extend(list_all::<Pod>(conn, ns, selector, report).await?);
        }
    }
    Ok(listed)
}

fn api_for<K>(conn: &Connection, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(conn.client.clone(), ns),
        None => Api::all(conn.client.clone()),
    }
}

fn scope_text(namespace: Option<&str>) -> String {
    namespace.map_or_else(|| "in all namespaces".to_string(), |ns| format!("in namespace {ns}"))
}

/// Lists every page of one kind.
async fn list_all<K>(
    conn: &Connection,
    namespace: Option<&str>,
    selector: Option<&str>,
    report: &Reporter,
) -> Result<Vec<K>, ClusterError>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug,
{
    let api: Api<K> = api_for(conn, namespace);
    let what = format!("{} {}", K::plural(&()), scope_text(namespace));
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(500);
        if let Some(s) = selector {
            params = params.labels(s);
        }
        params.continue_token = token.clone();
        let page = retry::with_retry(
            CALL_RETRY_BUDGET,
            |e, wait| report(OpEvent::Line(format!("list {what}: {}; retrying in {wait:?}", retry::describe(e)))),
            async || api.list(&params).await,
        )
        .await
        .map_err(|e| conn.unreachable_or(e, &format!("list {what}")))?;
        out.extend(page.items);
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Sends kubectl's restart patch; `false` when the workload is gone.
async fn restart_one(
    conn: &Connection,
    workload: &WorkloadRef,
    stamp: &str,
    mode: Mode,
    report: &Reporter,
) -> Result<bool, ClusterError> {
    let ns = Some(workload.namespace.as_str());
    let patch = Patch::Strategic(restart_patch(stamp));
    let params = mode.patch_params();
    let on_retry = |e: &kube::Error, wait: Duration| {
        report(OpEvent::Line(format!("restart {workload}: {}; retrying in {wait:?}", retry::describe(e))))
    };
    let result = match workload.kind {
        WorkloadKind::Deployment => {
            let api: Api<Deployment> = api_for(conn, ns);
            retry::with_retry(CALL_RETRY_BUDGET, on_retry, async || api.patch(&workload.name, &params, &patch).await)
                .await
                .map(drop)
        }
        WorkloadKind::StatefulSet => {
            let api: Api<StatefulSet> = api_for(conn, ns);
            retry::with_retry(CALL_RETRY_BUDGET, on_retry, async || api.patch(&workload.name, &params, &patch).await)
                .await
                .map(drop)
        }
        WorkloadKind::DaemonSet => {
            let api: Api<DaemonSet> = api_for(conn, ns);
            retry::with_retry(CALL_RETRY_BUDGET, on_retry, async || api.patch(&workload.name, &params, &patch).await)
                .await
                .map(drop)
        }
    };
    match result {
        Ok(()) => Ok(true),
        Err(e) if api_status(&e) == Some(404) => Ok(false),
        Err(e) => Err(conn.unreachable_or(e, &format!("restart {workload}"))),
    }
}

/// Deletes one pod; `false` when it was already gone.
async fn delete_pod(conn: &Connection, pod: &PodRef, mode: Mode, report: &Reporter) -> Result<bool, ClusterError> {
    let api: Api<Pod> = Api::namespaced(conn.client.clone(), &pod.namespace);
    let params = mode.delete_params();
    let result = retry::with_retry(
        CALL_RETRY_BUDGET,
        |e, wait| report(OpEvent::Line(format!("delete {pod}: {}; retrying in {wait:?}", retry::describe(e)))),
        async || api.delete(&pod.name, &params).await,
    )
    .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if api_status(&e) == Some(404) => Ok(false),
        Err(e) => Err(conn.unreachable_or(e, &format!("delete {pod}"))),
    }
}

/// Counts finished rollouts and tells the reporter.
struct Tally<'a> {
    done: AtomicU64,
    total: u64,
    report: &'a Reporter,
}

impl Tally<'_> {
    fn finished(&self, what: String) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        (self.report)(OpEvent::Progress { done, total: Some(self.total), bytes: 0, what });
    }
}

/// Why a rollout was not seen to finish.
enum Unfinished {
    TimedOut(String),
    Failed(String),
}

type GroupOutcome = Result<Vec<(WorkloadRef, Unfinished)>, ClusterError>;

/// Waits until every workload's rollout is complete, watching each kind once
/// per namespace (not once per workload). Progress counts finished workloads.
pub async fn wait_for_rollouts(
    conn: &Connection,
    workloads: &[WorkloadRef],
    selector: Option<&str>,
    timeout: Duration,
    report: Reporter,
) -> Result<(), ClusterError> {
    let deadline = Instant::now() + timeout;
    let total = workloads.len() as u64;
    let what = format!("waiting for {total} rollouts");
    report(OpEvent::Progress { done: 0, total: Some(total), bytes: 0, what });
    let tally = Tally { done: AtomicU64::new(0), total, report: &report };
    let config = selector.map_or_else(watcher::Config::default, |s| watcher::Config::default().labels(s));
    let waits = by_kind_and_namespace(workloads).into_iter().map(|(kind, ns, members)| {
        let (config, tally) = (config.clone(), &tally);
        async move {
            match kind {
                WorkloadKind::Deployment => {
                    watch_group(api_for(conn, Some(&ns)), config, members, deployment_rollout, deadline, tally).await
                }
                WorkloadKind::StatefulSet => {
                    watch_group(api_for(conn, Some(&ns)), config, members, statefulset_rollout, deadline, tally).await
                }
                WorkloadKind::DaemonSet => {
                    watch_group(api_for(conn, Some(&ns)), config, members, daemonset_rollout, deadline, tally).await
                }
            }
        }
    });
    let outcomes: Vec<GroupOutcome> = futures::future::join_all(waits).await;
    unfinished_as_error(outcomes, total, timeout)
}

fn by_kind_and_namespace(workloads: &[WorkloadRef]) -> Vec<(WorkloadKind, String, Vec<WorkloadRef>)> {
    let mut groups: Vec<(WorkloadKind, String, Vec<WorkloadRef>)> = Vec::new();
    for w in workloads {
        match groups.iter_mut().find(|(k, ns, _)| *k == w.kind && *ns == w.namespace) {
            Some((_, _, members)) => members.push(w.clone()),
            None => groups.push((w.kind, w.namespace.clone(), vec![w.clone()])),
        }
    }
    groups
}

/// One error for every rollout that did not finish: failures first, since
/// waiting longer would not have helped them.
fn unfinished_as_error(outcomes: Vec<GroupOutcome>, total: u64, timeout: Duration) -> Result<(), ClusterError> {
    let mut timed_out = Vec::new();
    let mut failed = Vec::new();
    for outcome in outcomes {
        for (w, why) in outcome? {
            match why {
                Unfinished::TimedOut(last) => timed_out.push(format!("{w}: {last}")),
                Unfinished::Failed(message) => failed.push(format!("{w}: {message}")),
            }
        }
    }
    if !failed.is_empty() {
        return Err(ClusterError::Other(format!("rollouts failed: {}", failed.join("; "))));
    }
    if !timed_out.is_empty() {
        return Err(ClusterError::Timeout {
            what: format!("{total} rollouts finished ({} did)", total - timed_out.len() as u64),
            after: timeout,
            last: timed_out.join("; "),
        });
    }
    Ok(())
}

/// Watches one kind in one namespace until each member's rollout ends or the
/// deadline passes. The watcher lists again by itself after errors.
async fn watch_group<K>(
    api: Api<K>,
    config: watcher::Config,
    members: Vec<WorkloadRef>,
    judge: fn(&K) -> Rollout,
    deadline: Instant,
    tally: &Tally<'_>,
) -> GroupOutcome
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + 'static,
{
    let mut pending: Vec<(WorkloadRef, String)> =
        members.into_iter().map(|w| (w, "no status seen yet".to_string())).collect();
    let mut ended = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut stream = pin!(watcher::watcher(api, config).default_backoff());
    while !pending.is_empty() {
        let event = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => break,
        };
        match event {
            Ok(Event::Init) => seen.clear(),
            Ok(Event::InitApply(obj)) => {
                seen.insert(obj.name_any());
                judge_member(&mut pending, &mut ended, &obj, judge, tally);
            }
            Ok(Event::Apply(obj)) => judge_member(&mut pending, &mut ended, &obj, judge, tally),
            Ok(Event::Delete(obj)) => forget_member(&mut pending, &obj.name_any(), tally),
            Ok(Event::InitDone) => {
                let gone: Vec<String> =
                    pending.iter().map(|(w, _)| w.name.clone()).filter(|n| !seen.contains(n)).collect();
                for name in gone {
                    forget_member(&mut pending, &name, tally);
                }
            }
            Err(e) if super::wait::is_fatal(&e) => return Err(super::wait::watch_error(e, "the rollouts")),
            Err(e) => {
                let note = format!("watch interrupted ({e}); watching again");
                for (_, last) in &mut pending {
                    last.clone_from(&note);
                }
            }
        }
    }
    ended.extend(pending.into_iter().map(|(w, last)| (w, Unfinished::TimedOut(last))));
    Ok(ended)
}

fn judge_member<K: ResourceExt>(
    pending: &mut Vec<(WorkloadRef, String)>,
    ended: &mut Vec<(WorkloadRef, Unfinished)>,
    obj: &K,
    judge: fn(&K) -> Rollout,
    tally: &Tally<'_>,
) {
    let name = obj.name_any();
    let Some(i) = pending.iter().position(|(w, _)| w.name == name) else { return };
    match judge(obj) {
        Rollout::Pending(message) => pending[i].1 = message,
        Rollout::Complete(_) => {
            let (w, _) = pending.remove(i);
            tally.finished(w.to_string());
        }
        Rollout::Failed(message) => {
            let (w, _) = pending.remove(i);
            ended.push((w, Unfinished::Failed(message)));
        }
    }
}

/// A workload deleted while its rollout was awaited has nothing left to roll out.
fn forget_member(pending: &mut Vec<(WorkloadRef, String)>, name: &str, tally: &Tally<'_>) {
    let Some(i) = pending.iter().position(|(w, _)| w.name == name) else { return };
    let (w, _) = pending.remove(i);
    (tally.report)(OpEvent::Warning(format!("{w} was deleted while its rollout was awaited")));
    tally.finished(w.to_string());
}

#[cfg(test)]
mod tests {
    use super::split_namespaces;

    #[test]
    fn a_list_variable_given_whole_stands_for_each_namespace() {
        let given = ["shop, payments".to_string(), "".to_string(), "edge".to_string()];
        assert_eq!(split_namespaces(&given), ["shop", "payments", "edge"]);
    }
}
