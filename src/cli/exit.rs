//! Exit codes, documented in the README; scripts may rely on them.

/// Everything went as asked.
pub const OK: u8 = 0;
/// Something unexpected; the message says what.
pub const FAILURE: u8 = 1;
/// The command line was wrong (clap uses 2 as well).
pub const USAGE: u8 = 2;
/// A runbook has problems.
pub const RUNBOOK: u8 = 3;
/// The request cannot be done as asked (downgrade, no path, procedure does not fit).
pub const REFUSED: u8 = 4;
/// A preflight check failed; nothing was changed.
pub const PREFLIGHT: u8 = 5;
/// A step failed and the operator (or --yes) stopped; the session can be resumed.
pub const STEP_FAILED: u8 = 6;
/// The operator stopped at a prompt; the session can be resumed.
pub const STOPPED: u8 = 7;
/// The cluster could not be reached or the kubeconfig read.
pub const CLUSTER: u8 = 8;
/// Ctrl-C or SIGTERM; the session can be resumed.
pub const INTERRUPTED: u8 = 130;

/// Every exit code with its meaning, as the man page lists them.
pub const MEANINGS: &[(u8, &str)] = &[
    (OK, "Done."),
    (FAILURE, "Something unexpected; the message says what."),
    (USAGE, "The command line was wrong, or no terminal and no --yes."),
    (RUNBOOK, "A runbook has problems."),
    (
        REFUSED,
        "The request cannot be done as asked (downgrade, no path, changed runbooks, a backup the cluster no longer matches).",
    ),
    (PREFLIGHT, "A preflight check failed; nothing was changed."),
    (STEP_FAILED, "A step failed; the session can be resumed."),
    (STOPPED, "The operator stopped at a prompt; the session can be resumed."),
    (CLUSTER, "The cluster could not be reached or the kubeconfig read."),
    (INTERRUPTED, "Ctrl-C, SIGTERM or SIGHUP; the session can be resumed."),
];
