//! The plan as the screen keeps it: each step with its status, what it will do
//! once the engine has said, and how it ended.

use crate::engine::StepInfo;

/// A step's status as the screen shows it: the journal's own state, each with a
/// mark that reads without colour.
pub type Status = crate::journal::StepState;

/// How the screen writes a status: a mark that reads without colour, and a word.
pub trait Marks {
    fn mark(self) -> &'static str;
    fn word(self) -> &'static str;
}

impl Marks for Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Pending => "[ ]",
            Status::Running => "[>]",
            Status::Done => "[x]",
            Status::Skipped => "[-]",
            Status::Failed => "[!]",
            Status::Interrupted => "[~]",
        }
    }

    fn word(self) -> &'static str {
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
        let status = info.state;
        StepView { info, status, explain: None, does: Vec::new(), outcome: None, failure: None }
    }

    /// The title as the list shows it, with the item a repeated step works on.
    pub fn label(&self) -> String {
        match &self.info.item {
            Some(item) => format!("{} ({item})", self.info.title),
            None => self.info.title.clone(),
        }
    }

    /// The label in `width` characters. A repeated step's rows differ only by
    /// their item, so the title gives way first and the item stays readable.
    pub fn label_within(&self, width: usize) -> String {
        let full = self.label();
        let Some(item) = &self.info.item else { return full };
        if full.chars().count() <= width {
            return full;
        }
        // A few words of the title stay even when the item has to be cut: its
        // start is what tells the rows apart.
        let room = width.saturating_sub(item.chars().count() + 4).max(8);
        let title: String = self.info.title.chars().take(room).collect();
        let label = format!("{}… ({item})", title.trim_end());
        label.chars().take(width.max(room + 2)).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ActionKind;

    fn repeated(item: &str) -> StepView {
        StepView::new(StepInfo {
            index: 0,
            hop: 0,
            id: "wait-crds-gone".into(),
            title: "Wait for the mesh CRDs to be deleted".into(),
            kind: ActionKind::Wait,
            destructive: false,
            item: Some(item.into()),
            state: Status::Pending,
        })
    }

    #[test]
    fn a_narrow_list_shortens_the_title_and_keeps_the_item() {
        let a = repeated("trafficsplits.split.smi-spec.io");
        let b = repeated("ratelimits.specs.smi.nginx.com");
        assert_eq!(a.label_within(200), a.label());
        let (short_a, short_b) = (a.label_within(50), b.label_within(50));
        assert!(short_a.chars().count() <= 50, "{short_a}");
        assert!(short_a.ends_with("(trafficsplits.split.smi-spec.io)"), "{short_a}");
        assert!(short_a.starts_with("Wait for"), "{short_a}");
        assert_ne!(short_a, short_b);
        let narrow = a.label_within(24);
        assert_eq!(narrow, "Wait for… (trafficsplits", "the title's start and the item's start stay");
    }
}
