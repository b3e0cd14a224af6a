//! Kong Gateway 2.7 -> 2.8 end to end through the real binary on the test bed,
//! headless with --yes: a cluster split over three Helm releases (the first runs
//! `kong migrations up` before its nodes move, the last runs `finish` once every
//! node runs 2.8), and the PostgreSQL blue-green sequence with the `kong` stand-in
//! (up before the new nodes, finish only after traffic moved and the operator
//! typed the confirmation). Each is rehearsed first: nothing changes, and the
//! report predicts what the real run does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::kong;
use crate::support;

use std::ffi::OsString;

use kong::revisions::{Recorder, Seen};
use kong::{Session, stepwise};
use stepwise::journal::StepState;
use support::chart_repo::ChartRepo;

const NS: &str = "kong";
const FIRST: &str = "kong";
const MIDDLE: &str = "kong-ingress";
const LAST: &str = "kong-admin";

/// `helm install RELEASE kong/kong` at chart 2.7.0 (Kong 2.7.0.0) with `sets`.
fn install(tb: &support::TestCluster, repo: &ChartRepo, release: &str, sets: &[&str]) {
    let mut cmd = tb.command(&tb.helm);
    cmd.envs(repo.env()).args(["--kube-context", &tb.context, "install", release, &repo.chart("kong")]);
    cmd.args(["--version", "2.7.0", "--namespace", NS, "--create-namespace", "--wait", "--timeout", "3m"]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    support::run_ok(cmd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_helm_releases_run_up_first_and_finish_last() {
    const JOURNEY: &str = "kong-gateway helm split releases";
    let started = std::time::Instant::now();
    let tb = support::cluster();
    let client = tb.client().await;
    let repo = ChartRepo::start(&tb.helm, "kong", &[(support::fixture_chart("kong"), &[("2.7.0", "2.7.0.0")])]);
    // Proxy nodes (which bootstrapped the database), the ingress controller alone,
    // and admin nodes: one Kong cluster on one database.
    install(tb, &repo, FIRST, &["ingressController.enabled=false"]);
    install(tb, &repo, MIDDLE, &["deployment.kong.enabled=false"]);
    install(tb, &repo, LAST, &["ingressController.enabled=false", "migrations.init=false"]);
    for release in [FIRST, MIDDLE, LAST] {
        kong::available(JOURNEY, &client, NS, &format!("{release}-kong")).await;
    }
    let before = kong::quiet_versions(JOURNEY, &client, &[NS]).await;
    eprintln!("{JOURNEY}: set up in {:?}", started.elapsed());
    let env: Vec<(&str, OsString)> = repo.env();
    let args = [
        "kong-gateway",
        "--to",
        "2.8",
        "--fact",
        "deployment=helm-split",
        "--yes",
        "--confirm",
        LAST,
        "--set",
        "chart_version=2.7.0",
        "--set",
        &format!("middle_releases={MIDDLE}"),
        "--set",
        &format!("last_release={LAST}"),
    ];

    let (out, rehearsal_state) = kong::rehearse(JOURNEY, tb, &tb.context, &env, &args);
    let changed = kong::changed(&before, &kong::versions(&client, &[NS]).await);
    assert!(changed.is_empty(), "{JOURNEY}, the rehearsal wrote to the cluster: {changed:?}\n{}", out.show());
    let rehearsal = Session::only(rehearsal_state.path(), JOURNEY);

    let recorder = Recorder::default();
    recorder.watch(client.clone(), "one").await;
    let (out, state) = kong::run_watched(JOURNEY, tb, &tb.context, &env, &args, &recorder);
    assert!(out.stdout.contains("Detected Kong Gateway 2.7.0"), "{JOURNEY}, the run: detection\n{}", out.show());
    let session = Session::only(state.path(), JOURNEY);
    session.assert_all_done(JOURNEY);
    let hops = session.hops();
    assert_eq!(
        hops,
        kong::planned_hops("kong-gateway", "2.7.0.0", "2.8", &[("deployment", "helm-split")]),
        "{JOURNEY}, the journal's hops are the planner's"
    );
    let target = hops.last().unwrap().1.clone();
    kong::assert_notes_acknowledged(JOURNEY, &session);
    kong::assert_in_order(
        JOURNEY,
        &session,
        &[
            ("upgrade-first", None),
            ("wait-first", None),
            ("upgrade-middle", Some(MIDDLE)),
            ("wait-middle", Some(MIDDLE)),
            ("upgrade-last", None),
            ("wait-last", None),
        ],
    );
    for release in [FIRST, LAST] {
        let image = kong::image(&client, NS, &format!("{release}-kong")).await;
        assert!(image.ends_with(&format!(":{target}")), "{JOURNEY}, release {release}: the gateway runs {image}");
    }

    // The migration Jobs: `up` only in the first release, before its nodes moved;
    // `finish` only in the last, after every release ran the new version.
    let job = |release: &str, which: &str| format!("{release}-kong-{which}-upgrade-migrations");
    let seen_job = |name: &str, what: &dyn Fn(&Seen) -> bool| recorder.first("one", "Job", NS, name, what);
    let up = seen_job(&job(FIRST, "pre"), &|_| true)
        .unwrap_or_else(|| panic!("{JOURNEY}, step `upgrade-first`: no `kong migrations up` Job ran"));
    assert_eq!(up.command, ["kong", "migrations", "up"], "{JOURNEY}, step `upgrade-first`: the pre-upgrade Job");
    assert!(
        up.images[0].ends_with(&format!(":{target}")),
        "{JOURNEY}, step `upgrade-first`: up runs from {:?}",
        up.images
    );
    let up_done = seen_job(&job(FIRST, "pre"), &|s| s.settled).unwrap();
    let first_moved = recorder
        .first("one", "Deployment", NS, &format!("{FIRST}-kong"), |s| s.images.iter().any(|i| i.ends_with(&target)))
        .unwrap();
    assert!(
        up_done.revision < first_moved.revision,
        "{JOURNEY}, step `upgrade-first`: the nodes moved to {target} at revision {}, before `kong migrations up` \
         succeeded at {}",
        first_moved.revision,
        up_done.revision
    );
    let finish = seen_job(&job(LAST, "post"), &|_| true)
        .unwrap_or_else(|| panic!("{JOURNEY}, step `upgrade-last`: no `kong migrations finish` Job ran"));
    assert_eq!(
        finish.command,
        ["kong", "migrations", "finish"],
        "{JOURNEY}, step `upgrade-last`: the post-upgrade Job"
    );
    for release in [FIRST, MIDDLE, LAST] {
        let moved = recorder
            .first("one", "Deployment", NS, &format!("{release}-kong"), |s| {
                s.settled && s.version_label.as_deref() == Some(target.as_str())
            })
            .unwrap_or_else(|| panic!("{JOURNEY}: release {release} was never seen running {target}"));
        assert!(
            moved.revision < finish.revision,
            "{JOURNEY}, step `upgrade-last`: `kong migrations finish` started at revision {}, before release {release} \
             ran {target} at {}",
            finish.revision,
            moved.revision
        );
    }
    for (release, which) in [(MIDDLE, "pre"), (LAST, "pre"), (FIRST, "post"), (MIDDLE, "post")] {
        assert!(
            seen_job(&job(release, which), &|_| true).is_none(),
            "{JOURNEY}: release {release} ran a {which}-upgrade migrations Job; only the first runs up, only the last finish"
        );
    }

    kong::assert_predicted(JOURNEY, &rehearsal, &session);
    eprintln!("{JOURNEY}: done in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_blue_green_finishes_only_after_traffic_moved_and_the_operator_confirmed() {
    const JOURNEY: &str = "kong-gateway postgres blue-green";
    let started = std::time::Instant::now();
    let tb = support::cluster();
    let client = tb.client().await;
    // The stand-in records each `kong` action in a ConfigMap of this namespace.
    let log_ns = tb.namespace(&client, "kong-bg").await;
    let files = tempfile::tempdir().unwrap();
    let kong_conf = files.path().join("kong.conf");
    std::fs::write(&kong_conf, "database = postgres\npg_host = 127.0.0.1\n").unwrap();
    let env: Vec<(&str, OsString)> =
        vec![("STEPWISE_STANDIN_NAMESPACE", log_ns.clone().into()), ("KONG_STANDIN_VERSION", "2.8.4.0".into())];
    let conf = format!("kong_conf={}", kong_conf.display());
    let base = [
        "kong-gateway",
        "--from",
        "2.7.0",
        "--to",
        "2.8",
        "--fact",
        "deployment=traditional",
        "--fact",
        "datastore=postgres",
        "--yes",
        "--set",
        &conf,
    ];
    let before = kong::quiet_versions(JOURNEY, &client, &[&log_ns]).await;

    // The rehearsal runs no migration; the only `kong` it may run is the read-only
    // `migrations list` of the final check, which the stand-in logs in its ConfigMap.
    let (_, rehearsal_state) =
        kong::rehearse(JOURNEY, tb, &tb.context, &env, &[&base[..], &["--confirm", "finish"]].concat());
    let rehearsed: Vec<String> = kong::standin_entries(&client, &log_ns).await.into_iter().map(|e| e.1).collect();
    assert!(
        rehearsed.iter().all(|l| l == "kong migrations list"),
        "{JOURNEY}, steps `migrations-up`/`migrations-finish`: the rehearsal ran a migration: {rehearsed:?}"
    );
    let log_key = format!("ConfigMap/{log_ns}/stepwise-standin-log");
    let changed: Vec<String> = kong::changed(&before, &kong::versions(&client, &[&log_ns]).await)
        .into_iter()
        .filter(|k| *k != log_key)
        .collect();
    assert!(changed.is_empty(), "{JOURNEY}, the rehearsal wrote to the cluster: {changed:?}");
    let rehearsal = Session::only(rehearsal_state.path(), JOURNEY);
    let already = rehearsed.len();

    // Without the typed word the run stops before `finish`, after `up`.
    let state = tempfile::tempdir().unwrap();
    let out = stepwise(tb, &tb.context, state.path(), &env, &[&["run"][..], &base].concat());
    assert_eq!(out.code, Some(7), "{JOURNEY}, step `migrations-finish`: stops for the typed word: {}", out.show());
    assert!(
        out.stdout.contains("--confirm finish"),
        "{JOURNEY}, step `migrations-finish`: says how to allow it\n{}",
        out.show()
    );
    let actions = |entries: &[(String, String)]| entries[already..].iter().map(|e| e.1.clone()).collect::<Vec<_>>();
    let entries = kong::standin_entries(&client, &log_ns).await;
    assert_eq!(
        actions(&entries),
        ["kong migrations up"],
        "{JOURNEY}, step `migrations-finish`: ran without confirmation"
    );
    let stopped = Session::only(state.path(), JOURNEY);
    let finish = stopped.step(JOURNEY, "migrations-finish", None);
    assert_eq!(finish.state, StepState::Pending, "{JOURNEY}, step `migrations-finish`: after the stop");

    // The operator confirms: resume finishes the migrations.
    let out = stepwise(tb, &tb.context, state.path(), &env, &["resume", "--yes", "--confirm", "finish"]);
    assert!(out.success(), "{JOURNEY}, resume: {}", out.show());
    let session = Session::only(state.path(), JOURNEY);
    session.assert_all_done(JOURNEY);
    assert_eq!(
        session.hops(),
        kong::planned_hops("kong-gateway", "2.7.0", "2.8", &[("deployment", "traditional"), ("datastore", "postgres")]),
        "{JOURNEY}, the journal's hops are the planner's"
    );
    kong::assert_notes_acknowledged(JOURNEY, &session);
    let entries = kong::standin_entries(&client, &log_ns).await;
    assert_eq!(
        actions(&entries),
        ["kong migrations up", "kong migrations finish", "kong migrations list"],
        "{JOURNEY}: the stand-in's record of the migrations"
    );
    kong::assert_in_order(
        JOURNEY,
        &session,
        &[
            ("check-cli", None),
            ("migrations-up", None),
            ("start-new-nodes", None),
            ("shift-traffic", None),
            ("retire-old-nodes", None),
            ("migrations-finish", None),
            ("check-migrations", None),
        ],
    );
    // Each migration happened inside its own step, so `up` came before the new
    // nodes and `finish` after traffic moved and the old nodes were gone.
    let at = |action: &str| entries[already..].iter().find(|e| e.1 == action).unwrap().0.clone();
    for (action, id) in [("kong migrations up", "migrations-up"), ("kong migrations finish", "migrations-finish")] {
        let s = session.step(JOURNEY, id, None);
        let (from, to) = (s.started_at.clone().unwrap(), s.ended_at.clone().unwrap());
        let when = at(action);
        assert!(from <= when && when <= to, "{JOURNEY}, step `{id}`: `{action}` ran at {when}, outside {from} .. {to}");
    }
    let moved = session.step(JOURNEY, "shift-traffic", None).ended_at.clone().unwrap();
    assert!(at("kong migrations finish") > moved, "{JOURNEY}, step `migrations-finish`: ran before traffic moved");
    let asked: Vec<&serde_json::Value> =
        session.transcript.iter().filter(|e| e["kind"] == "question" && e["payload"]["word"] == "finish").collect();
    assert_eq!(asked.len(), 2, "{JOURNEY}, step `migrations-finish`: the typed word was asked once per attempt");

    kong::assert_predicted(JOURNEY, &rehearsal, &session);
    eprintln!("{JOURNEY}: done in {:?}", started.elapsed());
}
