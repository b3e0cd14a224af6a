//! Waiting until the cluster reaches a state: an object gone, a Deployment
//! available, a CRD Established, a namespace gone. Each wait watches its one
//! object (the watcher lists again by itself after an error) instead of polling,
//! and a timeout says what was waited for, for how long, and what was last seen.
//! Rehearsal waits for nothing: the caller shows [`WaitTarget::describe`] instead.

use std::fmt::Debug;
use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watch_object};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::resource;
use super::rollout::{Rollout, deployment_rollout};
use crate::base::progress::{OpEvent, Reporter};

/// How long a wait lasts when the runbook gives no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A state to wait for, with every template rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitTarget {
    /// An object no longer exists. `resource` is `plural.group` or a core plural.
    Gone {
        resource: String,
        namespace: Option<String>,
        name: String,
    },
    /// A Deployment is available with every replica updated.
    DeploymentAvailable {
        namespace: String,
        name: String,
    },
    /// A CustomResourceDefinition, by its name `plural.group`, is Established.
    CrdEstablished {
        name: String,
    },
    NamespaceGone {
        name: String,
    },
}

impl WaitTarget {
    /// The awaited state, e.g. `jobs.batch nginx-mesh/csi-driver-sentinel is gone`.
    pub fn condition(&self) -> String {
        match self {
            WaitTarget::Gone { resource, namespace: Some(ns), name } => format!("{resource} {ns}/{name} is gone"),
            WaitTarget::Gone { resource, namespace: None, name } => format!("{resource} {name} is gone"),
            WaitTarget::DeploymentAvailable { namespace, name } => {
                format!("deployment {namespace}/{name} is available and fully rolled out")
            }
            WaitTarget::CrdEstablished { name } => format!("CRD {name} is Established"),
            WaitTarget::NamespaceGone { name } => format!("namespace {name} is gone"),
        }
    }

    /// What rehearsal shows instead of waiting.
    pub fn describe(&self) -> String {
        format!("would wait until {}", self.condition())
    }
}

/// How a wait ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waited {
    pub elapsed: Duration,
    /// The state that ended the wait, in words.
    pub state: String,
}

/// Waits until `target` holds, for at most `timeout`.
pub async fn wait(
    conn: &Connection,
    target: &WaitTarget,
    timeout: Duration,
    report: Reporter,
) -> Result<Waited, ClusterError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let what = target.condition();
    report(OpEvent::Progress { done: 0, total: Some(1), bytes: 0, what: what.clone() });
    let mut on_change = |state: &str| report(OpEvent::Line(format!("waiting until {what}: {state}")));
    let client = conn.client.clone();
    let result = match target {
        WaitTarget::Gone { resource, namespace, name } => {
            let resolved = match resource::resolve(&client, resource).await {
                Ok(r) => r,
                // A kind the cluster does not serve has no objects left.
                Err(ClusterError::NotServed { .. }) => {
                    return Ok(finished(&report, &what, started, format!("{resource} is not served, so it is gone")));
                }
                Err(e) => return Err(e),
            };
            let api: Api<DynamicObject> = match namespace {
                Some(ns) if resolved.namespaced => Api::namespaced_with(client, ns, &resolved.api),
                _ => Api::all_with(client, &resolved.api),
            };
            watch_until(api, name, deadline, gone_verdict, &mut on_change).await
        }
        WaitTarget::NamespaceGone { name } => {
            watch_until(Api::<Namespace>::all(client), name, deadline, namespace_verdict, &mut on_change).await
        }
        WaitTarget::CrdEstablished { name } => {
            let api = Api::<CustomResourceDefinition>::all(client);
            watch_until(api, name, deadline, crd_verdict, &mut on_change).await
        }
        WaitTarget::DeploymentAvailable { namespace, name } => {
            let api = Api::<Deployment>::namespaced(client, namespace);
            watch_until(api, name, deadline, deployment_verdict, &mut on_change).await
        }
    };
    match result {
        Ok(state) => Ok(finished(&report, &what, started, state)),
        Err(Ended::TimedOut(last)) => Err(ClusterError::Timeout { what, after: timeout, last }),
        Err(Ended::Fatal(e)) => Err(e),
    }
}

fn finished(report: &Reporter, what: &str, started: Instant, state: String) -> Waited {
    report(OpEvent::Progress { done: 1, total: Some(1), bytes: 0, what: what.to_string() });
    Waited { elapsed: started.elapsed(), state }
}

/// Where a watched object stands against the awaited state, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Met(String),
    Pending(String),
}

pub(crate) enum Ended {
    TimedOut(String),
    Fatal(ClusterError),
}

/// Watches the object `name` until `judge` says the state is met or the
/// deadline passes. Reports each new state once.
pub(crate) async fn watch_until<K>(
    api: Api<K>,
    name: &str,
    deadline: Instant,
    judge: impl Fn(Option<&K>) -> Verdict,
    on_change: &mut impl FnMut(&str),
) -> Result<String, Ended>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut stream = pin!(watch_object(api, name).default_backoff());
    let mut last = "nothing seen yet (the first list has not answered)".to_string();
    loop {
        let event = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => return Err(Ended::TimedOut(last)),
        };
        let state = match event {
            Ok(obj) => match judge(obj.as_ref()) {
                Verdict::Met(state) => return Ok(state),
                Verdict::Pending(state) => state,
            },
            Err(e) if is_fatal(&e) => return Err(Ended::Fatal(watch_error(e, name))),
            Err(e) => format!("the watch failed ({e}); watching again"),
        };
        if state != last {
            on_change(&state);
            last = state;
        }
    }
}

/// Errors that waiting longer will not cure: no permission, or a kind the server
/// does not serve. Everything else the watcher retries.
pub(crate) fn is_fatal(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(inner) | watcher::Error::WatchStartFailed(inner) => {
            matches!(api_status(inner), Some(401 | 403 | 404))
        }
        _ => false,
    }
}

pub(crate) fn watch_error(e: watcher::Error, what: &str) -> ClusterError {
    let action = format!("watch {what}");
    match e {
        watcher::Error::InitialListFailed(inner)
        | watcher::Error::WatchStartFailed(inner)
        | watcher::Error::WatchFailed(inner) => ClusterError::api(action, inner),
        other => ClusterError::Other(format!("{action} failed: {other}")),
    }
}

fn gone_verdict<K: ResourceExt>(obj: Option<&K>) -> Verdict {
    match obj {
        None => Verdict::Met("gone".into()),
        Some(o) => Verdict::Pending(existence(o)),
    }
}

fn existence<K: ResourceExt>(o: &K) -> String {
    match &o.meta().deletion_timestamp {
        None => "it exists and is not being deleted".into(),
        Some(t) => {
            let finalizers = o.finalizers();
            let waiting_on = if finalizers.is_empty() {
                String::new()
            } else {
                format!("; finalizers left: {}", finalizers.join(", "))
            };
            format!("being deleted since {}{waiting_on}", t.0)
        }
    }
}

fn namespace_verdict(ns: Option<&Namespace>) -> Verdict {
    let Some(ns) = ns else { return Verdict::Met("gone".into()) };
    let status = ns.status.as_ref();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Active".into());
    let blocking: Vec<String> = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.status == "True")
        .map(|c| format!("{}: {}", c.type_, c.message.clone().unwrap_or_default()))
        .collect();
    let mut state = format!("phase {phase}; {}", existence(ns));
    if !blocking.is_empty() {
        state.push_str(&format!("; {}", blocking.join("; ")));
    }
    Verdict::Pending(state)
}

fn crd_verdict(crd: Option<&CustomResourceDefinition>) -> Verdict {
    let Some(crd) = crd else { return Verdict::Pending("the CRD does not exist".into()) };
    let conditions = crd.status.as_ref().and_then(|s| s.conditions.as_ref());
    let find = |t: &str| conditions.into_iter().flatten().find(|c| c.type_ == t);
    match find("Established") {
        Some(c) if c.status == "True" => Verdict::Met("Established".into()),
        Some(c) => Verdict::Pending(format!("Established is {} ({})", c.status, c.message.clone().unwrap_or_default())),
        None => match find("NamesAccepted") {
            Some(c) if c.status != "True" => {
                Verdict::Pending(format!("names not accepted: {}", c.message.clone().unwrap_or_default()))
            }
            _ => Verdict::Pending("it exists but is not Established yet".into()),
        },
    }
}

pub(crate) fn deployment_verdict(d: Option<&Deployment>) -> Verdict {
    let Some(d) = d else { return Verdict::Pending("the deployment does not exist".into()) };
    let available =
        d.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten().find(|c| c.type_ == "Available");
    match (deployment_rollout(d), available) {
        (Rollout::Complete(_), Some(c)) if c.status == "True" => Verdict::Met("available and fully rolled out".into()),
        (Rollout::Complete(_), Some(c)) => {
            Verdict::Pending(format!("not available: {}", c.message.clone().unwrap_or_else(|| c.status.clone())))
        }
        (Rollout::Complete(_), None) => Verdict::Pending("no Available condition reported yet".into()),
        (other, _) => Verdict::Pending(other.message().to_string()),
    }
}
