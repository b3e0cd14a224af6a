//! Where a watched object stands, judged from the object alone: the rollout
//! rules of `kubectl rollout status` for Deployments, StatefulSets and
//! DaemonSets, and the states a wait step awaits (gone, available,
//! Established). Pure, so each rule is tested on objects without a cluster.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;

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

/// Where a watched object stands against the awaited state, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Met(String),
    Pending(String),
}

pub fn gone_verdict<K: ResourceExt>(obj: Option<&K>) -> Verdict {
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

pub fn namespace_verdict(ns: Option<&Namespace>) -> Verdict {
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

pub fn crd_verdict(crd: Option<&CustomResourceDefinition>) -> Verdict {
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

pub fn deployment_verdict(d: Option<&Deployment>) -> Verdict {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn crd(conditions: serde_json::Value) -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "metadata": { "name": "meshes.kuma.io" },
            "spec": { "group": "kuma.io", "names": { "plural": "meshes", "kind": "Mesh" }, "scope": "Cluster",
                      "versions": [] },
            "status": { "conditions": conditions }
        }))
        .unwrap()
    }

    #[test]
    fn a_crd_is_met_once_established() {
        assert_eq!(crd_verdict(None), Verdict::Pending("the CRD does not exist".into()));
        let accepted_not_yet = crd(json!([{ "type": "NamesAccepted", "status": "False", "message": "clash" }]));
        assert_eq!(crd_verdict(Some(&accepted_not_yet)), Verdict::Pending("names not accepted: clash".into()));
        let established = crd(json!([{ "type": "Established", "status": "True" }]));
        assert_eq!(crd_verdict(Some(&established)), Verdict::Met("Established".into()));
    }

    #[test]
    fn a_deployment_is_met_when_rolled_out_and_available() {
        let d = |available: &str| -> Deployment {
            serde_json::from_value(json!({
                "metadata": { "name": "web", "namespace": "shop", "generation": 2 },
                "spec": { "replicas": 1, "selector": {}, "template": {} },
                "status": { "observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1,
                            "conditions": [{ "type": "Available", "status": available, "message": "min" }] }
            }))
            .unwrap()
        };
        assert_eq!(deployment_verdict(Some(&d("True"))), Verdict::Met("available and fully rolled out".into()));
        assert_eq!(deployment_verdict(Some(&d("False"))), Verdict::Pending("not available: min".into()));
        assert_eq!(deployment_verdict(None), Verdict::Pending("the deployment does not exist".into()));
    }

    #[test]
    fn a_namespace_is_met_once_gone() {
        assert_eq!(namespace_verdict(None), Verdict::Met("gone".into()));
        let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": "old" } })).unwrap();
        assert_eq!(
            namespace_verdict(Some(&ns)),
            Verdict::Pending("phase Active; it exists and is not being deleted".into())
        );
    }
}
