//! Skew drill: a data plane three minor releases behind the release a hop goes
//! to is refused before anything runs, with its pods named, as the vendors'
//! upgrade guides require (data planes at most two minors behind their control
//! plane). Through the real binary on the test bed: the pods run an image the
//! product's skew rule names; with one further behind the session stops at its
//! preflight and no step starts; once they are within the window it runs.
//! The meshed namespaces are found the same way, and offered as the default
//! (the note's file name is a value of the target release).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

const PRODUCT: &str = r#"id: skew-mesh
name: Skew Mesh
description: A made-up mesh whose data planes may trail its control plane by two minors.
releases: [1.0.0, 1.1.0, 1.2.0, 1.3.0]
skew:
  - what: data plane
    image: skew-dp
    max_minors_behind: 2
    advice: Bring those data planes up first.
path:
  rules:
    - reason: One minor at a time.
      max_minor: 1
"#;

const PROCEDURE: &str = r#"id: upgrade
product: skew-mesh
title: Upgrade the control plane
description: Leaves a mark where the control plane would be upgraded.
disruption: low
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: marks
    description: Where the mark goes.
steps:
  - id: upgrade
    title: Upgrade the control plane
    explain: Leaves a mark.
    command:
      argv: [touch, "{{marks}}/upgraded"]
"#;

/// A pod running the data plane `skew-dp` at `version` beside an app.
async fn meshed_pod(pods: &Api<Pod>, name: &str, version: &str) {
    pod_with(pods, name, &format!("registry.example:5000/example/skew-dp:{version}")).await;
}

/// A pod running an app and a sidecar of `image`.
async fn pod_with(pods: &Api<Pod>, name: &str, image: &str) {
    let pod = json!({"metadata": {"name": name}, "spec": {"containers": [
        {"name": "app", "image": "example/app:1"},
        {"name": "sidecar", "image": image}]}});
    pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_plane_three_minors_behind_is_refused_before_anything_runs() {
    let tb = support::cluster();
    let client = tb.client().await;
    let ns = tb.namespace(&client, "skew").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    meshed_pod(&pods, "old-1", "1.0.0").await;
    meshed_pod(&pods, "old-2", "1.0.0").await;
    meshed_pod(&pods, "recent", "1.1.2").await;

    let work = tempfile::tempdir().unwrap();
    support::write_runbooks(work.path(), "skew-mesh", PRODUCT, &[("upgrade.yaml", PROCEDURE)]);
    let marks = work.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let run = |state: &str| {
        let mut cmd = support::stepwise_command(tb, &tb.context, &work.path().join(state));
        cmd.arg("--runbooks").arg(work.path().join("runbooks"));
        cmd.args(["run", "skew-mesh", "--from", "1.2.0", "--to", "1.3.0", "--yes", "--set"]);
        cmd.arg(format!("marks={}", marks.display()));
        support::run_bounded(cmd, work.path(), Duration::from_secs(120))
    };

    let refused = run("refused");
    assert_eq!(refused.code, Some(5), "refused at the preflight: {}", refused.show());
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(said.contains("data plane skew-dp 1.0.0 in 2 pods"), "{said}");
    assert!(
        said.contains(&format!("{ns}/old-1")) && said.contains(&format!("{ns}/old-2")),
        "the pods are named: {said}"
    );
    assert!(said.contains("3 minor releases behind 1.3.0") && said.contains("at most 2"), "{said}");
    assert!(!said.contains("1.1.2 in"), "the data plane within the window is not blamed: {said}");
    assert!(!marks.join("upgraded").exists(), "nothing ran");

    // With the old data planes gone, the one two minors behind is allowed.
    for name in ["old-1", "old-2"] {
        pods.delete(name, &DeleteParams::default().grace_period(0)).await.unwrap();
    }
    support::wait_until("the old pods to go", Duration::from_secs(60), || async {
        let left = pods.list(&Default::default()).await.ok()?;
        (left.items.len() == 1).then_some(())
    })
    .await;
    let ran = run("allowed");
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(marks.join("upgraded").exists(), "the upgrade ran");
}

const FINDING: &str = r#"id: find-mesh
name: Find Mesh
description: A made-up mesh whose meshed namespaces are found on the cluster.
releases: [1.0.0, 1.1.0]
variables:
  - name: meshed_namespaces
    description: Namespaces whose workloads carry the sidecar.
    discover: {namespaces_running: find-dp}
release_values:
  1.1.0: {note_file: meshed}
path:
  rules:
    - reason: One minor at a time.
      max_minor: 1
"#;

const NOTING: &str = r#"id: note
product: find-mesh
title: Note the meshed namespaces
description: Writes down which namespaces it was given.
disruption: low
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: marks
    description: Where the note goes.
steps:
  - id: note
    title: Note the meshed namespaces
    explain: Writes them down.
    command:
      argv: [sh, -c, 'echo "$1" > "$0/$2"', "{{marks}}", "{{meshed_namespaces}}", "{{note_file}}"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meshed_namespaces_are_found_on_the_cluster_and_offered_as_the_default() {
    let tb = support::cluster();
    let client = tb.client().await;
    let mut found = Vec::new();
    for (prefix, pods) in [("find-a", 2), ("find-b", 1)] {
        let ns = tb.namespace(&client, prefix).await;
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        for i in 0..pods {
            pod_with(&api, &format!("web-{i}"), "example/find-dp:1.0.0").await;
        }
        found.push(ns);
    }
    let plain = tb.namespace(&client, "find-none").await;
    pod_with(&Api::namespaced(client.clone(), &plain), "web", "example/other:1.0.0").await;
    found.sort();

    let work = tempfile::tempdir().unwrap();
    let runbooks = support::write_runbooks(work.path(), "find-mesh", FINDING, &[("note.yaml", NOTING)]);
    let marks = work.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let mut cmd = support::stepwise_command(tb, &tb.context, &work.path().join("state"));
    cmd.arg("--runbooks").arg(runbooks).args(["run", "find-mesh", "--from", "1.0.0", "--to", "1.1.0", "--yes"]);
    cmd.arg("--set").arg(format!("marks={}", marks.display()));
    let ran = support::run_bounded(cmd, work.path(), Duration::from_secs(120));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let noted = std::fs::read_to_string(marks.join("meshed")).unwrap();
    assert_eq!(noted.trim(), found.join(","), "the namespaces running find-dp, and only those:\n{}", ran.show());
}
