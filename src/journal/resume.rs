//! What `resume` checks before continuing a session: the same cluster, and which
//! runbook files changed since the plan was made.

use std::collections::BTreeMap;
use std::fmt;

use super::error::JournalError;
use super::store::Journal;
use crate::base::ClusterIdentity;

/// A runbook file that differs from when the session was planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunbookChange {
    Modified { file: String, recorded: String, current: String },
    Removed { file: String },
    Added { file: String },
}

impl fmt::Display for RunbookChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunbookChange::Modified { file, recorded, current } => {
                write!(f, "{file} changed (sha256 {} then, {} now)", short(recorded), short(current))
            }
            RunbookChange::Removed { file } => write!(f, "{file} is gone"),
            RunbookChange::Added { file } => write!(f, "{file} is new"),
        }
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

impl Journal {
    /// Refuses a cluster other than the session's. The kube-system namespace UID
    /// decides when both sides have one: it survives a new address or context name
    /// and differs between clusters behind the same address. Without it, the
    /// server address decides.
    pub fn check_cluster(&self, found: &ClusterIdentity) -> Result<(), JournalError> {
        let expected = &self.meta().cluster;
        let same = if !expected.kube_system_uid.is_empty() && !found.kube_system_uid.is_empty() {
            expected.kube_system_uid == found.kube_system_uid
        } else {
            expected.server == found.server
        };
        if same {
            return Ok(());
        }
        Err(JournalError::ClusterMismatch {
            id: self.id().to_string(),
            expected: Box::new(expected.clone()),
            found: Box::new(found.clone()),
        })
    }

    /// Runbook files (name -> SHA-256 hex, as in [`SessionMeta::runbooks`](super::SessionMeta::runbooks))
    /// that differ from the recorded ones, in name order.
    pub fn changed_runbooks(&self, current: &BTreeMap<String, String>) -> Vec<RunbookChange> {
        let recorded = &self.meta().runbooks;
        let mut changes = Vec::new();
        for (file, then) in recorded {
            match current.get(file) {
                None => changes.push(RunbookChange::Removed { file: file.clone() }),
                Some(now) if !now.eq_ignore_ascii_case(then) => changes.push(RunbookChange::Modified {
                    file: file.clone(),
                    recorded: then.clone(),
                    current: now.clone(),
                }),
                Some(_) => {}
            }
        }
        for file in current.keys().filter(|f| !recorded.contains_key(*f)) {
            changes.push(RunbookChange::Added { file: file.clone() });
        }
        changes.sort_by(|a, b| name(a).cmp(name(b)));
        changes
    }
}

fn name(change: &RunbookChange) -> &str {
    match change {
        RunbookChange::Modified { file, .. } | RunbookChange::Removed { file } | RunbookChange::Added { file } => file,
    }
}
