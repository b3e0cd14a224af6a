//! How long operations report what they are doing, without knowing who listens.

use std::sync::Arc;

/// Something a cluster operation wants the operator to see.
#[derive(Debug, Clone, PartialEq)]
pub enum OpEvent {
    /// Work counted in objects (backups, restores, rollouts, waits).
    Progress { done: u64, total: Option<u64>, bytes: u64, what: String },
    /// A line for the log.
    Line(String),
    /// Something the operator should read even if all goes well.
    Warning(String),
}

/// Receives operation events; front ends turn them into gauges and log lines.
pub type Reporter = Arc<dyn Fn(OpEvent) + Send + Sync>;

/// A reporter that drops everything, for callers that do not display progress.
pub fn silent() -> Reporter {
    Arc::new(|_| {})
}
