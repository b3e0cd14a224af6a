//! What a shadow rehearsal puts on a scratch cluster besides the product, and
//! takes away again: the namespaces the custom resources live in, a stand-in
//! Deployment per meshed namespace (so a re-roll has something to restart), and
//! at the end those namespaces and the product's CRDs. Never used on the
//! primary cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, PodTemplateSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::Value;

use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::manifest::{self, Manifest};
use super::preflight::AccessNeed;

/// The Deployment a shadow rehearsal puts in each meshed namespace.
pub const STAND_IN_WORKLOAD: &str = "stepwise-shadow-workload";
/// The label on everything a shadow rehearsal creates itself.
pub const SHADOW_LABEL: &str = "stepwise.dev/shadow";

/// What a shadow rehearsal asks of the scratch cluster beyond what the
/// procedure's own preflight checks: making and removing namespaces, stand-in
/// Deployments and the product's CRDs (the install creates them).
pub fn needs() -> Vec<AccessNeed> {
    let mut out = Vec::new();
    for verb in ["create", "delete", "get"] {
        out.push(AccessNeed::new(verb, "namespaces", None));
        out.push(AccessNeed::new(verb, "customresourcedefinitions.apiextensions.k8s.io", None));
        out.push(AccessNeed::new(verb, "deployments.apps", None));
    }
    out
}

/// Every namespace objects of the backup in `dir` live in.
pub fn backup_namespaces(dir: &Path) -> Result<BTreeSet<String>, ClusterError> {
    let manifest = Manifest::read(dir)?;
    let mut out = BTreeSet::new();
    for entry in manifest.kinds.iter().filter(|k| k.namespaced) {
        manifest::scan_file(&dir.join(&entry.file), |o| {
            if let Some(ns) = o.pointer("/metadata/namespace").and_then(Value::as_str) {
                out.insert(ns.to_string());
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Creates each namespace that does not exist yet; returns those it created.
pub async fn create_namespaces(conn: &Connection, names: &BTreeSet<String>) -> Result<Vec<String>, ClusterError> {
    let api: Api<Namespace> = Api::all(conn.client.clone());
    let mut created = Vec::new();
    for name in names {
        let ns = Namespace { metadata: labelled(name, &[]), ..Namespace::default() };
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => created.push(name.clone()),
            Err(e) if api_status(&e) == Some(409) => {}
            Err(e) => return Err(conn.unreachable_or(e, &format!("create namespace {name}"))),
        }
    }
    Ok(created)
}

/// A one-replica Deployment of a pause container in `namespace`, for the
/// procedure's re-roll to restart.
pub async fn create_stand_in_workload(conn: &Connection, namespace: &str) -> Result<(), ClusterError> {
    let api: Api<Deployment> = Api::namespaced(conn.client.clone(), namespace);
    let app = [("app", STAND_IN_WORKLOAD)];
    let deployment = Deployment {
        metadata: labelled(STAND_IN_WORKLOAD, &app),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), STAND_IN_WORKLOAD.to_string())])),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(labelled(STAND_IN_WORKLOAD, &app)),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "pause".into(),
                        image: Some("registry.k8s.io/pause:3.10".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    match api.create(&PostParams::default(), &deployment).await {
        Ok(_) => Ok(()),
        Err(e) if api_status(&e) == Some(409) => Ok(()),
        Err(e) => Err(conn.unreachable_or(e, &format!("create the stand-in workload in {namespace}"))),
    }
}

/// Metadata named `name`, with the shadow label and `labels`.
fn labelled(name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    let mut all = BTreeMap::from([(SHADOW_LABEL.to_string(), "true".to_string())]);
    all.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ObjectMeta { name: Some(name.to_string()), labels: Some(all), ..ObjectMeta::default() }
}

/// Deletes the namespaces (and everything in them) and the CRDs named
/// `plural.group`; what is gone already is fine. Returns what could not be
/// deleted, with why, one line each.
pub async fn remove(conn: &Connection, namespaces: &[String], crds: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let ns_api: Api<Namespace> = Api::all(conn.client.clone());
    for name in namespaces {
        if let Err(e) = ns_api.delete(name, &DeleteParams::default()).await
            && api_status(&e) != Some(404)
        {
            problems.push(format!("namespace {name}: {e}"));
        }
    }
    let crd_api: Api<CustomResourceDefinition> = Api::all(conn.client.clone());
    for name in crds {
        if let Err(e) = crd_api.delete(name, &DeleteParams::default()).await
            && api_status(&e) != Some(404)
        {
            problems.push(format!("CRD {name}: {e}"));
        }
    }
    problems
}
