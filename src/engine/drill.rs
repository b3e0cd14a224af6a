//! A hold point for interruption drills. Proving that a session killed between
//! two steps resumes without running anything twice needs the kill to land
//! exactly there; racing a watcher against steps that take microseconds cannot
//! promise that. With `STEPWISE_DRILL_HOLD_BEFORE_STEP=N` the engine, once
//! everything before step N (counted from 0; the number of steps means "after
//! the last") is on disk, says so on stderr and waits for the signal that ends
//! it. Nothing else changes, and without the variable this costs one lookup
//! per step.

use std::io::Write;

pub const HOLD_VARIABLE: &str = "STEPWISE_DRILL_HOLD_BEFORE_STEP";

/// The line a drill waits for on stderr.
pub fn holding_line(index: usize) -> String {
    format!("drill: holding before step {index}")
}

/// Waits forever when the drill asks to hold before step `index`.
pub async fn hold_before(index: usize) {
    let wanted = std::env::var(HOLD_VARIABLE).ok().and_then(|v| v.trim().parse::<usize>().ok());
    if wanted != Some(index) {
        return;
    }
    tracing::warn!(index, "{HOLD_VARIABLE} is set: holding until the process is killed");
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", holding_line(index));
    let _ = err.flush();
    drop(err);
    std::future::pending::<()>().await;
}
