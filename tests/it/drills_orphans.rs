//! Orphan drill: stepwise is killed (SIGKILL: nothing of it can clean up) while
//! a step's command runs. The command lives in a process group of its own and
//! goes on. The journal recorded it as it started, so a resume finds it still
//! running and starts nothing beside it: headless, it stops and says so; at a
//! terminal the operator stops it (its whole group), is asked whether it had
//! finished (with what it had printed: the transcript has it, written as it
//! arrived), runs it again, and the session ends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;

use std::time::Duration;

use stepwise::journal::{StepRecord, StepState};

/// The first run of the command sleeps long enough to be caught; later runs
/// end at once. Every start is counted in the marker file.
const PROCEDURE: &str = r#"id: upgrade
product: slow-mesh
title: Upgrade with the vendor tool
description: Runs one long command.
disruption: low
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: marker
    description: A file that counts the command's starts.
steps:
  - id: upgrade
    title: Run the vendor upgrade
    explain: Takes a long time the first time.
    command:
      argv: [sh, -c, 'echo started >> "$0"; echo "upgrade started"; if [ "$(wc -l < "$0")" -lt 2 ]; then sleep 300; fi; echo "upgrade done"', "{{marker}}"]
"#;

struct Scene {
    work: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let work = tempfile::tempdir().unwrap();
        let about = "A made-up product whose upgrade command takes a long time.";
        let product = support::two_release_product("slow-mesh", "Slow Mesh", about);
        support::write_runbooks(work.path(), "slow-mesh", &product, &[("upgrade.yaml", PROCEDURE)]);
        Scene { work }
    }

    fn state(&self) -> std::path::PathBuf {
        self.work.path().join("state")
    }

    fn marker(&self) -> std::path::PathBuf {
        self.work.path().join("starts")
    }

    fn starts(&self) -> usize {
        std::fs::read_to_string(self.marker()).map(|s| s.lines().count()).unwrap_or(0)
    }

    fn command(&self, tb: &support::TestCluster) -> std::process::Command {
        let mut cmd = support::stepwise_command(tb, &tb.context, &self.state());
        cmd.arg("--runbooks").arg(self.work.path().join("runbooks"));
        cmd
    }

    fn transcript(&self) -> String {
        let sessions = self.state().join("sessions");
        let Some(dir) = std::fs::read_dir(&sessions).ok().and_then(|mut d| d.next()?.ok()) else {
            return String::new();
        };
        std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap_or_default()
    }

    /// The session's steps as steps.json holds them, read without taking the
    /// session's lock (a running stepwise holds it).
    fn steps(&self) -> Option<Vec<StepRecord>> {
        let sessions = self.state().join("sessions");
        let dir = std::fs::read_dir(&sessions).ok()?.next()?.ok()?.path();
        serde_json::from_slice(&std::fs::read(dir.join("steps.json")).ok()?).ok()
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_left_running_by_a_killed_stepwise_is_found_and_nothing_runs_beside_it() {
    let tb = support::cluster();
    let scene = Scene::new();
    let mut cmd = scene.command(tb);
    cmd.args(["run", "slow-mesh", "--from", "1.0.0", "--to", "1.1.0", "--yes", "--set"]);
    cmd.arg(format!("marker={}", scene.marker().display()));
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut first = cmd.spawn().unwrap();

    // Killed once the command has started, the journal says so, and what it
    // printed is in the transcript (written as it arrives, not when it ends).
    let what = "the command to start and be recorded, its first line in the transcript";
    let child = support::wait_until(what, Duration::from_secs(60), || async {
        if scene.starts() == 0 || !scene.transcript().contains("upgrade started") {
            return None;
        }
        scene.steps()?.first()?.child.clone()
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(alive(child.pid), "the command outlived stepwise, as a real one would");
    assert_eq!(scene.steps().unwrap()[0].state, StepState::Running);

    // Headless: nothing starts beside it; it says what runs and what to do.
    let mut resume = scene.command(tb);
    resume.args(["resume", "--yes"]);
    let ran = support::run_bounded(resume, scene.work.path(), Duration::from_secs(60));
    assert_eq!(ran.code, Some(7), "the headless resume stops: {}", ran.show());
    let pid = child.pid.to_string();
    for needle in [pid.as_str(), "is still running", "nothing was started beside it", "the session can be resumed"] {
        assert!(ran.stdout.contains(needle) || ran.stderr.contains(needle), "says `{needle}`: {}", ran.show());
    }
    assert_eq!(scene.starts(), 1, "the command was not started again");
    assert!(alive(child.pid), "nor stopped without the operator's word");

    // At a terminal: stop it, say it did not finish, and it runs again to the end.
    let mut resume = scene.command(tb);
    resume.args(["resume", "--plain"]);
    let screen = tokio::task::spawn_blocking(move || stop_it_and_run_again(resume)).await.unwrap();
    assert!(screen.contains(&format!("(process {pid}) from the interrupted run is still running")), "{screen}");
    assert!(screen.contains("| upgrade started"), "the question shows what the command had printed: {screen}");
    assert!(!alive(child.pid), "the operator stopped it");
    assert_eq!(scene.starts(), 2, "it ran again once, after the first was stopped");
    let steps = scene.steps().unwrap();
    assert_eq!(steps[0].state, StepState::Done, "{steps:?}");
}

/// Answers the interactive resume in a pseudo-terminal: stop the command still
/// running, then "run it again", then confirm the step. Returns the screen.
fn stop_it_and_run_again(cmd: std::process::Command) -> String {
    let mut p = support::pty::Pty::spawn(cmd, "the resume at a terminal");
    // The second choice: stop it.
    p.answer("Nothing runs beside it. What now?", "\x1b[B\r");
    // The second choice: run it again.
    p.answer("Did it finish?", "\x1b[B\r");
    p.answer("Run \"Run the vendor upgrade\"?", "\r");
    p.answer("Session finished", "");
    p.finish()
}
