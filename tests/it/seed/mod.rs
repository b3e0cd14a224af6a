//! Seeding the test cluster with NGINX Service Mesh custom resources of every kind,
//! with the awkward content real clusters hold: unicode and quotes in annotations,
//! finalizers, long labels, nested specs. Shared by the backup and restore tests.

#![allow(dead_code)]

pub mod mesh;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The six kinds the NGINX Service Mesh manual upgrade backs up, with the version
/// each is served in by the fixture CRDs.
pub const KINDS: &[(&str, &str, &str, &str)] = &[
    ("trafficsplits", "split.smi-spec.io", "v1alpha3", "TrafficSplit"),
    ("traffictargets", "access.smi-spec.io", "v1alpha2", "TrafficTarget"),
    ("httproutegroups", "specs.smi-spec.io", "v1alpha3", "HTTPRouteGroup"),
    ("tcproutes", "specs.smi-spec.io", "v1alpha3", "TCPRoute"),
    ("ratelimits", "specs.smi.nginx.com", "v1alpha2", "RateLimit"),
    ("circuitbreakers", "specs.smi.nginx.com", "v1alpha1", "CircuitBreaker"),
];

pub fn resource_names() -> Vec<String> {
    KINDS.iter().map(|(plural, group, _, _)| format!("{plural}.{group}")).collect()
}

pub fn api_resource(kind: &(&str, &str, &str, &str)) -> ApiResource {
    let (plural, group, version, k) = *kind;
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: k.into(),
        plural: plural.into(),
    }
}

/// Installs (or re-installs) the six CRDs with the real kubectl and waits until
/// they are Established.
pub fn install_crds(kubectl: &Path, kubeconfig: &Path, context: &str) {
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/charts/nginx-service-mesh/crds");
    let kc = kubeconfig.to_str().unwrap();
    // One apply at a time: of two creating the same CRD at once, one is refused.
    static ONE_APPLY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_APPLY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for args in [vec!["apply", "-f", crds], vec!["wait", "--for=condition=Established", "--timeout=60s", "-f", crds]] {
        let out = Command::new(kubectl).args(["--kubeconfig", kc, "--context", context]).args(&args).output().unwrap();
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Deletes the six CRDs, which deletes every object of them, as `nginx-meshctl
/// remove` does. Finalizers are cleared first so the deletion can finish.
pub async fn delete_crds(client: &Client, kubectl: &Path, kubeconfig: &Path, context: &str) {
    for kind in KINDS {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(kind));
        for obj in api.list(&ListParams::default()).await.unwrap() {
            if obj.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
                let ns = obj.metadata.namespace.clone().unwrap();
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &api_resource(kind));
                let patch = json!({"metadata": {"finalizers": null}});
                api.patch(&obj.metadata.name.unwrap(), &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
            }
        }
    }
    let names: Vec<String> = resource_names();
    let kc = kubeconfig.to_str().unwrap();
    let mut args = vec!["--kubeconfig", kc, "--context", context, "delete", "crd", "--wait=true", "--timeout=120s"];
    args.extend(names.iter().map(String::as_str));
    let out = Command::new(kubectl).args(&args).output().unwrap();
    assert!(out.status.success(), "kubectl delete crd: {}", String::from_utf8_lossy(&out.stderr));
}

pub async fn ensure_namespaces(client: &Client, names: &[String]) {
    let api: Api<Namespace> = Api::all(client.clone());
    for name in names {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("create namespace {name}: {e}"),
        }
    }
}

/// The object number `i` of a kind: varied, with the content backups get wrong.
pub fn object(kind: &(&str, &str, &str, &str), namespace: &str, i: usize) -> Value {
    let (_, group, version, k) = *kind;
    let mut metadata = json!({
        "name": format!("{}-{i}", k.to_lowercase()),
        "namespace": namespace,
        "labels": {"app": format!("app-{}", i % 7), "tier": "backend", "stepwise-test/seed": "yes"},
        "annotations": {"note": format!("objet n°{i} — \"quoted\" 'single' ✓ 日本語"), "multi": "line one\nline two"},
    });
    if i.is_multiple_of(5) {
        metadata["labels"]["long-label-value"] = json!("v".repeat(63));
        metadata["labels"]["example.com/a-rather-long-label-key-for-testing-purposes-only"] = json!("x");
    }
    if i.is_multiple_of(11) {
        metadata["finalizers"] = json!(["stepwise.test/keep"]);
    }
    json!({
        "apiVersion": format!("{group}/{version}"),
        "kind": k,
        "metadata": metadata,
        "spec": {
            "service": format!("svc-{i}"),
            "weights": [{"backend": "v1", "weight": 90}, {"backend": "v2", "weight": 10, "extra": {"deep": {"deeper": [1, 2.5, "three", null, true]}}}],
            "matches": {"headers": {"x-user": "ünïcødé", "x-empty": ""}},
            "octal-looking": "0755",
            "yes-looking": "on",
        }
    })
}

/// Creates `per_kind` objects of every kind spread over `namespaces`, returning
/// what was sent, keyed by `kind/namespace/name`.
pub async fn seed(client: &Client, namespaces: &[String], per_kind: usize) -> BTreeMap<String, Value> {
    ensure_namespaces(client, namespaces).await;
    let mut wanted = Vec::new();
    for kind in KINDS {
        for i in 0..per_kind {
            wanted.push((kind, object(kind, &namespaces[i % namespaces.len()], i)));
        }
    }
    let created: Vec<(String, Value)> = futures::stream::iter(wanted)
        .map(|(kind, obj)| async move {
            let ns = obj["metadata"]["namespace"].as_str().unwrap().to_string();
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &api_resource(kind));
            let dynamic: DynamicObject = serde_json::from_value(obj.clone()).unwrap();
            api.create(&PostParams::default(), &dynamic).await.unwrap_or_else(|e| panic!("seed {}: {e}", key_of(&obj)));
            (key_of(&obj), obj)
        })
        .buffer_unordered(32)
        .collect()
        .await;
    created.into_iter().collect()
}

pub fn key_of(obj: &Value) -> String {
    format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap_or_default(),
        obj["metadata"]["namespace"].as_str().unwrap_or_default(),
        obj["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Every seeded object of the given namespaces currently in the cluster, keyed like [`seed`].
pub async fn live(client: &Client, namespaces: &[String]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for kind in KINDS {
        for ns in namespaces {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &api_resource(kind));
            for obj in api.list(&ListParams::default()).await.unwrap() {
                let mut v = serde_json::to_value(&obj).unwrap();
                v["kind"] = json!(kind.3);
                out.insert(key_of(&v), v);
            }
        }
    }
    out
}

/// What must survive a backup and restore exactly.
pub fn essence(obj: &Value) -> Value {
    let m = &obj["metadata"];
    json!({
        "spec": obj["spec"],
        "labels": m.get("labels").cloned().unwrap_or(Value::Null),
        "annotations": m.get("annotations").cloned().unwrap_or(Value::Null),
        "finalizers": m.get("finalizers").cloned().unwrap_or(Value::Null),
    })
}

/// resourceVersion of every object, to prove a rehearsal changed nothing.
pub fn versions(objects: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    objects
        .iter()
        .map(|(k, v)| (k.clone(), v["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Plays the controller that owns the `stepwise.test/keep` finalizer: once an
/// object of the six kinds is being deleted, its finalizer is removed so the
/// deletion (and a CRD deletion waiting on it) can finish, as a real controller
/// would after its cleanup. Runs until the returned handle is aborted.
pub fn spawn_finalizer_controller(client: Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            for kind in KINDS {
                let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(kind));
                let Ok(list) = api.list(&ListParams::default()).await else { continue };
                for obj in list.items.into_iter().filter(|o| o.metadata.deletion_timestamp.is_some()) {
                    let (Some(ns), Some(name)) = (obj.metadata.namespace.clone(), obj.metadata.name.clone()) else {
                        continue;
                    };
                    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &api_resource(kind));
                    let patch = json!({"metadata": {"finalizers": null}});
                    let _ = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    })
}

/// A `nginx-meshctl` of a given release: a wrapper that runs the stand-in with
/// that version, as an operator would download one binary per release.
pub fn meshctl_at(dir: &Path, version: &str, standins: &Path) -> std::path::PathBuf {
    let path = dir.join(format!("nginx-meshctl-{version}"));
    let script = format!(
        "#!/usr/bin/env bash\nNGINX_MESHCTL_VERSION={version} exec {}/nginx-meshctl \"$@\"\n",
        standins.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// Creates Deployment `web` (two replicas, pods labelled as carrying the sidecar)
/// in `ns`; one already there is fine.
pub async fn meshed_app(client: &Client, ns: &str) {
    web_deployment(client, ns, json!({"app": "web", mesh::SIDECAR_LABEL: "true"})).await;
}

/// Creates Deployment `web` (two replicas, pods labelled `pod_labels`, which
/// must include `app: web`) in `ns`; one already there is fine. The meshed
/// workloads differ only in how their pods get a sidecar.
pub async fn web_deployment(client: &Client, ns: &str, pod_labels: Value) {
    ensure_namespaces(client, &[ns.to_string()]).await;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), ns);
    let d = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": pod_labels},
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
