//! NGINX Service Mesh upgrades beyond the nginx-meshctl manual one, end to end
//! through the real binary on the test bed, headless with --yes, each after a
//! rehearsal that must leave every resourceVersion as it was:
//! the manual upgrade on the Helm path and the Helm upgrade from the release
//! before (the real helm against a chart repository on loopback), the 1.7.0 procedure for OpenShift (sidecars dropped
//! until the csi-driver-sentinel Job has gone), and the in-place upgrade from the
//! previous release, which the planner refuses from two releases back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::kong;
use crate::seed;
use crate::support;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use stepwise::journal::{StepRecord, StepState};
use support::Ran;
use support::chart_repo::ChartRepo;

/// The name the fixture chart's repository is added under.
const CHART_REPO: &str = "stepwise-test";

/// The namespaces of every journey's meshed workloads; each journey starts by
/// deleting them all, since a sidecar pod left anywhere keeps the sentinel alive.
const MESHED_APPS: [&str; 5] = ["helm-app-a", "helm-app-b", "os-app-a", "os-app-b", "ip-app-a"];

/// No journey's run may take longer; past it the run is killed and the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// Runs the real binary against the test bed: `stepwise VERB ARGS` with
/// `--state-dir state`, output going to files in `state` as it is written (so a
/// slow run can be watched), killed at [`RUN_LIMIT`], which fails the journey.
async fn stepwise(
    tb: &'static support::TestCluster,
    state: &Path,
    env: &[(&str, OsString)],
    verb: &str,
    args: &[&str],
) -> Ran {
    let mut cmd = support::stepwise_command(tb, &tb.context, state);
    cmd.arg(verb).args(args).envs(env.iter().map(|(k, v)| (*k, v)));
    eprintln!("stepwise output: {}", state.join("stepwise.out").display());
    let state = state.to_path_buf();
    let ran = tokio::task::spawn_blocking(move || support::run_bounded(cmd, &state, RUN_LIMIT)).await.unwrap();
    assert!(!ran.killed, "stepwise ran past {RUN_LIMIT:?} and was killed:\n{}", ran.show());
    ran
}

/// Every step done (or, for `skippable_ok`, skipped), named in the failure.
fn assert_all_done(journey: &str, steps: &[StepRecord], ran: &Ran) {
    for s in steps {
        assert_eq!(
            s.state,
            StepState::Done,
            "{journey}, step `{}`{}: not done ({:?})\n{}",
            s.step,
            s.item.as_ref().map(|i| format!(" [{i}]")).unwrap_or_default(),
            s.error,
            ran.show()
        );
    }
}

fn step<'s>(journey: &str, steps: &'s [StepRecord], id: &str) -> &'s StepRecord {
    steps.iter().find(|s| s.step == id).unwrap_or_else(|| panic!("{journey}: the session has no step `{id}`"))
}

/// resourceVersion of the seeded objects, the control plane, the meshed
/// workloads, the CRDs and the sentinel Job, once they hold still (Deployments
/// write their status for a moment after their pods start).
async fn settled_versions(client: &kube::Client, seeded: &[String], apps: &[&str]) -> BTreeMap<String, String> {
    let mut last = BTreeMap::new();
    for _ in 0..30 {
        let mut now = seed::versions(&seed::live(client, seeded).await);
        let control: Api<Deployment> = Api::namespaced(client.clone(), "nginx-mesh");
        if let Some(d) = control.get_opt("nginx-mesh-api").await.unwrap() {
            now.insert("controller".into(), d.metadata.resource_version.unwrap_or_default());
        }
        let jobs: Api<Job> = Api::namespaced(client.clone(), "nginx-mesh");
        if let Some(j) = jobs.get_opt("csi-driver-sentinel").await.unwrap() {
            now.insert("sentinel".into(), j.metadata.resource_version.unwrap_or_default());
        }
        for ns in apps {
            let d = Api::<Deployment>::namespaced(client.clone(), ns).get("web").await.unwrap();
            now.insert(format!("{ns}/web"), d.metadata.resource_version.unwrap_or_default());
        }
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for name in seed::resource_names() {
            let crd = crds.get(&name).await.unwrap();
            now.insert(name, crd.metadata.resource_version.unwrap_or_default());
        }
        if now == last {
            return now;
        }
        last = now;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("resourceVersions did not hold still for a second within 30 s")
}

/// Rehearses with `args`, proves nothing in the cluster changed, and returns the
/// rehearsal's state folder so its report can be held against the real run.
async fn rehearse_changes_nothing(
    journey: &str,
    tb: &'static support::TestCluster,
    client: &kube::Client,
    (seeded, apps): (&[String], &[&str]),
    env: &[(&str, OsString)],
    args: &[&str],
) -> tempfile::TempDir {
    let before = settled_versions(client, seeded, apps).await;
    let state = tempfile::tempdir().unwrap();
    let ran = stepwise(tb, state.path(), env, "rehearse", args).await;
    assert_eq!(ran.code, Some(0), "{journey}, rehearsal: it failed\n{}", ran.show());
    let after = settled_versions(client, seeded, apps).await;
    let changed: Vec<&String> = before.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
    assert!(changed.is_empty(), "{journey}, rehearsal: these changed: {changed:?}\n{}", ran.show());
    assert_eq!(before.len(), after.len(), "{journey}, rehearsal: objects came or went");
    state
}

/// The rehearsal's report predicted what the real run in `real` then did, step by step.
fn assert_rehearsal_predicted(journey: &str, rehearsal: &tempfile::TempDir, real: &Path) {
    let rehearsal = kong::Session::only(rehearsal.path(), journey);
    kong::assert_predicted(journey, &rehearsal, &kong::Session::only(real, journey));
}

/// Seeds `per_kind` objects of every kind over `namespaces` and returns them.
async fn seeded(
    journey: &str,
    client: &kube::Client,
    namespaces: &[String],
    per_kind: usize,
) -> BTreeMap<String, serde_json::Value> {
    seed::seed(client, namespaces, per_kind).await;
    let before = seed::live(client, namespaces).await;
    assert_eq!(before.len(), per_kind * seed::KINDS.len(), "{journey}, setup: every seeded object is there");
    before
}

fn assert_all_back(
    journey: &str,
    before: &BTreeMap<String, serde_json::Value>,
    after: &BTreeMap<String, serde_json::Value>,
) {
    assert_eq!(after.len(), before.len(), "{journey}, step `restore-resources`: nothing lost, nothing duplicated");
    for (key, original) in before {
        let now = after.get(key).unwrap_or_else(|| panic!("{journey}, step `restore-resources`: {key} is missing"));
        assert_eq!(seed::essence(now), seed::essence(original), "{journey}, step `restore-resources`: {key} changed");
    }
}

async fn controller(client: &kube::Client) -> Deployment {
    Api::<Deployment>::namespaced(client.clone(), "nginx-mesh").get("nginx-mesh-api").await.unwrap()
}

fn image_of(d: &Deployment) -> String {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap_or_default()
}

/// The re-roll stamp of `ns/web`, if it was ever restarted.
async fn restarted_at(client: &kube::Client, ns: &str) -> Option<String> {
    let d = Api::<Deployment>::namespaced(client.clone(), ns).get("web").await.unwrap();
    d.spec?.template.metadata?.annotations?.get("kubectl.kubernetes.io/restartedAt").cloned()
}

/// Every journey starts with no mesh, whatever the one before left: cleared
/// with the finalizer controller running (the CRDs cannot go without it), which
/// keeps running for the journey until the handle is aborted.
async fn without_a_mesh(tb: &support::TestCluster) -> (kube::Client, tokio::task::JoinHandle<()>) {
    let client = tb.client().await;
    let finalizers = seed::spawn_finalizer_controller(client.clone());
    seed::mesh::clear_mesh(&tb.kubectl, &tb.kubeconfig, &tb.context, &MESHED_APPS);
    (client, finalizers)
}

/// Plays the operator at the manual step that deletes the mesh CRDs: once the
/// run shows the step, deletes them as its instructions say.
fn operator_deletes_crds_when_asked(tb: &'static support::TestCluster, stdout: PathBuf) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        while !stopped.load(Ordering::Relaxed) {
            let shown = std::fs::read_to_string(&stdout).unwrap_or_default();
            if shown.contains("manual step \"Delete the mesh CRDs\"") {
                tb.kubectl(
                    &tb.context,
                    &["delete", "crd", "-l", "app.kubernetes.io/part-of=nginx-service-mesh", "--wait=false"],
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_upgrade_on_the_helm_path_keeps_every_custom_resource() {
    const JOURNEY: &str = "NGINX manual upgrade with Helm";
    let started = Instant::now();
    let tb = support::cluster();
    let (client, finalizers) = without_a_mesh(tb).await;
    let repo = ChartRepo::nginx_service_mesh(tb, CHART_REPO);
    let env = repo.env();
    let chart = repo.chart("nginx-service-mesh");
    let helm = |args: &[&str]| repo.run_helm(tb, &tb.context, args);
    // replicas=2 is the setting that must survive the uninstall through the saved values.
    helm(&[
        "install",
        "nsm",
        &chart,
        "--version",
        "0.6.0",
        "-n",
        "nginx-mesh",
        "--create-namespace",
        "--set",
        "replicas=2",
        "--wait",
    ]);
    let namespaces: Vec<String> = (0..4).map(|i| format!("helm-team-{i}")).collect();
    let before = seeded(JOURNEY, &client, &namespaces, 40).await;
    let apps = ["helm-app-a", "helm-app-b"];
    for ns in apps {
        seed::meshed_app(&client, ns).await;
    }
    // The operator keeps the release values before starting, as the first step asks.
    let work = tempfile::tempdir().unwrap();
    let values = work.path().join("nsm-values.yaml");
    std::fs::write(&values, helm(&["get", "values", "nsm", "--namespace", "nginx-mesh", "--output", "yaml"])).unwrap();
    // From the release just before, the Helm upgrade would fit with less
    // disruption; this journey is the uninstall and install again.
    let owned = seed::mesh::manual_helm_args(&chart, &values, &apps);
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    eprintln!("{JOURNEY}: set up in {:?}", started.elapsed());
    let rehearsal = rehearse_changes_nothing(JOURNEY, tb, &client, (&namespaces, &apps), &env, &args).await;
    eprintln!("{JOURNEY}: rehearsed at {:?}", started.elapsed());

    let state = tempfile::tempdir().unwrap();
    let operator = operator_deletes_crds_when_asked(tb, state.path().join("stepwise.out"));
    let ran = stepwise(tb, state.path(), &env, "run", &args).await;
    operator.store(true, Ordering::Relaxed);
    finalizers.abort();
    eprintln!("{JOURNEY}: upgraded at {:?}", started.elapsed());
    assert_eq!(ran.code, Some(0), "{JOURNEY}: the upgrade failed\n{}", ran.show());
    assert!(ran.stdout.contains("Detected NGINX Service Mesh 1.6.0"), "{JOURNEY}: detection\n{}", ran.show());
    assert!(ran.stdout.contains("[manual-helm]"), "{JOURNEY}: the Helm procedure was planned\n{}", ran.show());
    let steps = support::session_steps(state.path());
    assert_rehearsal_predicted(JOURNEY, &rehearsal, state.path());
    assert_all_done(JOURNEY, &steps, &ran);
    assert!(
        step(JOURNEY, &steps, "install").outcome.as_deref().is_some_and(|o| o.contains("--version 0.7.0")),
        "{JOURNEY}, step `install`: the 0.7.0 chart, which the product gives 1.7.0, was installed: {:?}",
        step(JOURNEY, &steps, "install").outcome
    );
    let control = controller(&client).await;
    assert!(image_of(&control).ends_with(":1.7.0"), "{JOURNEY}, step `install`: {}", image_of(&control));
    assert_eq!(
        control.spec.as_ref().unwrap().replicas,
        Some(2),
        "{JOURNEY}, step `install`: the saved values (replicas=2) were installed again"
    );
    assert_all_back(JOURNEY, &before, &seed::live(&client, &namespaces).await);
    for ns in apps {
        assert!(restarted_at(&client, ns).await.is_some(), "{JOURNEY}, step `reroll` [{ns}]: web was not re-rolled");
    }
}

/// A copy of the fixture chart whose CRDs carry `stepwise-test/chart: VERSION`,
/// so a journey can tell which chart's definitions are on the cluster.
fn chart_with_marked_crds(dir: &Path, version: &str) -> PathBuf {
    let from = support::fixture_chart("nginx-service-mesh");
    let to = dir.join(format!("nginx-service-mesh-{version}"));
    for sub in ["", "crds", "templates"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let mut text = std::fs::read_to_string(&path).unwrap();
                if sub == "crds" {
                    let marked = format!("  labels:\n    stepwise-test/chart: \"{version}\"\n");
                    assert!(text.contains("  labels:\n"), "{} has labels to add to", path.display());
                    text = text.replacen("  labels:\n", &marked, 1);
                }
                std::fs::write(to.join(sub).join(path.file_name().unwrap()), text).unwrap();
            }
        }
    }
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_upgrade_from_the_release_before_keeps_values_resources_and_updates_the_crds() {
    const JOURNEY: &str = "NGINX Helm upgrade";
    let tb = support::cluster();
    let (client, finalizers) = without_a_mesh(tb).await;
    let charts = tempfile::tempdir().unwrap();
    let target_chart = chart_with_marked_crds(charts.path(), "0.7.0");
    let repo = ChartRepo::start(
        &tb.helm,
        CHART_REPO,
        &[(support::fixture_chart("nginx-service-mesh"), &[("0.6.0", "1.6.0")]), (target_chart, &[("0.7.0", "1.7.0")])],
    );
    let env = repo.env();
    let chart = repo.chart("nginx-service-mesh");
    let mut install = tb.command(&tb.helm);
    install.args(["--kube-context", &tb.context]).envs(env.iter().map(|(k, v)| (*k, v)));
    install.args(["install", "nsm", &chart, "--version", "0.6.0", "-n", "nginx-mesh", "--create-namespace"]);
    // replicas=2 is the setting helm upgrade must keep: no values are given to it.
    install.args(["--set", "replicas=2", "--wait"]);
    support::run_ok(install);
    let apps = ["helm-app-a"];
    seed::meshed_app(&client, apps[0]).await;
    let namespaces: Vec<String> = (0..2).map(|i| format!("hu-team-{i}")).collect();
    let before = seeded(JOURNEY, &client, &namespaces, 20).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd_uids = |list: Vec<CustomResourceDefinition>| -> BTreeMap<String, Option<String>> {
        list.into_iter().map(|c| (c.metadata.name.unwrap_or_default(), c.metadata.uid)).collect()
    };
    let mesh_crds = kube::api::ListParams::default().labels("app.kubernetes.io/part-of=nginx-service-mesh");
    let uids_before = crd_uids(crds.list(&mesh_crds).await.unwrap().items);
    let chart_arg = format!("chart={chart}");
    let args =
        ["nginx-service-mesh", "--to", "1.7.0", "--yes", "--set", &chart_arg, "--set", "meshed_namespaces=helm-app-a"];
    let rehearsal = rehearse_changes_nothing(JOURNEY, tb, &client, (&namespaces, &apps), &env, &args).await;

    let state = tempfile::tempdir().unwrap();
    let ran = stepwise(tb, state.path(), &env, "run", &args).await;
    finalizers.abort();
    assert_eq!(ran.code, Some(0), "{JOURNEY}: the upgrade failed\n{}", ran.show());
    assert!(ran.stdout.contains("[helm-upgrade]"), "{JOURNEY}: the least disruptive fit for Helm\n{}", ran.show());
    let steps = support::session_steps(state.path());
    assert_rehearsal_predicted(JOURNEY, &rehearsal, state.path());
    assert_all_done(JOURNEY, &steps, &ran);
    let control = controller(&client).await;
    assert!(image_of(&control).ends_with(":1.7.0"), "{JOURNEY}, step `upgrade`: {}", image_of(&control));
    assert_eq!(control.spec.as_ref().unwrap().replicas, Some(2), "{JOURNEY}, step `upgrade`: the values were kept");
    let after = crds.list(&mesh_crds).await.unwrap().items;
    for crd in &after {
        let name = crd.metadata.name.as_deref().unwrap_or_default();
        let mark = crd.metadata.labels.as_ref().and_then(|l| l.get("stepwise-test/chart"));
        assert_eq!(
            mark.map(String::as_str),
            Some("0.7.0"),
            "{JOURNEY}, step `upgrade-crds`: {name} is not the 0.7.0 chart's"
        );
    }
    assert_eq!(crd_uids(after), uids_before, "{JOURNEY}, step `upgrade-crds`: the CRDs were updated, never replaced");
    let live = seed::live(&client, &namespaces).await;
    assert_eq!(seed::versions(&live), seed::versions(&before), "{JOURNEY}: the custom resources were not touched");
    assert!(restarted_at(&client, apps[0]).await.is_some(), "{JOURNEY}, step `reroll`: web was not re-rolled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openshift_upgrade_to_1_7_waits_for_the_sentinel_before_deploying() {
    const JOURNEY: &str = "NGINX 1.7.0 on OpenShift with nginx-meshctl";
    let started = Instant::now();
    let tb = support::cluster();
    let (client, finalizers) = without_a_mesh(tb).await;
    let meshctl = seed::mesh::deploy_1_6(tb, &["--environment", "openshift"]);
    let apps = ["os-app-a", "os-app-b"];
    let injector = seed::mesh::spawn_sidecar_injector(client.clone(), apps.iter().map(|s| s.to_string()).collect());
    for ns in apps {
        seed::mesh::injectable_app(&client, ns).await;
    }
    seed::mesh::bare_meshed_pod(&client, apps[0], "one-off").await;
    let namespaces: Vec<String> = (0..3).map(|i| format!("os-team-{i}")).collect();
    let before = seeded(JOURNEY, &client, &namespaces, 30).await;
    let old_arg = format!("current_meshctl={}", meshctl.old.display());
    let new_arg = format!("target_meshctl={}", meshctl.new.display());
    let args = [
        "nginx-service-mesh",
        "--to",
        "1.7.0",
        "--fact",
        "platform=openshift",
        "--yes",
        "--confirm",
        "nginx-mesh",
        "--set",
        &old_arg,
        "--set",
        &new_arg,
        "--set",
        "meshed_namespaces=os-app-a,os-app-b",
    ];
    eprintln!("{JOURNEY}: set up in {:?}", started.elapsed());
    let rehearsal = rehearse_changes_nothing(JOURNEY, tb, &client, (&namespaces, &apps), &[], &args).await;

    let state = tempfile::tempdir().unwrap();
    let sentinel: Api<Job> = Api::namespaced(client.clone(), "nginx-mesh");
    let old_sentinel = sentinel.get("csi-driver-sentinel").await.unwrap().metadata.uid;
    let ran = stepwise(tb, state.path(), &[], "run", &args).await;
    injector.abort();
    finalizers.abort();
    eprintln!("{JOURNEY}: upgraded at {:?}", started.elapsed());
    assert_eq!(ran.code, Some(0), "{JOURNEY}: the upgrade failed\n{}", ran.show());
    assert!(
        ran.stdout.contains("[openshift-1-7-meshctl]"),
        "{JOURNEY}: the OpenShift procedure was planned\n{}",
        ran.show()
    );
    let steps = support::session_steps(state.path());
    assert_rehearsal_predicted(JOURNEY, &rehearsal, state.path());
    assert_all_done(JOURNEY, &steps, &ran);
    let position = |id: &str| steps.iter().position(|s| s.step == id).unwrap();
    assert!(
        position("drop-sidecars") < position("wait-sentinel-gone")
            && position("wait-sentinel-gone") < position("deploy"),
        "{JOURNEY}: sidecars dropped, then the sentinel waited for, then the deploy"
    );
    let waited = step(JOURNEY, &steps, "wait-sentinel-gone");
    assert!(
        waited.outcome.as_deref().is_some_and(|o| o.contains("csi-driver-sentinel")),
        "{JOURNEY}, step `wait-sentinel-gone`: {:?}",
        waited.outcome
    );
    // The Job there now (if any) was started by the 1.7.0 deploy, not the old one.
    let now = sentinel.get_opt("csi-driver-sentinel").await.unwrap().and_then(|j| j.metadata.uid);
    assert_ne!(now, old_sentinel, "{JOURNEY}, step `wait-sentinel-gone`: the old sentinel Job is still there");
    let control = controller(&client).await;
    assert!(image_of(&control).ends_with(":1.7.0"), "{JOURNEY}, step `deploy`: {}", image_of(&control));
    let env = control.spec.unwrap().template.spec.unwrap().containers[0].env.clone().unwrap_or_default();
    assert!(
        env.iter().any(|e| e.name == "MESH_ENVIRONMENT" && e.value.as_deref() == Some("openshift")),
        "{JOURNEY}, step `deploy`: deployed for OpenShift: {env:?}"
    );
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), apps[0]);
    assert!(
        pods.get_opt("one-off").await.unwrap().is_none(),
        "{JOURNEY}, step `drop-sidecars`: the bare pod was deleted"
    );
    assert_all_back(JOURNEY, &before, &seed::live(&client, &namespaces).await);
    for ns in apps {
        assert!(restarted_at(&client, ns).await.is_some(), "{JOURNEY}, step `reroll` [{ns}]: web was not re-rolled");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_upgrade_from_the_previous_release_keeps_the_resources_in_place() {
    const JOURNEY: &str = "NGINX in-place upgrade";
    let tb = support::cluster();
    let (client, finalizers) = without_a_mesh(tb).await;
    let _meshctl = seed::mesh::deploy_1_6(tb, &[]);
    let apps = ["ip-app-a"];
    seed::meshed_app(&client, apps[0]).await;
    let namespaces: Vec<String> = (0..2).map(|i| format!("ip-team-{i}")).collect();
    let before = seeded(JOURNEY, &client, &namespaces, 20).await;
    let args = ["nginx-service-mesh", "--to", "1.7.0", "--yes", "--set", "meshed_namespaces=ip-app-a"];
    let rehearsal = rehearse_changes_nothing(JOURNEY, tb, &client, (&namespaces, &apps), &[], &args).await;
    let versions_before = seed::versions(&before);

    // nginx-meshctl on PATH is the stand-in of the target release (1.7.0).
    let state = tempfile::tempdir().unwrap();
    let ran = stepwise(tb, state.path(), &[], "run", &args).await;
    finalizers.abort();
    assert_eq!(ran.code, Some(0), "{JOURNEY}: the upgrade failed\n{}", ran.show());
    assert!(ran.stdout.contains("[in-place]"), "{JOURNEY}: in-place is the least disruptive fit\n{}", ran.show());
    let steps = support::session_steps(state.path());
    assert_rehearsal_predicted(JOURNEY, &rehearsal, state.path());
    assert_all_done(JOURNEY, &steps, &ran);
    assert!(image_of(&controller(&client).await).ends_with(":1.7.0"), "{JOURNEY}, step `upgrade`: not 1.7.0");
    let after = seed::live(&client, &namespaces).await;
    assert_eq!(
        seed::versions(&after),
        versions_before,
        "{JOURNEY}, step `upgrade`: the custom resources were kept in place, untouched"
    );
    assert!(restarted_at(&client, apps[0]).await.is_some(), "{JOURNEY}, step `reroll`: web was not re-rolled");
}

#[test]
fn a_version_skip_is_planned_as_one_in_place_hop_per_release() {
    const JOURNEY: &str = "NGINX 1.5 to 1.7 without skipping 1.6";
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(["plan", "nginx-service-mesh", "--from", "1.5.0", "--to", "1.7.0"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{JOURNEY}: the plan\n{stdout}");
    assert!(
        stdout.contains("Hop 1: 1.5.0 -> 1.6.0") && stdout.contains("Hop 2: 1.6.0 -> 1.7.0"),
        "{JOURNEY}\n{stdout}"
    );
    assert!(stdout.contains("does not support skipping versions"), "{JOURNEY}: says why\n{stdout}");
    assert_eq!(stdout.matches("[in-place]").count(), 2, "{JOURNEY}: in place both times\n{stdout}");

    // In place from 1.4.1, the vendor's patch release, to 1.5.0 fits too.
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(["plan", "nginx-service-mesh", "--from", "1.4.1", "--to", "1.5.0", "--procedure", "in-place"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{JOURNEY}: from 1.4.1\n{}", String::from_utf8_lossy(&out.stderr));
}
