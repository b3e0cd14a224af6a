//! The mesh around the custom resources: a clean slate between journeys, and a
//! stand-in for the mesh's sidecar injector, which the test bed lacks.

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{ensure_namespaces, meshctl_at, resource_names, web_deployment};
use crate::support;

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

/// nginx-meshctl of the two releases of the manual upgrade, 1.6.0 (`old`) and
/// 1.7.0 (`new`), as wrappers in a folder that lasts as long as this value.
pub struct Meshctls {
    _dir: tempfile::TempDir,
    pub old: PathBuf,
    pub new: PathBuf,
}

/// The two releases' nginx-meshctl without deploying anything.
pub fn deploy_tools(tb: &support::TestCluster) -> Meshctls {
    let dir = tempfile::tempdir().unwrap();
    let old = meshctl_at(dir.path(), "1.6.0", &tb.standins);
    let new = meshctl_at(dir.path(), "1.7.0", &tb.standins);
    Meshctls { _dir: dir, old, new }
}

/// NGINX Service Mesh 1.6.0 deployed into `nginx-mesh` with its own nginx-meshctl
/// (`deploy` followed by `options`), the state the upgrades to 1.7.0 start from.
/// Returns both releases' nginx-meshctl for the upgrade.
pub fn deploy_1_6(tb: &support::TestCluster, options: &[&str]) -> Meshctls {
    let tools = deploy_tools(tb);
    let mut deploy = tb.command(&tools.old);
    deploy.args(["--namespace", "nginx-mesh", "deploy"]).args(options);
    support::run_ok(deploy);
    tools
}

/// `VERB nginx-service-mesh --to 1.7.0 --procedure manual-meshctl --yes --confirm
/// nginx-mesh` with `old` and `new` as the current and target nginx-meshctl and
/// `meshed` as the meshed namespaces: the headless manual upgrade that the
/// journeys run or rehearse.
/// The manual Helm upgrade 1.6.0 -> 1.7.0 with `--yes`, for `stepwise VERB`:
/// the chart reference, the values the operator saved and the meshed namespaces.
pub fn manual_helm_args(chart: &str, values: &Path, meshed: &[&str]) -> Vec<String> {
    let mut args: Vec<String> =
        ["nginx-service-mesh", "--to", "1.7.0", "--procedure", "manual-helm", "--yes", "--confirm", "nginx-mesh"]
            .map(String::from)
            .to_vec();
    for set in [
        format!("chart={chart}"),
        format!("values_file={}", values.display()),
        format!("meshed_namespaces={}", meshed.join(",")),
    ] {
        args.push("--set".into());
        args.push(set);
    }
    args
}

pub fn manual_upgrade_args(verb: &str, old: &Path, new: &Path, meshed: &[&str]) -> Vec<String> {
    let mut args: Vec<String> =
        [verb, "nginx-service-mesh", "--to", "1.7.0", "--procedure", "manual-meshctl", "--yes", "--confirm"]
            .map(String::from)
            .to_vec();
    args.push("nginx-mesh".into());
    for set in [
        format!("current_meshctl={}", old.display()),
        format!("target_meshctl={}", new.display()),
        format!("meshed_namespaces={}", meshed.join(",")),
    ] {
        args.push("--set".into());
        args.push(set);
    }
    args
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
                controller.get_opt("nginx-mesh-api").await,
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
    web_deployment(client, ns, json!({"app": "web"})).await;
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
