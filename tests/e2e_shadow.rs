//! Shadow rehearsal on the two-cluster test bed: the NGINX Service Mesh manual
//! upgrade 1.6.0 -> 1.7.0 rehearsed for real on the second cluster from a copy
//! of the first. The primary must not change at all (no resourceVersion moves,
//! no Lease, no dry run); the shadow must end on 1.7.0 holding every custom
//! resource as the primary has it; and the window the report measures must be
//! close to that of the real run that follows on the primary. Also the
//! refusals: a shadow that is the primary, and a shadow that runs the mesh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

mod seed;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::Value;

/// Everything on a cluster that a write would change, outside the namespaces
/// Kubernetes itself writes in all the time: `kind namespace/name` -> its
/// resourceVersion (for Deployments their generation: the controllers write
/// their status as pods come and go, and only a change of the spec counts).
fn snapshot(tb: &support::TestCluster, context: &str) -> BTreeMap<String, String> {
    let mut kinds = vec!["namespaces", "configmaps", "secrets", "leases.coordination.k8s.io", "deployments", "crds"];
    let names = seed::resource_names();
    kinds.extend(names.iter().map(String::as_str));
    let json = tb.kubectl(context, &["get", &kinds.join(","), "-A", "-o", "json"]);
    let list: Value = serde_json::from_str(&json).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| !matches!(o["metadata"]["namespace"].as_str(), Some("kube-system" | "kube-node-lease")))
        .map(|o| {
            let m = &o["metadata"];
            let key = format!(
                "{} {}/{}",
                o["kind"].as_str().unwrap_or_default(),
                m["namespace"].as_str().unwrap_or_default(),
                m["name"].as_str().unwrap_or_default()
            );
            let version =
                if o["kind"] == "Deployment" { m["generation"].to_string() } else { m["resourceVersion"].to_string() };
            (key, version)
        })
        .collect()
}

fn stepwise(tb: &support::TestCluster, state: &Path, args: &[String]) -> std::process::Output {
    let mut cmd = support::stepwise_command(tb, &tb.context, state);
    cmd.args(args);
    support::output_via_log(cmd, &state.join(format!("stepwise-{}.log", args[0])))
}

/// The window a real session's journal shows: from the start of its first
/// destructive step to the end of its restore.
fn session_window(session: &Path) -> Duration {
    let steps: Value = serde_json::from_slice(&std::fs::read(session.join("steps.json")).unwrap()).unwrap();
    let steps = steps.as_array().unwrap();
    let at = |s: &Value, field: &str| {
        time::OffsetDateTime::parse(s[field].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
    };
    let removal = steps.iter().find(|s| s["destructive"] == true).unwrap();
    let restore = steps.iter().rev().find(|s| s["kind"] == "restore").unwrap();
    (at(restore, "ended_at") - at(removal, "started_at")).try_into().unwrap()
}

/// The window a shadow report states, in seconds.
fn reported_window(report: &str) -> Duration {
    let line = report.lines().find(|l| l.starts_with("* Window without custom resources: ")).expect(report);
    let secs: f64 = line.rsplit(": ").next().unwrap().trim_end_matches(" s").parse().expect(line);
    Duration::from_secs_f64(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_rehearsal_upgrades_a_copy_and_leaves_the_primary_untouched() {
    let tb = support::multi_cluster();
    let shadow_context = tb.second_context.clone().unwrap();
    let (primary, shadow) = (tb.client().await, tb.second_client().await);
    let settings = ["--mtls-mode=strict", "--access-control-mode=deny", "--registry-server=registry.example:5000/nsm"];
    let meshctl = seed::mesh::deploy_1_6(tb, &settings);
    // The finalizers on the saved objects are cleared by a controller on each
    // cluster, as the one that owns them would.
    let finalizers =
        [seed::spawn_finalizer_controller(primary.clone()), seed::spawn_finalizer_controller(shadow.clone())];
    let namespaces: Vec<String> = (0..4).map(|i| format!("shop-{i}")).collect();
    seed::seed(&primary, &namespaces, 100).await;
    let saved = seed::live(&primary, &namespaces).await;
    assert_eq!(saved.len(), 600);
    for ns in ["app-a", "app-b"] {
        seed::meshed_app(&primary, ns).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = snapshot(tb, &tb.context);

    let state = tempfile::tempdir().unwrap();
    let mut args = seed::mesh::manual_upgrade_args("rehearse", &meshctl.old, &meshctl.new, &["app-a", "app-b"]);
    args.extend(["--shadow-context".to_string(), shadow_context.clone(), "--keep-shadow".to_string()]);
    let out = stepwise(tb, state.path(), &args);
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the shadow rehearsal failed:\n{said}");
    assert!(said.contains("Shadow rehearsal of NGINX Service Mesh 1.6.0 -> 1.7.0: every step done"), "{said}");
    assert!(said.contains("600 of 600 custom resources came back identical"), "{said}");

    // The primary: not one write.
    assert_eq!(snapshot(tb, &tb.context), before, "the primary changed during the shadow rehearsal");
    // The shadow: 1.7.0 with every object as the primary holds it, and the
    // settings read from the primary.
    let api: Api<Deployment> = Api::namespaced(shadow.clone(), "nginx-mesh");
    let control = api.get("nginx-mesh-api").await.unwrap();
    let image = control.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert!(image.ends_with(":1.7.0"), "{image}");
    let config = Api::<ConfigMap>::namespaced(shadow.clone(), "nginx-mesh").get("mesh-config").await.unwrap();
    let config: Value =
        serde_json::from_slice(&config.binary_data.unwrap().remove("mesh-config.json").unwrap().0).unwrap();
    assert_eq!(config["mtls"]["mode"], "strict", "deployed with the primary's settings: {config}");
    assert_eq!(config["accessControlMode"], "deny", "{config}");
    let sidecar = config["sidecarImage"]["image"].as_str().unwrap();
    assert!(sidecar.starts_with("registry.example:5000/nsm/"), "{config}");
    let copied = seed::live(&shadow, &namespaces).await;
    assert_eq!(copied.len(), saved.len());
    for (key, original) in &saved {
        assert_eq!(seed::essence(&copied[key]), seed::essence(original), "{key} differs on the shadow");
    }
    for ns in ["app-a", "app-b"] {
        let d: Api<Deployment> = Api::namespaced(shadow.clone(), ns);
        let stand_in = d.get("stepwise-shadow-workload").await.unwrap();
        let annotations = stand_in.spec.unwrap().template.metadata.unwrap().annotations.unwrap_or_default();
        assert!(annotations.contains_key("kubectl.kubernetes.io/restartedAt"), "{ns}: the re-roll ran on the shadow");
    }
    // The session ran on the shadow and names both clusters.
    let session = support::only_session(state.path());
    let meta: Value = serde_json::from_slice(&std::fs::read(session.join("session.json")).unwrap()).unwrap();
    assert_eq!(meta["target"]["context"], shadow_context.as_str(), "{meta}");
    assert!(meta["shadow_of"]["kube_system_uid"].is_string(), "{meta}");
    assert_ne!(meta["shadow_of"]["kube_system_uid"], meta["cluster"]["kube_system_uid"]);
    let reports: Vec<_> = std::fs::read_dir(state.path().join("shadows")).unwrap().map(|e| e.unwrap().path()).collect();
    let report = std::fs::read_to_string(reports[0].join("report.md")).unwrap();
    assert!(report.contains("| ratelimits.specs.smi.nginx.com | 100 | 100 | 0 |"), "{report}");
    let rehearsed = reported_window(&report);
    // A shadow that runs the mesh (this one kept it) is refused before anything is set up there.
    let again = tempfile::tempdir().unwrap();
    let mut args = seed::mesh::manual_upgrade_args("rehearse", &meshctl.old, &meshctl.new, &["app-a", "app-b"]);
    args.extend(["--shadow-context".to_string(), shadow_context.clone()]);
    let out = stepwise(tb, again.path(), &args);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("already runs NGINX Service Mesh 1.7.0"), "{said}");
    assert!(!again.path().join("shadows").exists(), "nothing was set up: {said}");

    // The real run that follows, on the primary.
    let real = tempfile::tempdir().unwrap();
    let args = seed::mesh::manual_upgrade_args("run", &meshctl.old, &meshctl.new, &["app-a", "app-b"]);
    let out = stepwise(tb, real.path(), &args);
    for f in finalizers {
        f.abort();
    }
    assert!(out.status.success(), "the real run failed:\n{}", String::from_utf8_lossy(&out.stdout));
    let window = session_window(&support::only_session(real.path()));
    let ratio = rehearsed.as_secs_f64() / window.as_secs_f64();
    assert!(
        (0.8..=1.2).contains(&ratio),
        "the shadow's window ({rehearsed:?}) is not within 20% of the real run's ({window:?})"
    );
}

#[test]
fn a_shadow_that_is_the_primary_is_refused() {
    let tb = support::multi_cluster();
    let state = tempfile::tempdir().unwrap();
    let args: Vec<String> =
        ["rehearse", "nginx-service-mesh", "--to", "1.7.0", "--from", "1.6.0", "--yes", "--shadow-context"]
            .map(String::from)
            .to_vec();
    let mut args = args;
    args.push(tb.context.clone());
    let out = stepwise(tb, state.path(), &args);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("is the primary cluster itself"), "{said}");
    assert!(!state.path().join("shadows").exists(), "nothing was set up");
}
