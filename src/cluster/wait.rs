//! Waiting until the cluster reaches a state: an object gone, a Deployment
//! available, a CRD Established, a namespace gone. Each wait watches its one
//! object (the watcher lists again by itself after an error) instead of polling,
//! and a timeout says what was waited for, for how long, and what was last seen.
//! Rehearsal waits for nothing: the caller shows [`WaitTarget::describe`] instead.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject};
use serde::Serialize;
use tokio::time::Instant;

use super::connect::Connection;
use super::error::ClusterError;
use super::resource;
use super::watch::{Ended, watch_until};
use super::workload::{crd_verdict, deployment_verdict, gone_verdict, namespace_verdict};
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
