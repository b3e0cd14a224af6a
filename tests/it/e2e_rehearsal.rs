//! `stepwise rehearse` end to end through the real binary on the test bed,
//! headless with --yes: a rehearsal of the NGINX Service Mesh 1.6 -> 1.7 manual
//! upgrade (the one that removes the mesh) leaves the cluster exactly as it was,
//! runs no vendor command that changes anything, and writes a report whose
//! predictions match what is in the cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use stepwise::journal::{StepRecord, StepState};

const JOURNEY: &str = "rehearsal of the nginx-meshctl manual upgrade";
const MESHED: [&str; 2] = ["rh-app-a", "rh-app-b"];

/// Runs the real binary with the stand-ins' action log at `standin_log`; its
/// output also goes to `state/stepwise.log` as it is written, so a hung run can
/// be watched.
fn stepwise(tb: &support::TestCluster, state: &Path, standin_log: &Path, args: &[String]) -> std::process::Output {
    let mut cmd = support::stepwise_command(tb, &tb.context, state);
    cmd.args(args).env("STEPWISE_STANDIN_LOG", standin_log);
    support::output_via_log(cmd, &state.join("stepwise.log"))
}

/// resourceVersion of everything besides the seeded objects that the upgrade
/// would change: the control plane, the meshed workloads, the mesh CRDs.
async fn other_versions(client: &kube::Client) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let control: Api<Deployment> = Api::namespaced(client.clone(), "nginx-mesh");
    let d = control.get("nginx-mesh-api").await.unwrap();
    out.insert("Deployment/nginx-mesh/nginx-mesh-api".into(), d.metadata.resource_version.unwrap());
    for ns in MESHED {
        let d = Api::<Deployment>::namespaced(client.clone(), ns).get("web").await.unwrap();
        out.insert(format!("Deployment/{ns}/web"), d.metadata.resource_version.unwrap());
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in seed::resource_names() {
        let crd = crds.get(&name).await.unwrap_or_else(|e| panic!("{JOURNEY}, setup: CRD {name}: {e}"));
        out.insert(format!("CustomResourceDefinition/{name}"), crd.metadata.resource_version.unwrap());
    }
    out
}

/// Every (non-separator) row of the report's step tables: step title column and result column.
fn report_rows(report: &str) -> Vec<(String, String)> {
    report
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| # "))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells.get(1).unwrap_or(&"").to_string(), cells.get(3).unwrap_or(&"").to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehearsal_of_the_manual_upgrade_changes_nothing_and_predicts_the_counts() {
    let started = Instant::now();
    let tb = support::cluster();
    let client = tb.client().await;
    let meshctl = seed::mesh::deploy_1_6(tb, &[]);
    let finalizers = seed::spawn_finalizer_controller(client.clone());
    let namespaces: Vec<String> = (0..4).map(|i| format!("rh-team-{i}")).collect();
    let per_kind = 50;
    let seeded = seed::seed(&client, &namespaces, per_kind).await;
    for ns in MESHED {
        seed::meshed_app(&client, ns).await;
    }
    // Deployments write their status until their pods are ready: wait for that,
    // then for resourceVersions that hold still, so any later change is the rehearsal's.
    for ns in MESHED {
        let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
        support::wait_until(&format!("{JOURNEY}, setup: {ns}/web available"), Duration::from_secs(60), || async {
            let d = api.get("web").await.ok()?;
            let status = d.status?;
            (status.available_replicas == Some(2)
                && status.updated_replicas == Some(2)
                && status.observed_generation == d.metadata.generation)
                .then_some(())
        })
        .await;
    }
    let mut before_others = other_versions(&client).await;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = other_versions(&client).await;
        if now == before_others {
            break;
        }
        before_others = now;
    }
    let before = seed::live(&client, &namespaces).await;
    assert_eq!(before.len(), seeded.len(), "{JOURNEY}, setup: every seeded object is in the cluster");
    let before_versions = seed::versions(&before);
    let before_log = support::standin_log(&client, "default").await;
    eprintln!("{JOURNEY}: set up in {:?}", started.elapsed());

    let state = tempfile::tempdir().unwrap();
    let standin_log = state.path().join("standin.log");
    let rehearsal = Instant::now();
    let args = seed::mesh::manual_upgrade_args("rehearse", &meshctl.old, &meshctl.new, &MESHED);
    let out = stepwise(tb, state.path(), &standin_log, &args);
    eprintln!("{JOURNEY}: the rehearsal took {:?}", rehearsal.elapsed());
    finalizers.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{JOURNEY}, the run: it exited {}:\n{stdout}\n{stderr}", out.status);
    assert!(
        stdout.contains("REHEARSAL (nothing will change)"),
        "{JOURNEY}, the run: not shown as a rehearsal:\n{stdout}"
    );

    // The cluster is unchanged: no seeded object, control plane, workload or CRD was written.
    let after = seed::live(&client, &namespaces).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "{JOURNEY}, afterwards: the seeded objects are the same set"
    );
    let after_versions = seed::versions(&after);
    let changed: Vec<&String> = before_versions.keys().filter(|k| before_versions[*k] != after_versions[*k]).collect();
    assert!(changed.is_empty(), "{JOURNEY}, afterwards: {} seeded objects were written: {changed:?}", changed.len());
    let after_others = other_versions(&client).await;
    assert_eq!(after_others, before_others, "{JOURNEY}, afterwards: control plane, workloads or CRDs were written");

    // No vendor command that changes anything ran: the stand-ins record remove and deploy.
    let recorded = std::fs::read_to_string(&standin_log).unwrap_or_default();
    assert!(
        !recorded.lines().any(|l| l.contains("remove") || l.contains("deploy") || l.contains("upgrade")),
        "{JOURNEY}, steps `remove-mesh`/`deploy`: the stand-in recorded a change:\n{recorded}"
    );
    assert_eq!(
        support::standin_log(&client, "default").await,
        before_log,
        "{JOURNEY}, steps `remove-mesh`/`deploy`: the stand-in log in the cluster grew"
    );

    // The report lists every step with what would happen, and the predicted counts are the seeded ones.
    let sessions: Vec<PathBuf> = std::fs::read_dir(state.path().join("sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(sessions.len(), 1, "{JOURNEY}, the journal: one session");
    let session = &sessions[0];
    let steps: Vec<StepRecord> = serde_json::from_slice(&std::fs::read(session.join("steps.json")).unwrap()).unwrap();
    for s in &steps {
        assert_eq!(s.state, StepState::Done, "{JOURNEY}, step `{}` {:?}: not done: {:?}", s.step, s.item, s.error);
    }
    let report_path = session.join("report.md");
    let report = std::fs::read_to_string(&report_path)
        .unwrap_or_else(|e| panic!("{JOURNEY}, the report: cannot read {}: {e}", report_path.display()));
    assert!(stdout.contains(&report_path.display().to_string()), "{JOURNEY}, the report: its path is shown:\n{stdout}");
    eprintln!("{JOURNEY}: the report\n{report}");
    let rows = report_rows(&report);
    assert_eq!(rows.len(), steps.len(), "{JOURNEY}, the report: one row per step:\n{report}");
    let total = seeded.len();
    for (s, (title, result)) in steps.iter().zip(&rows) {
        let at = format!(
            "{JOURNEY}, report row of step `{}`{}",
            s.step,
            s.item.as_deref().map(|i| format!(" [{i}]")).unwrap_or_default()
        );
        assert!(title.starts_with(&s.title), "{at}: titled {title:?}, expected {:?}\n{report}", s.title);
        assert!(!result.starts_with("**"), "{at}: the step did not go through: {result}\n{report}");
        let expect = match s.step.as_str() {
            "check-target-cli" => "the operator confirmed it is done".to_string(),
            "backup-resources" => format!("saved {total} objects of 6 kinds"),
            "remove-mesh" | "deploy" => "rehearsal: would run".to_string(),
            "wait-crds-gone" | "wait-namespace-gone" | "wait-control-plane" => "would wait until".to_string(),
            "restore-resources" => format!("validated {total} objects"),
            "reroll" => "would restart 1 workloads, would delete 0 pods".to_string(),
            other => panic!("{JOURNEY}: step `{other}` is new to this test; say what its rehearsal should report"),
        };
        assert!(result.contains(&expect), "{at}: expected {expect:?} in {result:?}\n{report}");
    }
    let removal = &rows[steps.iter().position(|s| s.step == "remove-mesh").unwrap()].1;
    assert!(
        removal.contains(&format!("{} --namespace nginx-mesh remove --yes", meshctl.old.display())),
        "{JOURNEY}, report row of step `remove-mesh`: names the command it would run: {removal}"
    );
    for ns in MESHED {
        assert!(
            steps.iter().any(|s| s.step == "reroll" && s.item.as_deref() == Some(ns)),
            "{JOURNEY}, step `reroll`: no row for {ns}"
        );
    }
    for crd in seed::resource_names() {
        assert!(
            steps.iter().any(|s| s.step == "wait-crds-gone" && s.item.as_deref() == Some(crd.as_str())),
            "{JOURNEY}, step `wait-crds-gone`: no row for {crd}"
        );
    }
    // The backup the rehearsal took holds exactly what was seeded, kind by kind.
    let manifest = stepwise::cluster::manifest::verify_files(&session.join("backups/backup-resources"))
        .unwrap_or_else(|e| panic!("{JOURNEY}, step `backup-resources`: {e}"));
    for (plural, group, _, _) in seed::KINDS {
        let resource = format!("{plural}.{group}");
        let entry = manifest.kinds.iter().find(|k| k.resource == resource).unwrap();
        assert_eq!(entry.count, per_kind as u64, "{JOURNEY}, step `backup-resources`: {resource}");
    }
    assert!(report.contains("## Problems found"), "{JOURNEY}, the report: has a problems section\n{report}");
    let (ran, shown) = command_lists(&report);
    assert!(ran.contains("--namespace nginx-mesh version"), "{JOURNEY}, the report: the read-only check ran: {ran}");
    assert!(shown.contains("remove --yes"), "{JOURNEY}, the report: the removal was only shown: {shown}");
    assert!(!ran.contains("remove --yes"), "{JOURNEY}, the report: the removal did not run: {ran}");

    // `stepwise sessions` tells the rehearsal apart from a real upgrade.
    let listed = tb
        .command(env!("CARGO_BIN_EXE_stepwise"))
        .arg("--state-dir")
        .arg(state.path())
        .arg("sessions")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    let id = session.file_name().unwrap().to_string_lossy();
    let line = listed.lines().find(|l| l.starts_with(id.as_ref())).unwrap_or_default();
    for part in [
        "nginx-service-mesh 1.6.0 -> 1.7.0 (rehearsal)",
        "Finished",
        "last: Re-roll the meshed workloads [rh-app-b] (done)",
    ] {
        assert!(line.contains(part), "{JOURNEY}, `stepwise sessions`: no {part:?} in:\n{listed}");
    }
    eprintln!("{JOURNEY}: done in {:?}", started.elapsed());
}

/// The report's two closing lists: the commands that ran, and those only shown.
fn command_lists(report: &str) -> (String, String) {
    let ran = report.split("## Commands that ran").nth(1).unwrap_or_default();
    let (ran, shown) = ran.split_once("## Commands only shown, not run").unwrap_or((ran, ""));
    (ran.to_string(), shown.to_string())
}

/// A made-up product whose steps would leave a mark in `{{marks}}` if they ran.
const MARKING: &str = r#"id: marks
product: mark-mesh
title: Leave marks
description: Each command leaves a file behind, so a test can see which ran.
disruption: low
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: marks
    description: The folder the marks go to.
steps:
  - id: check-undeclared
    title: A check that is not declared read-only
    explain: Would leave a mark.
    check:
      command_succeeds:
        argv: [touch, "{{marks}}/check-undeclared"]
  - id: check-read-only
    title: A check declared read-only
    explain: Runs in a rehearsal (it is not really read-only, so the test can see that it ran).
    check:
      command_succeeds:
        argv: [touch, "{{marks}}/check-read-only"]
        read_only: true
  - id: apply-undeclared
    title: Apply what an undeclared command prints
    explain: Would leave a mark and print a ConfigMap.
    apply:
      command:
        argv: [sh, -c, 'touch "$0/apply-undeclared"', "{{marks}}"]
  - id: manual
    title: Do something by hand
    explain: Its verify would leave a mark.
    manual:
      instructions: Nothing, really.
      verify:
        argv: [touch, "{{marks}}/verify-undeclared"]
  - id: command
    title: A command without a dry-run form
    explain: Would leave a mark.
    command:
      argv: [touch, "{{marks}}/command"]
"#;

/// The rehearsal of the made-up product whose commands leave marks: its
/// runbooks, marks folder and state folder in `work`, and `extra` arguments.
/// Returns the command, the marks folder and the state folder.
fn mark_mesh_rehearsal(work: &Path, extra: &[&str]) -> (std::process::Command, PathBuf, PathBuf) {
    let tb = support::cluster();
    let about = "A made-up product whose commands leave marks.";
    let product = support::two_release_product("mark-mesh", "Mark Mesh", about);
    support::write_runbooks(work, "mark-mesh", &product, &[("marks.yaml", MARKING)]);
    let marks = work.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let state = work.join("state");
    let mut cmd = support::stepwise_command(tb, &tb.context, &state);
    cmd.arg("--runbooks").arg(work.join("runbooks"));
    cmd.args(["rehearse", "mark-mesh", "--from", "1.0.0", "--to", "1.1.0", "--yes"]).args(extra);
    cmd.arg("--set").arg(format!("marks={}", marks.display()));
    (cmd, marks, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_runs_only_read_only_and_dry_run_commands_and_its_report_says_which() {
    let work = tempfile::tempdir().unwrap();
    let (cmd, marks, state) = mark_mesh_rehearsal(work.path(), &[]);
    let ran = support::run_bounded(cmd, work.path(), Duration::from_secs(120));
    assert_eq!(ran.code, Some(0), "the rehearsal: {}", ran.show());

    let left: Vec<String> =
        std::fs::read_dir(&marks).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, ["check-read-only"], "only the command declared read-only ran");
    let report = support::only_session_file(&state, "report.md");
    let (ran, shown) = command_lists(&report);
    assert!(ran.contains("check-read-only") && !ran.contains("undeclared"), "ran: {ran}\n{report}");
    for mark in ["check-undeclared", "apply-undeclared", "verify-undeclared", "/command"] {
        assert!(shown.contains(mark), "`{mark}` is listed as shown, not run:\n{report}");
    }
    assert!(!report.contains("commands ran only in their declared dry-run form"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_with_output_json_ends_with_a_summary_that_matches_its_schema() {
    let work = tempfile::tempdir().unwrap();
    let (cmd, _marks, _state) = mark_mesh_rehearsal(work.path(), &["-o", "json"]);
    let ran = support::run_bounded(cmd, work.path(), Duration::from_secs(120));
    assert_eq!(ran.code, Some(0), "the rehearsal: {}", ran.show());

    let summary: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| {
        panic!("standard output is the summary alone: {e}\n{}", ran.show());
    });
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("assets/schema/output-run.schema.json").unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> =
        validator.iter_errors(&summary).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "the summary does not match its schema:\n{}\n{summary}", errors.join("\n"));
    assert_eq!(summary["kind"], "RunSummary");
    assert_eq!(summary["outcome"], "finished", "{summary}");
    assert_eq!(summary["rehearsal"], true, "{summary}");
    assert_eq!((summary["product"].as_str(), summary["to"].as_str()), (Some("mark-mesh"), Some("1.1.0")));
    let steps = summary["steps"].as_array().expect("steps");
    assert!(!steps.is_empty() && steps.iter().all(|s| s["state"] != "pending"), "{summary}");
    let transcript = summary["transcript"].as_str().expect("the transcript's path");
    assert!(Path::new(transcript).is_file(), "{transcript}");
    assert!(summary["report"].as_str().is_some_and(|r| Path::new(r).is_file()), "a rehearsal has a report: {summary}");
    assert!(ran.stderr.contains("Mark Mesh 1.0.0 -> 1.1.0"), "the plan goes to standard error: {}", ran.show());
}
