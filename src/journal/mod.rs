//! The session journal: everything needed to pick an interrupted upgrade up exactly
//! where it stopped, kept in one directory per session under the state directory.
//!
//! ```text
//! <state dir>/sessions/<id>/
//!     session.json      plan, variables, runbook hashes, cluster identity, status
//!     steps.json        one record per step; rewritten on every step change
//!     transcript.jsonl  every event and answer, one JSON object per line
//!     backups/          what the steps saved before changing the cluster
//!     lock              held by the process driving the session; holds its pid
//! ```
//!
//! Every state change reaches the disk (temp file, fsync, rename, fsync of the
//! directory) before the call returns, so a kill at any moment leaves either the
//! previous state or the new one. The meta and the step records live in separate
//! files so that the frequent step updates do not rewrite the plan each time.
//!
//! A new session is assembled in a hidden `sessions/.creating-*` directory and
//! renamed into place whole, so a crash while creating never leaves half a session.

mod clock;
mod error;
mod files;
mod list;
mod lock;
mod resume;
mod session;
mod state_dir;
mod steps;
mod store;
mod transcript;

pub use error::JournalError;
pub(crate) use files::TRANSCRIPT_FILE;
pub use list::SessionSummary;
pub use resume::RunbookChange;
pub use session::{SessionMeta, SessionStatus};
pub use state_dir::{default_state_dir, sessions_dir};
pub use steps::{StepRecord, StepState};
pub use store::Journal;
pub use transcript::{Appender, TranscriptEntry, TranscriptSink};
