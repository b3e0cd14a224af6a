//! What the engine knows about getting back after a failure: which backups a
//! destructive step depends on and whether they still prove out, which backup
//! a failure can be restored from, what the cluster likely looks like, and what
//! the step printed before it was cut short.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::events::Event;
use super::runner::Runner;
use super::step::{StepError, backup_dir, reporter};
use super::work::{Resolved, WorkItem};
use crate::cluster::proof;
use crate::cluster::restore::{RestoreRequest, restore};
use crate::journal::{Journal, StepState};
use crate::runbook::model::Action;

/// Why a destructive step's backups did not prove out.
pub enum ProofFailure {
    /// Objects changed, created or deleted since the backup: taking it again helps.
    Drift(Vec<String>),
    /// Anything else that keeps the backups from unlocking the step, in words.
    Other(String),
}

impl From<crate::cluster::ClusterError> for ProofFailure {
    fn from(e: crate::cluster::ClusterError) -> Self {
        match e {
            crate::cluster::ClusterError::Drift { changes, .. } => ProofFailure::Drift(changes),
            other => ProofFailure::Other(other.to_string()),
        }
    }
}

/// Backup steps of the same hop that come before `index`.
pub fn earlier_backups<'w>(work: &'w [WorkItem], resolved: &Resolved, index: usize) -> Vec<(usize, &'w WorkItem)> {
    let hop = work[index].hop;
    work.iter()
        .enumerate()
        .take(index)
        .filter(|(_, w)| w.hop == hop && matches!(resolved.step(w).action(), Action::Backup(_)))
        .collect()
}

/// Proves every backup the destructive step at `index` depends on. Returns the
/// proof, shown to the operator as the reason the step is unlocked. Once the
/// step has started (an attempt failed, was interrupted or cut short), the
/// cluster is expected to differ from the backup, so the files are proven and
/// the cluster only searched for objects the backup does not hold.
pub async fn prove_backups(runner: &Runner<'_>, index: usize) -> Result<String, ProofFailure> {
    let (ctx, journal, work, resolved) = (&runner.ctx, &runner.journal, &runner.work, &runner.resolved);
    let backups = earlier_backups(work, resolved, index);
    if backups.is_empty() {
        return Ok("this procedure takes no backup before this step".into());
    }
    let mut proofs = Vec::new();
    for (i, w) in backups {
        let step = resolved.step(w);
        if journal.steps()[i].state != StepState::Done {
            return Err(ProofFailure::Other(format!("backup step `{}` has not completed", step.id.value)));
        }
        let values = BTreeMap::from([("item".to_string(), w.item.clone().unwrap_or_default())]);
        let conn = ctx.connection(step, &values).await.map_err(|e| ProofFailure::Other(e.to_string()))?;
        let dir = backup_dir(journal, step, w.item.as_deref());
        if journal.steps()[index].attempts > 0 {
            proofs.push(proof::prove_after_start(&conn, &dir).await.map_err(ProofFailure::from)?);
            continue;
        }
        let p = proof::prove(&conn, &dir, reporter(&runner.out, index)).await.map_err(ProofFailure::from)?;
        proofs.push(p.summary());
    }
    Ok(proofs.join("; "))
}

/// The backup to restore from after a failure at `index`, if a destructive step
/// of the same hop has already run (so the failure came after a removal).
pub fn restorable_backup(journal: &Journal, work: &[WorkItem], resolved: &Resolved, index: usize) -> Option<PathBuf> {
    let hop = work[index].hop;
    let removed = work.iter().enumerate().take(index + 1).any(|(i, w)| {
        w.hop == hop
            && resolved.step(w).destructive
            && matches!(journal.steps()[i].state, StepState::Done | StepState::Failed | StepState::Interrupted)
    });
    if !removed {
        return None;
    }
    earlier_backups(work, resolved, index)
        .into_iter()
        .find(|(i, _)| journal.steps()[*i].state == StepState::Done)
        .map(|(_, w)| backup_dir(journal, resolved.step(w), w.item.as_deref()))
}

/// Restores the hop's backup after a failure, on the operator's request.
pub async fn restore_after_failure(runner: &Runner<'_>, index: usize) -> Result<String, StepError> {
    let dir = restorable_backup(&runner.journal, &runner.work, &runner.resolved, index)
        .ok_or_else(|| StepError::failed("there is no backup to restore"))?;
    let request = RestoreRequest::new(dir.clone(), runner.ctx.mode);
    let result = restore(&runner.ctx.conn, &request, reporter(&runner.out, index)).await?;
    Ok(result.counts(&dir))
}

/// What the cluster is likely to look like after a failure at `index`.
pub fn likely_state(journal: &Journal, work: &[WorkItem], resolved: &Resolved, index: usize) -> String {
    let hop = work[index].hop;
    // The failing step counts too: a removal that failed may have done part of its work.
    let removal = work
        .iter()
        .enumerate()
        .take(index + 1)
        .filter(|(i, w)| {
            let record = &journal.steps()[*i];
            let ran = record.state == StepState::Done || (*i == index && record.attempts > 0);
            w.hop == hop && resolved.step(w).destructive && ran
        })
        .map(|(i, _)| journal.steps()[i].title.clone())
        .next_back();
    match (removal, restorable_backup(journal, work, resolved, index)) {
        (Some(title), Some(dir)) => format!(
            "`{title}` has run (at least in part), so the product is likely removed or half-deployed; the custom resources are saved in {}. Retry the step, restore the backup, or stop and resume later.",
            dir.display()
        ),
        (Some(title), None) => {
            format!("`{title}` has run (at least in part), so the product is likely removed or half-deployed.")
        }
        (None, _) => {
            "nothing destructive has run in this hop yet, so the cluster is as it was before this step.".into()
        }
    }
}

/// The last output lines the transcript holds for step `index`.
pub fn transcript_tail(journal: &Journal, index: usize) -> Vec<String> {
    let Ok(entries) = journal.read_transcript() else { return Vec::new() };
    let mut lines = std::collections::VecDeque::new();
    for event in super::events::recorded_events(&entries) {
        match event {
            Event::StepStarted { index: i, .. } if i == index => lines.clear(),
            Event::Line { index: i, text } if i == index => {
                if lines.len() == 20 {
                    lines.pop_front();
                }
                lines.push_back(text);
            }
            _ => {}
        }
    }
    lines.into()
}
