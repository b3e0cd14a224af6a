//! One file per step kind: how it runs (and how it rehearses), what it reports,
//! and what preflight must check for it (the access it needs, the program it
//! runs). This module only dispatches on the kind.

pub mod apply;
pub mod backup;
pub mod check;
pub mod command;
pub mod delete;
pub mod manual;
pub mod note;
pub mod restore;
pub mod rollout;
pub mod wait;

use std::collections::BTreeMap;

use super::step::{StepCtx, StepError};
use super::work::Resolved;
use crate::base::Mode;
use crate::cluster::preflight::AccessNeed;
use crate::runbook::model::{Action, Step};
use crate::runbook::template::Template;

/// Executes the step; returns a one-line outcome for the journal.
pub async fn run(cx: &mut StepCtx<'_>) -> Result<String, StepError> {
    match cx.step.action() {
        Action::Note(_) => Ok(note::run()),
        Action::Manual(m) => manual::run(cx, m).await,
        Action::Check(c) => check::run(cx, c).await,
        Action::Backup(b) => backup::run(cx, b, false).await,
        Action::Restore(r) => restore::run(cx, r).await,
        Action::RolloutRestart(r) => rollout::run(cx, r).await,
        Action::Wait(w) => wait::run(cx, w).await,
        Action::Delete(d) => delete::run(cx, d).await,
        Action::Apply(a) => apply::run(cx, a).await,
        Action::Command(c) => command::run(cx, c).await,
    }
}

/// What the operator must be allowed to do on the session's cluster for `step`.
pub fn access_needs(
    step: &Step,
    values: &BTreeMap<String, String>,
    resolved: &Resolved<'_>,
    mode: Mode,
) -> Vec<AccessNeed> {
    match step.action() {
        Action::Backup(b) => backup::access_needs(b, values),
        Action::Restore(r) => restore::access_needs(r, values, resolved, mode),
        Action::RolloutRestart(r) => rollout::access_needs(r, values),
        Action::Wait(w) => wait::access_needs(w, values),
        Action::Delete(d) => delete::access_needs(d, values),
        Action::Note(_) | Action::Manual(_) | Action::Check(_) | Action::Apply(_) | Action::Command(_) => Vec::new(),
    }
}

/// The program `step` will run in this mode, if any, once its values are known.
pub fn program(step: &Step, values: &BTreeMap<String, String>, rehearsal: bool) -> Option<String> {
    let argv = match step.action() {
        Action::Command(c) => command::program(c, rehearsal)?,
        Action::Check(c) => check::program(c)?,
        Action::Apply(a) => apply::program(a)?,
        Action::Note(_)
        | Action::Manual(_)
        | Action::Backup(_)
        | Action::Restore(_)
        | Action::RolloutRestart(_)
        | Action::Wait(_)
        | Action::Delete(_) => return None,
    };
    argv.first().and_then(|a| a.render_partial(values)).filter(|p| !p.contains("{{"))
}

/// Renders what it can of each template, for preflight (values may be missing).
fn render_partial(templates: &[Template], values: &BTreeMap<String, String>) -> Vec<String> {
    templates.iter().map(|t| t.render_partial(values)).collect()
}
