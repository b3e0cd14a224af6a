//! The `delete` step: deletes objects by name or label selector and waits until
//! they are gone; a rehearsal deletes as a server-side dry run.

use std::collections::BTreeMap;

use super::super::step::{StepCtx, StepError};
use crate::cluster::delete::{DeleteTarget, delete};
use crate::cluster::preflight::{self as checks, AccessNeed};
use crate::cluster::wait::DEFAULT_TIMEOUT;
use crate::runbook::model::DeleteAction;
use crate::runbook::template::TemplateError;

/// Deletes what the step names; returns what was (or would be) deleted.
pub async fn run(cx: &mut StepCtx<'_>, d: &DeleteAction) -> Result<String, StepError> {
    let target = target(d, cx.values)?;
    let conn = cx.connection().await?;
    let timeout = d.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let (mode, report) = (cx.ctx.mode, cx.reporter());
    let summary = cx.interruptible(delete(&conn, &target, mode, timeout, report)).await??;
    Ok(summary.line(&target, mode))
}

/// What the operator must be allowed to do for the delete.
pub fn access_needs(d: &DeleteAction, values: &BTreeMap<String, String>) -> Vec<AccessNeed> {
    target(d, values).map(|t| checks::delete_needs(&t)).unwrap_or_default()
}

/// Renders a runbook `delete` with the step's values; an empty namespace is none.
pub fn target(action: &DeleteAction, values: &BTreeMap<String, String>) -> Result<DeleteTarget, TemplateError> {
    let names = action.names.iter().map(|n| n.render(values)).collect::<Result<Vec<_>, _>>()?;
    Ok(DeleteTarget {
        resource: action.resource.render(values)?,
        namespace: action.namespace.as_ref().map(|n| n.render(values)).transpose()?.filter(|n| !n.is_empty()),
        names: names.into_iter().filter(|n| !n.is_empty()).collect(),
        selector: action.selector.as_ref().map(|s| s.render(values)).transpose()?,
        wait: action.wait,
    })
}
