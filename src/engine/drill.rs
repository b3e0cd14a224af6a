//! Hold points for interruption drills. Proving that a session killed at a given
//! point resumes without harm needs the kill to land exactly there; racing a
//! watcher against steps that take microseconds cannot promise that. With
//! `STEPWISE_DRILL_HOLD_BEFORE_STEP=N` the engine, once everything before step N
//! (counted from 0; the number of steps means "after the last") is on disk,
//! says so on stderr and waits for the signal that ends it;
//! `STEPWISE_DRILL_HOLD_IN_STEP=N` does the same once step N is recorded as
//! started, before any of its work. Nothing else changes, and without the
//! variables this costs one lookup per step.

use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Between steps: the ones before are finished on disk, this one has not started.
    Before(usize),
    /// The step is recorded as started and has done nothing yet.
    Inside(usize),
}

impl Point {
    pub fn variable(self) -> &'static str {
        match self {
            Point::Before(_) => "STEPWISE_DRILL_HOLD_BEFORE_STEP",
            Point::Inside(_) => "STEPWISE_DRILL_HOLD_IN_STEP",
        }
    }

    fn index(self) -> usize {
        match self {
            Point::Before(i) | Point::Inside(i) => i,
        }
    }

    /// The line a drill waits for on stderr.
    pub fn holding_line(self) -> String {
        match self {
            Point::Before(i) => format!("drill: holding before step {i}"),
            Point::Inside(i) => format!("drill: holding in step {i}"),
        }
    }
}

/// Waits forever when the drill asks to hold at `point`.
pub async fn hold(point: Point) {
    let wanted = std::env::var(point.variable()).ok().and_then(|v| v.trim().parse::<usize>().ok());
    if wanted != Some(point.index()) {
        return;
    }
    tracing::warn!(?point, "{} is set: holding until the process is killed", point.variable());
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", point.holding_line());
    let _ = err.flush();
    drop(err);
    std::future::pending::<()>().await;
}
