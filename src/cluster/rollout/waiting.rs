//! Waiting for every restarted workload's rollout, one watch per kind and
//! namespace, until each completes, fails or the deadline passes.

use std::collections::HashSet;
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::super::connect::Connection;
use super::super::error::ClusterError;
use super::super::watch::{is_fatal, watch_error};
use super::super::workload::Rollout;
use super::super::workload::{daemonset_rollout, deployment_rollout, statefulset_rollout};
use super::WorkloadRef;
use super::restart::api_for;
use crate::base::WorkloadKind;
use crate::base::progress::{OpEvent, Reporter};

/// Counts finished rollouts and tells the reporter.
pub(super) struct Tally<'a> {
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
pub(super) enum Unfinished {
    TimedOut(String),
    Failed(String),
}

pub(super) type GroupOutcome = Result<Vec<(WorkloadRef, Unfinished)>, ClusterError>;

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

pub(super) fn by_kind_and_namespace(workloads: &[WorkloadRef]) -> Vec<(WorkloadKind, String, Vec<WorkloadRef>)> {
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
pub(super) fn unfinished_as_error(
    outcomes: Vec<GroupOutcome>,
    total: u64,
    timeout: Duration,
) -> Result<(), ClusterError> {
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
pub(super) async fn watch_group<K>(
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
            Err(e) if is_fatal(&e) => return Err(watch_error(e, "the rollouts")),
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

pub(super) fn judge_member<K: ResourceExt>(
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
pub(super) fn forget_member(pending: &mut Vec<(WorkloadRef, String)>, name: &str, tally: &Tally<'_>) {
    let Some(i) = pending.iter().position(|(w, _)| w.name == name) else { return };
    let (w, _) = pending.remove(i);
    (tally.report)(OpEvent::Warning(format!("{w} was deleted while its rollout was awaited")));
    tally.finished(w.to_string());
}
