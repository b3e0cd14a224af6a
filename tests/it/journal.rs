//! The session journal against real files: round trips, crash leftovers, damage,
//! listing, locking and permissions (kill -9 at random moments: journal_kill.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use stepwise::base::Mode;
use stepwise::journal::{Journal, JournalError, RunbookChange, SessionStatus, StepState, sessions_dir};

use crate::journal_fixture;
use journal_fixture::{create, steps};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn create_then_open_round_trips() {
    let state = tempfile::tempdir().unwrap();
    let journal = create(state.path(), "nginx-service-mesh", 6);
    let id = journal.id().to_string();
    let dir = journal.dir().to_path_buf();
    assert_eq!(dir, sessions_dir(state.path()).join(&id));
    assert!(id.ends_with("-nginx-service-mesh-1.6.0-to-1.7.0"), "{id}");
    let stamp = &id[..15];
    assert!(stamp[..8].bytes().all(|b| b.is_ascii_digit()) && &stamp[8..9] == "-", "{id}");
    assert!(stamp[9..].bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert!(journal.meta().created_at.ends_with('Z') && journal.meta().created_at.contains('T'));
    assert_eq!(journal.backups_dir(), dir.join("backups"));
    assert!(journal.backups_dir().is_dir());
    assert_eq!(journal.report_path(), dir.join("report.md"));
    let created_meta = journal.meta().clone();
    drop(journal);

    let journal = Journal::open(&dir).unwrap();
    assert_eq!(journal.id(), id);
    assert_eq!(journal.meta().id, id);
    assert_eq!(journal.meta().created_at, created_meta.created_at);
    assert_eq!(journal.meta().product, "nginx-service-mesh");
    assert_eq!(journal.meta().mode, Mode::Real);
    assert_eq!(journal.meta().target, created_meta.target);
    assert_eq!(journal.meta().cluster, created_meta.cluster);
    assert_eq!(journal.meta().runbooks, created_meta.runbooks);
    assert_eq!(journal.meta().variables, created_meta.variables);
    assert_eq!(journal.meta().facts, created_meta.facts);
    assert_eq!(journal.meta().plan, created_meta.plan);
    assert_eq!(journal.meta().status, SessionStatus::Running);
    assert_eq!(journal.steps(), steps(6).as_slice());
    let on_disk: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("session.json")).unwrap()).unwrap();
    assert_eq!(on_disk["status"], "running");
    assert_eq!(on_disk["mode"], "real");
}

#[test]
fn ids_taken_in_the_same_second_get_a_number() {
    let state = tempfile::tempdir().unwrap();
    let journals: Vec<Journal> = (0..3).map(|_| create(state.path(), "kuma", 1)).collect();
    let ids: Vec<&str> = journals.iter().map(Journal::id).collect();
    for (n, id) in ids.iter().enumerate() {
        let base = &id[..15];
        let earlier_same_second = ids[..n].iter().filter(|other| other.starts_with(base)).count();
        let expected = match earlier_same_second {
            0 => format!("{base}-kuma-1.6.0-to-1.7.0"),
            k => format!("{base}-kuma-1.6.0-to-1.7.0-{}", k + 1),
        };
        assert_eq!(*id, expected, "{ids:?}");
    }
}

#[test]
fn step_changes_persist_across_reopen() {
    let state = tempfile::tempdir().unwrap();
    let mut journal = create(state.path(), "kuma", 5);
    let dir = journal.dir().to_path_buf();
    journal.start_step(0).unwrap();
    journal.finish_step(0, StepState::Done, Some("applied 3 objects".into()), None).unwrap();
    journal.start_step(1).unwrap();
    journal.finish_step(1, StepState::Failed, Some("timed out".into()), Some("deployment not ready".into())).unwrap();
    journal.start_step(1).unwrap();
    journal.finish_step(2, StepState::Skipped, Some("operator skipped".into()), None).unwrap();
    journal.set_status(SessionStatus::Interrupted).unwrap();
    journal
        .update_meta(|m| {
            m.runbooks.insert("mesh/new.yaml".into(), "cd".repeat(32));
            m.id = "not-allowed".into();
        })
        .unwrap();
    let expected = journal.steps().to_vec();
    drop(journal);

    let mut journal = Journal::open(&dir).unwrap();
    assert_eq!(journal.steps(), expected.as_slice());
    let s0 = &journal.steps()[0];
    assert_eq!((s0.state, s0.attempts, s0.outcome.as_deref()), (StepState::Done, 1, Some("applied 3 objects")));
    assert!(s0.started_at.is_some() && s0.ended_at.is_some());
    assert!(s0.started_at <= s0.ended_at, "timestamps sort as strings");
    let s1 = &journal.steps()[1];
    assert_eq!((s1.state, s1.attempts), (StepState::Running, 2));
    assert!(s1.ended_at.is_none() && s1.outcome.is_none() && s1.error.is_none(), "a new attempt starts clean");
    assert_eq!(journal.steps()[2].state, StepState::Skipped);
    assert_eq!(journal.meta().status, SessionStatus::Interrupted);
    assert!(journal.meta().runbooks.contains_key("mesh/new.yaml"));
    assert_ne!(journal.id(), "not-allowed", "the id names the directory and stays");
    assert_eq!(dir.file_name().unwrap().to_str().unwrap(), journal.id());

    assert!(matches!(journal.start_step(5), Err(JournalError::NoSuchStep { index: 5, count: 5, .. })));

    // Recovering marks what was running as interrupted.
    journal.set_status(SessionStatus::Running).unwrap();
    assert!(journal.recover_interrupted().unwrap());
    drop(journal);
    let journal = Journal::open(&dir).unwrap();
    assert_eq!(journal.steps()[1].state, StepState::Interrupted);
    assert_eq!(journal.meta().status, SessionStatus::Interrupted);
}

#[test]
fn first_unfinished_skips_done_and_skipped() {
    let state = tempfile::tempdir().unwrap();
    let mut journal = create(state.path(), "kuma", 4);
    assert_eq!(journal.first_unfinished(), Some(0));
    journal.finish_step(0, StepState::Done, None, None).unwrap();
    journal.finish_step(1, StepState::Skipped, None, None).unwrap();
    journal.finish_step(3, StepState::Done, None, None).unwrap();
    assert_eq!(journal.first_unfinished(), Some(2));
    journal.finish_step(2, StepState::Failed, None, Some("boom".into())).unwrap();
    assert_eq!(journal.first_unfinished(), Some(2), "a failed step is not finished");
    journal.finish_step(2, StepState::Done, None, None).unwrap();
    assert_eq!(journal.first_unfinished(), None);
    assert_eq!(StepState::Interrupted.to_string(), "interrupted");
    assert_eq!(SessionStatus::Abandoned.to_string(), "abandoned");
    assert!(SessionStatus::Failed.is_unfinished() && !SessionStatus::Finished.is_unfinished());
}

#[test]
fn transcript_is_json_lines_that_survive_reopen() {
    let state = tempfile::tempdir().unwrap();
    let mut journal = create(state.path(), "kuma", 2);
    let dir = journal.dir().to_path_buf();
    journal.append_transcript("question", &serde_json::json!({"text": "Proceed?", "quote": "a \"b\"\nc"})).unwrap();
    journal.append_transcript("answer", &"yes").unwrap();
    drop(journal);

    let mut journal = Journal::open(&dir).unwrap();
    journal.append_transcript("event", &vec![1, 2, 3]).unwrap();
    let text = fs::read_to_string(dir.join("transcript.jsonl")).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["kind"], "question");
    assert_eq!(lines[0]["payload"]["quote"], "a \"b\"\nc");
    assert_eq!(lines[1]["payload"], "yes");
    assert_eq!(lines[2]["payload"], serde_json::json!([1, 2, 3]));
    assert!(lines.iter().all(|l| l["at"].as_str().is_some_and(|at| at.ends_with('Z'))));
    let entries = journal.read_transcript().unwrap();
    assert_eq!(entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["question", "answer", "event"]);
    drop(journal);

    // Half a line, as a power cut mid-append leaves: not read, and cut off before
    // the next append so that it cannot glue itself to it.
    let mut file = fs::OpenOptions::new().append(true).open(dir.join("transcript.jsonl")).unwrap();
    file.write_all(br#"{"at":"2026-01-01T00:00:00.000000Z","kind":"tor"#).unwrap();
    drop(file);
    let mut journal = Journal::open(&dir).unwrap();
    assert_eq!(journal.read_transcript().unwrap().len(), 3);
    journal.append_transcript("after", &"crash").unwrap();
    let entries = journal.read_transcript().unwrap();
    assert_eq!(entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["question", "answer", "event", "after"]);
}

#[test]
fn a_torn_temp_file_is_ignored_and_cleaned() {
    let state = tempfile::tempdir().unwrap();
    let mut journal = create(state.path(), "kuma", 3);
    journal.finish_step(0, StepState::Done, Some("ok".into()), None).unwrap();
    let dir = journal.dir().to_path_buf();
    let expected = journal.steps().to_vec();
    drop(journal);
    // What a writer killed between writing its temp file and renaming it leaves.
    let torn = dir.join(".steps.json.tmp-123");
    fs::write(&torn, br#"[{"hop": 0, "step": "step-0", "ite"#).unwrap();
    let torn_meta = dir.join(".session.json.tmp-456");
    fs::write(&torn_meta, b"").unwrap();

    let read_only = Journal::open_read_only(&dir).unwrap();
    assert_eq!(read_only.steps(), expected.as_slice());
    assert!(torn.exists(), "looking does not change anything");
    drop(read_only);

    let journal = Journal::open(&dir).unwrap();
    assert_eq!(journal.steps(), expected.as_slice());
    assert!(!torn.exists() && !torn_meta.exists(), "opening to drive the session clears leftovers");
    assert_eq!(Journal::list(state.path()).unwrap()[0].damaged, None);
}

#[test]
fn damaged_or_missing_files_are_named() {
    let state = tempfile::tempdir().unwrap();
    let journal = create(state.path(), "kuma", 3);
    let dir = journal.dir().to_path_buf();
    drop(journal);
    let steps_file = dir.join("steps.json");
    fs::write(&steps_file, b"[{\"hop\": 0, \"step\": ").unwrap();
    for opened in [Journal::open(&dir), Journal::open_read_only(&dir)] {
        let err = opened.unwrap_err();
        assert!(matches!(&err, JournalError::Damaged { path, .. } if *path == steps_file), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&steps_file.display().to_string()), "{message}");
        assert!(message.contains("damaged") && message.contains("line 1"), "{message}");
    }

    fs::remove_file(&steps_file).unwrap();
    let message = Journal::open(&dir).unwrap_err().to_string();
    assert!(message.contains("steps.json is missing"), "{message}");

    let not_a_session = state.path().join("elsewhere");
    fs::create_dir(&not_a_session).unwrap();
    let err = Journal::open(&not_a_session).unwrap_err();
    assert!(matches!(err, JournalError::NotASession { .. }), "{err:?}");
    assert!(!not_a_session.join("lock").exists(), "nothing is written into a directory that is not a session");
}

#[test]
fn listing_is_newest_first_and_reports_damage() {
    let state = tempfile::tempdir().unwrap();
    let mut oldest = create(state.path(), "kuma", 3);
    oldest.start_step(0).unwrap();
    oldest.finish_step(0, StepState::Done, None, None).unwrap();
    oldest.start_step(1).unwrap();
    oldest.finish_step(1, StepState::Failed, None, Some("x".into())).unwrap();
    oldest.set_status(SessionStatus::Failed).unwrap();
    let damaged = create(state.path(), "kong-mesh", 2);
    let newest = create(state.path(), "nginx-service-mesh", 2);
    let ids = [newest.id().to_string(), damaged.id().to_string(), oldest.id().to_string()];
    fs::write(damaged.dir().join("steps.json"), b"{not json").unwrap();
    // A directory whose meta is unreadable is still listed, by the time in its name.
    let unreadable = sessions_dir(state.path()).join("20000101-000000-lost-1-to-2");
    fs::create_dir(&unreadable).unwrap();
    fs::write(unreadable.join("session.json"), b"").unwrap();
    // Neither hidden entries nor plain files are sessions.
    fs::create_dir(sessions_dir(state.path()).join(".creating-x")).unwrap();
    fs::write(sessions_dir(state.path()).join("notes.txt"), b"hi").unwrap();

    // Listing works while the sessions are open (and locked) elsewhere.
    let list = Journal::list(state.path()).unwrap();
    let listed: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(listed, [ids[0].as_str(), ids[1].as_str(), ids[2].as_str(), "20000101-000000-lost-1-to-2"]);

    assert_eq!(list[0].product, "nginx-service-mesh");
    assert_eq!((list[0].from.as_str(), list[0].to.as_str()), ("1.6.0", "1.7.0"));
    assert_eq!((list[0].server.as_str(), list[0].context.as_str()), ("https://10.0.0.1:6443", "prod"));
    assert_eq!(list[0].mode, Mode::Real);
    assert_eq!(list[0].status, SessionStatus::Running);
    assert_eq!(list[0].last_step, None);
    assert_eq!(list[0].damaged, None);
    assert_eq!(list[0].dir, newest.dir());

    let note = list[1].damaged.as_deref().expect("damaged");
    assert!(note.contains("steps.json") && note.contains("damaged"), "{note}");
    assert_eq!(list[1].product, "kong-mesh", "what could be read is still shown");

    assert_eq!(list[2].status, SessionStatus::Failed);
    assert_eq!(list[2].last_step.as_deref(), Some("Step 1 (failed)"));
    assert_eq!(list[2].damaged, None);

    let note = list[3].damaged.as_deref().expect("damaged");
    assert!(note.contains("session.json") && note.contains("empty"), "{note}");

    let empty = tempfile::tempdir().unwrap();
    assert!(Journal::list(empty.path()).unwrap().is_empty());
}

/// Listing says whether a process drives each session, by a probe that
/// leaves the lock and the session's files alone; a session left running by a
/// process that is gone reads as ended unrecorded, its step cut short.
#[test]
fn listing_probes_liveness_without_touching_the_session() {
    let state = tempfile::tempdir().unwrap();
    let mut journal = create(state.path(), "nginx-service-mesh", 2);
    journal.start_step(0).unwrap();
    let torn = journal.dir().join(".steps.json.tmp-torn");
    fs::write(&torn, b"half").unwrap();
    let listed = &Journal::list(state.path()).unwrap()[0];
    assert!(listed.held && !listed.ended_unrecorded(), "{listed:?}");
    assert_eq!(listed.last_step.as_deref(), Some("Step 0 (running)"));
    let dir = journal.dir().to_path_buf();
    drop(journal);
    let listed = &Journal::list(state.path()).unwrap()[0];
    assert!(!listed.held && listed.ended_unrecorded(), "{listed:?}");
    assert_eq!(listed.last_step.as_deref(), Some("Step 0 (cut short)"));
    assert!(torn.exists(), "listing removes nothing");
    Journal::open(&dir).expect("the lock is free after listing");
}

#[test]
fn newest_unfinished_skips_finished_and_filters_by_product() {
    let state = tempfile::tempdir().unwrap();
    assert!(Journal::newest_unfinished(state.path(), None).unwrap().is_none());
    let mut kuma_failed = create(state.path(), "kuma", 2);
    kuma_failed.set_status(SessionStatus::Failed).unwrap();
    let kuma_failed_id = kuma_failed.id().to_string();
    let mut mesh_interrupted = create(state.path(), "kong-mesh", 2);
    mesh_interrupted.set_status(SessionStatus::Interrupted).unwrap();
    let mesh_id = mesh_interrupted.id().to_string();
    let mut kuma_done = create(state.path(), "kuma", 2);
    kuma_done.set_status(SessionStatus::Finished).unwrap();
    let mut abandoned = create(state.path(), "kuma", 2);
    abandoned.set_status(SessionStatus::Abandoned).unwrap();
    for journal in [kuma_failed, mesh_interrupted, kuma_done, abandoned] {
        drop(journal);
    }

    let any = Journal::newest_unfinished(state.path(), None).unwrap().expect("one");
    assert_eq!(any.id(), mesh_id);
    drop(any);
    let kuma = Journal::newest_unfinished(state.path(), Some("kuma")).unwrap().expect("one");
    assert_eq!(kuma.id(), kuma_failed_id);
    assert!(!kuma.is_read_only(), "resume drives the session, so it holds the lock");
    assert!(Journal::newest_unfinished(state.path(), Some("kong-gateway")).unwrap().is_none());

    // The newest unfinished one in use elsewhere is an error, not a silent pick of another.
    let err = Journal::newest_unfinished(state.path(), Some("kuma")).unwrap_err();
    assert!(matches!(err, JournalError::InUse { .. }), "{err:?}");
}

#[test]
fn open_id_finds_a_session_or_lists_the_newest() {
    let state = tempfile::tempdir().unwrap();
    let first = create(state.path(), "kuma", 1);
    let second = create(state.path(), "kong-mesh", 1);
    let (first_id, second_id) = (first.id().to_string(), second.id().to_string());
    drop((first, second));
    assert_eq!(Journal::open_id(state.path(), &first_id).unwrap().id(), first_id);
    for wrong in ["no-such-session", "../sessions", ""] {
        let err = Journal::open_id(state.path(), wrong).unwrap_err();
        let JournalError::UnknownSession { newest, .. } = &err else { panic!("{err:?}") };
        assert_eq!(newest, &[second_id.clone(), first_id.clone()]);
        let message = err.to_string();
        assert!(message.contains(&second_id) && message.contains("stepwise sessions"), "{message}");
    }
}

#[test]
fn one_process_at_a_time_drives_a_session() {
    let state = tempfile::tempdir().unwrap();
    let mut journal = create(state.path(), "kuma", 2);
    let dir = journal.dir().to_path_buf();
    let err = Journal::open(&dir).unwrap_err();
    let JournalError::InUse { id, pid, .. } = &err else { panic!("{err:?}") };
    assert_eq!(id, journal.id());
    assert_eq!(*pid, Some(std::process::id()));
    let message = err.to_string();
    assert!(message.contains("in use by another stepwise process") && message.contains("pid "), "{message}");

    // Looking is fine; changing through a read-only handle is not.
    let mut look = Journal::open_read_only(&dir).unwrap();
    assert!(look.is_read_only());
    assert!(matches!(look.start_step(0), Err(JournalError::ReadOnly { .. })));
    assert!(matches!(look.append_transcript("x", &1), Err(JournalError::ReadOnly { .. })));
    assert!(matches!(look.set_status(SessionStatus::Finished), Err(JournalError::ReadOnly { .. })));
    journal.start_step(0).unwrap();
    drop(journal);

    let reopened = Journal::open(&dir).expect("the lock goes with the journal");
    assert_eq!(reopened.steps()[0].state, StepState::Running);
    assert!(Journal::open(&dir).is_err());
}

#[test]
fn files_are_private() {
    let state = tempfile::tempdir().unwrap();
    let fresh_state = state.path().join("state");
    let mut journal = create(&fresh_state, "kuma", 2);
    journal.append_transcript("event", &"x").unwrap();
    journal.finish_step(0, StepState::Done, None, None).unwrap();
    let dir = journal.dir();
    assert_eq!(mode(&fresh_state), 0o700);
    assert_eq!(mode(&sessions_dir(&fresh_state)), 0o700);
    assert_eq!(mode(dir), 0o700);
    assert_eq!(mode(&journal.backups_dir()), 0o700);
    for file in ["session.json", "steps.json", "transcript.jsonl", "lock"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    let leftovers: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn resume_checks_cluster_and_runbooks() {
    let state = tempfile::tempdir().unwrap();
    let journal = create(state.path(), "kuma", 1);
    let mut same = journal.meta().cluster.clone();
    same.context = "renamed".into();
    same.server = "https://lb.example:6443".into();
    journal.check_cluster(&same).expect("same kube-system uid is the same cluster");
    let mut other = journal.meta().cluster.clone();
    other.kube_system_uid = "uid-2".into();
    let message = journal.check_cluster(&other).unwrap_err().to_string();
    assert!(message.contains("uid-1") && message.contains("uid-2") && message.contains("--context"), "{message}");

    let mut current = journal.meta().runbooks.clone();
    assert!(journal.changed_runbooks(&current).is_empty());
    current.insert("mesh/in-place.yaml".into(), "ef".repeat(32));
    current.insert("mesh/extra.yaml".into(), "01".repeat(32));
    let changes = journal.changed_runbooks(&current);
    assert!(matches!(&changes[0], RunbookChange::Added { file } if file == "mesh/extra.yaml"), "{changes:?}");
    assert!(matches!(&changes[1], RunbookChange::Modified { file, .. } if file == "mesh/in-place.yaml"));
    assert!(changes[1].to_string().contains("changed"));
}
