//! Proves the test bed: the clusters, the node stand-in, the fixture charts
//! and the vendor-CLI stand-ins behave the way the other tests rely on.
//! Needs the binaries built by `tests/run`; without them every test here
//! fails, saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

fn dynamic_api(
    client: &Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

fn crd_api(client: &Client) -> Api<DynamicObject> {
    dynamic_api(client, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", None)
}

fn object<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("valid object")
}

async fn crd_established(client: &Client, name: &str) -> bool {
    let Ok(Some(crd)) = crd_api(client).get_opt(name).await else {
        return false;
    };
    crd.data["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Established" && c["status"] == "True")
}

fn is_forbidden<T: std::fmt::Debug>(r: &kube::Result<T>) -> bool {
    matches!(r, Err(kube::Error::Api(s)) if s.code == 403)
}

/// The minor release `newest` must reach and the floor of `oldest`: the
/// issue that moved the bed off 1.20 asks for >= 1.36 and >= 1.33.
const NEWEST_AT_LEAST: u32 = 36;
const OLDEST_AT_LEAST: u32 = 33;

fn minor_of(version: &str) -> u32 {
    let minor = version.trim_start_matches('v').split('.').nth(1).unwrap_or_default();
    minor.parse().unwrap_or_else(|_| panic!("no minor release in {version:?}"))
}

#[tokio::test]
async fn apiserver_reports_its_release_over_verified_tls_on_loopback() {
    let cluster = support::cluster();
    eprintln!("test cluster (Kubernetes {}) became ready in {:.1}s", cluster.k8s_version, cluster.ready_seconds);
    assert!(cluster.server.starts_with("https://127.0.0.1:"), "server {}", cluster.server);

    let info = cluster.client().await.apiserver_version().await.expect("GET /version");
    assert_eq!(info.git_version, format!("v{}", cluster.k8s_version));
    assert_eq!(info.major, "1");
    // Every release the bed builds is at least the oldest floor; that `up`
    // without --version starts the newest is checked below on the list.
    assert!(minor_of(&info.git_version) >= OLDEST_AT_LEAST, "{} is older than 1.{OLDEST_AT_LEAST}", info.git_version);

    // The kubeconfig pins the apiserver's certificate: no insecure flag.
    let kubeconfig = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    assert!(kubeconfig.contains("certificate-authority-data:"));
    assert!(!kubeconfig.contains("insecure-skip-tls-verify"));
    let out = cluster.kubectl(&cluster.context, &["version", "-o", "json"]);
    assert!(out.contains(&format!("\"gitVersion\": \"v{}\"", cluster.k8s_version)), "{out}");
}

/// `testbed.sh up` without `--version` starts the first release it lists
/// (the newest, at least 1.36), and `--version oldest` the last (at least
/// 1.33): both are built by every `tests/run`, which runs the
/// cluster-touching tests on each.
#[test]
fn both_releases_are_built_and_up_picks_them() {
    let out = std::process::Command::new("bash")
        .arg(support::repo_dir().join("tests/cluster/testbed.sh"))
        .arg("versions")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<(&str, &str)> =
        listed.lines().filter_map(|l| l.split_once(char::is_whitespace).map(|(v, s)| (v, s.trim()))).collect();
    assert!(rows.len() >= 2, "two releases at least:\n{listed}");
    assert!(rows.iter().all(|(_, state)| *state == "built"), "every release is built by tests/run:\n{listed}");
    assert!(minor_of(rows[0].0) >= NEWEST_AT_LEAST, "newest first:\n{listed}");
    assert!(minor_of(rows[rows.len() - 1].0) >= OLDEST_AT_LEAST, "{listed}");
    assert!(minor_of(rows[rows.len() - 1].0) < minor_of(rows[0].0), "{listed}");
}

/// Custom resource writes work on the built apiserver (the old 1.20 build
/// crashed on them until its reflect2 was swapped).
#[tokio::test]
async fn admin_creates_a_crd_and_a_custom_resource() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let crd: DynamicObject = object(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.testbed.stepwise.dev" },
        "spec": {
            "group": "testbed.stepwise.dev",
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
            }]
        }
    }));
    crd_api(&client).create(&PostParams::default(), &crd).await.expect("create CRD");
    support::wait_until("the Widget CRD to be established", WAIT, || async {
        crd_established(&client, "widgets.testbed.stepwise.dev").await.then_some(())
    })
    .await;

    let ns = cluster.namespace(&client, "crd").await;
    let widgets = dynamic_api(&client, "testbed.stepwise.dev", "v1", "Widget", "widgets", Some(&ns));
    let widget: DynamicObject = object(json!({
        "apiVersion": "testbed.stepwise.dev/v1",
        "kind": "Widget",
        "metadata": { "name": "w1" },
        "spec": { "size": 3, "tags": { "a": "b" } }
    }));
    // Writes can race the CRD becoming servable; retry briefly.
    support::wait_until("a Widget to be created", WAIT, || async {
        widgets.create(&PostParams::default(), &widget).await.ok()
    })
    .await;
    let got = widgets.get("w1").await.expect("get widget");
    assert_eq!(got.data["spec"]["size"], 3);
    let patch = json!({ "spec": { "size": 4 } });
    widgets.patch("w1", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch widget");
    assert_eq!(widgets.list(&ListParams::default()).await.unwrap().items.len(), 1);
    // Still alive after the writes.
    client.apiserver_version().await.expect("apiserver survived custom resource writes");
}

#[tokio::test]
async fn restricted_user_can_read_but_not_write() {
    let cluster = support::cluster();
    let admin = cluster.client().await;
    let ns = cluster.namespace(&admin, "restricted").await;
    let viewer = cluster.restricted_client().await;

    let namespaces = Api::<Namespace>::all(viewer.clone()).list(&ListParams::default()).await.expect("list namespaces");
    assert!(namespaces.items.iter().any(|n| n.metadata.name.as_deref() == Some(ns.as_str())));
    Api::<Pod>::namespaced(viewer.clone(), &ns).list(&ListParams::default()).await.expect("list pods");

    let cm: ConfigMap = object(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "nope" } }));
    let create = Api::<ConfigMap>::namespaced(viewer.clone(), &ns).create(&PostParams::default(), &cm).await;
    assert!(is_forbidden(&create), "expected 403, got {create:?}");
    let delete = Api::<Namespace>::all(viewer).delete(&ns, &DeleteParams::default()).await;
    assert!(is_forbidden(&delete), "expected 403, got {delete:?}");
}

#[tokio::test]
async fn two_clusters_are_independent() {
    let bed = support::multi_cluster();
    let second = bed.second_context.clone().expect("second context");
    let one = bed.client().await;
    let two = bed.second_client().await;
    assert_eq!(two.apiserver_version().await.unwrap().git_version, format!("v{}", bed.k8s_version));

    let ns = bed.namespace(&one, "only-in-one").await;
    let in_one = Api::<Namespace>::all(one.clone()).get_opt(&ns).await.unwrap();
    let in_two = Api::<Namespace>::all(two.clone()).get_opt(&ns).await.unwrap();
    assert!(in_one.is_some() && in_two.is_none(), "namespace {ns} leaked into the second cluster");

    // Each cluster has its own node stand-in and runs pods.
    let pods_ns = bed.namespace(&two, "pods-in-two").await;
    create_pod(&two, &pods_ns, "p", &[]).await;
    wait_pod_running(&two, &pods_ns, "p").await;

    // The read-only user exists there too.
    let restricted = bed.client_for(bed.second_restricted_context.as_deref().unwrap()).await;
    let cm: ConfigMap = object(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "nope" } }));
    let r = Api::<ConfigMap>::namespaced(restricted, &pods_ns).create(&PostParams::default(), &cm).await;
    assert!(is_forbidden(&r), "{r:?}");
    assert_ne!(second, bed.context);
}

async fn create_pod(client: &Client, ns: &str, name: &str, labels: &[(&str, &str)]) {
    let labels: BTreeMap<_, _> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let pod: Pod = object(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "labels": labels },
        "spec": { "containers": [{ "name": "main", "image": "example.invalid/app:1" }] }
    }));
    // The default ServiceAccount of a fresh namespace may not exist yet.
    support::wait_until("the pod to be admitted", WAIT, || async {
        Api::<Pod>::namespaced(client.clone(), ns).create(&PostParams::default(), &pod).await.ok()
    })
    .await;
}

async fn wait_pod_running(client: &Client, ns: &str, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    support::wait_until(&format!("pod {ns}/{name} to run"), WAIT, || async {
        let pod = pods.get(name).await.ok()?;
        let status = pod.status?;
        let ready = status.conditions?.iter().any(|c| c.type_ == "Ready" && c.status == "True");
        (status.phase.as_deref() == Some("Running") && ready).then_some(())
    })
    .await;
}

#[tokio::test]
async fn deployment_rolls_out_and_replaced_pods_go_away() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "rollout").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deployment: Deployment = object(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "example.invalid/web:1" }] }
            }
        }
    }));
    deployments.create(&PostParams::default(), &deployment).await.expect("create deployment");
    wait_rolled_out(&deployments, "web", 2).await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let running = pods.list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(running.items.len(), 2);
    for p in &running.items {
        let status = p.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip.as_deref(), Some("127.0.0.1"));
    }

    // A new image: old pods are deleted (the stand-in finishes that) and the
    // rollout completes again; kubectl agrees.
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "web", "image": "example.invalid/web:2" }] } } } });
    deployments.patch("web", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    wait_rolled_out(&deployments, "web", 2).await;
    cluster.kubectl(&cluster.context, &["-n", &ns, "rollout", "status", "deployment/web", "--timeout=60s"]);
    let pods_now = support::wait_until("the old pods to disappear", WAIT, || async {
        let list = pods.list(&ListParams::default().labels("app=web")).await.ok()?;
        (list.items.len() == 2).then_some(list)
    })
    .await;
    for p in pods_now.items {
        let image = p.spec.unwrap().containers[0].image.clone().unwrap();
        assert_eq!(image, "example.invalid/web:2");
    }
}

async fn wait_rolled_out(api: &Api<Deployment>, name: &str, replicas: i32) {
    support::wait_until(&format!("deployment {name} to roll out"), WAIT, || async {
        let d = api.get(name).await.ok()?;
        let generation = d.metadata.generation?;
        let s = d.status?;
        let done = s.observed_generation == Some(generation)
            && s.updated_replicas == Some(replicas)
            && s.available_replicas == Some(replicas)
            && s.replicas == Some(replicas);
        done.then_some(())
    })
    .await;
}

#[tokio::test]
async fn deleted_pod_disappears_and_jobs_complete() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "pods").await;
    create_pod(&client, &ns, "solo", &[]).await;
    wait_pod_running(&client, &ns, "solo").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.delete("solo", &DeleteParams::default()).await.expect("delete pod");
    support::wait_until("the deleted pod to disappear", Duration::from_secs(15), || async {
        matches!(pods.get_opt("solo").await, Ok(None)).then_some(())
    })
    .await;

    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job: Job = object(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": "once" },
        "spec": {
            "backoffLimit": 0,
            "template": { "spec": {
                "restartPolicy": "Never",
                "containers": [{ "name": "main", "image": "example.invalid/job:1" }]
            } }
        }
    }));
    jobs.create(&PostParams::default(), &job).await.expect("create job");
    support::wait_until("the job to complete", WAIT, || async {
        let j = jobs.get("once").await.ok()?;
        (j.status?.succeeded == Some(1)).then_some(())
    })
    .await;
    cluster.kubectl(&cluster.context, &["-n", &ns, "wait", "--for=condition=complete", "job/once", "--timeout=30s"]);
}

fn mesh_image(client_deployments: &Deployment) -> String {
    client_deployments.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

fn run(mut cmd: std::process::Command) -> (i32, String, String) {
    let out = cmd.output().expect("run command");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The NGINX Service Mesh fixture chart and the nginx-meshctl stand-in. One
/// test, because both own the same cluster-wide CRDs.
#[tokio::test]
async fn nginx_service_mesh_chart_and_meshctl_standin() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ctx = cluster.context.as_str();

    // helm installs the fixture chart (CRDs + controller) and waits for it.
    let chart = support::fixture_chart("nginx-service-mesh");
    let chart = chart.to_str().unwrap();
    cluster.helm(ctx, &["install", "nsm", chart, "-n", "nsm-helm", "--create-namespace", "--wait", "--timeout", "60s"]);
    let d = Api::<Deployment>::namespaced(client.clone(), "nsm-helm").get("nginx-mesh-api").await.unwrap();
    assert_eq!(mesh_image(&d), "nginx/nginx-mesh-api:1.6.0");
    for &(plural, group, _, _) in seed::KINDS {
        assert!(crd_established(&client, &format!("{plural}.{group}")).await, "{plural}.{group}");
    }
    cluster.helm(ctx, &["uninstall", "nsm", "-n", "nsm-helm", "--wait"]);

    // nginx-meshctl deploy of the previous release, with custom resources.
    let meshctl = || {
        let mut c = cluster.standin("nginx-meshctl");
        c.env("NGINX_MESHCTL_VERSION", "1.7.0");
        c
    };
    // The real CLI deploys its own release, so the previous release comes from
    // the previous CLI; the flags it was given are kept on the Deployment.
    let mut deploy = meshctl();
    deploy.env("NGINX_MESHCTL_VERSION", "1.6.0").args(["deploy", "--mtls-mode", "strict", "--disable-auto-inject"]);
    support::run_ok(deploy);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "nginx-mesh");
    assert_eq!(mesh_image(&deployments.get("nginx-mesh-api").await.unwrap()), "nginx/nginx-mesh-api:1.6.0");
    let version = support::run_ok({
        let mut c = meshctl();
        c.arg("version");
        c
    });
    assert!(version.contains("nginx-meshctl - v1.7.0") && version.contains("v1.6.0"), "{version}");
    let annotations = deployments.get("nginx-mesh-api").await.unwrap().metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations.get("stepwise-test/deploy-flags").map(String::as_str),
        Some("--mtls-mode=strict --disable-auto-inject=true")
    );
    let (code, _, err) = run({
        let mut c = meshctl();
        c.args(["deploy"]);
        c
    });
    assert_ne!(code, 0, "a second deploy must be refused: {err}");
    assert!(err.contains("is already deployed in namespace nginx-mesh"), "{err}");

    let apps = cluster.namespace(&client, "meshed").await;
    for &(plural, group, version, kind) in seed::KINDS {
        let api = dynamic_api(&client, group, version, kind, plural, Some(&apps));
        let obj: DynamicObject = object(json!({
            "apiVersion": format!("{group}/{version}"), "kind": kind,
            "metadata": { "name": "sample" }, "spec": { "note": "must be backed up" }
        }));
        api.create(&PostParams::default(), &obj).await.unwrap_or_else(|e| panic!("create {kind}: {e}"));
    }
    // circuitbreakers exist in v1alpha1 only, although the group prefers v1alpha2.
    let cb_v2 =
        dynamic_api(&client, "specs.smi.nginx.com", "v1alpha2", "CircuitBreaker", "circuitbreakers", Some(&apps));
    assert!(cb_v2.list(&ListParams::default()).await.is_err());

    // Unknown input fails loudly; upgrade checks the release order.
    let (code, _, err) = run({
        let mut c = meshctl();
        c.args(["deploy", "--bogus"]);
        c
    });
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Usage"), "{err}");
    // Flags the vendor's 1.7.0 upgrade does not have are refused too.
    for flag in ["--registry-server", "--image-tag"] {
        let (code, _, err) = run({
            let mut c = meshctl();
            c.args(["upgrade", "-y", flag, "x"]);
            c
        });
        assert_eq!(code, 2, "upgrade {flag}: {err}");
    }
    let dry = support::run_ok({
        let mut c = meshctl();
        c.args(["upgrade", "--dry-run"]);
        c
    });
    assert!(dry.contains("would be upgraded to 1.7.0"), "{dry}");
    let (code, _, err) = run({
        let mut c = meshctl();
        c.env("NGINX_MESHCTL_VERSION", "1.5.0").args(["upgrade", "-y"]);
        c
    });
    assert_ne!(code, 0, "upgrading 1.6.0 with a 1.5.0 CLI must fail: {err}");
    let (code, _, err) = run({
        let mut c = meshctl();
        c.arg("upgrade");
        c
    });
    assert_ne!(code, 0, "upgrade without -y and without an answer must not proceed: {err}");
    support::run_ok({
        let mut c = meshctl();
        c.args(["upgrade", "-y"]);
        c
    });
    assert_eq!(mesh_image(&deployments.get("nginx-mesh-api").await.unwrap()), "nginx/nginx-mesh-api:1.7.0");
    let (code, _, err) = run({
        let mut c = meshctl();
        c.args(["upgrade", "-y"]);
        c
    });
    assert_ne!(code, 0, "a second upgrade must be refused: {err}");
    // Custom resources survive an upgrade.
    let ts = dynamic_api(&client, "split.smi-spec.io", "v1alpha3", "TrafficSplit", "trafficsplits", Some(&apps));
    assert!(ts.get_opt("sample").await.unwrap().is_some());

    // remove: no answer means no; -y deletes the CRDs and so every resource.
    let (code, _, _) = run({
        let mut c = meshctl();
        c.arg("remove");
        c
    });
    assert_ne!(code, 0);
    support::run_ok({
        let mut c = meshctl();
        c.args(["remove", "-y"]);
        c
    });
    for &(plural, group, _, _) in seed::KINDS {
        let name = format!("{plural}.{group}");
        assert!(crd_api(&client).get_opt(&name).await.unwrap().is_none(), "{name} still there");
    }
    assert!(Api::<Namespace>::all(client.clone()).get_opt("nginx-mesh").await.unwrap().is_none());
    let crds_back = dynamic_api(&client, "split.smi-spec.io", "v1alpha3", "TrafficSplit", "trafficsplits", Some(&apps));
    assert!(crds_back.list(&ListParams::default()).await.is_err(), "the TrafficSplit API should be gone");

    // OpenShift mode: the csi-driver-sentinel Job outlives `remove` until the
    // last meshed pod (label stepwise-test/sidecar=true) is gone.
    create_pod(&client, &apps, "meshed-app", &[("stepwise-test/sidecar", "true")]).await;
    support::run_ok({
        let mut c = meshctl();
        c.args(["deploy", "--environment", "openshift"]);
        c
    });
    let sentinel: Api<Job> = Api::namespaced(client.clone(), "nginx-mesh");
    assert!(sentinel.get_opt("csi-driver-sentinel").await.unwrap().is_some());
    support::run_ok({
        let mut c = meshctl();
        c.args(["remove", "-y"]);
        c
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        sentinel.get_opt("csi-driver-sentinel").await.unwrap().is_some(),
        "sentinel went while a sidecar pod remained"
    );
    Api::<Pod>::namespaced(client.clone(), &apps).delete("meshed-app", &DeleteParams::default()).await.unwrap();
    support::wait_until("the sentinel job to be deleted", WAIT, || async {
        matches!(sentinel.get_opt("csi-driver-sentinel").await, Ok(None)).then_some(())
    })
    .await;
    // Clean up the namespace the sentinel kept alive.
    Api::<Namespace>::all(client.clone()).delete("nginx-mesh", &DeleteParams::default()).await.unwrap();
}

#[tokio::test]
async fn kong_standin_records_in_order_and_chart_runs_migration_hooks() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "kong").await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let export = tempfile::NamedTempFile::new().unwrap();
    let export_path = export.path().to_str().unwrap().to_string();
    let steps: [&[&str]; 5] = [
        &["config", "db_export", &export_path],
        &["migrations", "up"],
        &["migrations", "finish"],
        &["migrations", "list"],
        &["config", "db_import", &export_path],
    ];
    for args in steps {
        let mut c = cluster.standin("kong");
        c.args(args).env("STEPWISE_STANDIN_LOG", log.path()).env("STEPWISE_STANDIN_NAMESPACE", &ns);
        support::run_ok(c);
    }
    let expected: Vec<String> = steps.iter().map(|a| format!("kong {}", a.join(" "))).collect();
    let in_file: Vec<String> = std::fs::read_to_string(log.path()).unwrap().lines().map(String::from).collect();
    assert_eq!(in_file, expected);
    let in_cluster = support::standin_log(&client, &ns).await;
    assert_eq!(in_cluster, expected);
    let (code, _, _) = run({
        let mut c = cluster.standin("kong");
        c.args(["migrations", "sideways"]);
        c
    });
    assert_eq!(code, 2);

    // The kong chart: install, then an upgrade that runs the pre- and
    // post-upgrade migration Jobs as helm hooks (helm waits for them).
    let chart = support::fixture_chart("kong");
    let chart = chart.to_str().unwrap();
    let ctx = cluster.context.as_str();
    cluster.helm(ctx, &["install", "gw", chart, "-n", &ns, "--wait", "--timeout", "60s"]);
    cluster.helm(ctx, &["upgrade", "gw", chart, "-n", &ns, "--set", "image.tag=2.8.1.0", "--wait", "--timeout", "60s"]);
    let jobs = Api::<Job>::namespaced(client.clone(), &ns).list(&ListParams::default()).await.unwrap();
    let mut names: Vec<_> = jobs.items.iter().filter_map(|j| j.metadata.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["gw-kong-init-migrations", "gw-kong-post-upgrade-migrations", "gw-kong-pre-upgrade-migrations"]);
    let d = Api::<Deployment>::namespaced(client.clone(), &ns).get("gw-kong").await.unwrap();
    let images: Vec<_> =
        d.spec.unwrap().template.spec.unwrap().containers.into_iter().filter_map(|c| c.image).collect();
    assert!(images.contains(&"kong/kong-gateway:2.8.1.0".to_string()), "{images:?}");
}

#[tokio::test]
async fn kumactl_standin_output_applies_to_the_cluster() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let mut c = cluster.standin("kumactl");
    c.args(["install", "control-plane", "--set", "controlPlane.replicas=2"]);
    let manifests = support::run_ok(c);
    assert!(manifests.contains("kind: CustomResourceDefinition") && manifests.contains("kong/kuma-cp:2.0.0"));
    let manifest_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(manifest_file.path(), &manifests).unwrap();
    cluster.kubectl(&cluster.context, &["apply", "-f", manifest_file.path().to_str().unwrap()]);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "kong-mesh-system");
    wait_rolled_out(&deployments, "kong-mesh-control-plane", 2).await;
    assert!(crd_established(&client, "meshes.kuma.io").await);
    let version = support::run_ok({
        let mut c = cluster.standin("kumactl");
        c.arg("version");
        c
    });
    assert_eq!(version.trim(), "Client: Kong Mesh 2.0.0");
}
