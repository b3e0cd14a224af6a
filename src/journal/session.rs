//! What a session is about: kept in `session.json`, rewritten only when it changes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::base::{ClusterIdentity, Mode, Target};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionMeta {
    /// `YYYYMMDD-HHMMSS-<product>-<from>-to-<to>` in UTC, with `-2`, `-3`… when taken.
    /// Set by [`Journal::create`](super::Journal::create); whatever is passed in is replaced.
    pub id: String,
    pub product: String,
    pub from: String,
    pub to: String,
    pub mode: Mode,
    /// RFC 3339, UTC. Set by [`Journal::create`](super::Journal::create).
    pub created_at: String,
    /// The kubeconfig and context as the operator gave them.
    pub target: Target,
    pub cluster: ClusterIdentity,
    /// Runbook file name -> SHA-256 (hex) of the content the plan was made from.
    pub runbooks: BTreeMap<String, String>,
    pub facts: BTreeMap<String, String>,
    /// Resolved variable values.
    pub variables: BTreeMap<String, String>,
    /// The plan as JSON.
    pub plan: serde_json::Value,
    pub status: SessionStatus,
    /// For a shadow rehearsal: the primary cluster, which the session only
    /// read; `cluster` is then the shadow it ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_of: Option<ClusterIdentity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Running,
    Finished,
    Failed,
    Interrupted,
    Abandoned,
}

impl SessionStatus {
    /// Whether `resume` may continue the session.
    pub fn is_unfinished(self) -> bool {
        matches!(self, SessionStatus::Running | SessionStatus::Failed | SessionStatus::Interrupted)
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionStatus::Running => "running",
            SessionStatus::Finished => "finished",
            SessionStatus::Failed => "failed",
            SessionStatus::Interrupted => "interrupted",
            SessionStatus::Abandoned => "abandoned",
        })
    }
}
