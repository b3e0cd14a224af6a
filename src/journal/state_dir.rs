//! Where sessions live unless `--state-dir` says otherwise.

use std::path::{Path, PathBuf};

use super::files::SESSIONS_DIR;

/// `$XDG_STATE_HOME/stepwise`, else `~/.local/state/stepwise`.
pub fn default_state_dir() -> PathBuf {
    let Some(base) = directories::BaseDirs::new() else {
        // No home directory at all (a bare container, say). Failing here would stop
        // even `stepwise --help`; a directory beside the working directory keeps the
        // tool usable, and `--state-dir` chooses a better place.
        return PathBuf::from(".stepwise-state");
    };
    // `directories` has a state directory on Linux only; elsewhere use the XDG layout
    // anyway so that sessions are found in the same place on every system.
    let state = base.state_dir().map(Path::to_path_buf).unwrap_or_else(|| base.home_dir().join(".local/state"));
    state.join("stepwise")
}

/// The directory holding one subdirectory per session.
pub fn sessions_dir(state_dir: &Path) -> PathBuf {
    state_dir.join(SESSIONS_DIR)
}
