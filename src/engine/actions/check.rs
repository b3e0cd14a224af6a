//! The `check` step: a condition the procedure needs before it goes on (kinds
//! served, a Deployment available, enough replicas, a command that succeeds).
//! A warning goes on; a failure stops the step.

use super::super::events::Event;
use super::super::step::{StepCtx, StepError};
use super::command;
use crate::cluster::preflight::{Check, Status};
use crate::runbook::arg::Arg;
use crate::runbook::model::CheckAction;

/// Runs the check against the step's cluster; returns what it found.
pub async fn run(cx: &mut StepCtx<'_>, check: &CheckAction) -> Result<String, StepError> {
    let conn = cx.connection().await?;
    let values = cx.values;
    let check = match check {
        CheckAction::CrdsExist(kinds) => Check::KindsExist(cx.render_all(kinds)?),
        CheckAction::DeploymentAvailable(o) => {
            Check::DeploymentAvailable { namespace: o.namespace.render(values)?, name: o.name.render(values)? }
        }
        CheckAction::MinReplicas(m) => Check::MinReplicas {
            namespace: m.namespace.render(values)?,
            name: m.name.render(values)?,
            min: m.min,
            required: m.required,
        },
        CheckAction::CommandSucceeds(c) if cx.ctx.mode.is_rehearsal() && !c.read_only => {
            return command::shown_only(cx, &c.argv, "it is not declared read-only");
        }
        CheckAction::CommandSucceeds(c) => {
            command::run_spec(cx, c, false).await?;
            return Ok(format!("`{}` succeeded", crate::plan::display_argv(&c.argv, values)));
        }
    };
    let result = check.run(&conn).await;
    let detail = if result.details.is_empty() { String::new() } else { format!(" ({})", result.details.join("; ")) };
    match result.status {
        Status::Ok => Ok(result.message),
        Status::Warning => {
            cx.send(Event::Warning { index: Some(cx.index), text: format!("{}{detail}", result.message) });
            Ok(format!("warning: {}", result.message))
        }
        Status::Failed => Err(StepError::failed(format!("{}{detail}", result.message))),
    }
}

/// The program a command check runs, for the PATH check.
pub fn program(check: &CheckAction) -> Option<&[Arg]> {
    match check {
        CheckAction::CommandSucceeds(c) => Some(&c.argv),
        _ => None,
    }
}
