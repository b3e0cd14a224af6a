//! The session journal survives kill -9 at any moment: a child process runs a
//! known sequence of journal operations and is killed at random moments, twenty
//! times; after each kill the journal must hold exactly a prefix of that
//! sequence, nothing reported durable lost and no temporary file left.
//!
//! No test harness: the child is this same binary run with `--kill-child DIR`,
//! and a plain run (any other arguments, as `cargo test` passes them) is the
//! test itself, so every run checks the same thing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

#[path = "it/journal_fixture/mod.rs"]
mod journal_fixture;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use journal_fixture::{create, steps};
use stepwise::journal::{Journal, StepRecord, StepState};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--kill-child") {
        let dir = args.get(at + 1).expect("--kill-child needs the session folder");
        return kill_child(Path::new(dir));
    }
    if args.iter().any(|a| a == "--list") {
        println!("survives_kill_at_any_moment: test");
        return;
    }
    println!("running 1 test");
    survives_kill_at_any_moment();
    println!("test survives_kill_at_any_moment ... ok\n\ntest result: ok. 1 passed; 0 failed");
}

const KILL_STEPS: usize = 7;

/// The child side of `survives_kill_at_any_moment`, in a process of its own
/// (this binary with `--kill-child DIR`), killed at a random moment.
///
/// Continues a deterministic sequence of operations: operation `t` starts step
/// `t % KILL_STEPS`, finishes it as done with outcome `op t`, and appends `t` to the
/// transcript. `t` is recovered from the journal (the sum of attempts), so whatever
/// state a kill leaves must be exactly a prefix of that sequence.
fn kill_child(dir: &Path) {
    let mut journal = Journal::open(dir).expect("child opens the session");
    let mut t: usize = journal.steps().iter().map(|s| s.attempts as usize).sum();
    let mut out = std::io::stdout();
    writeln!(out, "READY {t}").unwrap();
    out.flush().unwrap();
    if t > 0 && journal.steps()[(t - 1) % KILL_STEPS].state == StepState::Running {
        journal.finish_step((t - 1) % KILL_STEPS, StepState::Done, Some(format!("op {}", t - 1)), None).unwrap();
        journal.append_transcript("op", &(t - 1)).unwrap();
    }
    loop {
        let index = t % KILL_STEPS;
        journal.start_step(index).unwrap();
        writeln!(out, "DURABLE {}", t + 1).unwrap();
        journal.finish_step(index, StepState::Done, Some(format!("op {t}")), None).unwrap();
        journal.append_transcript("op", &t).unwrap();
        t += 1;
    }
}

/// Checks the journal is exactly the state after some prefix of the child's
/// operations; returns how many operations it holds.
fn check_prefix(journal: &Journal) -> usize {
    let steps = journal.steps();
    let t: usize = steps.iter().map(|s| s.attempts as usize).sum();
    for (i, step) in steps.iter().enumerate() {
        let expected_attempts = t / KILL_STEPS + usize::from(i < t % KILL_STEPS);
        assert_eq!(step.attempts as usize, expected_attempts, "step {i} after {t} operations: {step:?}");
        if expected_attempts == 0 {
            assert_eq!(step, &steps_for_kill()[i], "step {i} never started");
            continue;
        }
        let last_op = (expected_attempts - 1) * KILL_STEPS + i;
        assert!(step.started_at.is_some(), "{step:?}");
        let finished = step.state == StepState::Done;
        let may_be_running = last_op == t - 1;
        if !finished {
            assert!(may_be_running && step.state == StepState::Running, "step {i} after {t} operations: {step:?}");
            assert!(step.ended_at.is_none() && step.outcome.is_none(), "{step:?}");
        } else {
            assert_eq!(step.outcome.as_deref(), Some(format!("op {last_op}").as_str()), "{step:?}");
            assert!(step.ended_at.is_some(), "{step:?}");
        }
    }
    // Transcript: whole JSON lines, operations in order, none beyond the journal.
    let ops: Vec<usize> =
        journal.read_transcript().unwrap().iter().map(|e| e.payload.as_u64().unwrap() as usize).collect();
    assert!(ops.windows(2).all(|w| w[0] < w[1]), "{ops:?}");
    assert!(ops.last().is_none_or(|&last| last < t), "{ops:?} after {t}");
    t
}

fn steps_for_kill() -> Vec<StepRecord> {
    steps(KILL_STEPS)
}

/// A small xorshift: random enough to spread the kills, without a dependency.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn survives_kill_at_any_moment() {
    let state = tempfile::tempdir().unwrap();
    let dir = create(state.path(), "kuma", KILL_STEPS).dir().to_path_buf();
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut durable_seen = 0;
    let mut total = 0;
    let (mut mid_step, mut torn_temps) = (0, 0);
    for round in 0..20 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--kill-child")
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                panic!("round {round}: the child ended before it was ready: {err}");
            }
            if line.contains("READY") {
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(next_random(&mut seed) % 30_000));
        child.kill().unwrap();
        child.wait().unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        if let Some(n) = rest.lines().filter_map(|l| l.strip_prefix("DURABLE ")?.parse::<usize>().ok()).max() {
            durable_seen = durable_seen.max(n);
        }

        let torn = fs::read_dir(&dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().contains(".tmp-"));
        torn_temps += usize::from(torn);
        let journal = Journal::open(&dir).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let t = check_prefix(&journal);
        mid_step += usize::from(journal.steps().iter().any(|s| s.state == StepState::Running));
        assert!(t >= durable_seen, "round {round}: {durable_seen} operations were reported durable, {t} survived");
        assert!(t >= total, "round {round}: operations were lost ({total} -> {t})");
        total = t;
        let leftovers: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "open clears temp files: {leftovers:?}");
    }
    assert!(total >= 20, "the children got through only {total} operations; the kills tested little");
    assert!(mid_step > 0, "no kill landed between starting and finishing a step");
    eprintln!("{total} operations over 20 kills; {mid_step} inside a step, {torn_temps} left a temp file");
}
