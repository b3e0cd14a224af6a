//! Half-done drills: a destructive step that ran part of the way, and a step
//! whose command gave up although its work got done. Through the real binary
//! on the test bed, each ending with the operator's way forward:
//!
//! * the removal deletes the CRDs — and with them every custom resource — and
//!   then fails, as a vendor CLI does when it times out waiting for its control
//!   plane to stop. The failure says the removal ran at least in part (not
//!   "nothing destructive has run"); the resume is not locked out by a proof
//!   that compares the cluster with the backup (the removal has emptied it) but
//!   proves the files; the operator, who finished the removal by hand, marks
//!   the step done behind its typed word, which the transcript records with who
//!   said so; and every object comes back as it was;
//! * Ctrl-C during that removal, at a terminal: stepwise stops the command and
//!   the session; the resume shows what it printed and asks whether it
//!   finished; the operator says so behind the typed word, and everything
//!   comes back;
//! * the new release's CRD refuses some of the saved widgets (its schema is
//!   stricter): the restore names them, and the operator goes on without them,
//!   which the step's outcome and the transcript keep;
//! * the backup is damaged before the removal: the removal stays locked, and
//!   the operator takes the backup again from the failure menu (the damaged
//!   one is kept aside), after which the upgrade goes through;
//! * `helm install --wait` gives up before the Deployment is available, though
//!   the release is installed and becomes available a little later: "check
//!   whether it worked after all" runs the runbook's verify and marks the step
//!   done, where a retry would fail on the release that exists.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;

const OBJECTS: usize = 20;

/// The made-up product's upgrade: `@REMOVE@` is the removal's command (run
/// by sh, `$0` the work folder), `@GROUP@` the widgets' API group.
const PROCEDURE: &str = r#"id: reinstall
product: @PRODUCT@
title: Remove and deploy again
description: Backs up the widgets, removes the mesh, deploys it again and restores them.
disruption: high
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: crd_file
    description: The CRD the new release installs.
  - name: work_dir
    description: A folder the removal leaves a mark in.
steps:
  - id: backup-resources
    title: Save the widgets
    explain: Every widget, before the removal takes them with their CRD.
    backup:
      resources: [widgets.@GROUP@]
  - id: remove
    title: Remove the mesh
    explain: Deletes the CRD and stops the control plane.
    destructive: true
    confirm: {typed: @PRODUCT@}
    command:
      argv: [sh, -c, '"$STEPWISE_KUBECTL" delete crd widgets.@GROUP@ && touch "$0/removing" && @REMOVE@', "{{work_dir}}"]
  - id: deploy
    title: Deploy the new release
    explain: Installs the CRD again.
    command:
      argv: [sh, -c, '"$STEPWISE_KUBECTL" apply -f "$0"', "{{crd_file}}"]
  - id: restore-resources
    title: Restore the widgets
    explain: Re-creates every saved widget.
    restore:
      from: backup-resources
"#;

/// A made-up product on the test bed: its widgets' CRD, `OBJECTS` widgets,
/// and a runbook folder with one procedure.
struct Scene {
    tb: &'static support::TestCluster,
    work: tempfile::TempDir,
    product: String,
    api: Api<DynamicObject>,
}

impl Scene {
    /// The product `product`, its widgets in API group `group`, and `procedure`
    /// written as its only procedure.
    async fn new(product: &str, group: &str, procedure: &str) -> Scene {
        let tb = support::cluster();
        let client = tb.client().await;
        let ns = tb.namespace(&client, product).await;
        let work = tempfile::tempdir().unwrap();
        let crd_file = work.path().join("crd.json");
        std::fs::write(&crd_file, support::loose_crd(group, "widgets", "Widget").to_string()).unwrap();
        let mut apply = tb.command(&tb.kubectl);
        apply.args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context, "apply", "-f"]);
        apply.arg(&crd_file);
        support::run_ok(apply);
        let ar = ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: format!("{group}/v1"),
            kind: "Widget".into(),
            plural: "widgets".into(),
        };
        let api = Api::namespaced_with(client.clone(), &ns, &ar);
        support::wait_until("the widget CRD to be served", Duration::from_secs(60), || async {
            api.list(&Default::default()).await.ok().map(|_| ())
        })
        .await;
        for i in 0..OBJECTS {
            let w = json!({"apiVersion": format!("{group}/v1"), "kind": "Widget",
                "metadata": {"name": format!("w-{i}"), "namespace": ns}, "spec": spec(i)});
            api.create(&PostParams::default(), &serde_json::from_value(w).unwrap()).await.unwrap();
        }
        let about = "A made-up product whose removal does not go as planned.";
        let procedure = procedure.replace("@PRODUCT@", product).replace("@GROUP@", group);
        let file = support::two_release_product(product, product, about);
        support::write_runbooks(work.path(), product, &file, &[("reinstall.yaml", &procedure)]);
        Scene { tb, work, product: product.into(), api }
    }

    fn state(&self) -> PathBuf {
        self.work.path().join("state")
    }

    /// stepwise on the test bed with this scene's runbooks and state folder.
    fn stepwise(&self) -> std::process::Command {
        let mut cmd = support::stepwise_command(self.tb, &self.tb.context, &self.state());
        cmd.arg("--runbooks").arg(self.work.path().join("runbooks"));
        cmd
    }

    /// `stepwise run` of the upgrade, with its variables set.
    fn run(&self, extra: &[&str]) -> std::process::Command {
        let mut cmd = self.stepwise();
        cmd.args(["run", &self.product, "--from", "1.0.0", "--to", "1.1.0"]).args(extra);
        cmd.arg("--set").arg(format!("crd_file={}", self.work.path().join("crd.json").display()));
        cmd.arg("--set").arg(format!("work_dir={}", self.work.path().display()));
        cmd
    }

    /// Every widget is back with the spec it was saved with.
    async fn assert_all_back(&self, screen: &str) {
        let back = self.api.list(&Default::default()).await.unwrap();
        assert_eq!(back.items.len(), OBJECTS, "every widget came back:\n{screen}");
        for w in &back.items {
            let name = w.metadata.name.clone().unwrap();
            let i: usize = name.trim_start_matches("w-").parse().unwrap();
            assert_eq!(w.data["spec"], spec(i), "{name} came back as it was saved");
        }
    }

    fn transcript(&self) -> String {
        support::only_session_file(&self.state(), "transcript.jsonl")
    }
}

fn spec(i: usize) -> serde_json::Value {
    json!({"size": i, "colour": if i.is_multiple_of(2) { "red" } else { "blue" }})
}

/// The transcript's record that `step` was marked done by hand by `by`.
fn assert_marked_done(transcript: &str, step: &str, by: &str) {
    let marked =
        transcript.lines().find(|l| l.contains("\"kind\":\"marked_done\"")).expect("the transcript records it");
    assert!(
        marked.contains(&format!("\"by\":\"{by}\"")) && marked.contains(&format!("\"step\":\"{step}\"")),
        "{marked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_that_failed_after_deleting_the_crds_can_be_finished_by_hand_and_everything_comes_back() {
    let procedure = PROCEDURE
        .replace("@REMOVE@", r#"echo \"error: timed out waiting for the control plane to stop\" >&2 && exit 1"#);
    let scene = Scene::new("half-mesh", "halfdone.stepwise.test", &procedure).await;

    // Headless: the removal deletes the CRD, fails, and the session stops there.
    let ran = support::run_bounded(
        scene.run(&["--yes", "--confirm", "half-mesh"]),
        scene.work.path(),
        Duration::from_secs(120),
    );
    assert_eq!(ran.code, Some(6), "the removal failed: {}", ran.show());
    let said = format!("{}{}", ran.stdout, ran.stderr);
    assert!(said.contains("`Remove the mesh` has run (at least in part)"), "the likely state is told: {said}");
    assert!(!said.contains("nothing destructive has run"), "and not the opposite: {said}");
    assert!(scene.api.list(&Default::default()).await.is_err(), "the CRD, and every widget, is gone");

    // At a terminal: the removal is unlocked (its files are proven), runs again
    // and fails again (the CRD is already gone); the operator marks it done.
    let mut resume = scene.stepwise();
    resume.env("USER", "drill-operator").args(["resume", "--plain"]);
    let screen = support::pty::answered(
        resume,
        "the resume at a terminal",
        &[
            ("\"Remove the mesh\" is destructive. Type `half-mesh`", "half-mesh\r"),
            // Retry, restore the backup, mark it done, stop: the third.
            ("What now?", "\x1b[B\x1b[B\r"),
            ("\"Mark \"Remove the mesh\" done\" is destructive. Type `half-mesh`", "half-mesh\r"),
            ("Run \"Deploy the new release\"?", "\r"),
            ("Run \"Restore the widgets\"?", "\r"),
            ("Session finished", ""),
        ],
    )
    .await;
    assert!(screen.contains("this step has run before, so the cluster is not compared with it"), "{screen}");
    scene.assert_all_back(&screen).await;
    assert_marked_done(&scene.transcript(), "remove", "drill-operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_the_removal_then_finished_by_hand_and_everything_comes_back() {
    let procedure = PROCEDURE.replace("@REMOVE@", "echo removing the control plane && sleep 600");
    let scene = Scene::new("cut-mesh", "cutshort.stepwise.test", &procedure).await;
    let marker = scene.work.path().join("removing");

    // At a terminal: the backup (it asks nothing), the typed word, and Ctrl-C once the removal
    // has deleted the CRD and is waiting on the control plane.
    let mut run = scene.run(&["--plain"]);
    run.env("USER", "drill-operator");
    let screen = tokio::task::spawn_blocking(move || {
        let mut p = support::pty::Pty::spawn(run, "the run at a terminal");
        p.answer("\"Remove the mesh\" is destructive. Type `cut-mesh`", "cut-mesh\r");
        let started = std::time::Instant::now();
        while !marker.exists() {
            assert!(started.elapsed() < Duration::from_secs(60), "the removal never started");
            std::thread::sleep(Duration::from_millis(100));
        }
        // What it printed reaches the screen (and the transcript) first.
        std::thread::sleep(Duration::from_secs(1));
        p.type_now("\x03");
        p.finish()
    })
    .await
    .unwrap();
    let steps = support::session_steps(&scene.state());
    assert_eq!(steps[1].state, stepwise::journal::StepState::Interrupted, "{screen}");
    assert!(scene.api.list(&Default::default()).await.is_err(), "the CRD, and every widget, is gone");

    // The resume shows what the removal printed and asks whether it finished;
    // the operator finished it by hand and says so behind the typed word.
    let mut resume = scene.stepwise();
    resume.env("USER", "drill-operator").args(["resume", "--plain"]);
    let screen = support::pty::answered(
        resume,
        "the resume at a terminal",
        &[
            ("was interrupted last time; it had printed:", ""),
            ("Did it finish?", "\r"),
            ("\"Mark \"Remove the mesh\" done\" is destructive. Type `cut-mesh`", "cut-mesh\r"),
            ("Run \"Deploy the new release\"?", "\r"),
            ("Run \"Restore the widgets\"?", "\r"),
            ("Session finished", ""),
        ],
    )
    .await;
    assert!(screen.contains("removing the control plane"), "what it printed is shown:\n{screen}");
    scene.assert_all_back(&screen).await;
    assert_marked_done(&scene.transcript(), "remove", "drill-operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_cannot_bring_some_objects_back_lets_the_operator_go_on_without_them_listed() {
    let scene = Scene::new("strict-mesh", "strict.stepwise.test", &PROCEDURE.replace("@REMOVE@", "true")).await;
    // The new release's CRD allows sizes up to 9 only: w-10 … w-19 are refused.
    let mut strict = support::loose_crd("strict.stepwise.test", "widgets", "Widget");
    strict["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json!({"type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"size": {"type": "integer", "maximum": 9}}}}});
    std::fs::write(scene.work.path().join("crd.json"), strict.to_string()).unwrap();

    let mut run = scene.run(&["--plain"]);
    run.env("USER", "drill-operator");
    let screen = support::pty::answered(
        run,
        "the run at a terminal",
        &[
            ("\"Remove the mesh\" is destructive. Type `strict-mesh`", "strict-mesh\r"),
            ("Run \"Deploy the new release\"?", "\r"),
            ("Run \"Restore the widgets\"?", "\r"),
            // Retry, restore the backup, go on without them, mark it done, stop: the third.
            ("What now?", "\x1b[B\x1b[B\r"),
            ("Session finished", ""),
        ],
    )
    .await;
    assert!(screen.contains("10 objects could not be restored"), "{screen}");
    let back = scene.api.list(&Default::default()).await.unwrap();
    assert_eq!(back.items.len(), 10, "the ten the new CRD accepts came back:\n{screen}");
    let steps = support::session_steps(&scene.state());
    let restore = steps.iter().find(|s| s.step == "restore-resources").unwrap();
    assert_eq!(restore.state, stepwise::journal::StepState::Done, "{screen}");
    let outcome = restore.outcome.clone().unwrap_or_default();
    assert!(outcome.contains("went on without 10 objects that could not be restored"), "{outcome}");
    for i in 10..OBJECTS {
        assert!(outcome.contains(&format!("/w-{i}: ")), "w-{i} is named in the outcome: {outcome}");
    }
    let transcript = scene.transcript();
    let record = transcript.lines().find(|l| l.contains("\"kind\":\"went_on_without\"")).expect("recorded");
    assert!(record.contains("\"by\":\"drill-operator\"") && record.contains("w-19"), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_damaged_before_the_removal_is_taken_again_from_the_failure_menu() {
    let pause = "  - id: pause\n    title: Look around\n    explain: Nothing.\n    command:\n      argv: [\"true\"]\n  - id: remove\n";
    let procedure = PROCEDURE.replace("@REMOVE@", "true").replacen("  - id: remove\n", pause, 1);
    let scene = Scene::new("damaged-mesh", "damaged.stepwise.test", &procedure).await;
    let state = scene.state();
    let mut run = scene.run(&["--plain"]);
    run.env("USER", "drill-operator");
    let screen = tokio::task::spawn_blocking(move || {
        let mut p = support::pty::Pty::spawn(run, "the run at a terminal");
        p.answer("Run \"Look around\"?", "");
        // Meanwhile a byte of the backup changes.
        let file = std::fs::read_dir(support::only_session(&state).join("backups/backup-resources"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "yaml"))
            .expect("the backup file");
        let mut bytes = std::fs::read(&file).unwrap();
        let at = bytes.len() - 5;
        bytes[at] ^= 1;
        std::fs::write(&file, bytes).unwrap();
        p.type_now("\r");
        // Retry, take the backup again, …: the second.
        p.answer("What now?", "\x1b[B\r");
        p.answer("\"Remove the mesh\" is destructive. Type `damaged-mesh`", "damaged-mesh\r");
        p.answer("Run \"Deploy the new release\"?", "\r");
        p.answer("Run \"Restore the widgets\"?", "\r");
        p.answer("Session finished", "");
        p.finish()
    })
    .await
    .unwrap();
    assert!(screen.contains("the destructive step is locked"), "{screen}");
    scene.assert_all_back(&screen).await;
    let kept = std::fs::read_dir(support::only_session(&scene.state()).join("backups")).unwrap().count();
    assert_eq!(kept, 2, "the damaged backup is kept beside the new one:\n{screen}");
}

/// A chart of one Deployment that is available only `minReadySeconds` after
/// its pod is ready: longer than `helm install --wait` is given.
fn slow_chart(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: slow\nversion: 1.1.0\n").unwrap();
    let deployment = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: slow-control-plane
spec:
  replicas: 1
  minReadySeconds: 15
  selector:
    matchLabels: {app: slow-control-plane}
  template:
    metadata:
      labels: {app: slow-control-plane}
    spec:
      containers:
        - name: control-plane
          image: registry.invalid/slow-control-plane:1.1.0
"#;
    std::fs::write(dir.join("templates/deployment.yaml"), deployment).unwrap();
}

const HELM_PROCEDURE: &str = r#"id: install
product: slow-mesh
title: Install the new release
description: Installs the release with Helm.
disruption: low
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: chart
    description: The chart folder.
  - name: namespace
    description: Where the release goes.
steps:
  - id: install
    title: Install the release
    explain: helm install, waiting for the control plane to be available.
    command:
      argv: [helm, install, slow, "{{chart}}", --namespace, "{{namespace}}", --wait, --timeout, 3s]
      verify:
        argv: [sh, -c, '"$STEPWISE_KUBECTL" --namespace "$0" rollout status deployment/slow-control-plane --timeout 90s', "{{namespace}}"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_install_that_timed_out_but_installed_is_marked_done_by_its_verify() {
    let tb = support::cluster();
    let client = tb.client().await;
    let ns = tb.namespace(&client, "slow-mesh").await;
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("chart");
    slow_chart(&chart);
    let about = "A made-up product whose control plane is slow to become available.";
    let product = support::two_release_product("slow-mesh", "Slow Mesh", about);
    support::write_runbooks(work.path(), "slow-mesh", &product, &[("install.yaml", HELM_PROCEDURE)]);
    let state = work.path().join("state");
    let mut run = support::stepwise_command(tb, &tb.context, &state);
    run.arg("--runbooks").arg(work.path().join("runbooks"));
    run.args(["run", "slow-mesh", "--from", "1.0.0", "--to", "1.1.0", "--plain", "--set"]);
    run.arg(format!("chart={}", chart.display())).arg("--set").arg(format!("namespace={ns}"));

    let screen = support::pty::answered(
        run,
        "the install at a terminal",
        &[
            ("Run \"Install the release\"?", "\r"),
            // Retry, check whether it worked after all, mark it done, stop: the second.
            ("What now?", "\x1b[B\r"),
            ("Session finished", ""),
        ],
    )
    .await;
    assert!(screen.contains("`helm install slow"), "the install ran and failed:\n{screen}");
    assert!(screen.contains("the runbook's verify command shows it worked after all"), "{screen}");
    let steps = support::session_steps(&state);
    assert_eq!(steps[0].state, stepwise::journal::StepState::Done, "{screen}");
    assert_eq!(steps[0].attempts, 1, "it was not run again: {screen}");
    let status = tb.helm(&tb.context, &["status", "slow", "--namespace", &ns]);
    assert!(status.contains("slow"), "the release is there: {status}");
}
