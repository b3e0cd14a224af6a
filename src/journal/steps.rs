//! One record per step of the plan: kept in `steps.json`, rewritten on every change.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Index of the hop in the plan.
    pub hop: usize,
    /// The step id in its runbook.
    pub step: String,
    /// The list item, for a step repeated once per item.
    pub item: Option<String>,
    pub title: String,
    pub kind: String,
    pub destructive: bool,
    pub state: StepState,
    /// RFC 3339, UTC, of the latest attempt.
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub attempts: u32,
    /// One line saying what the latest attempt did.
    pub outcome: Option<String>,
    pub error: Option<String>,
    /// The command the latest attempt started, recorded as it started, so that
    /// a resume after stepwise was killed can tell whether it still runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<crate::process::ProcessMark>,
}

impl StepRecord {
    /// A step not yet started.
    pub fn pending(
        hop: usize,
        step: impl Into<String>,
        item: Option<String>,
        title: impl Into<String>,
        kind: impl Into<String>,
        destructive: bool,
    ) -> Self {
        StepRecord {
            hop,
            step: step.into(),
            item,
            title: title.into(),
            kind: kind.into(),
            destructive,
            state: StepState::Pending,
            started_at: None,
            ended_at: None,
            attempts: 0,
            outcome: None,
            error: None,
            child: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Skipped,
    Failed,
    Interrupted,
}

impl StepState {
    /// Done or skipped: nothing left to do for this step.
    pub fn is_settled(self) -> bool {
        matches!(self, StepState::Done | StepState::Skipped)
    }
}

impl fmt::Display for StepState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Done => "done",
            StepState::Skipped => "skipped",
            StepState::Failed => "failed",
            StepState::Interrupted => "interrupted",
        })
    }
}
