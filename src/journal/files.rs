//! The names inside a session directory and reading and writing them.

use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::JournalError;
use crate::durable;

pub(crate) const SESSIONS_DIR: &str = "sessions";
pub(crate) const SESSION_FILE: &str = "session.json";
pub(crate) const STEPS_FILE: &str = "steps.json";
pub(crate) const TRANSCRIPT_FILE: &str = "transcript.jsonl";
pub(crate) const LOCK_FILE: &str = "lock";
pub(crate) const BACKUPS_DIR: &str = "backups";
pub(crate) const REPORT_FILE: &str = "report.md";

/// Reads one of the session's JSON files; a missing or unparsable file is named.
pub(crate) fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<T, JournalError> {
    let path = dir.join(name);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(JournalError::Missing { path, dir: dir.to_path_buf() });
        }
        Err(e) => return Err(JournalError::io("read", path)(e)),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(JournalError::Damaged { path, dir: dir.to_path_buf(), problem: "the file is empty".into() });
    }
    serde_json::from_slice(&bytes).map_err(|e| JournalError::Damaged {
        path,
        dir: dir.to_path_buf(),
        problem: e.to_string(),
    })
}

/// Replaces one of the session's JSON files atomically and durably.
pub(crate) fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<(), JournalError> {
    let path = dir.join(name);
    let mut bytes = match serde_json::to_vec_pretty(value) {
        Ok(bytes) => bytes,
        Err(source) => return Err(JournalError::Encode { path, source }),
    };
    bytes.push(b'\n');
    durable::write_atomic(&path, &bytes).map_err(JournalError::io("write", path))
}

/// Removes temporary files a killed writer left behind. Only called with the lock
/// held, when no write of this session can be in flight; the files it removes were
/// never renamed into place, so they hold nothing the session depends on.
pub(crate) fn remove_torn_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp-") && entry.file_type().is_ok_and(|t| t.is_file()) {
            // A leftover that cannot be removed is harmless: nothing reads it.
            let _ = fs::remove_file(entry.path());
        }
    }
}
