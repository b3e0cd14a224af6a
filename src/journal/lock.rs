//! One process drives a session at a time: an exclusive advisory lock on
//! `<session>/lock`, held while the journal is open, with the holder's pid inside
//! so that a refused process can say who has it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use super::error::JournalError;
use super::files::LOCK_FILE;
use crate::durable::FILE_MODE;

/// The lock lives as long as this value: closing the file releases it, also when the
/// process is killed, so a crashed run never leaves a session locked. The file is
/// close-on-exec, so programs the engine starts do not keep the lock once they run
/// (a child shares it only between fork and exec).
#[derive(Debug)]
pub(crate) struct SessionLock {
    _file: File,
}

impl SessionLock {
    pub(crate) fn acquire(dir: &Path, id: &str) -> Result<SessionLock, JournalError> {
        let path = dir.join(LOCK_FILE);
        // Never truncated on open: the pid in it belongs to whoever holds the lock.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(JournalError::io("open the lock file", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(JournalError::InUse { id: id.to_string(), pid: read_pid(&mut file), lock: path });
            }
            Err(TryLockError::Error(e)) => return Err(JournalError::io("lock", path)(e)),
        }
        // The pid only feeds the "in use" message, so it is not worth an fsync.
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.write_all_at(pid.as_bytes(), 0))
            .map_err(JournalError::io("write the lock file", &path))?;
        Ok(SessionLock { _file: file })
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
