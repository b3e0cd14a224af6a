//! The one state the screen is drawn from. [`super::update`] changes it,
//! [`super::view`] only reads it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::dialog::Dialog;
use super::log::{Kind, Log};
use super::progress::Progress;
use super::steps::{Row, StepView};
use super::theme::Theme;

/// The header's facts, from `SessionStarted`.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub rehearsal: bool,
    pub product: String,
    pub from: String,
    pub to: String,
    /// The version each hop reaches; the last is `to`.
    pub hops: Vec<String>,
    pub context: String,
    pub server: String,
    pub started: Instant,
}

/// From `SessionFinished`.
#[derive(Debug, Clone)]
pub struct Summary {
    pub status: String,
    pub elapsed: Duration,
    pub backups: PathBuf,
    pub report: Option<PathBuf>,
    pub resume_hint: Option<String>,
}

/// What covers the screen besides a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// "Leave stepwise?" waiting for yes or no.
    Quit,
}

#[derive(Debug)]
pub struct App {
    pub(super) theme: Theme,
    pub(super) now: Instant,
    pub(super) ticks: u64,
    pub(super) size: (u16, u16),
    pub(super) session: Option<Session>,
    pub(super) steps: Vec<StepView>,
    pub(super) rows: Vec<Row>,
    /// The step shown on the right.
    pub(super) selected: usize,
    /// Selection moves with the engine until the operator moves it.
    pub(super) follow: bool,
    /// The step the engine is on.
    pub(super) current: Option<usize>,
    pub(super) log: Log,
    pub(super) progress: Option<Progress>,
    pub(super) dialog: Option<Dialog>,
    /// The question is put aside (Tab) to read the screen behind it.
    pub(super) dialog_hidden: bool,
    pub(super) overlay: Overlay,
    /// The operator chose to leave; waiting for the engine to record the stop.
    pub(super) stopping: bool,
    pub(super) summary: Option<Summary>,
    pub(super) engine_gone: bool,
    /// The operator has seen the end and pressed a key.
    pub(super) dismissed: bool,
}

impl Session {
    /// `from -> hop -> ... -> to`, so intermediate releases are in plain sight.
    pub fn path(&self) -> String {
        let mut versions = vec![self.from.as_str()];
        versions.extend(self.hops.iter().map(String::as_str));
        if versions.last() != Some(&self.to.as_str()) {
            versions.push(&self.to);
        }
        versions.join(" -> ")
    }

    /// Where hop `hop` (from 0) starts and ends.
    pub fn hop_span(&self, hop: usize) -> Option<(&str, &str)> {
        let to = self.hops.get(hop)?;
        let from = if hop == 0 { &self.from } else { &self.hops[hop - 1] };
        Some((from, to))
    }
}

impl App {
    pub fn new(now: Instant, theme: Theme) -> Self {
        App {
            theme,
            now,
            ticks: 0,
            size: (80, 24),
            session: None,
            steps: Vec::new(),
            rows: Vec::new(),
            selected: 0,
            follow: true,
            current: None,
            log: Log::default(),
            progress: None,
            dialog: None,
            dialog_hidden: false,
            overlay: Overlay::None,
            stopping: false,
            summary: None,
            engine_gone: false,
            dismissed: false,
        }
    }

    /// Whether a session ran to its end (or the engine gave up) and the screen
    /// only waits for the operator to leave.
    pub fn is_over(&self) -> bool {
        self.summary.is_some() || self.engine_gone
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// A question still waiting when the screen closes is answered "stop", so the
    /// engine records a clean stop instead of losing its front end mid-question.
    pub fn abandon(&mut self) -> Option<super::message::Reply> {
        self.dialog.take().map(|d| d.into_reply(crate::engine::Answer::Stop))
    }

    /// What to print once the terminal is restored, so the end of the session
    /// (and the way to resume it) stays in the scrollback.
    pub fn farewell(&self) -> Vec<String> {
        if let Some(s) = &self.summary {
            let mut lines = vec![format!(
                "Session {} after {}. Backups: {}",
                s.status,
                super::format::duration(s.elapsed),
                s.backups.display()
            )];
            lines.extend(s.report.as_ref().map(|r| format!("Rehearsal report: {}", r.display())));
            lines.extend(s.resume_hint.as_ref().map(|h| format!("To continue later: {h}")));
            return lines;
        }
        // Without a summary the engine stopped early; its last words explain why.
        let mut notes: Vec<String> = self
            .log
            .entries()
            .rev()
            .filter_map(|e| match e.kind {
                Kind::Notice => Some(e.text.clone()),
                Kind::Warning => Some(format!("WARNING: {}", e.text)),
                _ => None,
            })
            .take(20)
            .collect();
        notes.reverse();
        notes
    }

    pub(super) fn spinner(&self) -> &'static str {
        ["|", "/", "-", "\\"][(self.ticks % 4) as usize]
    }

    pub(super) fn resume_command(&self) -> String {
        match &self.session {
            Some(s) => format!("stepwise resume {}", s.id),
            None => "stepwise resume".into(),
        }
    }
}
