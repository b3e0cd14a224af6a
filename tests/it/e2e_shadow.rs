//! Shadow rehearsal on the two-cluster test bed: the NGINX Service Mesh manual
//! upgrade 1.6.0 -> 1.7.0 rehearsed for real on the second cluster from a copy
//! of the first. The primary must not change at all (no resourceVersion moves,
//! no Lease, no dry run); the shadow must end on 1.7.0 holding every custom
//! resource as the primary has it; and the window the report measures must be
//! close to that of the real run that follows on the primary. Also the
//! refusals: a shadow that is the primary, and a shadow that runs the mesh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use support::chart_repo::ChartRepo;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::Value;

/// Everything of `kinds` on a cluster that a write would change, in the
/// namespaces `watched` accepts (`""` for cluster-scoped objects):
/// `kind namespace/name` -> its resourceVersion (for Deployments their
/// generation: the controllers write their status as pods come and go, and
/// only a change of the spec counts).
fn snapshot(
    tb: &support::TestCluster,
    context: &str,
    kinds: &[&str],
    watched: impl Fn(&str) -> bool,
) -> BTreeMap<String, String> {
    let json = tb.kubectl(context, &["get", &kinds.join(","), "-A", "-o", "json"]);
    let list: Value = serde_json::from_str(&json).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| watched(o["metadata"]["namespace"].as_str().unwrap_or_default()))
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

/// The NGINX journey's view of the primary: every namespace but those
/// Kubernetes itself writes in all the time.
fn mesh_snapshot(tb: &support::TestCluster, context: &str) -> BTreeMap<String, String> {
    let mut kinds = vec!["namespaces", "configmaps", "secrets", "leases.coordination.k8s.io", "deployments", "crds"];
    let names = seed::resource_names();
    kinds.extend(names.iter().map(String::as_str));
    snapshot(tb, context, &kinds, |ns| !matches!(ns, "kube-system" | "kube-node-lease"))
}

/// The two journeys share both clusters and each checks that nothing on the
/// primary moves while it runs, so they take turns.
static BED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Namespaces the NGINX journeys mesh, on either cluster.
const MESHED: [&str; 2] = ["app-a", "app-b"];

/// An NGINX journey's turn on the bed: neither cluster holds a mesh (the other
/// journey's, kept on the shadow or upgraded on the primary), and on each
/// cluster a controller clears the finalizers of objects being deleted, as the
/// one that owns them would, until the turn ends.
struct MeshTurn {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    tb: &'static support::TestCluster,
    shadow_context: String,
    primary: kube::Client,
    shadow: kube::Client,
    finalizers: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for MeshTurn {
    fn drop(&mut self) {
        for f in &self.finalizers {
            f.abort();
        }
    }
}

async fn mesh_turn() -> MeshTurn {
    let turn = BED.lock().await;
    let tb = support::multi_cluster();
    let (primary, shadow) = (tb.client().await, tb.second_client().await);
    let finalizers =
        [seed::spawn_finalizer_controller(primary.clone()), seed::spawn_finalizer_controller(shadow.clone())];
    for context in tb.admin_contexts() {
        seed::mesh::clear_mesh(&tb.kubectl, &tb.kubeconfig, context, &MESHED);
    }
    let shadow_context = tb.second_context.clone().unwrap();
    MeshTurn { _turn: turn, tb, shadow_context, primary, shadow, finalizers }
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
    let turn = mesh_turn().await;
    let (tb, shadow_context, primary, shadow) = (turn.tb, &turn.shadow_context, &turn.primary, &turn.shadow);
    let settings = ["--mtls-mode=strict", "--access-control-mode=deny", "--registry-server=registry.example:5000/nsm"];
    let meshctl = seed::mesh::deploy_1_6(tb, &settings);
    let namespaces: Vec<String> = (0..4).map(|i| format!("shop-{i}")).collect();
    seed::seed(primary, &namespaces, 100).await;
    let saved = seed::live(primary, &namespaces).await;
    assert_eq!(saved.len(), 600);
    for ns in ["app-a", "app-b"] {
        seed::meshed_app(primary, ns).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = mesh_snapshot(tb, &tb.context);

    let state = tempfile::tempdir().unwrap();
    let mut args = seed::mesh::manual_upgrade_args("rehearse", &meshctl.old, &meshctl.new, &["app-a", "app-b"]);
    args.extend(["--shadow-context".to_string(), shadow_context.clone(), "--keep-shadow".to_string()]);
    let out = stepwise(tb, state.path(), &args);
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the shadow rehearsal failed:\n{said}");
    assert!(said.contains("Shadow rehearsal of NGINX Service Mesh 1.6.0 -> 1.7.0: every step done"), "{said}");
    assert!(said.contains("600 of 600 custom resources came back identical"), "{said}");

    // The primary: not one write.
    assert_eq!(mesh_snapshot(tb, &tb.context), before, "the primary changed during the shadow rehearsal");
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
    let copied = seed::live(shadow, &namespaces).await;
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
    let uid =
        |context: &str| tb.kubectl(context, &["get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}"]);
    assert_eq!(meta["cluster"]["kube_system_uid"], uid(shadow_context).as_str(), "{meta}");
    assert_eq!(meta["shadow_of"]["kube_system_uid"], uid(&tb.context).as_str(), "{meta}");
    // Its lease was the shadow's: the session's one connection.
    let transcript = std::fs::read_to_string(session.join("transcript.jsonl")).unwrap();
    assert!(transcript.contains("this session drives nginx-service-mesh on this cluster"), "no lease taken");
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

/// A made-up product whose 1.1.0 chart serves its kind only as `v1beta1`,
/// which requires a field the saved `v1alpha1` objects do not have.
const SHADOWY: &str = r#"id: shadowy
name: Shadowy
description: A made-up product installed by Helm whose 1.1.0 changes its CRD's version.
releases: [1.0.0, 1.1.0]
variables:
  - name: namespace
    description: Namespace of the controller.
    default: shadowy-system
  - name: charts
    description: Folder with a chart per release, shadowy-VERSION.
detect:
  - deployment_image: {namespace: "{{namespace}}", name: shadowy-controller}
path:
  rules:
    - reason: One minor at a time.
      max_minor: 1
shadow:
  default:
    install:
      argv: [helm, install, shadowy, "{{charts}}/shadowy-{{from_version}}", --namespace, "{{namespace}}", --create-namespace]
    remove:
      argv: [helm, uninstall, shadowy, --namespace, "{{namespace}}", --wait]
"#;

const REINSTALL: &str = r#"id: reinstall
product: shadowy
title: Reinstall
description: Removes the release with its CRD and widgets, installs the target and restores the widgets.
disruption: high
applies: {from: "*", to: "*"}
steps:
  - id: backup
    title: Save the widgets
    explain: Removing the release deletes its CRD and every widget.
    backup: {resources: [widgets.shadowy.example]}
  - id: remove
    title: Remove the release
    explain: helm uninstall deletes the CRD with the widgets.
    destructive: true
    confirm: {typed: "{{namespace}}"}
    command: {argv: [helm, uninstall, shadowy, --namespace, "{{namespace}}", --wait]}
  - id: crd-gone
    title: Wait for the CRD to go
    explain: The target release installs its own.
    wait: {for: {gone: {resource: customresourcedefinitions.apiextensions.k8s.io, name: widgets.shadowy.example}}, timeout: 2m}
  - id: install
    title: Install the target release
    explain: The target's chart.
    command: {argv: [helm, install, shadowy, "{{charts}}/shadowy-{{to_version}}", --namespace, "{{namespace}}", --create-namespace]}
  - id: controller
    title: Wait for the controller
    explain: The widgets are restored once it runs.
    wait: {for: {deployment_available: {namespace: "{{namespace}}", name: shadowy-controller}}, timeout: 3m}
  - id: restore
    title: Restore the widgets
    explain: Puts back every widget saved.
    restore: {from: backup}
"#;

/// The chart of one release: the CRD (in templates, so that an uninstall
/// removes it and its objects) and the controller Deployment.
fn write_chart(dir: &Path, version: &str, crd_versions: &str) -> std::path::PathBuf {
    let chart = dir.join(format!("shadowy-{version}"));
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    let meta = format!("apiVersion: v2\nname: shadowy\nversion: {version}\nappVersion: \"{version}\"\n");
    std::fs::write(chart.join("Chart.yaml"), meta).unwrap();
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.shadowy.example\n\
         spec:\n  group: shadowy.example\n  scope: Namespaced\n  names: {{plural: widgets, singular: widget, kind: Widget}}\n\
         \x20 versions:\n{crd_versions}"
    );
    std::fs::write(chart.join("templates/crd.yaml"), crd).unwrap();
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shadowy-controller}\nspec:\n  replicas: 1\n  \
                      selector: {matchLabels: {app: shadowy}}\n  template:\n    metadata: {labels: {app: shadowy}}\n    \
                      spec: {containers: [{name: controller, image: \"example/shadowy:{{ .Chart.AppVersion }}\"}]}\n";
    std::fs::write(chart.join("templates/deployment.yaml"), deployment).unwrap();
    chart
}

const OPEN_SCHEMA: &str =
    "      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_rehearsal_names_the_objects_the_target_crd_refuses_before_the_real_run() {
    let _turn = BED.lock().await;
    let tb = support::multi_cluster();
    let shadow_context = tb.second_context.clone().unwrap();
    let work = tempfile::tempdir().unwrap();
    let charts = work.path().join("charts");
    let old = write_chart(
        &charts,
        "1.0.0",
        &format!("    - name: v1alpha1\n      served: true\n      storage: true\n{OPEN_SCHEMA}"),
    );
    let strict = "      schema:\n        openAPIV3Schema:\n          type: object\n          required: [spec]\n          \
                  properties:\n            spec:\n              type: object\n              required: [size]\n              \
                  properties: {size: {type: integer}, color: {type: string}}\n";
    write_chart(
        &charts,
        "1.1.0",
        &format!(
            "    - name: v1alpha1\n      served: false\n      storage: false\n{OPEN_SCHEMA}    - name: v1beta1\n      \
             served: true\n      storage: true\n{strict}"
        ),
    );
    tb.helm(&tb.context, &["install", "shadowy", old.to_str().unwrap(), "-n", "shadowy-system", "--create-namespace"]);
    tb.kubectl(&tb.context, &["create", "namespace", "gadgets"]);
    let widgets: Vec<String> = (0..5)
        .map(|i| {
            format!(
                r#"{{"apiVersion":"shadowy.example/v1alpha1","kind":"Widget","metadata":{{"name":"w-{i}","namespace":"gadgets"}},"spec":{{"color":"blue"}}}}"#
            )
        })
        .collect();
    let list = format!(r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#, widgets.join(","));
    let file = work.path().join("widgets.json");
    std::fs::write(&file, list).unwrap();
    tb.kubectl(&tb.context, &["create", "-f", file.to_str().unwrap()]);
    let ours = |ns: &str| matches!(ns, "" | "gadgets" | "shadowy-system");
    let kinds = ["widgets.shadowy.example", "deployments", "crds", "leases.coordination.k8s.io", "namespaces"];
    let before = snapshot(tb, &tb.context, &kinds, ours);

    let runbooks = support::write_runbooks(work.path(), "shadowy", SHADOWY, &[("reinstall.yaml", REINSTALL)]);
    let state = work.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let args: Vec<String> = [
        "rehearse",
        "shadowy",
        "--to",
        "1.1.0",
        "--yes",
        "--confirm",
        "shadowy-system",
        "--set",
        &format!("charts={}", charts.display()),
        "--shadow-context",
        &shadow_context,
    ]
    .map(String::from)
    .to_vec();
    let mut cmd = support::stepwise_command(tb, &tb.context, &state);
    cmd.arg("--runbooks").arg(&runbooks).args(&args);
    let out = support::output_via_log(cmd, &state.join("stepwise.log"));
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the restore on the shadow must fail:\n{said}");
    assert!(said.contains("step failed: Restore the widgets"), "{said}");
    assert!(said.contains("size"), "the server's message names the missing field:\n{said}");
    assert!(said.contains("0 of 5 custom resources came back identical"), "{said}");
    assert!(said.contains("not restorable as saved: widgets.shadowy.example gadgets/w-0: missing"), "{said}");
    assert!(
        said.contains("widgets.shadowy.example: served v1alpha1 (stored) before, v1beta1 (stored) after"),
        "{said}"
    );
    // Nothing on the primary moved: the real run has not removed anything yet.
    assert_eq!(snapshot(tb, &tb.context, &kinds, ours), before, "the primary changed");
    // Without --keep-shadow the product, the copied namespace and the CRD are gone from the shadow.
    let releases = tb.helm(&shadow_context, &["list", "-n", "shadowy-system", "-q"]);
    assert!(releases.trim().is_empty(), "the release is still on the shadow: {releases}");
    let crds = tb.kubectl(&shadow_context, &["get", "crds", "-o", "name"]);
    assert!(!crds.contains("widgets.shadowy.example"), "{crds}");
    let gadgets = tb.kubectl(&shadow_context, &["get", "namespace", "gadgets", "--ignore-not-found", "-o", "name"]);
    let gone_or_going = gadgets.trim().is_empty()
        || tb.kubectl(&shadow_context, &["get", "namespace", "gadgets", "-o", "jsonpath={.status.phase}"])
            == "Terminating";
    assert!(gone_or_going, "the copied namespace is left on the shadow");
    let meta: Value = serde_json::from_str(&support::only_session_file(&state, "session.json")).unwrap();
    assert_eq!(meta["status"], "abandoned", "a failed shadow session whose product is gone is not one to resume");
}

#[test]
fn a_shadow_the_user_may_not_write_to_is_refused_naming_what_is_missing() {
    let tb = support::multi_cluster();
    let read_only = tb.second_restricted_context.clone().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tools = seed::mesh::deploy_tools(tb);
    let mut args = seed::mesh::manual_upgrade_args("rehearse", &tools.old, &tools.new, &["app-a"]);
    args.extend(["--from", "1.6.0", "--shadow-context", &read_only].map(String::from));
    args.extend(support::NSM_SETTINGS.map(String::from));
    let out = stepwise(tb, state.path(), &args);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("the shadow's user may not create namespaces (cluster-wide)"), "{said}");
    assert!(said.contains("the shadow's user may not create customresourcedefinitions.apiextensions.k8s.io"), "{said}");
    assert!(!state.path().join("shadows").exists(), "nothing was set up: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_rehearsal_of_a_helm_install_installs_with_the_primary_release_values() {
    let turn = mesh_turn().await;
    let (tb, shadow_context, primary, shadow) = (turn.tb, &turn.shadow_context, &turn.primary, &turn.shadow);
    let repo = ChartRepo::nginx_service_mesh(tb, "stepwise-shadow");
    let env = repo.env();
    let chart = repo.chart("nginx-service-mesh");
    let helm = |args: &[&str]| repo.run_helm(tb, &tb.context, args);
    // replicas=2 is the setting the shadow must be installed with.
    let install = ["install", "nsm", &chart, "--version", "0.6.0", "-n", "nginx-mesh", "--create-namespace"];
    helm(&[&install[..], &["--set", "replicas=2", "--wait"]].concat());
    let namespaces: Vec<String> = (0..2).map(|i| format!("helm-shop-{i}")).collect();
    seed::seed(primary, &namespaces, 40).await;
    let saved = seed::live(primary, &namespaces).await;
    seed::meshed_app(primary, MESHED[0]).await;
    let work = tempfile::tempdir().unwrap();
    let values = work.path().join("nsm-values.yaml");
    std::fs::write(&values, helm(&["get", "values", "nsm", "--namespace", "nginx-mesh", "--output", "yaml"])).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = mesh_snapshot(tb, &tb.context);

    let state = work.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let mut args = vec!["rehearse".to_string()];
    args.extend(seed::mesh::manual_helm_args(&chart, &values, &MESHED[..1]));
    args.extend(["--shadow-context".to_string(), shadow_context.clone(), "--keep-shadow".to_string()]);
    let log = state.join("stepwise-rehearse.log");
    // The operator deletes the mesh CRDs on the shadow when the manual step asks.
    let operator = {
        let (log, kubectl, kubeconfig, context) =
            (log.clone(), tb.kubectl.clone(), tb.kubeconfig.clone(), shadow_context.clone());
        std::thread::spawn(move || {
            for _ in 0..3000 {
                if std::fs::read_to_string(&log).unwrap_or_default().contains("manual step \"Delete the mesh CRDs\"") {
                    let selector = "app.kubernetes.io/part-of=nginx-service-mesh";
                    let _ = std::process::Command::new(&kubectl)
                        .args(["--kubeconfig", kubeconfig.to_str().unwrap(), "--context", &context])
                        .args(["delete", "crd", "-l", selector, "--wait=false"])
                        .output();
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut cmd = support::stepwise_command(tb, &tb.context, &state);
    cmd.args(&args).envs(env.iter().map(|(k, v)| (*k, v)));
    let out = support::output_via_log(cmd, &log);
    let _ = operator.join();
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the shadow rehearsal failed:\n{said}");
    assert!(said.contains("Shadow rehearsal of NGINX Service Mesh 1.6.0 -> 1.7.0: every step done"), "{said}");
    assert!(said.contains("240 of 240 custom resources came back identical"), "{said}");
    assert!(said.contains("--version 0.6.0"), "the installed release's chart went on the shadow:\n{said}");
    assert_eq!(mesh_snapshot(tb, &tb.context), before, "the primary changed during the shadow rehearsal");
    // The shadow was installed with the primary's release values, read from the primary.
    let reports: Vec<_> = std::fs::read_dir(state.join("shadows")).unwrap().map(|e| e.unwrap().path()).collect();
    let file = reports[0].join("primary-values.json");
    let read: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(read, serde_json::json!({"replicas": 2}), "{}", file.display());
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the values may hold secrets: only the operator reads them");
    assert!(said.contains(&format!("--values {}", file.display())), "{said}");
    let control = Api::<Deployment>::namespaced(shadow.clone(), "nginx-mesh").get("nginx-mesh-api").await.unwrap();
    let spec = control.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let image = spec.template.spec.unwrap().containers[0].image.clone().unwrap();
    assert!(image.ends_with(":1.7.0"), "{image}");
    let copied = seed::live(shadow, &namespaces).await;
    for (key, original) in &saved {
        assert_eq!(seed::essence(&copied[key]), seed::essence(original), "{key} differs on the shadow");
    }
}
