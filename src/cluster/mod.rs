//! Kubernetes operations behind the step kinds, through kube-rs (never a kubectl
//! child process). Every write honours a [`Mode`]: in rehearsal the API server
//! validates the write as a server-side dry run and stores nothing.

pub mod apply;
pub mod backup;
pub mod connect;
pub mod delete;
pub mod detect;
pub mod error;
pub mod lease;
pub mod manifest;
pub mod pinned;
pub mod preflight;
pub mod progress;
pub mod proof;
pub mod protobuf;
pub mod resource;
pub mod restore;
pub mod retry;
pub mod rollout;
pub mod settings;
pub mod skew;
pub mod strip;
pub mod wait;

pub use connect::{ClusterIdentity, Connection, Target};
pub use error::ClusterError;
pub use progress::{OpEvent, Reporter};

use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

/// The field manager stepwise writes with, so its changes are recognisable.
pub const FIELD_MANAGER: &str = "stepwise";

/// Whether writes happen for real or only as server-side dry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Real,
    Rehearsal,
}

impl Mode {
    pub fn is_rehearsal(self) -> bool {
        self == Mode::Rehearsal
    }

    pub fn post_params(self) -> PostParams {
        PostParams { dry_run: self.is_rehearsal(), field_manager: Some(FIELD_MANAGER.into()) }
    }

    /// Server-side apply; `force` takes over fields another manager owns.
    pub fn apply_params(self, force: bool) -> PatchParams {
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        pp.force = force;
        pp.dry_run = self.is_rehearsal();
        pp
    }

    pub fn patch_params(self) -> PatchParams {
        let mut pp = PatchParams::default();
        pp.field_manager = Some(FIELD_MANAGER.into());
        pp.dry_run = self.is_rehearsal();
        pp
    }

    pub fn delete_params(self) -> DeleteParams {
        DeleteParams { dry_run: self.is_rehearsal(), ..DeleteParams::default() }
    }
}

/// A merge patch body, for the few places that patch rather than apply.
pub fn merge_patch(value: serde_json::Value) -> Patch<serde_json::Value> {
    Patch::Merge(value)
}
