//! Writing one kind's backup file as its pages arrive, hashing as it goes, so
//! a kind is complete on disk (and its sum known) the moment its list ends.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::error::ClusterError;
use super::super::manifest;
use super::super::strip::{owner_refs, strip_server_fields};
use super::KindResult;
use crate::durable;

/// Writes one kind's backup file, hashing as it goes.
pub struct KindWriter {
    out: BufWriter<std::fs::File>,
    path: PathBuf,
    header: Vec<u8>,
    lines: Vec<u64>,
    hasher: Sha256,
    bytes: u64,
    uids: Vec<String>,
    owner_uids: Vec<String>,
    /// `(uid, namespace/name, resourceVersion)` of each object written.
    versions: Vec<manifest::ObjectVersion>,
    /// `namespace/name` of each object written that had a deletionTimestamp.
    being_deleted: Vec<String>,
}

/// A point a writer can go back to.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    objects: usize,
    uids: usize,
    owner_uids: usize,
    being_deleted: usize,
}

impl KindWriter {
    pub fn create(path: &Path, resource: &str) -> Result<Self, ClusterError> {
        let file = durable::create_private(path).map_err(|e| ClusterError::io("create backup file", path, e))?;
        let header =
            format!("# stepwise backup of {resource}; restore with `stepwise restore` or `kubectl create -f`\n");
        let mut w = KindWriter {
            out: BufWriter::with_capacity(1 << 16, file),
            path: path.to_path_buf(),
            header: header.into_bytes(),
            lines: Vec::new(),
            hasher: Sha256::new(),
            bytes: 0,
            uids: Vec::new(),
            owner_uids: Vec::new(),
            versions: Vec::new(),
            being_deleted: Vec::new(),
        };
        w.start()?;
        Ok(w)
    }

    fn start(&mut self) -> Result<(), ClusterError> {
        let header = self.header.clone();
        self.emit(&header)
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<(), ClusterError> {
        self.out.write_all(bytes).map_err(|e| ClusterError::io("write backup file", &self.path, e))?;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    pub fn write(&mut self, mut object: Value) -> Result<(), ClusterError> {
        if let Some(uid) = object.pointer("/metadata/uid").and_then(Value::as_str) {
            self.uids.push(uid.to_string());
            let rv = object.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default();
            self.versions.push(manifest::ObjectVersion {
                uid: uid.to_string(),
                key: manifest::object_key(&object),
                resource_version: rv.to_string(),
            });
        }
        self.owner_uids.extend(owner_refs(&object).into_iter().map(|r| r.uid));
        if object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
            self.being_deleted.push(manifest::object_key(&object));
        }
        strip_server_fields(&mut object);
        let mut line = b"---\n".to_vec();
        serde_json::to_writer(&mut line, &object).map_err(|e| ClusterError::Other(e.to_string()))?;
        line.push(b'\n');
        self.emit(&line)?;
        self.lines.push(self.bytes);
        Ok(())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn mark(&self) -> Mark {
        Mark {
            objects: self.lines.len(),
            uids: self.uids.len(),
            owner_uids: self.owner_uids.len(),
            being_deleted: self.being_deleted.len(),
        }
    }

    /// Drops everything written after `mark` (used when a listing starts over).
    /// The file is rewritten from the start only in this rare case.
    pub fn rewind(&mut self, mark: Mark) -> Result<(), ClusterError> {
        self.out.flush().map_err(|e| ClusterError::io("write backup file", &self.path, e))?;
        let keep = if mark.objects == 0 { self.header.len() as u64 } else { self.lines[mark.objects - 1] };
        let content = std::fs::read(&self.path).map_err(|e| ClusterError::io("read backup file", &self.path, e))?;
        let kept = &content[..usize::try_from(keep).unwrap_or(content.len()).min(content.len())];
        let file =
            durable::create_private(&self.path).map_err(|e| ClusterError::io("rewrite backup file", &self.path, e))?;
        self.out = BufWriter::with_capacity(1 << 16, file);
        self.out.write_all(kept).map_err(|e| ClusterError::io("rewrite backup file", &self.path, e))?;
        self.hasher = Sha256::new();
        self.hasher.update(kept);
        self.bytes = keep;
        self.lines.truncate(mark.objects);
        self.uids.truncate(mark.uids);
        self.versions.truncate(mark.uids);
        self.owner_uids.truncate(mark.owner_uids);
        self.being_deleted.truncate(mark.being_deleted);
        Ok(())
    }

    /// Flushes to disk and returns what the kind's backup holds.
    pub fn finish(mut self) -> Result<KindResult, ClusterError> {
        self.out.flush().map_err(|e| ClusterError::io("write backup file", &self.path, e))?;
        self.out.get_ref().sync_all().map_err(|e| ClusterError::io("sync backup file", &self.path, e))?;
        Ok(KindResult {
            count: self.lines.len() as u64,
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
            uids: self.uids,
            owner_uids: self.owner_uids,
            versions: self.versions,
            mismatch: None,
            being_deleted: self.being_deleted,
        })
    }
}
