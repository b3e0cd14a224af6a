//! Finding sessions: listing them for `stepwise sessions`, and picking the one
//! `resume` continues.

use std::cmp::Reverse;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::JournalError;
use super::files::{LOCK_FILE, SESSION_FILE, STEPS_FILE, read_json};
use super::session::{SessionMeta, SessionStatus};
use super::state_dir::sessions_dir;
use super::steps::{StepRecord, StepState};
use super::store::{Journal, is_plain_id};
use crate::base::Mode;

/// How many ids an "unknown session" error suggests.
const SUGGESTED_IDS: usize = 5;

/// One line of `stepwise sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    pub id: String,
    pub dir: PathBuf,
    pub product: String,
    pub from: String,
    pub to: String,
    pub mode: Mode,
    pub server: String,
    pub context: String,
    /// The cluster's kube-system UID, as the session recorded it.
    pub kube_system_uid: String,
    pub status: SessionStatus,
    /// `title (state)` of the last step that is not pending (`title [item] (state)`
    /// for a step repeated per item). A step recorded running in a session that
    /// [ended unrecorded](SessionSummary::ended_unrecorded) reads `(cut short)`.
    pub last_step: Option<String>,
    pub created_at: String,
    /// Why the session cannot be read, when it cannot. The other fields then hold
    /// what could be read: if session.json itself is unreadable, they are empty,
    /// the mode is `real` and the status `failed`.
    pub damaged: Option<String>,
    /// Whether a stepwise process holds the session's lock now, that is, drives
    /// it. Probed without disturbing anything ([`is_held`]).
    pub held: bool,
}

impl SessionSummary {
    /// Marked running, yet no process holds it: stepwise was killed (or its
    /// machine went down) before it could record the stop.
    pub fn ended_unrecorded(&self) -> bool {
        self.status == SessionStatus::Running && self.damaged.is_none() && !self.held
    }
}

/// Whether a process holds the session lock in `dir`. A shared lock is tried and
/// dropped at once: nothing is created, written or removed, so listing sessions
/// changes nothing, unlike [`Journal::open`]. No lock file means nobody ever
/// drove the session; a lock file that cannot be read counts as not held.
pub fn is_held(dir: &Path) -> bool {
    let Ok(file) = fs::File::open(dir.join(LOCK_FILE)) else { return false };
    matches!(file.try_lock_shared(), Err(fs::TryLockError::WouldBlock))
}

impl Journal {
    /// Every session, newest first. A session that cannot be read is listed with a
    /// `damaged` note rather than failing the whole list.
    pub fn list(state_dir: &Path) -> Result<Vec<SessionSummary>, JournalError> {
        let sessions = sessions_dir(state_dir);
        let entries = match fs::read_dir(&sessions) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(JournalError::io("list", sessions)(e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(JournalError::io("list", &sessions))?;
            let id = entry.file_name().to_string_lossy().into_owned();
            // Hidden entries are sessions still being created, or not sessions at all.
            if !is_plain_id(&id) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            found.push(summarise(id, entry.path()));
        }
        found.sort_by_key(|s| Reverse((sort_key(s), s.id.clone())));
        Ok(found)
    }

    /// Opens (and locks) the session `id`; an unknown id is answered with the newest
    /// ids there are.
    pub fn open_id(state_dir: &Path, id: &str) -> Result<Journal, JournalError> {
        let sessions = sessions_dir(state_dir);
        let dir = sessions.join(id);
        if is_plain_id(id) && dir.is_dir() {
            return Journal::open(&dir);
        }
        let newest = Journal::list(state_dir)
            .map(|all| all.into_iter().take(SUGGESTED_IDS).map(|s| s.id).collect())
            .unwrap_or_default();
        Err(JournalError::UnknownSession { id: id.to_string(), sessions_dir: sessions, newest })
    }

    /// Opens (and locks) the newest session that is not finished or abandoned,
    /// optionally of one product only. Damaged sessions cannot be resumed and are
    /// passed over; `stepwise sessions` shows them.
    pub fn newest_unfinished(state_dir: &Path, product: Option<&str>) -> Result<Option<Journal>, JournalError> {
        let candidate = Journal::list(state_dir)?
            .into_iter()
            .find(|s| s.damaged.is_none() && s.status.is_unfinished() && product.is_none_or(|p| p == s.product));
        candidate.map(|s| Journal::open(&s.dir)).transpose()
    }
}

fn summarise(id: String, dir: PathBuf) -> SessionSummary {
    let meta = read_json::<SessionMeta>(&dir, SESSION_FILE);
    let steps = read_json::<Vec<StepRecord>>(&dir, STEPS_FILE);
    let damaged = match (&meta, &steps) {
        (Err(e), _) | (_, Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let last = steps.ok().and_then(|steps| steps.iter().rev().find(|s| s.state != StepState::Pending).cloned());
    let held = is_held(&dir);
    let mut summary = match meta {
        Ok(meta) => SessionSummary {
            id,
            dir,
            product: meta.product,
            from: meta.from,
            to: meta.to,
            mode: meta.mode,
            server: meta.cluster.server,
            context: meta.cluster.context,
            kube_system_uid: meta.cluster.kube_system_uid,
            status: meta.status,
            last_step: None,
            created_at: meta.created_at,
            damaged,
            held,
        },
        Err(_) => SessionSummary {
            id,
            dir,
            product: String::new(),
            from: String::new(),
            to: String::new(),
            mode: Mode::Real,
            server: String::new(),
            context: String::new(),
            kube_system_uid: String::new(),
            status: SessionStatus::Failed,
            last_step: None,
            created_at: String::new(),
            damaged,
            held,
        },
    };
    let cut_short = summary.ended_unrecorded();
    summary.last_step = last.map(|step| describe(&step, cut_short));
    summary
}

/// `title (state)`; a step left running by a process that is gone was cut short.
fn describe(step: &StepRecord, cut_short: bool) -> String {
    let state = match step.state {
        StepState::Running if cut_short => "cut short".to_string(),
        state => state.to_string(),
    };
    match &step.item {
        Some(item) => format!("{} [{item}] ({state})", step.title),
        None => format!("{} ({state})", step.title),
    }
}

/// The creation time, or for a session whose meta is unreadable the time its id
/// starts with (`YYYYMMDD-HHMMSS`), in the same sortable form.
fn sort_key(summary: &SessionSummary) -> String {
    if !summary.created_at.is_empty() {
        return summary.created_at.clone();
    }
    let id = summary.id.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        id.get(range).filter(|d| d.iter().all(u8::is_ascii_digit)).map(|d| String::from_utf8_lossy(d).into_owned())
    };
    match (digits(0..4), digits(4..6), digits(6..8), digits(9..11), digits(11..13), digits(13..15)) {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) if id.get(8) == Some(&b'-') => {
            format!("{y}-{mo}-{d}T{h}:{mi}:{s}")
        }
        _ => String::new(),
    }
}
