//! Listing what a restart may touch, sending kubectl's restart patch, and
//! deleting unowned pods, each retried on passing errors.

use std::fmt;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::api::{Api, ListParams, Patch};
use serde::de::DeserializeOwned;

use super::super::connect::Connection;
use super::super::error::{ClusterError, api_status};
use super::super::{Mode, retry};
use super::{CALL_RETRY_BUDGET, Listed, PodRef, RESTARTED_AT, RolloutRequest, WorkloadRef};
use crate::base::WorkloadKind;
use crate::base::progress::{OpEvent, Reporter};

/// The annotation value kubectl writes: RFC 3339 to the second.
pub(super) fn restarted_at_now() -> Result<String, ClusterError> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .map_err(|e| ClusterError::Other(format!("cannot format the restart time: {e}")))
}

/// The patch `kubectl rollout restart` sends.
pub fn restart_patch(stamp: &str) -> serde_json::Value {
    serde_json::json!({ "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT: stamp } } } } })
}

pub(super) async fn list(conn: &Connection, req: &RolloutRequest, report: &Reporter) -> Result<Listed, ClusterError> {
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

pub(super) fn api_for<K>(conn: &Connection, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(conn.client.clone(), ns),
        None => Api::all(conn.client.clone()),
    }
}

pub(super) fn scope_text(namespace: Option<&str>) -> String {
    namespace.map_or_else(|| "in all namespaces".to_string(), |ns| format!("in namespace {ns}"))
}

/// Lists every page of one kind.
pub(super) async fn list_all<K>(
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
pub(super) async fn restart_one(
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
pub(super) async fn delete_pod(
    conn: &Connection,
    pod: &PodRef,
    mode: Mode,
    report: &Reporter,
) -> Result<bool, ClusterError> {
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
