//! The session engine: runs a plan step by step against a cluster, real or
//! rehearsed, records every state change on disk before moving on, and resumes
//! where a session stopped. It knows no terminal: it talks to a front end through
//! [`events`].

mod actions;
pub mod detection;
mod discover;
pub mod drill;
pub mod error;
pub mod events;
mod execute;
mod failure;
mod gate;
mod guards;
mod lease;
mod notes;
mod orphan;
mod preflight;
pub mod prepare;
mod recovery;
mod report;
mod runner;
mod session;
pub mod shadow;
pub mod standalone;
mod step;
mod variables;
mod work;

pub use error::EngineError;
pub use events::{
    ActionKind, Answer, Detection, Event, Inbox, Msg, Outbox, ProcedureChoice, Question, StepInfo, channel,
};
pub use prepare::{PlanRequest, PrepareError, RunRequest};
pub use runner::RunOutcome;
pub use session::{ResumeRequest, StartRequest, resume, start};
