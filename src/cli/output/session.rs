//! The documents about sessions: `stepwise sessions`, and the summary `run`,
//! `rehearse` and `resume` print at the end with `-o json`, gathered from the
//! engine's events on their way to the front end.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use super::{ApiVersion, RunSummaryKind, SessionListKind};
use crate::engine::{Event, StepInfo};
use crate::journal::{SessionStatus, SessionSummary, TRANSCRIPT_FILE};

/// `stepwise sessions`: newest first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionList {
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    pub kind: SessionListKind,
    /// Where the sessions are kept.
    pub state_dir: PathBuf,
    pub sessions: Vec<SessionShown>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionShown {
    /// What `stepwise resume ID` takes.
    pub id: String,
    /// The session's folder: journal, transcript and report.
    pub dir: PathBuf,
    pub product: String,
    pub from: String,
    pub to: String,
    /// Whether every write was a server-side dry run.
    pub rehearsal: bool,
    pub status: SessionState,
    /// The API server's address.
    pub server: String,
    pub context: String,
    /// `title (state)` of the last step that is not pending.
    pub last_step: Option<String>,
    pub created_at: String,
    /// Why the session cannot be read, when it cannot.
    pub damaged: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Running,
    Finished,
    Failed,
    Interrupted,
    /// Marked running, but no stepwise holds it: it ended without recording why.
    EndedUnrecorded,
    Abandoned,
}

/// What `run`, `rehearse` and `resume` print at the end with `-o json`: the
/// session, how it ended and where each step stands.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunSummary {
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    pub kind: RunSummaryKind,
    /// What `stepwise resume ID` takes.
    pub session: String,
    /// The session's folder.
    pub dir: PathBuf,
    pub product: String,
    pub from: String,
    pub to: String,
    /// Whether every write was a server-side dry run.
    pub rehearsal: bool,
    pub context: String,
    /// The API server's address.
    pub server: String,
    pub outcome: RunOutcomeShown,
    /// The session's status as its journal records it.
    pub status: Option<String>,
    /// The command that continues the session, when it can be continued.
    pub resume: Option<String>,
    /// Every step, in order, with the state it ended in.
    pub steps: Vec<StepShown>,
    /// What the operator saw, one JSON event a line.
    pub transcript: PathBuf,
    /// The rehearsal's report, when there is one.
    pub report: Option<PathBuf>,
    /// The folder of the session's backups.
    pub backups: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcomeShown {
    /// Every step is done (exit 0).
    Finished,
    /// The operator stopped at a prompt (exit 7).
    Stopped,
    /// A step failed (exit 6).
    Failed,
    /// Ctrl-C, SIGTERM or SIGHUP (exit 130).
    Interrupted,
    /// The session could not go on; the error on standard error says why.
    Error,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepShown {
    pub index: usize,
    /// 0-based index of the hop the step belongs to.
    pub hop: usize,
    pub id: String,
    pub title: String,
    /// The item a step repeated per item works on.
    pub item: Option<String>,
    pub destructive: bool,
    /// pending, running, done, skipped, failed, … as the journal records it.
    pub state: String,
}

/// Builds a [`RunSummary`] from the events a session sends its front end.
#[derive(Debug, Default)]
pub struct RunRecorder {
    summary: Option<RunSummary>,
}

impl RunRecorder {
    pub fn observe(&mut self, event: &Event) {
        match event {
            Event::SessionStarted { id, dir, rehearsal, product, from, to, context, server, steps, .. } => {
                self.summary = Some(RunSummary {
                    api_version: ApiVersion::V1,
                    kind: RunSummaryKind::RunSummary,
                    session: id.clone(),
                    dir: dir.clone(),
                    product: product.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    rehearsal: *rehearsal,
                    context: context.clone(),
                    server: server.clone(),
                    outcome: RunOutcomeShown::Error,
                    status: None,
                    resume: None,
                    steps: steps.iter().map(step_shown).collect(),
                    transcript: dir.join(TRANSCRIPT_FILE),
                    report: None,
                    backups: None,
                });
            }
            Event::StepStarted { index, .. } => self.set_state(*index, "running"),
            Event::StepFinished { index, state, .. } => self.set_state(*index, &state.to_string()),
            Event::StepFailed { index, .. } => self.set_state(*index, "failed"),
            Event::SessionFinished { status, backups, report, resume_hint, .. } => {
                if let Some(summary) = &mut self.summary {
                    summary.status = Some(status.clone());
                    summary.backups = Some(backups.clone());
                    summary.report = report.clone();
                    summary.resume = resume_hint.clone();
                }
            }
            _ => {}
        }
    }

    fn set_state(&mut self, index: usize, state: &str) {
        if let Some(step) = self.summary.as_mut().and_then(|s| s.steps.iter_mut().find(|s| s.index == index)) {
            step.state = state.to_string();
        }
    }

    /// The summary of the session, if one started.
    pub fn finish(self, outcome: RunOutcomeShown) -> Option<RunSummary> {
        self.summary.map(|summary| RunSummary { outcome, ..summary })
    }
}

fn step_shown(step: &StepInfo) -> StepShown {
    StepShown {
        index: step.index,
        hop: step.hop,
        id: step.id.clone(),
        title: step.title.clone(),
        item: step.item.clone(),
        destructive: step.destructive,
        state: step.state.to_string(),
    }
}

/// `stepwise sessions` as a document.
pub fn session_list(state_dir: PathBuf, sessions: &[SessionSummary]) -> SessionList {
    let sessions = sessions
        .iter()
        .map(|s| SessionShown {
            id: s.id.clone(),
            dir: s.dir.clone(),
            product: s.product.clone(),
            from: s.from.clone(),
            to: s.to.clone(),
            rehearsal: s.mode.is_rehearsal(),
            status: match s.status {
                _ if s.ended_unrecorded() => SessionState::EndedUnrecorded,
                SessionStatus::Running => SessionState::Running,
                SessionStatus::Finished => SessionState::Finished,
                SessionStatus::Failed => SessionState::Failed,
                SessionStatus::Interrupted => SessionState::Interrupted,
                SessionStatus::Abandoned => SessionState::Abandoned,
            },
            server: s.server.clone(),
            context: s.context.clone(),
            last_step: s.last_step.clone(),
            created_at: s.created_at.clone(),
            damaged: s.damaged.clone(),
        })
        .collect();
    SessionList { api_version: ApiVersion::V1, kind: SessionListKind::SessionList, state_dir, sessions }
}
