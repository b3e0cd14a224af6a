//! The backup manifest: which kinds were saved, how many objects, and the SHA-256
//! of each file, so a backup can be proven whole before anything is removed.
//!
//! Backup files are YAML streams that `kubectl create -f` accepts: a comment
//! header, then one document per object, each document written as one line of
//! JSON (JSON is YAML). One object per line keeps reading and writing streaming
//! and exact: no YAML re-interpretation of strings like `on` or `0755`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ClusterError;
use crate::base::ClusterIdentity;
use crate::durable;

pub const MANIFEST_FILE: &str = "manifest.json";
/// Beside the manifest: each saved object's uid and resourceVersion, which let
/// the proof tell an object changed since the backup without reading it whole.
pub const VERSIONS_FILE: &str = "versions.json";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at: String,
    pub cluster: Option<ClusterIdentity>,
    /// True only when every kind was listed to the end and every count matched.
    pub complete: bool,
    pub kinds: Vec<KindEntry>,
    /// The namespaces backed up; all namespaces when absent.
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
    /// Kinds the cluster did not serve when the backup ran (nothing to save).
    #[serde(default)]
    pub not_served: Vec<String>,
    /// Objects whose owner references point outside this backup; a restore drops
    /// those references when the owner no longer exists.
    #[serde(default)]
    pub external_owner_refs: u64,
    /// Objects that were being deleted when they were saved (`plural.group
    /// namespace/name`): a restore leaves them out and says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub being_deleted: Vec<String>,
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindEntry {
    /// `plural.group`, as the runbook names it.
    pub resource: String,
    pub api_version: String,
    pub kind: String,
    pub namespaced: bool,
    /// File name inside the backup folder.
    pub file: String,
    pub count: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn new(cluster: Option<ClusterIdentity>) -> Self {
        Manifest {
            format: FORMAT,
            created_at: now_rfc3339(),
            cluster,
            complete: false,
            kinds: Vec::new(),
            namespaces: None,
            not_served: Vec::new(),
            external_owner_refs: 0,
            being_deleted: Vec::new(),
            problems: Vec::new(),
        }
    }

    pub fn total(&self) -> u64 {
        self.kinds.iter().map(|k| k.count).sum()
    }

    pub fn read(dir: &Path) -> Result<Manifest, ClusterError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ClusterError::Backup {
                dir: dir.to_path_buf(),
                problem: "there is no manifest.json: the backup never finished".into(),
            },
            _ => ClusterError::io("read", &path, e),
        })?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| ClusterError::Backup {
            dir: dir.to_path_buf(),
            problem: format!("manifest.json is damaged: {e}"),
        })?;
        if manifest.format != FORMAT {
            return Err(ClusterError::Backup {
                dir: dir.to_path_buf(),
                problem: format!("manifest format {} is not one this version reads ({FORMAT})", manifest.format),
            });
        }
        Ok(manifest)
    }

    pub fn write(&self, dir: &Path) -> Result<(), ClusterError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| ClusterError::Other(e.to_string()))?;
        durable::write_atomic(&path, &bytes).map_err(|e| ClusterError::io("write", path, e))
    }
}

/// Proves a backup folder matches its manifest: the manifest says complete, every
/// file is present with the recorded SHA-256, every object parses, and the counts
/// match. Returns the manifest when all holds.
pub fn verify_files(dir: &Path) -> Result<Manifest, ClusterError> {
    let manifest = Manifest::read(dir)?;
    let fail = |problem: String| ClusterError::Backup { dir: dir.to_path_buf(), problem };
    if !manifest.complete {
        let why =
            if manifest.problems.is_empty() { String::new() } else { format!(": {}", manifest.problems.join("; ")) };
        return Err(fail(format!("the manifest marks this backup incomplete{why}")));
    }
    for kind in &manifest.kinds {
        let path = dir.join(&kind.file);
        // Every line must be one whole JSON value; none is kept, so none is built.
        let (count, sha) = scan_as::<IgnoredAny>(&path, |_| Ok(()))?;
        if sha != kind.sha256 {
            return Err(fail(format!(
                "{} was changed after the backup (SHA-256 differs from the manifest)",
                kind.file
            )));
        }
        if count != kind.count {
            return Err(fail(format!("{} holds {count} objects, the manifest says {}", kind.file, kind.count)));
        }
    }
    Ok(manifest)
}

/// Reads a backup file object by object, calling `each` with every object, and
/// returns the count and the file's SHA-256. A line that does not parse is an
/// error naming the file and line.
pub fn scan_file(
    path: &Path,
    each: impl FnMut(serde_json::Value) -> Result<(), ClusterError>,
) -> Result<(u64, String), ClusterError> {
    scan_as(path, each)
}

/// As [`scan_file`], each object read as `T`.
fn scan_as<T: DeserializeOwned>(
    path: &Path,
    mut each: impl FnMut(T) -> Result<(), ClusterError>,
) -> Result<(u64, String), ClusterError> {
    let mut objects = ObjectReader::open(path)?;
    for object in objects.by_ref() {
        each(object?)?;
    }
    Ok(objects.sum())
}

/// Opens a backup file to be read one object at a time, as the caller asks for
/// them: nothing is read ahead beyond the reader's 64 KiB buffer.
pub fn read_objects(path: &Path) -> Result<ObjectReader<serde_json::Value>, ClusterError> {
    ObjectReader::open(path)
}

/// A backup file read object by object, hashing every byte it reads. A line
/// that does not parse is an error naming the file and line; the caller stops
/// there (reading on would skip the line).
pub struct ObjectReader<T> {
    path: PathBuf,
    reader: BufReader<std::fs::File>,
    hasher: Sha256,
    line: String,
    line_no: u64,
    count: u64,
    read_as: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> ObjectReader<T> {
    fn open(path: &Path) -> Result<Self, ClusterError> {
        let file = std::fs::File::open(path).map_err(|e| ClusterError::io("open backup file", path, e))?;
        Ok(ObjectReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, file),
            hasher: Sha256::new(),
            line: String::new(),
            line_no: 0,
            count: 0,
            read_as: std::marker::PhantomData,
        })
    }

    /// The objects read and the SHA-256 of the bytes read: the file's once
    /// [`Iterator::next`] has returned `None`.
    pub fn sum(self) -> (u64, String) {
        (self.count, hex::encode(self.hasher.finalize()))
    }
}

impl<T: DeserializeOwned> Iterator for ObjectReader<T> {
    type Item = Result<T, ClusterError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.line.clear();
            match self.reader.read_line(&mut self.line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(ClusterError::io("read backup file", &self.path, e))),
            }
            self.line_no += 1;
            self.hasher.update(self.line.as_bytes());
            let Some(text) = object_text(&self.line) else { continue };
            let object = parse_object(&self.path, self.line_no, text);
            self.count += u64::from(object.is_ok());
            return Some(object);
        }
    }
}

/// The first object of a backup file; the rest is not read.
pub fn first_object(path: &Path) -> Result<Option<serde_json::Value>, ClusterError> {
    let file = std::fs::File::open(path).map_err(|e| ClusterError::io("open backup file", path, e))?;
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| ClusterError::io("read backup file", path, e))? == 0 {
            return Ok(None);
        }
        line_no += 1;
        if let Some(text) = object_text(&line) {
            return parse_object(path, line_no, text).map(Some);
        }
    }
}

/// The object a line of a backup file holds, or `None` for the header, blank
/// lines and document separators.
fn object_text(line: &str) -> Option<&str> {
    let text = line.trim_end();
    (!(text.is_empty() || text == "---" || text.starts_with('#'))).then_some(text)
}

fn parse_object<T: DeserializeOwned>(path: &Path, line_no: u64, text: &str) -> Result<T, ClusterError> {
    serde_json::from_str(text).map_err(|e| ClusterError::Backup {
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        problem: format!("{} line {line_no} is not a complete object: {e}", display_name(path)),
    })
}

fn display_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The backup file name for a resource kind.
/// One saved object as the proof compares it with the live one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersion {
    pub uid: String,
    /// `namespace/name`, or `name` for a cluster-scoped object.
    pub key: String,
    pub resource_version: String,
}

/// [`ObjectVersion`]s of a backup, by kind (`plural.group`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Versions {
    pub kinds: std::collections::BTreeMap<String, Vec<ObjectVersion>>,
}

impl Versions {
    pub fn write(&self, dir: &Path) -> Result<(), ClusterError> {
        let path = dir.join(VERSIONS_FILE);
        let bytes = serde_json::to_vec(self).map_err(|e| ClusterError::Other(e.to_string()))?;
        durable::write_atomic(&path, &bytes).map_err(|e| ClusterError::io("write", &path, e))
    }

    /// `None` for a backup taken before stepwise kept versions.
    pub fn read(dir: &Path) -> Result<Option<Versions>, ClusterError> {
        let path = dir.join(VERSIONS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| ClusterError::Backup {
                dir: dir.to_path_buf(),
                problem: format!("{VERSIONS_FILE} cannot be read: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClusterError::io("read", &path, e)),
        }
    }
}

/// `namespace/name`, or `name` for cluster-scoped objects.
pub fn object_key(object: &serde_json::Value) -> String {
    let name = object.pointer("/metadata/name").and_then(serde_json::Value::as_str).unwrap_or_default();
    match object.pointer("/metadata/namespace").and_then(serde_json::Value::as_str) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

pub fn file_name(resource: &str) -> String {
    format!("{resource}.yaml")
}

/// Where a session keeps the backup taken by one step.
pub fn step_dir(backups: &Path, step_id: &str) -> PathBuf {
    backups.join(step_id)
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::backup::writer::KindWriter;

    /// Reading object by object gives the objects in order and, at the end, the
    /// count and SHA-256 the backup recorded, as a whole scan does.
    #[test]
    fn reading_object_by_object_sums_the_file_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name("xs.example.com"));
        let mut w = KindWriter::create(&path, "xs.example.com").unwrap();
        for n in 0..3 {
            w.write(json!({"kind": "X", "metadata": {"name": format!("x-{n}"), "uid": format!("u-{n}")}})).unwrap();
        }
        let written = w.finish().unwrap();
        let mut objects = read_objects(&path).unwrap();
        let names: Vec<String> = objects.by_ref().map(|o| object_key(&o.unwrap())).collect();
        assert_eq!(names, ["x-0", "x-1", "x-2"]);
        assert_eq!(objects.sum(), (written.count, written.sha256.clone()));
        assert_eq!(scan_file(&path, |_| Ok(())).unwrap(), (3, written.sha256));
    }
}
