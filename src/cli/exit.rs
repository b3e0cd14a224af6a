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
