//! The `backup` step: saves the kinds it names to the session's backup folder,
//! which the gate in front of a destructive step proves and a restore reads.

use std::collections::BTreeMap;

use super::super::step::{StepCtx, StepError, backup_dir};
use crate::cluster::backup::{BackupRequest, backup};
use crate::cluster::preflight::{self as checks, AccessNeed};
use crate::runbook::model::BackupAction;

/// Takes the backup. With `refresh`, the operator has seen how the cluster
/// changed since this step last ran and asked for a new backup.
pub async fn run(cx: &mut StepCtx<'_>, b: &BackupAction, refresh: bool) -> Result<String, StepError> {
    let conn = cx.connection().await?;
    let dir = backup_dir(cx.journal, cx.step, cx.item());
    let mut request = BackupRequest::new(cx.render_all(&b.resources)?, dir.clone());
    request.namespaces = b.namespaces.as_ref().map(|ns| cx.render_all(ns)).transpose()?;
    request.refresh = refresh;
    let report = cx.reporter();
    let manifest = cx.interruptible(backup(&conn, &request, report)).await??;
    let mut text = format!("saved {} objects of {} kinds to {}", manifest.total(), manifest.kinds.len(), dir.display());
    if !manifest.being_deleted.is_empty() {
        text.push_str(&format!(
            "; {} of them were being deleted, and a restore will leave them out: {}",
            manifest.being_deleted.len(),
            manifest.being_deleted.join(", ")
        ));
    }
    Ok(text)
}

/// What the operator must be allowed to do to list and read every kind.
pub fn access_needs(b: &BackupAction, values: &BTreeMap<String, String>) -> Vec<AccessNeed> {
    let ns = b.namespaces.as_ref().map(|n| super::render_partial(n, values));
    checks::backup_needs(&super::render_partial(&b.resources, values), ns.as_deref())
}
