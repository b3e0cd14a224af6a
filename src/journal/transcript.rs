//! The transcript: every event and answer of a session, one JSON object per line in
//! `transcript.jsonl`, each line on disk (fdatasync) before the engine moves on.
//! Appending is cheap where rewriting a growing file would not be.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::JournalError;
use crate::durable::{self, FILE_MODE};

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// RFC 3339, UTC.
    pub at: String,
    pub kind: String,
    pub payload: serde_json::Value,
}

#[derive(Serialize)]
struct Line<'a, T> {
    at: &'a str,
    kind: &'a str,
    payload: &'a T,
}

/// The transcript opened for appending, kept open for the life of the journal.
#[derive(Debug)]
pub(crate) struct TranscriptWriter {
    file: File,
    path: PathBuf,
    /// Where the next line starts: everything before it is whole lines.
    len: u64,
}

impl TranscriptWriter {
    pub(crate) fn open(path: &Path) -> Result<TranscriptWriter, JournalError> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(FILE_MODE)
            .open(path)
            .map_err(JournalError::io("open the transcript", path))?;
        if !existed && let Some(dir) = path.parent() {
            durable::sync_dir(dir).map_err(JournalError::io("sync the directory of", path))?;
        }
        let len = drop_torn_tail(&file).map_err(JournalError::io("repair the end of the transcript", path))?;
        Ok(TranscriptWriter { file, path: path.to_path_buf(), len })
    }

    /// Appends one line per payload, all of one kind, and syncs once: a command
    /// that prints thousands of lines costs one fdatasync per batch, not per line.
    pub(crate) fn append_all<T: Serialize>(
        &mut self,
        at: &str,
        kind: &str,
        payloads: &[T],
    ) -> Result<(), JournalError> {
        let mut bytes = Vec::new();
        for payload in payloads {
            let line = serde_json::to_string(&Line { at, kind, payload })
                .map_err(|source| JournalError::Encode { path: self.path.clone(), source })?;
            // Secrets never reach the file (see crate::redact).
            bytes.extend_from_slice(crate::redact::text(&line).as_bytes());
            bytes.push(b'\n');
        }
        let written = self.file.write_all(&bytes).and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // A partly written line would glue itself to the next one; cut it off so
            // that the file stays whole lines.
            let _ = self.file.set_len(self.len);
            return Err(JournalError::io("append to", &self.path)(e));
        }
        self.len += bytes.len() as u64;
        Ok(())
    }
}

/// The transcript as more than one task writes it: the step loop, and the
/// task that writes command output as it arrives. Opened at the first append
/// and kept open; every append holds it whole, so lines never interleave.
#[derive(Debug, Clone)]
pub struct TranscriptSink {
    path: PathBuf,
    writer: std::sync::Arc<std::sync::Mutex<Option<TranscriptWriter>>>,
}

impl TranscriptSink {
    pub(crate) fn new(path: PathBuf) -> Self {
        TranscriptSink { path, writer: std::sync::Arc::default() }
    }

    /// Runs `f` with the writer, opening it first if need be. While `f` runs no
    /// other append can come between.
    pub fn with<R>(&self, f: impl FnOnce(&mut Appender<'_>) -> R) -> Result<R, JournalError> {
        let mut guard = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let writer = match &mut *guard {
            Some(writer) => writer,
            None => guard.insert(TranscriptWriter::open(&self.path)?),
        };
        Ok(f(&mut Appender { writer }))
    }
}

/// The transcript held for appending ([`TranscriptSink::with`]).
pub struct Appender<'a> {
    writer: &'a mut TranscriptWriter,
}

impl Appender<'_> {
    /// Appends one entry of `kind` per payload, stamped now, with one sync.
    pub fn append_all<T: Serialize>(&mut self, kind: &str, payloads: &[T]) -> Result<(), JournalError> {
        if payloads.is_empty() {
            return Ok(());
        }
        self.writer.append_all(&super::clock::now_rfc3339(), kind, payloads)
    }
}

/// A crash (power loss rather than a kill) can leave half a line at the end; the
/// next line would then be glued to it. Cuts the file back to its last newline and
/// returns the new length.
fn drop_torn_tail(file: &File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    let mut chunk = [0u8; 4096];
    let mut end = len;
    let cut = loop {
        if end == 0 {
            break 0;
        }
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        if let Some(pos) = part.iter().rposition(|&b| b == b'\n') {
            break start + pos as u64 + 1;
        }
        end = start;
    };
    if cut != len {
        file.set_len(cut)?;
        file.sync_data()?;
    }
    Ok(cut)
}

/// Reads every whole line. A torn last line (no newline) is left out: it is what a
/// crash mid-append leaves, and the writer cuts it off before appending again.
pub(crate) fn read(path: &Path, dir: &Path) -> Result<Vec<TranscriptEntry>, JournalError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io("read", path)(e)),
    };
    let whole = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(pos) => &bytes[..pos],
        None => &[][..],
    };
    whole
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(n, line)| {
            serde_json::from_slice(line).map_err(|e| JournalError::Damaged {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
                problem: format!("line {}: {e}", n + 1),
            })
        })
        .collect()
}
