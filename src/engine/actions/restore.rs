//! The `restore` step: re-creates what a backup step of the same session
//! saved; a rehearsal validates every object as a server-side dry run.

use std::collections::BTreeMap;
use std::path::Path;

use super::super::step::{StepCtx, StepError, backup_dir_of};
use super::super::work::Resolved;
use crate::base::Mode;
use crate::cluster::preflight::{self as checks, AccessNeed};
use crate::cluster::restore::{Outcome, RestoreReport, RestoreRequest, restore};
use crate::runbook::model::{Action, RestoreAction, Step};

/// Restores the backup the step names.
pub async fn run(cx: &mut StepCtx<'_>, r: &RestoreAction) -> Result<String, StepError> {
    let conn = cx.connection().await?;
    let from = backup_dir_of(cx.journal, &r.from.value, cx.item())?;
    let mode = cx.ctx.mode;
    let mut request = RestoreRequest::new(from.clone(), mode);
    if let Some(c) = r.concurrency {
        request.concurrency = c;
    }
    let report = cx.reporter();
    let result = cx.interruptible(restore(&conn, &request, report)).await??;
    outcome(&result, &from, mode)
}

/// What the operator must be allowed to do to re-create what the backup step
/// named saved.
pub fn access_needs(
    r: &RestoreAction,
    values: &BTreeMap<String, String>,
    resolved: &Resolved<'_>,
    mode: Mode,
) -> Vec<AccessNeed> {
    let backup = resolved.procedures.iter().flat_map(|p| &p.procedure.steps).find(|s| s.id.value == r.from.value);
    match backup.map(Step::action) {
        Some(Action::Backup(b)) => {
            let ns = b.namespaces.as_ref().map(|n| super::render_partial(n, values));
            checks::restore_needs(&super::render_partial(&b.resources, values), ns.as_deref(), mode)
        }
        _ => Vec::new(),
    }
}

/// What a restore step reports: done (saying what was already there, left out
/// or unlinked from a gone owner), done with differences (the operator reads
/// the list), or failed, naming the objects that could not be restored.
fn outcome(result: &RestoreReport, from: &Path, mode: Mode) -> Result<String, StepError> {
    if result.failed() > 0 || !result.verified {
        let objects = result.unrestored();
        let first: Vec<&str> = objects.iter().take(5).map(String::as_str).collect();
        let message = format!(
            "{} objects could not be restored from {}; first: {}",
            result.failed(),
            from.display(),
            first.join("; ")
        );
        return Err(StepError::Unrestored { message, objects });
    }
    let done = result.done();
    let verb = if mode.is_rehearsal() { "validated" } else { "restored" };
    let mut text = format!("{verb} {done} objects from {}", from.display());
    // A restore run again (after an interruption, say) finds objects already there: say
    // how many, and name those left as they are because they differ from the backup.
    let identical = result.identical();
    if identical > 0 {
        text.push_str(&format!(" ({identical} of them were already there, identical)"));
    }
    let left_out = result.places(&Outcome::LeftOut);
    if !left_out.is_empty() {
        text.push_str(&format!(
            "; left out {} objects that were being deleted when the backup was taken: {}",
            left_out.len(),
            left_out.join(", ")
        ));
    }
    if !result.dropped_owner_refs.is_empty() {
        text.push_str(&format!(
            "; dropped {} owner references to owners that are gone",
            result.dropped_owner_refs.len()
        ));
    }
    let different = result.places(&Outcome::AlreadyDifferent);
    if different.is_empty() || mode.is_rehearsal() {
        return Ok(text);
    }
    text.push_str(&format!(
        "; done with differences: {} objects were already there with other content and were left as they are",
        different.len()
    ));
    Err(StepError::Differences { message: text, objects: different })
}
