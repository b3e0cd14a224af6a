//! Finding sessions: listing them for `stepwise sessions`, and picking the one
//! `resume` continues.

use std::cmp::Reverse;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::JournalError;
use super::files::{SESSION_FILE, STEPS_FILE, read_json};
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
    /// for a step repeated per item).
    pub last_step: Option<String>,
    pub created_at: String,
    /// Why the session cannot be read, when it cannot. The other fields then hold
    /// what could be read: if session.json itself is unreadable, they are empty,
    /// the mode is `real` and the status `failed`.
    pub damaged: Option<String>,
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
    let last_step =
        steps.ok().and_then(|steps| steps.iter().rev().find(|s| s.state != StepState::Pending).map(describe));
    match meta {
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
            last_step,
            created_at: meta.created_at,
            damaged,
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
            last_step,
            created_at: String::new(),
            damaged,
        },
    }
}

fn describe(step: &StepRecord) -> String {
    match &step.item {
        Some(item) => format!("{} [{item}] ({})", step.title, step.state),
        None => format!("{} ({})", step.title, step.state),
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
