//! Restarting workloads the way `kubectl rollout restart` does (a new
//! `kubectl.kubernetes.io/restartedAt` pod-template annotation), deleting pods no
//! controller owns when asked, and waiting for the rollouts with the rules of
//! `kubectl rollout status`. kube's own `Api::restart()` is not used: it writes a
//! different annotation and cannot dry-run. Choosing the workloads is in
//! [`select`], the patches and deletes in [`restart`], waiting for the rollouts
//! in [`waiting`]; where one rollout stands is judged in [`super::workload`].

mod restart;
mod select;
mod waiting;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::Mode;
use super::connect::Connection;
use super::error::ClusterError;
pub use super::workload::{Rollout, daemonset_rollout, deployment_rollout, statefulset_rollout};
use crate::base::WorkloadKind;
use crate::base::progress::{OpEvent, Reporter};

pub use restart::restart_patch;
use restart::{delete_pod, list, restart_one, restarted_at_now};
pub use select::{Criteria, Listed, Selection, select};
pub use waiting::wait_for_rollouts;

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

#[cfg(test)]
mod tests {
    use super::split_namespaces;

    #[test]
    fn a_list_variable_given_whole_stands_for_each_namespace() {
        let given = ["shop, payments".to_string(), "".to_string(), "edge".to_string()];
        assert_eq!(split_namespaces(&given), ["shop", "payments", "edge"]);
    }
}
