//! Kubernetes operations behind the step kinds, through kube-rs (never a kubectl
//! child process). Every write honours a [`Mode`]: in rehearsal the API server
//! validates the write as a server-side dry run and stores nothing.

pub mod apply;
pub mod backup;
pub mod compare;
pub mod connect;
pub mod delete;
pub mod detect;
pub mod error;
pub mod lease;
pub mod manifest;
pub mod pinned;
pub mod preflight;
pub mod proof;
pub mod protobuf;
pub mod resource;
pub mod restore;
pub mod retry;
pub mod rollout;
pub mod scratch;
pub mod settings;
pub mod skew;
pub mod strip;
pub mod wait;
pub mod watch;
pub mod workload;

pub use connect::Connection;
pub use error::ClusterError;

use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

use crate::base::Mode;

/// The field manager stepwise writes with, so its changes are recognisable.
pub const FIELD_MANAGER: &str = "stepwise";

/// The kube parameters for a write in each mode.
impl Mode {
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
        PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            dry_run: self.is_rehearsal(),
            ..PatchParams::default()
        }
    }

    pub fn delete_params(self) -> DeleteParams {
        DeleteParams { dry_run: self.is_rehearsal(), ..DeleteParams::default() }
    }
}

/// A merge patch body, for the few places that patch rather than apply.
pub fn merge_patch(value: serde_json::Value) -> Patch<serde_json::Value> {
    Patch::Merge(value)
}
