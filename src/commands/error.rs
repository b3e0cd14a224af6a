//! Why a command could not be run at all. A command that runs and exits non-zero
//! is not an error here: its outcome says so and the caller decides.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("the command is empty: an argument vector needs at least the program name")]
    EmptyArgv,
    #[error("`{program}` was not found on PATH ({path_var}); install it or add the directory that holds it to PATH")]
    NotFound { program: String, path_var: String },
    #[error("`{program}` does not exist (looked for {}); check the path", path.display())]
    NoSuchFile { program: String, path: PathBuf },
    #[error("`{program}` was found at {} but is not executable; fix its permissions (chmod +x) or PATH", path.display())]
    PermissionDenied { program: String, path: PathBuf },
    #[error("`{program}` could not be started: {source}{}", spawn_hint(source))]
    Spawn { program: String, source: io::Error },
    #[error("lost track of `{program}` while it ran: {source}")]
    Wait { program: String, source: io::Error },
    #[error("KUBECONFIG path {} is not valid UTF-8", path.display())]
    NonUtf8Kubeconfig { path: PathBuf },
    #[error("`{program}` was stopped at once: its start could not be recorded ({message})")]
    NotRecorded { program: String, message: String },
    #[error("`{program}` did not report its version: {detail}")]
    NoVersion { program: String, detail: String },
}

fn spawn_hint(err: &io::Error) -> &'static str {
    match err.kind() {
        // The file exists (it was looked up first), so ENOENT from exec means the
        // interpreter named on its `#!` line is missing.
        io::ErrorKind::NotFound => " (if it is a script, the interpreter on its first line may be missing)",
        _ => "",
    }
}
