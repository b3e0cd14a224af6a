//! Kong Mesh upgrades end to end through the real binary on the test bed,
//! headless with --yes: single-zone 2.6 -> 2.8 with Helm, and multizone across
//! the two clusters of the test bed (global control plane first, then the zone,
//! then the data planes). Each journey is rehearsed first: the rehearsal must leave
//! the cluster as it was and its report must predict what the real run then does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::kong;
use crate::support;

use std::ffi::OsString;

use kong::Session;
use kong::revisions::Recorder;
use stepwise::runbook::Version;
use support::chart_repo::ChartRepo;

const NS: &str = "kong-mesh-system";
const CONTROL_PLANE: &str = "kong-mesh-control-plane";
/// Kong Mesh charts carry the Kong Mesh version as chart and app version (from
/// 1.7.0 on). The journeys cross 2.7, whose notes must be acknowledged, and stay
/// below 2.10, the first release whose chart the product does not record.
const RELEASES: [(&str, &str); 3] = [("2.6.0", "2.6.0"), ("2.7.0", "2.7.0"), ("2.8.0", "2.8.0")];
/// The release installed first, and the target.
const FROM: &str = "2.6.0";
const TO: &str = "2.8.0";

/// The fixture chart in a repository added as `kong-mesh`, so the runbooks'
/// default chart reference `kong-mesh/kong-mesh` is the one in use.
fn chart_repo(tb: &support::TestCluster) -> ChartRepo {
    ChartRepo::start(&tb.helm, "kong-mesh", &[(support::fixture_chart("kong-mesh"), &RELEASES)])
}

/// `helm install` of the control plane at `version` into `context`, as the
/// vendor documents it; `mode` is standalone, global or zone.
fn install(tb: &support::TestCluster, repo: &ChartRepo, context: &str, version: &str, mode: &str) {
    let mut cmd = tb.command(&tb.helm);
    cmd.envs(repo.env()).args(["--kube-context", context, "install", "kong-mesh", &repo.chart("kong-mesh")]);
    cmd.args(["--version", version, "--namespace", NS, "--create-namespace", "--wait", "--timeout", "3m"]);
    cmd.args(["--set", "controlPlane.replicas=2", "--set", &format!("controlPlane.mode={mode}")]);
    support::run_ok(cmd);
}

/// The charts of the release's history, oldest first, as `helm history` lists them.
fn chart_history(tb: &support::TestCluster, repo: &ChartRepo, context: &str) -> Vec<String> {
    let mut cmd = tb.command(&tb.helm);
    cmd.envs(repo.env()).args(["--kube-context", context, "history", "kong-mesh", "--namespace", NS, "-o", "json"]);
    let history: serde_json::Value = serde_json::from_str(&support::run_ok(cmd)).unwrap();
    history.as_array().unwrap().iter().map(|r| r["chart"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_zone_helm_upgrade_re_rolls_the_data_planes_after_the_control_plane() {
    const JOURNEY: &str = "kong-mesh single-zone";
    const MESHED: [&str; 2] = ["km-shop", "km-pay"];
    const PLAIN: &str = "km-plain";
    let started = std::time::Instant::now();
    let tb = support::cluster();
    let client = tb.client().await;
    let repo = chart_repo(tb);
    install(tb, &repo, &tb.context, FROM, "standalone");
    for ns in MESHED {
        kong::workload(&client, ns, true, FROM).await;
    }
    kong::workload(&client, PLAIN, false, FROM).await;
    kong::available(JOURNEY, &client, NS, CONTROL_PLANE).await;
    for ns in MESHED.iter().chain([&PLAIN]) {
        kong::available(JOURNEY, &client, ns, "web").await;
    }
    let watched = [NS, MESHED[0], MESHED[1], PLAIN];
    let before = kong::quiet_versions(JOURNEY, &client, &watched).await;
    eprintln!("{JOURNEY}: set up in {:?}", started.elapsed());
    let env: Vec<(&str, OsString)> = repo.env();
    let args = ["kong-mesh", "--to", TO, "--yes", "--set", "meshed_namespaces=km-shop,km-pay"];

    // The rehearsal changes nothing.
    let (out, rehearsal_state) = kong::rehearse(JOURNEY, tb, &tb.context, &env, &args);
    let changed = kong::changed(&before, &kong::versions(&client, &watched).await);
    assert!(changed.is_empty(), "{JOURNEY}, the rehearsal wrote to the cluster: {changed:?}\n{}", out.show());
    assert_eq!(
        chart_history(tb, &repo, &tb.context),
        [format!("kong-mesh-{FROM}")],
        "{JOURNEY}, the rehearsal: no Helm revision"
    );
    let rehearsal = Session::only(rehearsal_state.path(), JOURNEY);

    // The real run.
    let recorder = Recorder::default();
    recorder.watch(client.clone(), "one").await;
    let (out, state) = kong::run_watched(JOURNEY, tb, &tb.context, &env, &args, &recorder);
    assert!(
        out.stdout.contains(&format!("Detected Kong Mesh {FROM}")),
        "{JOURNEY}, the run: detection\n{}",
        out.show()
    );
    let session = Session::only(state.path(), JOURNEY);
    session.assert_all_done(JOURNEY);

    // The hops are the planner's, and each is one Helm upgrade to its release.
    let hops = session.hops();
    assert_eq!(hops, kong::planned_hops("kong-mesh", FROM, TO, &[]), "{JOURNEY}, the journal's hops are the planner's");
    for (from, to, _) in &hops {
        let (a, b) = (Version::parse(from).unwrap().line(), Version::parse(to).unwrap().line());
        assert!(a.0 == b.0 && b.1 - a.1 <= 2, "{JOURNEY}, hop {from} -> {to}: more than two minor versions");
    }
    let charts: Vec<String> =
        std::iter::once(FROM).chain(hops.iter().map(|h| h.1.as_str())).map(|v| format!("kong-mesh-{v}")).collect();
    assert_eq!(chart_history(tb, &repo, &tb.context), charts, "{JOURNEY}, step `upgrade-control-plane`: Helm history");
    let cp = kong::image(&client, NS, CONTROL_PLANE).await;
    assert!(cp.ends_with(&format!(":{TO}")), "{JOURNEY}, step `upgrade-control-plane`: the control plane runs {cp}");
    kong::assert_notes_acknowledged(JOURNEY, &session);

    // Data planes after the control plane: in the journal ...
    for (h, _) in hops.iter().enumerate() {
        let upgraded = session.steps.iter().find(|s| s.hop == h && s.step == "upgrade-control-plane").unwrap();
        let waited = session.steps.iter().find(|s| s.hop == h && s.step == "wait-control-plane").unwrap();
        let upgraded_at = upgraded.ended_at.clone().unwrap();
        assert!(
            waited.started_at.clone().unwrap() >= upgraded_at,
            "{JOURNEY}, step `wait-control-plane` began before the upgrade ended"
        );
        for ns in MESHED {
            let restart = session
                .steps
                .iter()
                .find(|s| s.hop == h && s.step == "restart-data-planes" && s.item.as_deref() == Some(ns));
            let restart =
                restart.unwrap_or_else(|| panic!("{JOURNEY}, step `restart-data-planes` [{ns}]: not in the journal"));
            assert!(
                restart.started_at.clone().unwrap() >= waited.ended_at.clone().unwrap(),
                "{JOURNEY}, step `restart-data-planes` [{ns}]: began before the control plane was available"
            );
        }
    }
    // ... in the workloads' annotations ...
    let last_upgrade = session
        .steps
        .iter()
        .filter(|s| s.step == "upgrade-control-plane")
        .filter_map(|s| s.ended_at.clone())
        .max()
        .unwrap();
    for ns in MESHED {
        let at = kong::restarted_at(&client, ns, "web").await;
        let at =
            at.unwrap_or_else(|| panic!("{JOURNEY}, step `restart-data-planes` [{ns}]: {ns}/web was not re-rolled"));
        assert!(
            at.as_str() >= &last_upgrade[..19],
            "{JOURNEY}, step `restart-data-planes` [{ns}]: restarted at {at}, before the control plane upgrade ended at {last_upgrade}"
        );
    }
    assert_eq!(
        kong::restarted_at(&client, PLAIN, "web").await,
        None,
        "{JOURNEY}, step `restart-data-planes`: {PLAIN} is not meshed and must not be re-rolled"
    );
    // ... and in the order the cluster stored the writes.
    let cp_ready = recorder
        .first("one", "Deployment", NS, CONTROL_PLANE, |s| {
            s.settled && s.images.iter().all(|i| i.ends_with(&format!(":{TO}")))
        })
        .unwrap_or_else(|| {
            panic!("{JOURNEY}, step `wait-control-plane`: the watch never saw the {TO} control plane available")
        });
    for ns in MESHED {
        let rolled = recorder.first("one", "Deployment", ns, "web", |s| s.restarted_at.is_some()).unwrap();
        assert!(
            rolled.revision > cp_ready.revision,
            "{JOURNEY}, step `restart-data-planes` [{ns}]: written at revision {}, before the control plane was ready at {}",
            rolled.revision,
            cp_ready.revision
        );
    }

    kong::assert_predicted(JOURNEY, &rehearsal, &session);
    eprintln!("{JOURNEY}: done in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multizone_helm_upgrade_goes_global_then_zone_then_data_planes() {
    const JOURNEY: &str = "kong-mesh multizone";
    const MESHED: [&str; 2] = ["mz-shop", "mz-pay"];
    const PLAIN: &str = "mz-plain";
    let started = std::time::Instant::now();
    let tb = support::multi_cluster();
    let global = tb.context.clone();
    let zone = tb.second_context.clone().expect("a second cluster");
    let global_client = tb.client().await;
    let zone_client = tb.second_client().await;
    let repo = chart_repo(tb);
    install(tb, &repo, &global, FROM, "global");
    install(tb, &repo, &zone, FROM, "zone");
    for ns in MESHED {
        kong::workload(&zone_client, ns, true, FROM).await;
    }
    kong::workload(&zone_client, PLAIN, false, FROM).await;
    kong::available(JOURNEY, &global_client, NS, CONTROL_PLANE).await;
    kong::available(JOURNEY, &zone_client, NS, CONTROL_PLANE).await;
    for ns in MESHED.iter().chain([&PLAIN]) {
        kong::available(JOURNEY, &zone_client, ns, "web").await;
    }
    let zone_watched = [NS, MESHED[0], MESHED[1], PLAIN];
    let before_global = kong::quiet_versions(JOURNEY, &global_client, &[NS]).await;
    let before_zone = kong::quiet_versions(JOURNEY, &zone_client, &zone_watched).await;
    eprintln!("{JOURNEY}: set up in {:?}", started.elapsed());
    let env: Vec<(&str, OsString)> = repo.env();
    let zones = format!("zone_contexts={zone}");
    let meshed = format!("meshed_namespaces={}", MESHED.join(","));
    let args = ["kong-mesh", "--to", TO, "--fact", "topology=multizone", "--yes", "--set", &zones, "--set", &meshed];

    // The rehearsal changes neither cluster.
    let (out, rehearsal_state) = kong::rehearse(JOURNEY, tb, &global, &env, &args);
    let changed = kong::changed(&before_global, &kong::versions(&global_client, &[NS]).await);
    assert!(changed.is_empty(), "{JOURNEY}, the rehearsal wrote to the global cluster: {changed:?}\n{}", out.show());
    let changed = kong::changed(&before_zone, &kong::versions(&zone_client, &zone_watched).await);
    assert!(changed.is_empty(), "{JOURNEY}, the rehearsal wrote to the zone cluster: {changed:?}\n{}", out.show());
    let rehearsal = Session::only(rehearsal_state.path(), JOURNEY);

    // The real run, watched in both clusters.
    let recorder = Recorder::default();
    recorder.watch(global_client.clone(), "global").await;
    recorder.watch(zone_client.clone(), "zone").await;
    let (_, state) = kong::run_watched(JOURNEY, tb, &global, &env, &args, &recorder);
    let session = Session::only(state.path(), JOURNEY);
    session.assert_all_done(JOURNEY);
    let hops = session.hops();
    assert_eq!(
        hops,
        kong::planned_hops("kong-mesh", FROM, TO, &[("topology", "multizone")]),
        "{JOURNEY}, the journal's hops are the planner's"
    );
    assert!(hops.iter().all(|h| h.2 == "multizone-helm"), "{JOURNEY}: every hop uses multizone-helm: {hops:?}");
    let charts: Vec<String> =
        std::iter::once(FROM).chain(hops.iter().map(|h| h.1.as_str())).map(|v| format!("kong-mesh-{v}")).collect();
    assert_eq!(chart_history(tb, &repo, &global), charts, "{JOURNEY}, step `upgrade-global`: Helm history");
    assert_eq!(chart_history(tb, &repo, &zone), charts, "{JOURNEY}, step `upgrade-zone` [{zone}]: Helm history");
    kong::assert_notes_acknowledged(JOURNEY, &session);

    // Global, then zone, then data planes: in the journal ...
    for (h, _) in hops.iter().enumerate() {
        let step = |id: &str, item: Option<&str>| {
            session
                .steps
                .iter()
                .find(|s| s.hop == h && s.step == id && s.item.as_deref() == item)
                .unwrap_or_else(|| panic!("{JOURNEY}, step `{id}` {item:?}: not in the journal"))
        };
        let start = |s: &stepwise::journal::StepRecord| s.started_at.clone().unwrap();
        let end = |s: &stepwise::journal::StepRecord| s.ended_at.clone().unwrap();
        let order = [
            ("upgrade-global", None),
            ("wait-global", None),
            ("upgrade-zone", Some(zone.as_str())),
            ("wait-zone", Some(zone.as_str())),
            ("restart-data-planes", Some(zone.as_str())),
        ];
        for pair in order.windows(2) {
            let (earlier, later) = (step(pair[0].0, pair[0].1), step(pair[1].0, pair[1].1));
            assert!(
                start(later) >= end(earlier),
                "{JOURNEY}, step `{}`: began at {} before step `{}` ended at {}",
                later.step,
                start(later),
                earlier.step,
                end(earlier)
            );
        }
    }
    // ... and in the order both clusters stored the writes.
    let new_image = |s: &kong::revisions::Seen| s.images.iter().all(|i| i.ends_with(&format!(":{TO}")));
    let global_ready =
        recorder.first("global", "Deployment", NS, CONTROL_PLANE, |s| s.settled && new_image(s)).unwrap_or_else(|| {
            panic!("{JOURNEY}, step `wait-global`: the {TO} global control plane was never seen available")
        });
    let zone_changed = recorder
        .first("zone", "Deployment", NS, CONTROL_PLANE, new_image)
        .unwrap_or_else(|| panic!("{JOURNEY}, step `upgrade-zone`: the zone control plane never moved to {TO}"));
    let zone_ready = recorder.first("zone", "Deployment", NS, CONTROL_PLANE, |s| s.settled && new_image(s)).unwrap();
    assert!(
        zone_changed.revision > global_ready.revision,
        "{JOURNEY}, step `upgrade-zone`: the zone moved to {TO} at revision {}, before the global control plane was ready at {}",
        zone_changed.revision,
        global_ready.revision
    );
    for ns in MESHED {
        let rolled = recorder
            .first("zone", "Deployment", ns, "web", |s| s.restarted_at.is_some())
            .unwrap_or_else(|| panic!("{JOURNEY}, step `restart-data-planes` [{zone}]: {ns}/web was not re-rolled"));
        assert!(
            rolled.revision > zone_ready.revision,
            "{JOURNEY}, step `restart-data-planes` [{zone}]: {ns}/web re-rolled at revision {}, before the zone was ready at {}",
            rolled.revision,
            zone_ready.revision
        );
    }
    assert_eq!(
        kong::restarted_at(&zone_client, PLAIN, "web").await,
        None,
        "{JOURNEY}, step `restart-data-planes` [{zone}]: {PLAIN} is not meshed and must not be re-rolled"
    );

    kong::assert_predicted(JOURNEY, &rehearsal, &session);
    eprintln!("{JOURNEY}: done in {:?}", started.elapsed());
}
