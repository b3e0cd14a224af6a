//! The running step's progress, from `Event::Progress`, with the pace worked out
//! from the screen's clock so it can be shown as objects per second.

use std::time::{Duration, Instant};

use crate::ui::text::progress_text;

#[derive(Debug, Clone)]
pub struct Progress {
    pub index: usize,
    pub done: u64,
    pub total: Option<u64>,
    pub bytes: u64,
    pub what: String,
    /// When the first report for this step came.
    pub since: Instant,
}

impl Progress {
    /// Done out of total, when the total is known.
    pub fn ratio(&self) -> Option<f64> {
        let total = self.total.filter(|t| *t > 0)?;
        Some((self.done as f64 / total as f64).clamp(0.0, 1.0))
    }

    pub fn text(&self) -> String {
        progress_text(self.done, self.total, self.bytes, &self.what)
    }

    /// Objects per second; `None` in the first second, when it would mislead.
    pub fn rate(&self, now: Instant) -> Option<f64> {
        let elapsed = now.saturating_duration_since(self.since);
        (elapsed >= Duration::from_secs(1)).then(|| self.done as f64 / elapsed.as_secs_f64())
    }
}
