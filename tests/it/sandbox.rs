//! The README's first command, `tests/sandbox/sandbox.sh`, in a real terminal
//! (tmux with a socket of its own): it brings the sandbox up, the wizard shows
//! the plan of the manual NGINX Service Mesh upgrade, leaving the wizard stops
//! the sandbox, and nothing of it is left running.
//!
//! It runs the way a newcomer would: from a fresh copy of the repository (the
//! files git knows, nothing built in it but the shared `target/` link, so
//! cargo compiles stepwise again there) in a shell environment holding only
//! PATH, HOME, TERM and the cache and cargo locations.
//!
//! The run's test bed has two API servers; the sandbox brings a third. So
//! the test takes one of the bed's clusters and stops its API server while the
//! sandbox runs, starting it again however the test ends: never more than two
//! run at once. And however the test ends, nothing of the sandbox is left.
//!
//! The screen it sees is the README's screenshot (docs/screenshot.txt): the
//! test fails when the two differ beyond numbers and spacing, and
//! `STEPWISE_WRITE_README=1` writes the new screen there and fails, so the
//! next run checks it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;
use crate::support::TestCluster;
use crate::support::tmux::Terminal;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The terminal the screenshot is taken in.
const SIZE: (u16, u16) = (120, 40);
/// A fresh machine builds the test bed and stepwise first.
const UP_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const DOWN_TIMEOUT: Duration = Duration::from_secs(120);
/// The sandbox directory's random part, replaced in the screenshot.
const RANDOM_LEN: usize = 6;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the repository as a fresh clone has it: every file git tracks
/// or would track (so uncommitted work is tested too), nothing ignored. Its
/// `target` links to this build's, so the dependencies are not compiled a
/// second time; stepwise itself is, from the copy, in the clean environment.
fn fresh_copy(into: &Path) -> PathBuf {
    let files = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(repo())
        .output()
        .expect("git runs");
    assert!(files.status.success(), "git ls-files: {}", String::from_utf8_lossy(&files.stderr));
    let copy = into.join("stepwise");
    for name in files.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let rel = Path::new(std::str::from_utf8(name).unwrap());
        let (from, to) = (repo().join(rel), copy.join(rel));
        // A file deleted in the work tree but still in the index is gone.
        let Ok(meta) = std::fs::symlink_metadata(&from) else { continue };
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from).unwrap(), &to).unwrap();
        } else {
            std::fs::copy(&from, &to).unwrap();
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"));
    std::os::unix::fs::symlink(target, copy.join("target")).unwrap();
    copy
}

/// A cluster of the bed whose API server is stopped until this is dropped.
struct Stopped(&'static TestCluster);

impl Stopped {
    fn stop(cluster: &'static TestCluster) -> Stopped {
        cluster.stop_apiserver();
        Stopped(cluster)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // A panic inside a drop that runs for a panic would abort the run.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.start_apiserver())).is_err() {
            eprintln!("the bed's API server did not start again after the sandbox");
        }
    }
}

/// Stops whatever of the sandbox still runs when the test ends early: a failed
/// assertion must not leave a control plane behind for the rest of the run.
struct Leftovers(PathBuf);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in processes_under(&self.0).iter().filter_map(|p| p.split_once(':')).map(|(pid, _)| pid) {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Process ids whose arguments mention `dir`.
fn processes_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if args.iter().any(|a| a == &dir || a.starts_with(&format!("{dir}/"))) {
            found.push(format!("{}: {}", entry.file_name().to_string_lossy(), args.join(" ")));
        }
    }
    found
}

/// The screen without what changes from run to run: numbers (ports, times,
/// session ids) and the width of the spaces around them.
fn essence(screen: &str) -> String {
    let digits = regex::Regex::new(r"\d+").unwrap();
    let spaces = regex::Regex::new(r"\s+").unwrap();
    screen
        .lines()
        .map(|l| spaces.replace_all(&digits.replace_all(l, "0"), " ").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn plan_on_screen(screen: &str) -> bool {
    [
        "nginx-service-mesh 1.6.0 -> 1.7.0",
        "Save the mesh custom resources",
        "Remove the mesh",
        "Deploy the target release",
    ]
    .iter()
    .all(|s| screen.contains(s))
}

#[test]
fn the_sandbox_opens_the_wizard_on_the_plan_and_stops_when_it_ends() {
    let parent =
        tempfile::Builder::new().prefix("stepwise-sandbox-").rand_bytes(RANDOM_LEN).tempdir_in("/tmp").unwrap();
    let dir = parent.path().to_path_buf();
    // Declared in this order, they are undone the other way round: the
    // sandbox's leftovers go before the bed's API server comes back.
    let _stopped = Stopped::stop(support::cluster());
    let _leftovers = Leftovers(dir.clone());
    let clone_parent = tempfile::Builder::new().prefix("stepwise-clone-").tempdir().unwrap();
    let clone = fresh_copy(clone_parent.path());
    let script = clone.join("tests/sandbox/sandbox.sh");
    // The tmux server started here passes this environment to the script: a
    // person's shell, plus the sandbox's two documented settings (where it
    // lives, so this test can look; no pause before the wizard).
    let tmux = Terminal::open(SIZE, &script, &[], &[], |start| {
        support::clean_env(start)
            .current_dir(&clone)
            .env("STEPWISE_SANDBOX_DIR", &dir)
            .env("STEPWISE_SANDBOX_PAUSE", "0");
    });

    // Up to the plan: the wizard first asks for the variables that have
    // defaults; Enter takes each default, as a newcomer would.
    let began = Instant::now();
    let mut answered = 0;
    let screen = loop {
        let screen = tmux.screen();
        // The first question comes with the plan: wait for both, so the
        // screenshot is always of the same moment.
        if plan_on_screen(&screen) && screen.contains("I have read this") {
            break screen;
        }
        if let Some(status) = tmux.exited() {
            panic!("the sandbox script ended ({status}) before the plan showed:\n{screen}");
        }
        assert!(began.elapsed() < UP_TIMEOUT, "no plan on screen after {UP_TIMEOUT:?}:\n{screen}");
        if screen.contains("A value for `") {
            tmux.press(&["Enter"]);
            answered += 1;
            assert!(answered < 20, "the wizard keeps asking:\n{screen}");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!("plan on screen after {:.0?}", began.elapsed());
    let daemon: String = std::fs::read_to_string(dir.join("daemon.pid")).unwrap().trim().to_string();
    assert!(Path::new(&format!("/proc/{daemon}")).exists(), "the sandbox's cluster side runs");
    check_screenshot(&screen, &dir);

    // Leaving: q asks, y leaves; then the script stops the sandbox.
    tmux.press(&["q"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux.press(&["y"]);
    let began = Instant::now();
    let status = loop {
        if let Some(status) = tmux.exited() {
            break status;
        }
        assert!(began.elapsed() < DOWN_TIMEOUT, "still running after leaving:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(300));
    };
    let last = tmux.screen();
    assert_eq!(status, 7, "leaving at a question stops the session (exit 7):\n{last}");
    assert!(last.contains("nothing of the sandbox is left running"), "{last}");
    assert!(!Path::new(&format!("/proc/{daemon}")).exists(), "the cluster side stopped");
    let left = processes_under(&dir);
    assert!(left.is_empty(), "left running:\n{}", left.join("\n"));
    assert!(!dir.exists(), "the sandbox directory is removed");
}

/// Compares the screen with docs/screenshot.txt, or writes it there when asked.
fn check_screenshot(screen: &str, dir: &Path) {
    let dir = dir.to_string_lossy();
    let shown = format!("{}{}", &dir[..dir.len() - RANDOM_LEN], "X".repeat(RANDOM_LEN));
    let screen: String = screen.replace(dir.as_ref(), &shown).lines().map(|l| format!("{}\n", l.trim_end())).collect();
    let path = repo().join("docs/screenshot.txt");
    if std::env::var_os("STEPWISE_WRITE_README").is_some() {
        std::fs::write(&path, &screen).unwrap();
        // Rewriting never passes: the next run compares what was written.
        panic!("wrote {}; run again without STEPWISE_WRITE_README to check it", path.display());
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        essence(&committed),
        essence(&screen),
        "the screen differs from {} (numbers aside); if the change is meant, run \
         `STEPWISE_WRITE_README=1 tests/run --test it sandbox::` and then `STEPWISE_WRITE_README=1 tests/run --test it readme::`. \
         The screen now:\n{screen}",
        path.display()
    );
}
