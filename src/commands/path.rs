//! Finding a program the way a shell would, before starting it, so that a missing
//! or non-executable program gets an error that names it.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::error::CommandError;

/// The executable `program` names on this process's PATH (or the file itself when
/// it contains a `/`), for preflight checks.
pub fn which(program: &str) -> Option<PathBuf> {
    resolve(program, std::env::var_os("PATH").as_deref(), None).ok()
}

/// Resolves `program` against `path_var` (the PATH the child will see), or, when it
/// contains a `/`, as a path relative to `cwd`. The result is absolute, so the child
/// runs exactly the file that was checked. Empty PATH entries are skipped rather than
/// meaning the current directory.
pub(crate) fn resolve(program: &str, path_var: Option<&OsStr>, cwd: Option<&Path>) -> Result<PathBuf, CommandError> {
    if program.is_empty() {
        return Err(CommandError::EmptyArgv);
    }
    if program.contains('/') {
        let path = absolute(Path::new(program), cwd);
        return match fs::metadata(&path) {
            Ok(meta) if meta.is_file() && is_executable(&meta) => Ok(path),
            Ok(_) => Err(CommandError::PermissionDenied { program: program.to_string(), path }),
            Err(_) => Err(CommandError::NoSuchFile { program: program.to_string(), path }),
        };
    }
    let path_var: OsString = path_var.map(OsStr::to_os_string).unwrap_or_default();
    let mut not_executable = None;
    for dir in std::env::split_paths(&path_var).filter(|d| !d.as_os_str().is_empty()) {
        let candidate = absolute(&dir.join(program), cwd);
        let Ok(meta) = fs::metadata(&candidate) else { continue };
        if !meta.is_file() {
            continue;
        }
        if is_executable(&meta) {
            return Ok(candidate);
        }
        not_executable.get_or_insert(candidate);
    }
    match not_executable {
        Some(path) => Err(CommandError::PermissionDenied { program: program.to_string(), path }),
        None => Err(CommandError::NotFound {
            program: program.to_string(),
            path_var: format!("PATH={}", path_var.to_string_lossy()),
        }),
    }
}

fn absolute(path: &Path, cwd: Option<&Path>) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let base = match cwd {
        Some(dir) if dir.is_absolute() => dir.to_path_buf(),
        Some(dir) => std::env::current_dir().map(|here| here.join(dir)).unwrap_or_else(|_| dir.to_path_buf()),
        None => std::env::current_dir().unwrap_or_default(),
    };
    base.join(path)
}

fn is_executable(meta: &fs::Metadata) -> bool {
    meta.permissions().mode() & 0o111 != 0
}
