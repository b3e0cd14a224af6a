//! Reading runbook files from the directories and files the operator names:
//! the filesystem side of the catalog. Each file is handed as its path and
//! text to the pure [`crate::runbook::load`], which parses and checks them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::runbook::Catalog;
use crate::runbook::error::{RunbookError, SourceFile};
use crate::runbook::load::{PRODUCT_FILE, RawFile, build, embedded_files, is_yaml, merge};

/// The embedded runbooks plus every directory in `extra`, checked together.
pub fn load(extra: &[PathBuf]) -> Result<Catalog, RunbookError> {
    build(merge(embedded_files(), files_at_all(extra)?))
}

/// Runbook files under each of `paths`, each file once however many of the
/// paths lead to it (a directory and a file inside it, say).
pub fn files_at_all(paths: &[PathBuf]) -> Result<Vec<RawFile>, RunbookError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for path in paths {
        for file in files_at(path)? {
            let key = file.path.as_ref().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()));
            if seen.insert(key) {
                out.push(file);
            }
        }
    }
    Ok(out)
}

/// Runbook files under `path`: a single file (with the product file beside it,
/// if there is one), a product directory (one holding `product.yaml` or
/// procedure files), or a directory of product directories. A directory
/// without any is an error: it was surely meant to hold some.
pub fn files_at(path: &Path) -> Result<Vec<RawFile>, RunbookError> {
    let files = collect_at(path)?;
    if files.is_empty() {
        return Err(RunbookError::Empty { path: path.display().to_string() });
    }
    Ok(files)
}

fn collect_at(path: &Path) -> Result<Vec<RawFile>, RunbookError> {
    let io = |source| RunbookError::Io { path: path.display().to_string(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        return file_and_product(path);
    }
    let mut out = Vec::new();
    let entries = sorted_entries(path).map_err(io)?;
    let holds_yaml = entries.iter().any(|p| p.is_file() && is_yaml(p));
    if holds_yaml {
        let dir = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for p in entries.iter().filter(|p| p.is_file() && is_yaml(p)) {
            out.push(read_file(p, dir.clone())?);
        }
    } else {
        for sub in entries.iter().filter(|p| p.is_dir()) {
            out.extend(collect_at(sub)?);
        }
    }
    Ok(out)
}

/// A procedure file named on its own is read with the product file beside it,
/// so that it is checked against its own product.
fn file_and_product(path: &Path) -> Result<Vec<RawFile>, RunbookError> {
    let dir = parent_name(path);
    let mut out = vec![read_file(path, dir.clone())?];
    let product = path.with_file_name(PRODUCT_FILE);
    if !out[0].is_product() && product.is_file() {
        out.push(read_file(&product, dir)?);
    }
    Ok(out)
}

fn read_file(path: &Path, dir: String) -> Result<RawFile, RunbookError> {
    let io = |source| RunbookError::Io { path: path.display().to_string(), source };
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text ({e})"))))?;
    Ok(RawFile::new(dir, SourceFile::new(path.display().to_string(), text), Some(path.to_path_buf())))
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

fn parent_name(path: &Path) -> String {
    path.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
