//! Before the first step of a hop, the operator acknowledges what the plan says
//! needs an answer: the hop's warning and breaking version notes, and the text a
//! path rule asks to be acknowledged (a major upgrade, say). Info notes are only
//! shown with the plan. A rehearsal changes nothing, so it asks nothing here: its
//! report lists the notes that need action instead.

use super::error::EngineError;
use super::events::{Answer, Question};
use super::runner::Runner;
use crate::journal::StepState;
use crate::runbook::model::Severity;

impl Runner<'_> {
    /// Asks for every acknowledgement hop `index` starts with; false when the
    /// operator declined one. Nothing is asked for a step that is not a hop's first,
    /// or for a hop already under way.
    pub(super) async fn acknowledge_hop(&mut self, index: usize) -> Result<bool, EngineError> {
        let hop = self.work[index].hop;
        let starts_hop = index == 0 || self.work[index - 1].hop != hop;
        if self.ctx.mode.is_rehearsal() || !starts_hop || self.journal.steps()[index].state != StepState::Pending {
            return Ok(true);
        }
        let plan_hop = &self.ctx.plan.hops[hop];
        let mut questions = Vec::new();
        if let Some(text) = &plan_hop.acknowledge {
            questions.push(Question::Acknowledge {
                title: format!("Upgrading from {} to {}", plan_hop.from, plan_hop.to),
                text: text.clone(),
                severity: Severity::Warning,
            });
        }
        for note in plan_hop.notes.iter().filter(|n| n.severity != Severity::Info) {
            questions.push(Question::Acknowledge {
                title: format!("{} ({} {} -> {})", note.title, note.product, plan_hop.from, plan_hop.to),
                text: note.text.clone(),
                severity: note.severity,
            });
        }
        for question in questions {
            if self.ask(question).await? != Answer::Yes {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
