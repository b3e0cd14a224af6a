//! The journal of one session: creating it, opening it again, and recording each
//! change durably before the engine moves on.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::clock;
use super::error::JournalError;
use super::files::{
    BACKUPS_DIR, REPORT_FILE, SESSION_FILE, STEPS_FILE, TRANSCRIPT_FILE, read_json, remove_torn_temps, write_json,
};
use super::lock::SessionLock;
use super::session::{SessionMeta, SessionStatus};
use super::state_dir::sessions_dir;
use super::steps::{StepRecord, StepState};
use super::transcript::{self, TranscriptEntry, TranscriptSink};
use crate::durable;

/// How many `-2`, `-3`… suffixes to try before concluding something else is wrong.
const MAX_ID_SUFFIX: u32 = 1000;
/// Prefix of the directory a session is assembled in before it gets its name.
const STAGING_PREFIX: &str = ".creating-";
/// How old a staging directory must be before it counts as abandoned.
const STAGING_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    meta: SessionMeta,
    steps: Vec<StepRecord>,
    transcript: TranscriptSink,
    /// `None` when opened read-only; otherwise held until the journal is dropped.
    lock: Option<SessionLock>,
}

impl Journal {
    /// Starts a new session under `<state_dir>/sessions/`, sets its id and creation
    /// time, and returns it locked.
    ///
    /// The session is assembled in a hidden directory and renamed into place whole,
    /// so a crash during creation never leaves a half-made session to be listed.
    pub fn create(state_dir: &Path, mut meta: SessionMeta, steps: Vec<StepRecord>) -> Result<Journal, JournalError> {
        let sessions = ensure_sessions_dir(state_dir)?;
        remove_abandoned_staging(&sessions);
        let stamp = clock::now();
        meta.created_at = stamp.rfc3339;
        let base =
            format!("{}-{}-{}-to-{}", stamp.compact, id_part(&meta.product), id_part(&meta.from), id_part(&meta.to));
        let staging = sessions.join(format!("{STAGING_PREFIX}{base}-{}", std::process::id()));
        durable::create_private_dir(&staging).map_err(JournalError::io("create the session directory", &staging))?;
        let made = assemble(&sessions, &staging, &base, meta, steps);
        if made.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        made
    }

    /// Opens a session to drive it: takes the lock, clears what a killed writer left
    /// behind, and reads the meta and the step records.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        if !dir.join(SESSION_FILE).exists() {
            return Err(JournalError::NotASession { dir: dir.to_path_buf() });
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let lock = SessionLock::acquire(dir, &name)?;
        remove_torn_temps(dir);
        let mut journal = Self::read(dir)?;
        journal.lock = Some(lock);
        Ok(journal)
    }

    /// Opens a session only to look at it: no lock, so it works while another
    /// process drives the session, and every change is refused.
    pub fn open_read_only(dir: &Path) -> Result<Journal, JournalError> {
        if !dir.join(SESSION_FILE).exists() {
            return Err(JournalError::NotASession { dir: dir.to_path_buf() });
        }
        Self::read(dir)
    }

    fn read(dir: &Path) -> Result<Journal, JournalError> {
        let meta: SessionMeta = read_json(dir, SESSION_FILE)?;
        let steps: Vec<StepRecord> = read_json(dir, STEPS_FILE)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            meta,
            steps,
            transcript: TranscriptSink::new(dir.join(TRANSCRIPT_FILE)),
            lock: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn id(&self) -> &str {
        &self.meta.id
    }

    pub fn meta(&self) -> &SessionMeta {
        &self.meta
    }

    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    pub fn is_read_only(&self) -> bool {
        self.lock.is_none()
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.dir.join(BACKUPS_DIR)
    }

    pub fn report_path(&self) -> PathBuf {
        self.dir.join(REPORT_FILE)
    }

    pub fn transcript_path(&self) -> PathBuf {
        self.dir.join(TRANSCRIPT_FILE)
    }

    /// The first step that is neither done nor skipped: where a resume starts.
    pub fn first_unfinished(&self) -> Option<usize> {
        self.steps.iter().position(|s| !s.state.is_settled())
    }

    /// Marks a step running for a new attempt. The previous attempt's end, outcome
    /// and error are cleared: they are in the transcript, and leaving them would
    /// make a running step look finished.
    pub fn start_step(&mut self, index: usize) -> Result<(), JournalError> {
        let now = clock::now_rfc3339();
        self.change_step(index, |step| {
            step.state = StepState::Running;
            step.started_at = Some(now);
            step.ended_at = None;
            step.attempts = step.attempts.saturating_add(1);
            step.outcome = None;
            step.error = None;
            step.child = None;
        })
    }

    /// Replaces every step record: after the runbooks changed, the steps are
    /// matched to the new plan by id (see the engine's resume).
    pub fn replace_steps(&mut self, steps: Vec<StepRecord>) -> Result<(), JournalError> {
        self.writable()?;
        write_json(&self.dir, STEPS_FILE, &steps)?;
        self.steps = steps;
        Ok(())
    }

    /// Records the command step `index` has just started.
    pub fn record_child(&mut self, index: usize, child: crate::process::ProcessMark) -> Result<(), JournalError> {
        self.change_step(index, |step| step.child = Some(child))
    }

    pub fn finish_step(
        &mut self,
        index: usize,
        state: StepState,
        outcome: Option<String>,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        let now = clock::now_rfc3339();
        self.change_step(index, |step| {
            step.state = state;
            step.ended_at = Some(now);
            step.outcome = outcome;
            step.error = error;
        })
    }

    pub fn set_status(&mut self, status: SessionStatus) -> Result<(), JournalError> {
        self.update_meta(|meta| meta.status = status)
    }

    /// Changes the meta (to record accepted runbook hashes, say). The id cannot be
    /// changed: it is the directory's name.
    pub fn update_meta(&mut self, f: impl FnOnce(&mut SessionMeta)) -> Result<(), JournalError> {
        self.writable()?;
        let mut next = self.meta.clone();
        f(&mut next);
        next.id.clone_from(&self.meta.id);
        write_json(&self.dir, SESSION_FILE, &next)?;
        self.meta = next;
        Ok(())
    }

    /// After a crash: steps left running become interrupted, and so does the
    /// session if it was running. Returns whether anything changed.
    pub fn recover_interrupted(&mut self) -> Result<bool, JournalError> {
        self.writable()?;
        let running: Vec<usize> =
            self.steps.iter().enumerate().filter(|(_, s)| s.state == StepState::Running).map(|(i, _)| i).collect();
        if !running.is_empty() {
            let mut next = self.steps.clone();
            for &i in &running {
                next[i].state = StepState::Interrupted;
                next[i].outcome = Some("stepwise stopped while this step was running".into());
            }
            write_json(&self.dir, STEPS_FILE, &next)?;
            self.steps = next;
        }
        let was_running = self.meta.status == SessionStatus::Running;
        if was_running {
            self.set_status(SessionStatus::Interrupted)?;
        }
        Ok(!running.is_empty() || was_running)
    }

    /// Appends `{"at", "kind", "payload"}` as one line and flushes it to disk.
    pub fn append_transcript<T: Serialize>(&mut self, kind: &str, payload: &T) -> Result<(), JournalError> {
        self.transcript()?.with(|w| w.append_all(kind, std::slice::from_ref(payload)))?
    }

    /// The transcript for another task to append to, in order with this journal's
    /// own appends.
    pub fn transcript(&self) -> Result<TranscriptSink, JournalError> {
        self.writable()?;
        Ok(self.transcript.clone())
    }

    /// Every whole line of the transcript.
    pub fn read_transcript(&self) -> Result<Vec<TranscriptEntry>, JournalError> {
        transcript::read(&self.dir.join(TRANSCRIPT_FILE), &self.dir)
    }

    /// Applies `f` to a copy of one record and keeps the copy only once it is on
    /// disk, so that memory never runs ahead of the file.
    fn change_step(&mut self, index: usize, f: impl FnOnce(&mut StepRecord)) -> Result<(), JournalError> {
        self.writable()?;
        let count = self.steps.len();
        let Some(step) = self.steps.get_mut(index) else {
            return Err(JournalError::NoSuchStep { id: self.meta.id.clone(), index, count });
        };
        let previous = step.clone();
        f(step);
        // What a step reports may quote a command line or its output: no secret
        // reaches the file (see crate::redact).
        for text in [&mut step.outcome, &mut step.error].into_iter().flatten() {
            if let std::borrow::Cow::Owned(masked) = crate::redact::text(text) {
                *text = masked;
            }
        }
        if let Err(e) = write_json(&self.dir, STEPS_FILE, &self.steps) {
            self.steps[index] = previous;
            return Err(e);
        }
        Ok(())
    }

    fn writable(&self) -> Result<(), JournalError> {
        if self.lock.is_none() {
            return Err(JournalError::ReadOnly { id: self.meta.id.clone() });
        }
        Ok(())
    }
}

/// Fills the staging directory and renames it to the first free id.
fn assemble(
    sessions: &Path,
    staging: &Path,
    base: &str,
    mut meta: SessionMeta,
    steps: Vec<StepRecord>,
) -> Result<Journal, JournalError> {
    let lock = SessionLock::acquire(staging, base)?;
    write_json(staging, STEPS_FILE, &steps)?;
    let transcript = staging.join(TRANSCRIPT_FILE);
    durable::create_private(&transcript).map_err(JournalError::io("create", &transcript))?;
    let backups = staging.join(BACKUPS_DIR);
    durable::create_private_dir(&backups).map_err(JournalError::io("create", &backups))?;
    for n in 1..=MAX_ID_SUFFIX {
        let id = if n == 1 { base.to_string() } else { format!("{base}-{n}") };
        let dir = sessions.join(&id);
        if fs::symlink_metadata(&dir).is_ok() {
            continue;
        }
        meta.id = id;
        write_json(staging, SESSION_FILE, &meta)?;
        durable::sync_dir(staging).map_err(JournalError::io("sync", staging))?;
        match fs::rename(staging, &dir) {
            Ok(()) => {}
            // Another process took the name between the check and the rename.
            Err(e) if matches!(e.kind(), io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists) => continue,
            Err(e) => return Err(JournalError::io("name the session directory", dir)(e)),
        }
        durable::sync_dir(sessions).map_err(JournalError::io("sync", sessions))?;
        let transcript = TranscriptSink::new(dir.join(TRANSCRIPT_FILE));
        return Ok(Journal { dir, meta, steps, transcript, lock: Some(lock) });
    }
    Err(JournalError::io("find a free session name in", sessions)(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{base} and {MAX_ID_SUFFIX} numbered variants are taken"),
    )))
}

/// Creates `<state_dir>/sessions` (0700) if needed. A state directory the operator
/// named and that exists already keeps its permissions: it may be shared with
/// other things.
fn ensure_sessions_dir(state_dir: &Path) -> Result<PathBuf, JournalError> {
    if !state_dir.exists() {
        durable::create_private_dir(state_dir).map_err(JournalError::io("create the state directory", state_dir))?;
        if let Some(parent) = state_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            durable::sync_dir(parent).map_err(JournalError::io("sync", parent))?;
        }
    }
    let sessions = sessions_dir(state_dir);
    if !sessions.exists() {
        durable::create_private_dir(&sessions).map_err(JournalError::io("create", &sessions))?;
        durable::sync_dir(state_dir).map_err(JournalError::io("sync", state_dir))?;
    }
    Ok(sessions)
}

/// Removes staging directories of creations that were killed: one whose lock can
/// be taken has no living creator. A young one is left alone, since its creator may
/// not have taken the lock yet.
fn remove_abandoned_staging(sessions: &Path) {
    let Ok(entries) = fs::read_dir(sessions) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(info) = entry.metadata() else { continue };
        let old = info.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age > STAGING_GRACE);
        if !name.starts_with(STAGING_PREFIX) || !info.is_dir() || !old {
            continue;
        }
        let path = entry.path();
        if let Ok(lock) = SessionLock::acquire(&path, &name) {
            let _ = fs::remove_dir_all(&path);
            drop(lock);
        }
    }
}

/// Keeps a session id one safe path component whatever the product or version says.
fn id_part(text: &str) -> String {
    let part: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    let part = part.trim_start_matches('.');
    if part.is_empty() { "_".into() } else { part.to_string() }
}

/// Whether `id` can name a session directory (and cannot climb out of `sessions/`).
pub(crate) fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && !id.starts_with('.') && !id.contains('/') && !id.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_parts_stay_one_path_component() {
        assert_eq!(id_part("nginx-service-mesh"), "nginx-service-mesh");
        assert_eq!(id_part("1.7.0+build/x"), "1.7.0_build_x");
        assert_eq!(id_part("../.."), "_..");
        assert_eq!(id_part(""), "_");
    }

    #[test]
    fn plain_ids_cannot_climb_out() {
        assert!(is_plain_id("20260101-000000-a-1-to-2"));
        assert!(!is_plain_id(".."));
        assert!(!is_plain_id("a/b"));
        assert!(!is_plain_id(""));
    }
}
