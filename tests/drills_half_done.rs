//! Half-done drill: the removal deletes the CRDs — and with them every custom
//! resource — and then fails, as a vendor CLI does when it times out waiting for
//! its control plane to stop. Through the real binary: the failure says the
//! removal ran at least in part (not "nothing destructive has run"); the resume
//! is not locked out by a proof that compares the cluster with the backup (the
//! removal has already emptied it) but proves the files; the operator, who
//! finished the removal by hand, marks the step done behind its typed word,
//! which the transcript records with who said so; and the session ends with
//! every object restored as it was.

mod support;

use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;

const WORD: &str = "half-mesh";
const OBJECTS: usize = 20;

const PROCEDURE: &str = r#"id: reinstall
product: half-mesh
title: Remove and deploy again
description: Backs up the widgets, removes the mesh, deploys it again and restores them.
disruption: high
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: crd_file
    description: The CRD the new release installs.
steps:
  - id: backup-resources
    title: Save the widgets
    explain: Every widget, before the removal takes them with their CRD.
    backup:
      resources: [widgets.halfdone.stepwise.test]
  - id: remove
    title: Remove the mesh
    explain: Deletes the CRD, then fails waiting for a control plane that does not stop.
    destructive: true
    confirm: {typed: half-mesh}
    command:
      argv: [sh, -c, '"$STEPWISE_KUBECTL" delete crd widgets.halfdone.stepwise.test && echo "error: timed out waiting for the control plane to stop" >&2 && exit 1']
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

fn crd() -> serde_json::Value {
    support::loose_crd("halfdone.stepwise.test", "widgets", "Widget")
}

fn widgets(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: "halfdone.stepwise.test".into(),
        version: "v1".into(),
        api_version: "halfdone.stepwise.test/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn spec(i: usize) -> serde_json::Value {
    json!({"size": i, "colour": if i.is_multiple_of(2) { "red" } else { "blue" }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_that_failed_after_deleting_the_crds_can_be_finished_by_hand_and_everything_comes_back() {
    let tb = support::cluster();
    let client = tb.client().await;
    let ns = tb.namespace(&client, "half-done").await;
    let work = tempfile::tempdir().unwrap();
    let crd_file = work.path().join("crd.json");
    std::fs::write(&crd_file, crd().to_string()).unwrap();
    let mut apply = tb.command(&tb.kubectl);
    apply.args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context, "apply", "-f"]);
    support::run_ok({
        apply.arg(&crd_file);
        apply
    });
    let api = widgets(&client, &ns);
    support::wait_until("the widget CRD to be served", Duration::from_secs(60), || async {
        api.list(&Default::default()).await.ok().map(|_| ())
    })
    .await;
    for i in 0..OBJECTS {
        let w = json!({"apiVersion": "halfdone.stepwise.test/v1", "kind": "Widget",
            "metadata": {"name": format!("w-{i}"), "namespace": ns}, "spec": spec(i)});
        api.create(&PostParams::default(), &serde_json::from_value(w).unwrap()).await.unwrap();
    }
    let product = work.path().join("runbooks/half-mesh");
    std::fs::create_dir_all(&product).unwrap();
    std::fs::write(
        product.join("product.yaml"),
        support::two_release_product(
            "half-mesh",
            "Half Mesh",
            "A made-up product whose removal fails after deleting its CRDs.",
        ),
    )
    .unwrap();
    std::fs::write(product.join("reinstall.yaml"), PROCEDURE).unwrap();
    let state = work.path().join("state");
    let stepwise = || {
        let mut cmd = support::stepwise_command(tb, &tb.context, &state);
        cmd.arg("--runbooks").arg(work.path().join("runbooks"));
        cmd
    };

    // Headless: the removal deletes the CRD, fails, and the session stops there.
    let mut run = stepwise();
    run.args(["run", "half-mesh", "--from", "1.0.0", "--to", "1.1.0", "--yes", "--confirm", WORD, "--set"]);
    run.arg(format!("crd_file={}", crd_file.display()));
    let ran = support::run_bounded(run, work.path(), Duration::from_secs(120));
    assert_eq!(ran.code, Some(6), "the removal failed: {}", ran.show());
    let said = format!("{}{}", ran.stdout, ran.stderr);
    assert!(said.contains("`Remove the mesh` has run (at least in part)"), "the likely state is told: {said}");
    assert!(!said.contains("nothing destructive has run"), "and not the opposite: {said}");
    assert!(api.list(&Default::default()).await.is_err(), "the CRD, and every widget, is gone");

    // At a terminal: the removal is unlocked (its files are proven), runs again
    // and fails again (the CRD is already gone); the operator marks it done.
    let mut resume = stepwise();
    resume.stdin(std::process::Stdio::inherit()).env("USER", "drill-operator").args(["resume", "--plain"]);
    let screen = tokio::task::spawn_blocking(move || finish_by_hand(resume)).await.unwrap();
    assert!(screen.contains("this step has run before, so the cluster is not compared with it"), "{screen}");

    let back = api.list(&Default::default()).await.unwrap();
    assert_eq!(back.items.len(), OBJECTS, "every widget came back:\n{screen}");
    for w in &back.items {
        let name = w.metadata.name.clone().unwrap();
        let i: usize = name.trim_start_matches("w-").parse().unwrap();
        assert_eq!(w.data["spec"], spec(i), "{name} came back as it was saved");
    }
    let sessions: Vec<_> = std::fs::read_dir(state.join("sessions")).unwrap().map(|e| e.unwrap().path()).collect();
    let transcript = std::fs::read_to_string(sessions[0].join("transcript.jsonl")).unwrap();
    let marked =
        transcript.lines().find(|l| l.contains("\"kind\":\"marked_done\"")).expect("the transcript records it");
    assert!(marked.contains("\"by\":\"drill-operator\"") && marked.contains("\"step\":\"remove\""), "{marked}");
}

/// Answers the interactive resume in a pseudo-terminal: type the removal's word,
/// then (after it fails again) mark it done by hand behind the same word, and
/// confirm the rest. Returns what the screen showed.
fn finish_by_hand(cmd: std::process::Command) -> String {
    let mut p = support::pty::Pty::spawn(cmd, "the resume at a terminal");
    p.answer("\"Remove the mesh\" is destructive. Type `half-mesh`", "half-mesh\r");
    // Retry, restore the backup, mark it done, stop: the third.
    p.answer("What now?", "\x1b[B\x1b[B\r");
    p.answer("\"Mark \"Remove the mesh\" done\" is destructive. Type `half-mesh`", "half-mesh\r");
    p.answer("Run \"Deploy the new release\"?", "\r");
    p.answer("Run \"Restore the widgets\"?", "\r");
    p.answer("Session finished", "");
    p.finish()
}
