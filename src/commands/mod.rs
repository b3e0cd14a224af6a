//! Vendor CLIs as child processes.
//!
//! A command is an argument vector, never a shell string: each rendered template is
//! exactly one argument, whatever spaces, quotes, `;`, `$()` or newlines it holds.
//! [`run`] streams stdout and stderr line by line to the caller (which writes the
//! transcript), keeps a bounded tail of each, enforces a timeout and cancellation by
//! stopping the command's whole process group (SIGTERM, then SIGKILL after a grace
//! period), and reports the exit status. [`plan_for_mode`] holds the rehearsal rule;
//! [`which`] and [`version_of`] serve preflight checks.

mod error;
mod group;
mod outcome;
mod output;
mod path;
mod preflight;
mod rehearsal;
mod request;
mod run;

pub use error::CommandError;
pub use group::stop_group;
pub use outcome::{CommandOutcome, Exit, Stopped};
pub use output::{Captured, MAX_LINE, OutputLine, Stream, shown};
pub use path::which;
pub use preflight::{VERSION_TIMEOUT, version_of};
pub use rehearsal::{Planned, plan_for_mode};
pub use request::{
    CommandRequest, DEFAULT_CAPTURE_LIMIT, DEFAULT_DRAIN, DEFAULT_GRACE, DEFAULT_TIMEOUT, KUBE_CONTEXT_VARIABLE,
    KubeEnv,
};
pub use run::{run, run_recorded};
