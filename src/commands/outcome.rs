//! What happened to a command that was started.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use super::output::Captured;

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status code.
    Code(i32),
    /// A signal ended it (SIGTERM is 15, SIGKILL is 9).
    Signal(i32),
}

impl Exit {
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }

    pub(crate) fn from_status(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            // Neither is possible for a process that has ended on Unix.
            (None, None) => Exit::Code(-1),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit code {code}"),
            Exit::Signal(signal) => match nix::sys::signal::Signal::try_from(*signal) {
                Ok(name) => write!(f, "signal {signal} ({})", name.as_str()),
                Err(_) => write!(f, "signal {signal}"),
            },
        }
    }
}

/// How stepwise stopped the command's processes, when it had to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM was enough: everything ended within the grace period.
    Terminated,
    /// Something outlived the grace period and was sent SIGKILL.
    Killed,
}

#[derive(Debug, Clone)]
pub struct CommandOutcome {
    pub argv: Vec<String>,
    pub exit: Exit,
    /// The tail of each stream (see [`Captured`]); every line was also streamed.
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
    /// The timeout ran out while the program was running.
    pub timed_out: bool,
    /// The run was cancelled while the program was running.
    pub cancelled: bool,
    /// The program exited but processes it started kept running (and, usually, its
    /// output open) past the drain period, so they were stopped.
    pub lingering: bool,
    /// Whether, and how, stepwise had to stop the process group.
    pub stopped: Option<Stopped>,
}

impl CommandOutcome {
    /// Exit code 0, and neither timed out nor cancelled.
    pub fn success(&self) -> bool {
        self.exit.success() && !self.timed_out && !self.cancelled
    }
}
