//! The mesh around the custom resources: a clean slate between journeys, and a
//! stand-in for the mesh's sidecar injector, which the test bed lacks.

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{ensure_namespaces, resource_names};

/// The label the node stand-in reads to decide whether a pod carries a sidecar.
pub const SIDECAR_LABEL: &str = "stepwise-test/sidecar";

/// Removes whatever mesh a previous journey left: the control-plane namespace
/// (with any Helm release and sentinel Job in it), the six CRDs (with every
/// custom resource), and the `meshed` namespaces, whose sidecar pods would keep
/// any later sentinel Job alive. A finalizer controller must be running for the
/// CRDs to go.
pub fn clear_mesh(kubectl: &Path, kubeconfig: &Path, context: &str, meshed: &[&str]) {
    let kc = kubeconfig.to_str().unwrap();
    let kubectl_ok = |args: &[&str]| {
        let out = Command::new(kubectl).args(["--kubeconfig", kc, "--context", context]).args(args).output().unwrap();
        assert!(out.status.success(), "clearing the mesh: kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let mut namespaces =
        vec!["delete", "namespace", "--ignore-not-found", "--wait=true", "--timeout=180s", "nginx-mesh"];
    namespaces.extend_from_slice(meshed);
    kubectl_ok(&namespaces);
    let names = resource_names();
    let mut args = vec!["delete", "crd", "--ignore-not-found", "--wait=true", "--timeout=180s"];
    args.extend(names.iter().map(String::as_str));
    kubectl_ok(&args);
}

/// Plays the mesh's injection webhook, which the test bed cannot run: every pod
/// in `namespaces` that has not been seen yet is labelled as carrying a sidecar
/// when the mesh control plane exists at that moment, and as not carrying one
/// otherwise. Pods restarted while the mesh is gone thus come back without a
/// sidecar, which is what lets the csi-driver-sentinel Job go away. Runs until
/// the returned handle is aborted.
pub fn spawn_sidecar_injector(client: Client, namespaces: Vec<String>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let controller: Api<Deployment> = Api::namespaced(client.clone(), "nginx-mesh");
        loop {
            let mesh = matches!(
                controller.get_opt("nginx-mesh-controller").await,
                Ok(Some(d)) if d.metadata.deletion_timestamp.is_none()
            );
            for ns in &namespaces {
                let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
                let Ok(list) = pods.list(&ListParams::default()).await else { continue };
                let unseen = list.items.into_iter().filter(|p| {
                    !p.metadata.labels.as_ref().is_some_and(|l| l.contains_key(SIDECAR_LABEL))
                        && p.metadata.deletion_timestamp.is_none()
                });
                for pod in unseen {
                    let Some(name) = pod.metadata.name else { continue };
                    let patch = json!({"metadata": {"labels": {SIDECAR_LABEL: mesh.to_string()}}});
                    let _ = pods.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
}

/// Deployment `web` (two replicas) in `ns` whose pods get their sidecar from
/// [`spawn_sidecar_injector`]; one already there is fine.
pub async fn injectable_app(client: &Client, ns: &str) {
    ensure_namespaces(client, &[ns.to_string()]).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let d = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "example/web:1"}]}
            }
        }
    }))
    .unwrap();
    match deployments.create(&PostParams::default(), &d).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("create {ns}/web: {e}"),
    }
}

/// A meshed pod that no controller owns, as operators start for one-off jobs;
/// only deleting it takes its sidecar away.
pub async fn bare_meshed_pod(client: &Client, ns: &str, name: &str) {
    ensure_namespaces(client, &[ns.to_string()]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name, SIDECAR_LABEL: "true"}},
        // A namespace just created has no service-account token yet; the pod needs none.
        "spec": {"automountServiceAccountToken": false, "containers": [{"name": name, "image": "example/tool:1"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap_or_else(|e| panic!("create pod {ns}/{name}: {e}"));
}
