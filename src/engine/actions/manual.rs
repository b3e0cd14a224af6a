//! The `manual` step: the operator does the work and says so; a `verify`
//! command, when the runbook gives one, must agree (in rehearsal only when it
//! is declared read-only).

use super::super::step::{StepCtx, StepError};
use super::command;
use crate::runbook::model::ManualAction;

/// Records the operator's word, checked by the `verify` command if there is one.
pub async fn run(cx: &mut StepCtx<'_>, m: &ManualAction) -> Result<String, StepError> {
    match &m.verify {
        None => Ok("the operator confirmed it is done".into()),
        Some(verify) if cx.ctx.mode.is_rehearsal() && !verify.read_only => {
            command::shown_only(cx, &verify.argv, "it is not declared read-only")
        }
        Some(verify) => {
            command::run_spec(cx, verify, false).await?;
            Ok(format!(
                "the operator confirmed it is done; `{}` agrees",
                crate::plan::display_argv(&verify.argv, cx.values)
            ))
        }
    }
}
