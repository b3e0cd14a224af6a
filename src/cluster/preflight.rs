//! Cluster-side checks made before a run starts, all listed up front and each
//! with its own result: the API server answers, the custom-resource kinds exist,
//! the user may do everything the plan will do (every missing permission at
//! once, not the first), and the control plane is in shape.

use std::collections::BTreeSet;
use std::fmt;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::api::{Api, PostParams};
use serde::Serialize;

use super::Mode;
use super::connect::Connection;
use super::delete::DeleteTarget;
use super::error::ClusterError;
use super::resource::{self, split_name};
use super::wait::WaitTarget;
use super::workload::{Verdict, deployment_verdict};
use crate::base::WorkloadKind;

/// How many access reviews are asked at once.
const REVIEW_CONCURRENCY: usize = 8;

/// One thing the plan will ask the API server to do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AccessNeed {
    pub verb: String,
    /// API group; empty for the core group.
    pub group: String,
    /// Plural resource name, such as `deployments`.
    pub resource: String,
    /// A namespace, or `None` for cluster-wide (every namespace, or a cluster-scoped kind).
    pub namespace: Option<String>,
}

impl AccessNeed {
    /// A need for a kind named as `plural.group` (or a core plural such as `pods`).
    pub fn new(verb: &str, kind: &str, namespace: Option<&str>) -> Self {
        let (plural, group) = split_name(kind);
        AccessNeed {
            verb: verb.into(),
            group: group.into(),
            resource: plural.into(),
            namespace: namespace.map(str::to_string),
        }
    }

    /// `plural.group`, the way kubectl names kinds.
    pub fn kind_name(&self) -> String {
        if self.group.is_empty() { self.resource.clone() } else { format!("{}.{}", self.resource, self.group) }
    }
}

impl fmt::Display for AccessNeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} in namespace {ns}", self.verb, self.kind_name()),
            None => write!(f, "{} {} (cluster-wide)", self.verb, self.kind_name()),
        }
    }
}

fn needs(verbs: &[&str], kinds: &[&str], namespaces: Option<&[String]>) -> Vec<AccessNeed> {
    let scopes: Vec<Option<&str>> = match namespaces {
        Some(list) if !list.is_empty() => list.iter().map(|n| Some(n.as_str())).collect(),
        _ => vec![None],
    };
    let mut out = Vec::new();
    for kind in kinds {
        for ns in &scopes {
            out.extend(verbs.iter().map(|v| AccessNeed::new(v, kind, *ns)));
        }
    }
    out
}

/// A backup lists (and reads) each kind, in the namespaces or everywhere.
pub fn backup_needs(resources: &[String], namespaces: Option<&[String]>) -> Vec<AccessNeed> {
    let kinds: Vec<&str> = resources.iter().map(String::as_str).collect();
    let mut out = needs(&["list", "get"], &kinds, namespaces);
    // The backup records which cluster it came from by reading kube-system.
    out.push(AccessNeed::new("get", "namespaces", None));
    out
}

/// A restore creates and reads each kind, counts what is there afterwards, and
/// in rehearsal validates by a dry-run server-side apply (a patch).
pub fn restore_needs(resources: &[String], namespaces: Option<&[String]>, mode: Mode) -> Vec<AccessNeed> {
    let kinds: Vec<&str> = resources.iter().map(String::as_str).collect();
    let verbs: &[&str] =
        if mode.is_rehearsal() { &["create", "get", "list", "patch"] } else { &["create", "get", "list"] };
    let mut out = needs(verbs, &kinds, namespaces);
    out.push(AccessNeed::new("get", "namespaces", None));
    out.push(AccessNeed::new("get", "customresourcedefinitions.apiextensions.k8s.io", None));
    out
}

/// A rollout restart lists and patches workloads, watches them roll out, and
/// when asked lists and deletes unowned pods.
pub fn rollout_restart_needs(
    namespaces: Option<&[String]>,
    kinds: &[WorkloadKind],
    delete_unowned_pods: bool,
) -> Vec<AccessNeed> {
    let all = [WorkloadKind::Deployment, WorkloadKind::StatefulSet, WorkloadKind::DaemonSet];
    let kinds: Vec<&str> = (if kinds.is_empty() { &all[..] } else { kinds })
        .iter()
        .map(|k| match k {
            WorkloadKind::Deployment => "deployments.apps",
            WorkloadKind::StatefulSet => "statefulsets.apps",
            WorkloadKind::DaemonSet => "daemonsets.apps",
        })
        .collect();
    let mut out = needs(&["list", "watch", "patch"], &kinds, namespaces);
    if delete_unowned_pods {
        out.extend(needs(&["list", "delete"], &["pods"], namespaces));
    }
    out
}

/// A wait gets, lists and watches the awaited object's kind.
pub fn wait_needs(target: &WaitTarget) -> Vec<AccessNeed> {
    let (kind, namespace) = match target {
        WaitTarget::Gone { resource, namespace, .. } => (resource.as_str(), namespace.as_deref()),
        WaitTarget::DeploymentAvailable { namespace, .. } => ("deployments.apps", Some(namespace.as_str())),
        WaitTarget::CrdEstablished { .. } => ("customresourcedefinitions.apiextensions.k8s.io", None),
        WaitTarget::NamespaceGone { .. } => ("namespaces", None),
    };
    ["get", "list", "watch"].iter().map(|v| AccessNeed::new(v, kind, namespace)).collect()
}

/// A delete deletes each object, lists them first when a selector chooses
/// them, and watches them go when it waits.
pub fn delete_needs(target: &DeleteTarget) -> Vec<AccessNeed> {
    let mut verbs = vec!["delete"];
    if target.wait {
        verbs.extend(["get", "list", "watch"]);
    } else if target.selector.is_some() {
        verbs.push("list");
    }
    verbs.iter().map(|v| AccessNeed::new(v, &target.resource, target.namespace.as_deref())).collect()
}

/// A server-side apply creates or patches each object; `objects` are the kinds
/// (`plural.group`) and namespaces known at plan time.
pub fn apply_needs(objects: &[(String, Option<String>)]) -> Vec<AccessNeed> {
    objects.iter().flat_map(|(kind, ns)| ["create", "patch"].map(|v| AccessNeed::new(v, kind, ns.as_deref()))).collect()
}

/// Sorted, without repeats.
pub fn dedup(needs: impl IntoIterator<Item = AccessNeed>) -> Vec<AccessNeed> {
    needs.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

/// Asks the API server, one SelfSubjectAccessReview per need, which needs the
/// current user lacks. Every need is asked, so all gaps are reported together.
pub async fn missing_access(conn: &Connection, needs: &[AccessNeed]) -> Result<Vec<AccessNeed>, ClusterError> {
    let needs = dedup(needs.iter().cloned());
    let answers: Vec<Result<(AccessNeed, bool), ClusterError>> = futures::stream::iter(needs)
        .map(|need| async move {
            let allowed = review(conn, &need).await?;
            Ok((need, allowed))
        })
        .buffered(REVIEW_CONCURRENCY)
        .collect()
        .await;
    let mut missing = Vec::new();
    for answer in answers {
        let (need, allowed) = answer?;
        if !allowed {
            missing.push(need);
        }
    }
    Ok(missing)
}

async fn review(conn: &Connection, need: &AccessNeed) -> Result<bool, ClusterError> {
    let api: Api<SelfSubjectAccessReview> = Api::all(conn.client.clone());
    let request = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(need.verb.clone()),
                group: Some(need.group.clone()),
                resource: Some(need.resource.clone()),
                namespace: need.namespace.clone(),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = api
        .create(&PostParams::default(), &request)
        .await
        .map_err(|e| conn.unreachable_or(e, &format!("ask whether the user may {need}")))?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warning,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The check, as listed before it ran.
    pub title: String,
    pub status: Status,
    pub message: String,
    /// One line per item when a check covers many (kinds, permissions).
    pub details: Vec<String>,
}

/// A cluster-side check a plan needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    ApiReachable,
    /// Kinds as `plural.group` that must be served.
    KindsExist(Vec<String>),
    Access(Vec<AccessNeed>),
    MinReplicas {
        namespace: String,
        name: String,
        min: u32,
        required: bool,
    },
    DeploymentAvailable {
        namespace: String,
        name: String,
    },
}

impl Check {
    /// What the check looks at, for listing checks before they run.
    pub fn title(&self) -> String {
        match self {
            Check::ApiReachable => "the Kubernetes API server answers".into(),
            Check::KindsExist(kinds) => format!("the cluster serves {}", kinds.join(", ")),
            Check::Access(needs) => {
                format!("you may do the {} things the plan does", dedup(needs.iter().cloned()).len())
            }
            Check::MinReplicas { namespace, name, min, .. } => {
                format!("deployment {namespace}/{name} runs at least {min} replicas")
            }
            Check::DeploymentAvailable { namespace, name } => format!("deployment {namespace}/{name} is available"),
        }
    }

    pub async fn run(&self, conn: &Connection) -> CheckResult {
        let outcome = match self {
            Check::ApiReachable => api_reachable(conn).await,
            Check::KindsExist(kinds) => kinds_exist(conn, kinds).await,
            Check::Access(needs) => access(conn, needs).await,
            Check::MinReplicas { namespace, name, min, required } => {
                min_replicas(conn, namespace, name, *min, *required).await
            }
            Check::DeploymentAvailable { namespace, name } => deployment_available(conn, namespace, name).await,
        };
        let (status, message, details) = outcome.unwrap_or_else(|e| (Status::Failed, e.to_string(), Vec::new()));
        CheckResult { title: self.title(), status, message, details }
    }
}

type Outcome = Result<(Status, String, Vec<String>), ClusterError>;

/// Runs every check, in order. When the API server does not answer, the other
/// checks are reported as not run rather than each failing its own way.
pub async fn run_all(conn: &Connection, checks: &[Check]) -> Vec<CheckResult> {
    let reachable = Check::ApiReachable.run(conn).await;
    let mut results = Vec::with_capacity(checks.len());
    for check in checks {
        if *check == Check::ApiReachable {
            results.push(reachable.clone());
        } else if reachable.status == Status::Failed {
            results.push(CheckResult {
                title: check.title(),
                status: Status::Failed,
                message: "not checked: the API server does not answer".into(),
                details: Vec::new(),
            });
        } else {
            results.push(check.run(conn).await);
        }
    }
    results
}

async fn api_reachable(conn: &Connection) -> Outcome {
    let id = conn.identity().await?;
    Ok((Status::Ok, format!("{} answers (context {})", id.server, id.context), Vec::new()))
}

async fn kinds_exist(conn: &Connection, kinds: &[String]) -> Outcome {
    let mut missing = Vec::new();
    for kind in kinds {
        match resource::resolve(&conn.client, kind).await {
            Ok(_) => {}
            Err(e @ ClusterError::NotServed { .. }) => missing.push(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    if missing.is_empty() {
        Ok((Status::Ok, format!("all {} kinds are served", kinds.len()), Vec::new()))
    } else {
        Ok((Status::Failed, format!("{} of {} kinds are not served", missing.len(), kinds.len()), missing))
    }
}

async fn access(conn: &Connection, needs: &[AccessNeed]) -> Outcome {
    let missing = missing_access(conn, needs).await?;
    if missing.is_empty() {
        return Ok((Status::Ok, "every permission the plan needs is granted".into(), Vec::new()));
    }
    let details: Vec<String> = missing.iter().map(|n| format!("cannot {n}")).collect();
    let message = format!("{} permissions are missing: {}", missing.len(), details.join("; "));
    Ok((Status::Failed, message, details))
}

async fn read_deployment(conn: &Connection, namespace: &str, name: &str) -> Result<Option<Deployment>, ClusterError> {
    let api: Api<Deployment> = Api::namespaced(conn.client.clone(), namespace);
    api.get_opt(name).await.map_err(|e| conn.unreachable_or(e, &format!("read deployment {namespace}/{name}")))
}

async fn min_replicas(conn: &Connection, namespace: &str, name: &str, min: u32, required: bool) -> Outcome {
    let short = if required { Status::Failed } else { Status::Warning };
    let Some(d) = read_deployment(conn, namespace, name).await? else {
        return Ok((short, format!("deployment {namespace}/{name} does not exist"), Vec::new()));
    };
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    let counts = format!("{wanted} replicas configured, {ready} ready");
    if i64::from(wanted) < i64::from(min) {
        let consequence = if required { "the procedure needs" } else { "it is safer with" };
        return Ok((short, format!("{counts}; {consequence} at least {min}"), Vec::new()));
    }
    Ok((Status::Ok, counts, Vec::new()))
}

async fn deployment_available(conn: &Connection, namespace: &str, name: &str) -> Outcome {
    let d = read_deployment(conn, namespace, name).await?;
    Ok(match deployment_verdict(d.as_ref()) {
        Verdict::Met(state) => (Status::Ok, state, Vec::new()),
        Verdict::Pending(state) => (Status::Failed, state, Vec::new()),
    })
}
