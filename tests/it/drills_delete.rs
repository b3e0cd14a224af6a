//! Delete drill: a made-up product whose procedure deletes leftover objects by
//! label with a `delete` step, passes an optional flag only when its variable
//! has a value, and takes one step only on hops to the older release. Through
//! the real binary on the test bed, headless with --yes: a rehearsal lists what
//! it would delete and deletes nothing; the run deletes exactly what the
//! selector matches, after the typed confirmation given with --confirm; each
//! hop's journal holds the steps its condition allows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

const PRODUCT: &str = "id: tidy-mesh
name: Tidy Mesh
description: A made-up product that leaves old settings behind.
releases: [1.0.0, 1.1.0, 1.2.0]
path:
  rules:
    - reason: One minor at a time.
      max_minor: 1
";

const PROCEDURE: &str = r#"id: upgrade
product: tidy-mesh
title: Upgrade and tidy up
description: Deletes the settings the old release left behind.
disruption: low
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: namespace
    description: Namespace of the control plane.
  - name: values_file
    description: A values file; empty for none.
    pattern: ".*"
    default: ""
steps:
  - id: old-cli
    title: Only on the hop to 1.1
    explain: The 1.1 CLI takes no values file.
    when: {to: "<1.2.0"}
    command: {argv: [printf, "%s|", old]}
  - id: install
    title: Install {{to_version}}
    explain: Passes the values file only when there is one.
    command:
      argv: [printf, "%s|", install, {flag: --values, value: "{{values_file}}"}, end]
  - id: drop-old
    title: Delete the old settings in {{namespace}}
    explain: The new release reads other ConfigMaps.
    destructive: true
    confirm: {typed: "{{namespace}}"}
    delete: {resource: configmaps, namespace: "{{namespace}}", selector: app=old}
"#;

async fn create_maps(maps: &Api<ConfigMap>) {
    for (name, app) in [("old-a", "old"), ("old-b", "old"), ("keep", "new")] {
        let map: ConfigMap =
            serde_json::from_value(json!({ "metadata": { "name": name, "labels": { "app": app } } })).unwrap();
        maps.create(&PostParams::default(), &map).await.unwrap();
    }
}

fn run(tb: &support::TestCluster, state: &std::path::Path, runbooks: &std::path::Path, args: &[&str]) -> String {
    let mut cmd = support::stepwise_command(tb, &tb.context, state);
    cmd.arg("--runbooks").arg(runbooks).args(args);
    let out = cmd.output().unwrap();
    let screen = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "stepwise {args:?} failed:\n{screen}");
    screen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_step_lists_in_rehearsal_and_deletes_what_its_selector_matches_after_the_typed_word() {
    let tb = support::cluster();
    let client = tb.client().await;
    let ns = tb.namespace(&client, "tidy-mesh").await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    create_maps(&maps).await;
    let work = tempfile::tempdir().unwrap();
    let runbooks = support::write_runbooks(work.path(), "tidy-mesh", PRODUCT, &[("upgrade.yaml", PROCEDURE)]);
    let set = format!("namespace={ns}");
    let args = ["tidy-mesh", "--from", "1.0.0", "--to", "1.2.0", "--yes", "--confirm", &ns, "--set", &set];

    let rehearsal = work.path().join("rehearsal");
    run(tb, &rehearsal, &runbooks, &[&["rehearse"][..], &args[..]].concat());
    for name in ["old-a", "old-b", "keep"] {
        assert!(maps.get_opt(name).await.unwrap().is_some(), "a rehearsal deleted {name}");
    }
    let rehearsed = support::session_steps(&rehearsal);
    let drop = rehearsed.iter().find(|s| s.step == "drop-old").expect("the delete step ran");
    let said = drop.outcome.clone().unwrap_or_default();
    assert!(said.contains(&format!("would delete configmaps {ns}/old-a, {ns}/old-b")), "{said}");

    let real = work.path().join("real");
    run(tb, &real, &runbooks, &[&["run"][..], &args[..]].concat());
    for (name, left) in [("old-a", false), ("old-b", false), ("keep", true)] {
        assert_eq!(maps.get_opt(name).await.unwrap().is_some(), left, "{name} left: {left}");
    }
    let steps = support::session_steps(&real);
    let per_hop =
        |hop: usize| -> Vec<&str> { steps.iter().filter(|s| s.hop == hop).map(|s| s.step.as_str()).collect() };
    assert_eq!(per_hop(0), ["old-cli", "install", "drop-old"]);
    assert_eq!(per_hop(1), ["install", "drop-old"]);
    assert_eq!(steps[1].title, "Install 1.1.0", "titles are recorded with their values");
    let transcript = support::only_session_file(&real, "transcript.jsonl");
    assert!(transcript.contains(r#"["printf","%s|","install","end"]"#), "the empty flag is left out:\n{transcript}");
}
