//! Choosing the workloads (and unowned pods) a restart touches from what was
//! listed. Pure, so the rules can be tested without a cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use serde::Serialize;

use super::{ALL_KINDS, PodRef, Skipped, WorkloadRef};
use crate::base::WorkloadKind;

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
    pub(super) fn kinds(&self) -> Vec<WorkloadKind> {
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

pub(super) type Candidate<'a> = (WorkloadRef, Option<&'a BTreeMap<String, String>>, Option<String>);

pub(super) fn candidate<'a>(
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

pub(super) fn deployment_skip(d: &Deployment) -> Option<String> {
    // kubectl refuses too: a paused Deployment would not roll out, and the wait would time out.
    d.spec
        .as_ref()
        .and_then(|s| s.paused)
        .filter(|p| *p)
        .map(|_| "it is paused; resume it (`kubectl rollout resume`) and restart it again".to_string())
}

pub(super) fn statefulset_skip(s: &StatefulSet) -> Option<String> {
    let strategy = s.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref());
    on_delete_skip(strategy)
}

pub(super) fn daemonset_skip(d: &DaemonSet) -> Option<String> {
    let strategy = d.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref());
    on_delete_skip(strategy)
}

pub(super) fn on_delete_skip(strategy: Option<&str>) -> Option<String> {
    // With OnDelete a template change replaces no pod, so a restart would do nothing.
    (strategy == Some("OnDelete"))
        .then(|| "its update strategy is OnDelete: its pods are replaced only when deleted".to_string())
}

/// A pod no controller owns that is still running or about to.
pub(super) fn is_unowned_live_pod(pod: &Pod) -> bool {
    let controlled = pod.owner_references().iter().any(|r| r.controller == Some(true));
    let terminating = pod.metadata.deletion_timestamp.is_some();
    // Mirror pods belong to the kubelet's static manifests; deleting them does nothing.
    let mirror = pod.annotations().contains_key("kubernetes.io/config.mirror");
    let finished = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
    !controlled && !terminating && !mirror && !finished
}
