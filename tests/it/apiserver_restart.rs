//! "An API server restarted in the middle of a backup or a restore leads to
//! retries or a clear, resumable failure — never to a backup marked complete
//! that is not." On the real test bed: `testbed.sh restart-apiserver` stops
//! the kube-apiserver by pid (it stops listening at SIGTERM), keeps it down a
//! few seconds and starts it again with the same flags while a backup or a
//! restore of 3,000 custom resources is running.
//!
//! Each test has a cluster of the bed to itself (`support::lanes`): restarts
//! and CRD deletions would disturb any other test sharing it. Each prints one
//! `OUTCOME` line saying which of the allowed outcomes happened.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stepwise::base::progress::silent;
use stepwise::base::{Mode, OpEvent, Reporter, Target};
use stepwise::cluster::Connection;
use stepwise::cluster::backup::{BackupRequest, backup};
use stepwise::cluster::manifest::{self, Manifest};
use stepwise::cluster::restore::{Outcome, RestoreReport, RestoreRequest, restore};
use support::{ApiserverRestart, TestCluster};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long the apiserver stays down (after it has exited) in a restart.
const DOWN: Duration = Duration::from_secs(3);
/// Objects of each of the six kinds: 3,000 in all.
const PER_KIND: usize = 500;
/// An operation across one restart (about 10 s of outage) needs far less; a
/// hang is reported instead of waited out.
const OPERATION_LIMIT: Duration = Duration::from_secs(150);
/// Against a server that is not there at all, an operation must give up at
/// least this fast.
const STOPPED_LIMIT: Duration = Duration::from_secs(30);

async fn connect() -> Connection {
    let tb = support::cluster();
    Target { kubeconfig: Some(tb.kubeconfig.clone()), context: Some(tb.context.clone()) }.connect().await.unwrap()
}

fn install_crds() {
    let tb = support::cluster();
    seed::install_crds(&tb.kubectl, &tb.kubeconfig, &tb.context);
}

fn namespaces(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:02}")).collect()
}

/// A reporter that keeps every event and, the first time progress reaches
/// `at` objects, fires the returned receiver.
fn recorder(at: u64) -> (Reporter, Arc<Mutex<Vec<OpEvent>>>, oneshot::Receiver<()>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let sink = events.clone();
    let reporter: Reporter = Arc::new(move |e: OpEvent| {
        if let OpEvent::Progress { done, .. } = &e
            && *done >= at
            && let Some(tx) = tx.lock().unwrap().take()
        {
            let _ = tx.send(());
        }
        sink.lock().unwrap().push(e);
    });
    (reporter, events, rx)
}

/// Restarts the apiserver once `trigger` fires (SIGKILL `grace` after
/// SIGTERM); yields when that was and what the restart measured, or `None`
/// if the operation ended without firing it.
fn restart_on(trigger: oneshot::Receiver<()>, grace: Duration) -> JoinHandle<Option<(Instant, ApiserverRestart)>> {
    let tb = support::cluster();
    tokio::spawn(async move {
        trigger.await.ok()?;
        let at = Instant::now();
        let measured = tokio::task::spawn_blocking(move || tb.restart_apiserver_with_grace(DOWN, grace))
            .await
            .unwrap_or_else(|e| panic!("restarting the apiserver failed: {e}"));
        Some((at, measured))
    })
}

/// The retry lines an operation reported.
fn retries(events: &Mutex<Vec<OpEvent>>) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            OpEvent::Line(l) if l.contains("retrying") => Some(l.clone()),
            _ => None,
        })
        .collect()
}

/// Every object saved in a backup folder, keyed like `seed::seed`; panics on
/// an object saved twice.
fn saved_keys(dir: &Path, manifest: &Manifest) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for kind in &manifest.kinds {
        manifest::scan_file(&dir.join(&kind.file), |o| {
            let key = seed::key_of(&o);
            assert!(keys.insert(key.clone()), "{key} is saved twice in {}", kind.file);
            Ok(())
        })
        .unwrap();
    }
    keys
}

fn backup_request(dir: &Path, namespaces: &[String]) -> BackupRequest {
    let mut req = BackupRequest::new(seed::resource_names(), dir.to_path_buf());
    req.namespaces = Some(namespaces.to_vec());
    req
}

/// Every seeded object is in the cluster exactly as it was, and nothing else
/// is in those namespaces.
async fn assert_all_back(conn: &Connection, namespaces: &[String], before: &BTreeMap<String, serde_json::Value>) {
    let after = seed::live(&conn.client, namespaces).await;
    let missing: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).take(5).collect();
    let extra: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).take(5).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing (first 5): {missing:?}; not in the backup: {extra:?}");
    assert_eq!(after.len(), before.len(), "nothing lost, nothing duplicated");
    for (key, original) in before {
        assert_eq!(seed::essence(&after[key]), seed::essence(original), "{key} came back different");
    }
}

fn assert_restore_complete(report: &RestoreReport, per_kind: u64) {
    assert!(report.verified, "{report:#?}");
    assert_eq!(report.failed(), 0, "{:#?}", report.notable);
    for k in &report.kinds {
        assert_eq!(k.different, 0, "an object it created itself is never `different`: {k:?} {:#?}", report.notable);
        assert_eq!((k.created + k.identical, k.live), (per_kind, Some(per_kind)), "{k:?}");
    }
}

/// Starts the apiserver again when dropped, unless [`Stopped::start`] did:
/// a failed assertion must not leave the next test without a server.
struct Stopped(Option<&'static TestCluster>);

impl Stopped {
    /// Stops the server, SIGKILL `grace` after SIGTERM.
    async fn stop(tb: &'static TestCluster, grace: Duration) -> Stopped {
        tokio::task::spawn_blocking(move || tb.stop_apiserver_with_grace(grace)).await.unwrap();
        Stopped(Some(tb))
    }

    async fn start(mut self) -> ApiserverRestart {
        let tb = self.0.take().unwrap();
        tokio::task::spawn_blocking(move || tb.start_apiserver()).await.unwrap()
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Some(tb) = self.0.take() {
            // Already unwinding: a second panic would abort the test binary.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tb.start_apiserver()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_across_an_apiserver_restart_completes_exactly_or_fails_marked_incomplete() {
    install_crds();
    let conn = connect().await;
    let namespaces = namespaces("during-backup", 6);
    let t = Instant::now();
    let seeded = seed::seed(&conn.client, &namespaces, PER_KIND).await;
    assert_eq!(seeded.len(), 6 * PER_KIND);
    eprintln!("seeded {} objects in {:.1}s", seeded.len(), t.elapsed().as_secs_f64());

    let dir = tempfile::tempdir().unwrap();
    let backup_dir = dir.path().join("backup");
    // Small pages, one kind at a time: about 130 list calls, so the restart
    // lands in the middle.
    let mut req = backup_request(&backup_dir, &namespaces);
    req.page_size = 25;
    req.concurrency = 1;
    let (reporter, events, trigger) = recorder(1);
    // A clean restart: SIGTERM (it stops listening, finishes what it serves), SIGKILL later.
    let restart = restart_on(trigger, support::APISERVER_GRACE);
    let started = Instant::now();
    let result = tokio::time::timeout(OPERATION_LIMIT, backup(&conn, &req, reporter))
        .await
        .unwrap_or_else(|_| panic!("the backup hung: no result {OPERATION_LIMIT:?} after it started"));
    let took = started.elapsed();
    let (restarted_at, restart) = restart.await.unwrap().expect("the backup reported progress, so the restart ran");
    let retried = retries(&events);
    eprintln!(
        "backup took {:.1}s; the restart began {:.1}s in, the apiserver was unavailable {:.1}s; {} retries",
        took.as_secs_f64(),
        (restarted_at - started).as_secs_f64(),
        restart.unavailable_seconds,
        retried.len()
    );

    match result {
        Ok(returned) => {
            assert!(returned.complete && returned.problems.is_empty(), "{returned:#?}");
            let on_disk = manifest::verify_files(&backup_dir).expect("a backup returned as complete verifies");
            assert_eq!(on_disk, returned, "the manifest on disk is the one returned");
            for k in &returned.kinds {
                assert_eq!(k.count, PER_KIND as u64, "{k:?}");
            }
            let saved = saved_keys(&backup_dir, &returned);
            let wanted: BTreeSet<String> = seeded.keys().cloned().collect();
            assert_eq!(saved, wanted, "the backup holds every seeded object once, and nothing else");
            // The backup spanned the outage, so it must have met it.
            assert!(!retried.is_empty(), "a complete backup across a restart that never retried: did they overlap?");
            eprintln!("OUTCOME backup: complete and exact after {} retries; first: {}", retried.len(), retried[0]);
        }
        Err(e) => {
            let path = backup_dir.join(manifest::MANIFEST_FILE);
            if path.exists() {
                let on_disk = Manifest::read(&backup_dir).unwrap();
                assert!(!on_disk.complete, "a failed backup left a manifest saying complete: {on_disk:#?}");
                assert!(!on_disk.problems.is_empty(), "an incomplete manifest says why: {on_disk:#?}");
            }
            let refused = manifest::verify_files(&backup_dir).expect_err("a failed backup never verifies");
            eprintln!("OUTCOME backup: failed, manifest incomplete or absent: {e}\n  verify_files: {refused}");
            // Resumable: with the server back, the same backup completes.
            let again = backup(&conn, &req, silent()).await.expect("the backup taken again completes");
            assert_eq!(again.total(), seeded.len() as u64);
            manifest::verify_files(&backup_dir).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_across_an_apiserver_restart_is_verified_or_completed_by_running_it_again() {
    let tb = support::cluster();
    install_crds();
    let conn = connect().await;
    let namespaces = namespaces("during-restore", 6);
    let t = Instant::now();
    assert_eq!(seed::seed(&conn.client, &namespaces, PER_KIND).await.len(), 6 * PER_KIND);
    let before = seed::live(&conn.client, &namespaces).await;
    assert_eq!(before.len(), 6 * PER_KIND);
    let dir = tempfile::tempdir().unwrap();
    let backup_dir = dir.path().join("backup");
    backup(&conn, &backup_request(&backup_dir, &namespaces), silent()).await.unwrap();
    eprintln!("seeded and backed up in {:.1}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    seed::delete_crds(&conn.client, &tb.kubectl, &tb.kubeconfig, &tb.context).await;
    install_crds();
    assert!(seed::live(&conn.client, &namespaces).await.is_empty(), "removing the CRDs removed every object");
    eprintln!("CRDs removed and reinstalled in {:.1}s", t.elapsed().as_secs_f64());

    let mut req = RestoreRequest::new(backup_dir.clone(), Mode::Real);
    req.concurrency = 2;
    // Once a tenth of the objects are back, a crash: SIGKILL alone cuts off
    // the creates in flight, some of them perhaps already stored.
    let (reporter, events, trigger) = recorder(300);
    let restart = restart_on(trigger, Duration::ZERO);
    let started = Instant::now();
    let first = tokio::time::timeout(OPERATION_LIMIT, restore(&conn, &req, reporter))
        .await
        .unwrap_or_else(|_| panic!("the restore hung: no result {OPERATION_LIMIT:?} after it started"));
    let took = started.elapsed();
    let (restarted_at, restart) = restart.await.unwrap().expect("the restore reported progress, so the restart ran");
    let retried = retries(&events);
    eprintln!(
        "restore took {:.1}s; the restart began {:.1}s in, the apiserver was unavailable {:.1}s; {} retries",
        took.as_secs_f64(),
        (restarted_at - started).as_secs_f64(),
        restart.unavailable_seconds,
        retried.len()
    );

    let complete_first_time = match &first {
        Ok(report) if report.verified => {
            assert_restore_complete(report, PER_KIND as u64);
            assert!(!retried.is_empty(), "a restore across a restart that never retried: did they overlap?");
            eprintln!(
                "OUTCOME restore: verified across the restart after {} retries ({} objects found already there)",
                retried.len(),
                report.kinds.iter().map(|k| k.identical).sum::<u64>()
            );
            true
        }
        Ok(report) => {
            // Not verified: it must say what is missing, object by object.
            assert!(report.failed() > 0, "an unverified restore names its failures: {report:#?}");
            for k in &report.kinds {
                assert_eq!(k.different, 0, "an object it created itself is never `different`: {k:?}");
            }
            let failures: Vec<String> = report
                .notable
                .iter()
                .filter_map(|o| match &o.outcome {
                    Outcome::Failed(why) => Some(format!("{}/{}: {why}", o.resource, o.name)),
                    _ => None,
                })
                .collect();
            assert_eq!(failures.len() as u64, report.failed(), "every failure is listed");
            eprintln!(
                "OUTCOME restore: reported {} failed objects; first: {}",
                failures.len(),
                failures.first().map(String::as_str).unwrap_or_default()
            );
            false
        }
        Err(e) => {
            eprintln!("OUTCOME restore: failed with an error: {e}");
            false
        }
    };
    if !complete_first_time {
        // Resumable: running it again, with the server back, finishes the job.
        let again = tokio::time::timeout(OPERATION_LIMIT, restore(&conn, &req, silent()))
            .await
            .expect("the second restore hung")
            .expect("the second restore runs");
        assert_restore_complete(&again, PER_KIND as u64);
        eprintln!(
            "the restore run again is verified: {} created, {} already there",
            again.kinds.iter().map(|k| k.created).sum::<u64>(),
            again.kinds.iter().map(|k| k.identical).sum::<u64>()
        );
    }
    assert_all_back(&conn, &namespaces, &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_or_restore_against_a_stopped_apiserver_fails_fast_naming_the_server() {
    let tb = support::cluster();
    install_crds();
    let conn = connect().await;
    let namespaces = namespaces("while-stopped", 1);
    seed::seed(&conn.client, &namespaces, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let backup_dir = dir.path().join("backup");
    backup(&conn, &backup_request(&backup_dir, &namespaces), silent()).await.unwrap();
    let other_dir = dir.path().join("not-taken");

    let stopped = Stopped::stop(tb, support::APISERVER_GRACE).await;
    let started = Instant::now();
    let restored = tokio::time::timeout(
        STOPPED_LIMIT,
        restore(&conn, &RestoreRequest::new(backup_dir.clone(), Mode::Real), silent()),
    )
    .await;
    let restore_took = started.elapsed();
    let started = Instant::now();
    let backed_up =
        tokio::time::timeout(STOPPED_LIMIT, backup(&conn, &backup_request(&other_dir, &namespaces), silent())).await;
    let backup_took = started.elapsed();
    let back = stopped.start().await;
    eprintln!("apiserver back in {:.1}s (pid {})", back.ready_seconds, back.pid);

    let restore_err = match restored {
        Err(_) => panic!("a restore against a stopped apiserver was still running after {STOPPED_LIMIT:?}"),
        Ok(Ok(report)) => panic!("a restore against a stopped apiserver succeeded: {report:#?}"),
        Ok(Err(e)) => e.to_string(),
    };
    let backup_err = match backed_up {
        Err(_) => panic!("a backup against a stopped apiserver was still running after {STOPPED_LIMIT:?}"),
        Ok(Ok(m)) => panic!("a backup against a stopped apiserver succeeded: {m:#?}"),
        Ok(Err(e)) => e.to_string(),
    };
    eprintln!("OUTCOME stopped: restore failed after {:.2}s: {restore_err}", restore_took.as_secs_f64());
    eprintln!("OUTCOME stopped: backup failed after {:.2}s: {backup_err}", backup_took.as_secs_f64());
    assert!(!other_dir.join(manifest::MANIFEST_FILE).exists(), "a backup that never started leaves no manifest");
    // Once the server is back, the same restore runs.
    let report = restore(&conn, &RestoreRequest::new(backup_dir, Mode::Real), silent()).await.unwrap();
    assert!(report.verified && report.kinds.iter().all(|k| k.identical == 2), "{report:#?}");
    // Clear: the operator learns the server could not be reached, and which.
    for (what, message) in [("backup", &backup_err), ("restore", &restore_err)] {
        assert!(
            message.contains("API server") && message.contains(&conn.server),
            "the {what} error names the API server ({}) it could not reach: {message}",
            conn.server
        );
    }
}

/// A create that finds the server gone retries for the restore's retry budget
/// (two minutes by default; ten seconds here); once one gives up, the objects
/// after it are not tried, so the restore ends within about one budget rather
/// than one budget per object (hours for a real backup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_whose_apiserver_goes_away_for_good_ends_within_the_retry_budget() {
    const BUDGET: Duration = Duration::from_secs(10);
    // The budget, the creates already waiting on it, and the slow 2-core bed.
    const STAYS_DOWN_LIMIT: Duration = Duration::from_secs(60);
    // Enough that the stop lands mid-restore even when the script that stops
    // the server waits its turn on the bed.
    const OBJECTS: usize = 150;
    let tb = support::cluster();
    install_crds();
    let conn = connect().await;
    let namespaces = namespaces("stays-down", 2);
    seed::seed(&conn.client, &namespaces, OBJECTS).await;
    let dir = tempfile::tempdir().unwrap();
    let backup_dir = dir.path().join("backup");
    backup(&conn, &backup_request(&backup_dir, &namespaces), silent()).await.unwrap();
    seed::delete_crds(&conn.client, &tb.kubectl, &tb.kubeconfig, &tb.context).await;
    install_crds();

    let mut req = RestoreRequest::new(backup_dir.clone(), Mode::Real);
    req.concurrency = 2;
    req.retry_budget = BUDGET;
    let (reporter, _events, trigger) = recorder(20);
    let stopper = tokio::spawn(async move {
        trigger.await.ok()?;
        // A crash: a graceful stop serves the open connection a while
        // longer, and on an idle machine the whole restore fits in that.
        Some((Instant::now(), Stopped::stop(tb, Duration::ZERO).await))
    });
    let started = Instant::now();
    let result = tokio::time::timeout(STAYS_DOWN_LIMIT, restore(&conn, &req, reporter)).await;
    let (stopped_at, stopped) = stopper.await.unwrap().expect("the restore reported progress, so the stop ran");
    stopped.start().await;
    eprintln!("the apiserver was stopped {:.1}s into the restore", (stopped_at - started).as_secs_f64());
    match result {
        Err(_) => panic!(
            "a restore whose apiserver went away {:.0}s in was still running {STAYS_DOWN_LIMIT:?} after it started",
            (stopped_at - started).as_secs_f64()
        ),
        Ok(Ok(report)) => panic!("the restore cannot have succeeded with the server gone: {report:?}"),
        Ok(Err(e)) => {
            eprintln!("OUTCOME stays down: ended after {:.1}s: {e}", started.elapsed().as_secs_f64());
            assert!(e.to_string().contains(&conn.server), "the error names the server: {e}");
        }
    }
    // Resumable: with the server back, running it again completes.
    let again = restore(&conn, &req, silent()).await.unwrap();
    assert_restore_complete(&again, OBJECTS as u64);
}
