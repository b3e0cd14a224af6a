//! Deleting named objects, or those a label selector matches, through the API,
//! then waiting until they are gone. In rehearsal each delete is a server-side
//! dry run: the API server checks it, deletes nothing, and the summary lists
//! what would have been deleted.

use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;
use tokio::time::Instant;

use super::Mode;
use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::resource::{self, Resolved};
use super::retry;
use super::wait::{self, WaitTarget};
use crate::base::progress::{OpEvent, Reporter};

/// How long one API call is retried on transient errors.
const CALL_RETRY_BUDGET: Duration = Duration::from_secs(60);

/// A delete step with every template rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteTarget {
    /// `plural.group`, or a core plural such as `configmaps`.
    pub resource: String,
    pub namespace: Option<String>,
    pub names: Vec<String>,
    pub selector: Option<String>,
    pub wait: bool,
}

impl DeleteTarget {
    /// What is deleted, in words: `jobs.batch acme/migrate, acme/seed`.
    pub fn describe(&self) -> String {
        let at = self.namespace.as_ref().map(|n| format!(" in namespace {n}")).unwrap_or_default();
        match &self.selector {
            Some(sel) => format!("{} labelled {sel}{at}", self.resource),
            None => format!("{} {}{at}", self.resource, self.names.join(", ")),
        }
    }
}

/// One object, as `namespace/name` or `name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectName {
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// What a delete did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteSummary {
    /// Deleted (in rehearsal: would be deleted).
    pub deleted: Vec<ObjectName>,
    /// Named objects that did not exist.
    pub absent: Vec<ObjectName>,
    /// Whether the kind is served at all; a kind that is not has nothing to delete.
    pub served: bool,
}

impl DeleteSummary {
    /// One line for the step's outcome.
    pub fn line(&self, target: &DeleteTarget, mode: Mode) -> String {
        if !self.served {
            return format!("{} is not served: nothing to delete", target.resource);
        }
        let verb = if mode.is_rehearsal() { "would delete" } else { "deleted" };
        let list = |objects: &[ObjectName]| objects.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let mut line = match self.deleted.len() {
            0 => format!("{verb} nothing: no {} matched", target.describe()),
            _ => format!("{verb} {} {}", target.resource, list(&self.deleted)),
        };
        if !self.absent.is_empty() {
            line.push_str(&format!("; already gone: {}", list(&self.absent)));
        }
        line
    }
}

/// Deletes what `target` names and, unless in rehearsal or told not to, waits
/// until each deleted object is gone, for at most `timeout` in all.
pub async fn delete(
    conn: &Connection,
    target: &DeleteTarget,
    mode: Mode,
    timeout: Duration,
    report: Reporter,
) -> Result<DeleteSummary, ClusterError> {
    let resolved = match resource::resolve(&conn.client, &target.resource).await {
        Ok(r) => r,
        Err(ClusterError::NotServed { .. }) => return Ok(DeleteSummary::default()),
        Err(e) => return Err(e),
    };
    let objects = match &target.selector {
        Some(selector) => select(conn, &resolved, target.namespace.as_deref(), selector).await?,
        None => named(&resolved, target),
    };
    let mut summary = DeleteSummary { served: true, ..DeleteSummary::default() };
    for object in objects {
        if delete_one(conn, &resolved, &object, mode, &report).await? {
            report(OpEvent::Line(format!("{} {object}", if mode.is_rehearsal() { "would delete" } else { "deleted" })));
            summary.deleted.push(object);
        } else {
            summary.absent.push(object);
        }
    }
    if target.wait && !mode.is_rehearsal() {
        wait_all_gone(conn, &target.resource, &summary.deleted, timeout, &report).await?;
    }
    Ok(summary)
}

/// The named objects, in the target's namespace when the kind is namespaced.
fn named(resolved: &Resolved, target: &DeleteTarget) -> Vec<ObjectName> {
    let namespace = target.namespace.clone().filter(|_| resolved.namespaced);
    target.names.iter().map(|name| ObjectName { namespace: namespace.clone(), name: name.clone() }).collect()
}

/// The objects a label selector matches, in one namespace or in all.
async fn select(
    conn: &Connection,
    resolved: &Resolved,
    namespace: Option<&str>,
    selector: &str,
) -> Result<Vec<ObjectName>, ClusterError> {
    let api = api_for(conn.client.clone(), resolved, namespace);
    let list = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| conn.unreachable_or(e, &format!("list {} labelled {selector}", resolved.name)))?;
    let mut out: Vec<ObjectName> =
        list.items.iter().map(|o| ObjectName { namespace: o.namespace(), name: o.name_any() }).collect();
    out.sort();
    Ok(out)
}

fn api_for(client: Client, resolved: &Resolved, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) if resolved.namespaced => Api::namespaced_with(client, ns, &resolved.api),
        _ => Api::all_with(client, &resolved.api),
    }
}

/// Deletes one object; `false` when it was already gone.
async fn delete_one(
    conn: &Connection,
    resolved: &Resolved,
    object: &ObjectName,
    mode: Mode,
    report: &Reporter,
) -> Result<bool, ClusterError> {
    let api = api_for(conn.client.clone(), resolved, object.namespace.as_deref());
    let params = mode.delete_params();
    let on_retry = |e: &kube::Error, wait: Duration| {
        report(OpEvent::Line(format!("delete {object}: {}; retrying in {wait:?}", retry::describe(e))));
    };
    match retry::with_retry(CALL_RETRY_BUDGET, on_retry, async || api.delete(&object.name, &params).await).await {
        Ok(_) => Ok(true),
        Err(e) if api_status(&e) == Some(404) => Ok(false),
        Err(e) => Err(conn.unreachable_or(e, &format!("delete {} {object}", resolved.name))),
    }
}

/// Waits until every deleted object is gone, sharing one deadline.
async fn wait_all_gone(
    conn: &Connection,
    resource: &str,
    objects: &[ObjectName],
    timeout: Duration,
    report: &Reporter,
) -> Result<(), ClusterError> {
    let deadline = Instant::now() + timeout;
    for object in objects {
        let left = deadline.saturating_duration_since(Instant::now());
        let gone = WaitTarget::Gone {
            resource: resource.to_string(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        };
        let quiet: Reporter = std::sync::Arc::new(|_| {});
        report(OpEvent::Line(format!("waiting until {}", gone.condition())));
        wait::wait(conn, &gone, left, quiet).await?;
    }
    Ok(())
}
