//! The vocabulary every layer shares: which cluster, whether writes are real,
//! how to cancel, how long work reports progress. Nothing here talks to a
//! cluster, a terminal or the disk.

pub mod cancel;
pub mod duration;
pub mod progress;
pub mod version;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use cancel::{CancelSignal, Canceller, cancel_pair};
pub use progress::{OpEvent, Reporter};
pub use version::{Version, VersionFormat};

/// Which cluster to talk to, as the operator named it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// A kubeconfig file; `KUBECONFIG` or `~/.kube/config` when absent.
    pub kubeconfig: Option<PathBuf>,
    /// A context in it; the current context when absent.
    pub context: Option<String>,
}

/// What identifies a cluster across sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIdentity {
    pub server: String,
    pub context: String,
    /// The UID of the `kube-system` namespace: stable for the life of a cluster and
    /// different for every cluster, even behind the same address.
    pub kube_system_uid: String,
}

/// Whether writes happen for real or only as server-side dry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Real,
    Rehearsal,
}

impl Mode {
    pub fn is_rehearsal(self) -> bool {
        self == Mode::Rehearsal
    }
}

// The workload kinds a rollout restart acts on; runbooks name them, and the
// cluster layer lists and restarts them. (No doc comment: it would change the
// runbook schema's description of the field.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}
