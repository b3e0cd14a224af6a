//! What can go wrong with a session's files: each names the file and says what the
//! operator can do about it.

use std::io;
use std::path::PathBuf;

use crate::base::ClusterIdentity;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "cannot {action} {}: {source} (check that the state directory is writable and the disk is not full; \
         --state-dir chooses another state directory)",
        path.display()
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a stepwise session: it has no session.json (`stepwise sessions` lists the sessions)", dir.display())]
    NotASession { dir: PathBuf },
    #[error(
        "session file {} is missing, so the session cannot be resumed; look into {} or start the upgrade afresh",
        path.display(),
        dir.display()
    )]
    Missing { path: PathBuf, dir: PathBuf },
    #[error(
        "session file {} is damaged ({problem}), so the session cannot be resumed; look into {} or start the \
         upgrade afresh",
        path.display(),
        dir.display()
    )]
    Damaged { path: PathBuf, dir: PathBuf, problem: String },
    #[error("there is no session `{id}` in {}; {}", sessions_dir.display(), newest_ids(newest))]
    UnknownSession { id: String, sessions_dir: PathBuf, newest: Vec<String> },
    #[error(
        "session {id} is in use by another stepwise process ({}); wait for it to end or stop it, then try again \
         (lock file: {})",
        holder(*pid),
        lock.display()
    )]
    InUse { id: String, pid: Option<u32>, lock: PathBuf },
    #[error("session {id} has no step {index} (it has {count}); this is a bug in stepwise")]
    NoSuchStep { id: String, index: usize, count: usize },
    #[error("session {id} was opened read-only and cannot be changed; this is a bug in stepwise")]
    ReadOnly { id: String },
    #[error("cannot encode {}: {source}; this is a bug in stepwise", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "session {id} belongs to cluster {} (context {}, kube-system uid {}) but this is {} (context {}, \
         kube-system uid {}); connect to the session's cluster with --kubeconfig/--context, or start a new upgrade",
        expected.server, expected.context, expected.kube_system_uid,
        found.server, found.context, found.kube_system_uid
    )]
    ClusterMismatch { id: String, expected: Box<ClusterIdentity>, found: Box<ClusterIdentity> },
}

impl JournalError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> JournalError {
        let path = path.into();
        move |source| JournalError::Io { action, path, source }
    }
}

fn newest_ids(newest: &[String]) -> String {
    if newest.is_empty() {
        "there are no sessions there yet".into()
    } else {
        format!("the newest are: {} (`stepwise sessions` lists them all)", newest.join(", "))
    }
}

fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(pid) if pid == std::process::id() => format!("pid {pid}, which is this process: it has it open already"),
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown".into(),
    }
}
