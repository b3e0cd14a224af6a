//! The plan as the screen keeps it: each step with its status, what it will do
//! once the engine has said, and how it ended.

use crate::engine::StepInfo;

/// A step's status, each with a mark that reads without colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Running,
    Done,
    Skipped,
    Failed,
    Interrupted,
}

impl Status {
    /// The engine's state words (the journal's `StepState` as text).
    pub fn parse(state: &str) -> Self {
        match state {
            "running" => Status::Running,
            "done" => Status::Done,
            "skipped" => Status::Skipped,
            "failed" => Status::Failed,
            "interrupted" => Status::Interrupted,
            _ => Status::Pending,
        }
    }

    pub fn mark(self) -> &'static str {
        match self {
            Status::Pending => "[ ]",
            Status::Running => "[>]",
            Status::Done => "[x]",
            Status::Skipped => "[-]",
            Status::Failed => "[!]",
            Status::Interrupted => "[~]",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }
}

/// How a step failed, as the engine reported it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: String,
    pub cluster_state: String,
}

#[derive(Debug, Clone)]
pub struct StepView {
    pub info: StepInfo,
    pub status: Status,
    /// From `StepStarted`; `None` until the step has started.
    pub explain: Option<String>,
    pub does: Vec<String>,
    pub outcome: Option<String>,
    pub failure: Option<Failure>,
}

impl StepView {
    pub fn new(info: StepInfo) -> Self {
        let status = Status::parse(&info.state);
        StepView { info, status, explain: None, does: Vec::new(), outcome: None, failure: None }
    }

    /// The title as the list shows it, with the item a repeated step works on.
    pub fn label(&self) -> String {
        match &self.info.item {
            Some(item) => format!("{} ({item})", self.info.title),
            None => self.info.title.clone(),
        }
    }
}

/// One row of the plan list: a hop heading or a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Hop(usize),
    Step(usize),
}

/// The list's rows: each hop's steps under a heading, in plan order.
pub fn rows(steps: &[StepView]) -> Vec<Row> {
    let mut rows = Vec::with_capacity(steps.len() + 4);
    let mut hop = None;
    for (i, step) in steps.iter().enumerate() {
        if hop != Some(step.info.hop) {
            hop = Some(step.info.hop);
            rows.push(Row::Hop(step.info.hop));
        }
        rows.push(Row::Step(i));
    }
    rows
}
