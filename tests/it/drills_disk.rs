//! Disk drill: the session's backup folder becomes unwritable just after the
//! session starts, and the disk fills up during the backup. Either way the
//! backup step must fail with a message naming the path and saying what to do,
//! the journal must mark nothing done that was not, nothing may be removed from
//! the cluster, and the exit code is the documented one for a failed step (6).
//!
//! As root (permissions do not stop root) the folder is made read-only with a
//! read-only bind mount and the disk is a small tmpfs; otherwise the folder is
//! chmod 0500 and the disk is "full" through a file-size limit on the process
//! (SIGXFSZ ignored, so writes fail with EFBIG as on a full disk).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stepwise::journal::{StepRecord, StepState};
use support::Ran;

const STEP_FAILED: i32 = 6;
const BOUND: Duration = Duration::from_secs(120);

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs a command that must succeed (mount, umount, chmod).
fn sh(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Unmounts on drop, so a failing test leaves no mount behind.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The manual upgrade from 1.6.0 against the seeded cluster, with `--state-dir state`;
/// output is kept in `logs` (never on the disk under test). Killed at [`BOUND`].
fn upgrade(tb: &support::TestCluster, state: &Path, logs: &Path, wrap: &[&str]) -> Ran {
    let tools = logs.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let old = seed::meshctl_at(&tools, "1.6.0", &tb.standins);
    let new = seed::meshctl_at(&tools, "1.7.0", &tb.standins);
    let program = wrap.first().copied().unwrap_or(env!("CARGO_BIN_EXE_stepwise"));
    let mut cmd = tb.command(program);
    if !wrap.is_empty() {
        cmd.args(&wrap[1..]).arg(env!("CARGO_BIN_EXE_stepwise"));
    }
    cmd.args(support::stepwise_args(tb, &tb.context, state))
        .args(["run", "nginx-service-mesh", "--from", "1.6.0", "--to", "1.7.0", "--procedure", "manual-meshctl"])
        .args(["--yes", "--confirm", "nginx-mesh", "--set", "meshed_namespaces=disk-app"])
        .args(support::NSM_SETTINGS)
        .arg(format!("--set=current_meshctl={}", old.display()))
        .arg(format!("--set=target_meshctl={}", new.display()))
        .env("NO_COLOR", "1");
    ignore_file_size_signal(&mut cmd);
    support::run_bounded(cmd, logs, BOUND)
}

/// With a file-size limit a write past it raises SIGXFSZ, which kills by
/// default; ignored (the disposition survives exec), the write fails with
/// EFBIG instead, which is what the drill wants.
fn ignore_file_size_signal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only sigaction runs between fork and exec, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::signal(nix::sys::signal::Signal::SIGXFSZ, nix::sys::signal::SigHandler::SigIgn)
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
}

fn steps(session: &Path) -> Vec<StepRecord> {
    serde_json::from_slice(&std::fs::read(session.join("steps.json")).unwrap()).unwrap()
}

/// What every disk drill must find afterwards.
async fn assert_failed_cleanly(
    drill: &str,
    ran: &Ran,
    session: &Path,
    client: &kube::Client,
    seeded: usize,
    ns: &[String],
) {
    let step = format!("{drill}, step `backup-resources`");
    assert_eq!(ran.code, Some(STEP_FAILED), "{step}: exit code\n{}", ran.show());
    assert!(!ran.stderr.contains("panicked") && !ran.stdout.contains("panicked"), "{step}: panicked\n{}", ran.show());
    let backup_dir = session.join("backups/backup-resources");
    assert!(
        ran.stdout.contains(&backup_dir.display().to_string()),
        "{step}: the message names the backup folder {}\n{}",
        backup_dir.display(),
        ran.show()
    );
    assert!(ran.stdout.contains("stepwise resume"), "{step}: the message says how to go on\n{}", ran.show());
    let steps = steps(session);
    for s in &steps {
        let expected = match s.step.as_str() {
            "check-target-cli" => StepState::Done,
            "backup-resources" => StepState::Failed,
            _ => StepState::Pending,
        };
        assert_eq!(s.state, expected, "{drill}, step `{}`: journal state\n{}", s.step, ran.show());
    }
    assert_eq!(seed::live(client, ns).await.len(), seeded, "{step}: nothing was removed from the cluster");
}

async fn seeded_cluster(tb: &support::TestCluster, client: &kube::Client) -> (Vec<String>, usize) {
    // The drills run at the same time; the first one seeds.
    static SEEDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = SEEDING.lock().await;
    seed::install_crds(&tb.kubectl, &tb.kubeconfig, &tb.context);
    let ns: Vec<String> = vec!["disk-team-a".into(), "disk-team-b".into()];
    // Both drills share these objects; a second seed finds them there already.
    if seed::live(client, &ns).await.is_empty() {
        seed::seed(client, &ns, 100).await;
    }
    let n = seed::live(client, &ns).await.len();
    (ns, n)
}

/// Plays the fault: as soon as the session's backup folder exists, makes it
/// unwritable. Returns a flag to stop watching and the mount to undo, if any.
fn make_backups_unwritable_when_created(
    state: PathBuf,
    root: bool,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<Option<Mount>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let watcher = std::thread::spawn(move || {
        while !stopped.load(Ordering::Relaxed) {
            let found = std::fs::read_dir(state.join("sessions")).ok().and_then(|mut d| {
                // Not the staging folder a session is assembled in (named `.creating-…`).
                d.find_map(|e| {
                    let e = e.ok().filter(|e| !e.file_name().to_string_lossy().starts_with('.'))?;
                    Some(e.path().join("backups")).filter(|p| p.is_dir())
                })
            });
            if let Some(backups) = found {
                let path = backups.to_str().unwrap();
                if root {
                    sh("mount", &["--bind", path, path]);
                    let mount = Mount(backups.clone());
                    sh("mount", &["-o", "remount,ro,bind", path]);
                    return Some(mount);
                }
                sh("chmod", &["0500", path]);
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    });
    (stop, watcher)
}

/// Both drills upgrade the same product on the same cluster, and a second
/// session beside the first is refused by its lease: one drill at a time.
static ONE_SESSION: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_backup_folder_fails_the_backup_and_marks_nothing_done() {
    const DRILL: &str = "disk drill, unwritable backup folder";
    let _one = ONE_SESSION.lock().await;
    let tb = support::cluster();
    let client = tb.client().await;
    let (ns, seeded) = seeded_cluster(tb, &client).await;
    let state = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let root = is_root();
    let (stop, watcher) = make_backups_unwritable_when_created(state.path().to_path_buf(), root);
    let ran = {
        let (state, logs) = (state.path().to_path_buf(), logs.path().to_path_buf());
        tokio::task::spawn_blocking(move || upgrade(tb, &state, &logs, &[])).await.unwrap()
    };
    stop.store(true, Ordering::Relaxed);
    let mount = watcher.join().unwrap();
    let session = support::only_session(state.path());
    assert_failed_cleanly(DRILL, &ran, &session, &client, seeded, &ns).await;
    let said = if root { "Read-only file system" } else { "Permission denied" };
    assert!(ran.stdout.contains(said), "{DRILL}, step `backup-resources`: says `{said}`\n{}", ran.show());
    drop(mount);
    if !root {
        sh("chmod", &["0700", session.join("backups").to_str().unwrap()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_backup_and_marks_nothing_done() {
    const DRILL: &str = "disk drill, disk full";
    let _one = ONE_SESSION.lock().await;
    let tb = support::cluster();
    let client = tb.client().await;
    let (ns, seeded) = seeded_cluster(tb, &client).await;
    let state = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    // Room for the session's own files, not for 600 objects (about 400 KiB).
    let (limit, _mount, said) = if is_root() {
        let path = state.path().to_str().unwrap();
        sh("mount", &["-t", "tmpfs", "-o", "size=160k,mode=0700", "tmpfs", path]);
        (None, Some(Mount(state.path().to_path_buf())), "No space left on device")
    } else {
        (Some("--fsize=160000"), None, "File too large")
    };
    let wrap: Vec<&str> = match limit {
        Some(l) => vec!["prlimit", l, "--"],
        None => vec![],
    };
    let ran = {
        let (state, logs) = (state.path().to_path_buf(), logs.path().to_path_buf());
        tokio::task::spawn_blocking(move || upgrade(tb, &state, &logs, &wrap)).await.unwrap()
    };
    let session = support::only_session(state.path());
    assert_failed_cleanly(DRILL, &ran, &session, &client, seeded, &ns).await;
    assert!(ran.stdout.contains(said), "{DRILL}, step `backup-resources`: says `{said}`\n{}", ran.show());
}
