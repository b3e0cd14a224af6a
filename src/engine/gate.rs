//! The gate in front of a destructive step: the backups before it must prove
//! out against the cluster as it is, once before the confirmation (what the
//! operator reads) and again right before the step starts (the confirmation may
//! have stayed open for minutes). When the cluster changed since a backup, the
//! operator sees every change and chooses to take the backups again (the ones
//! taken before are kept) or to stop; `--yes` takes them again.

use std::collections::BTreeMap;

use super::actions::backup;
use super::error::EngineError;
use super::events::{Answer, Event, Question};
use super::recovery::{self, ProofFailure};
use super::runner::Runner;
use super::step::StepError;
use crate::journal::StepState;
use crate::runbook::model::Action;

/// How many changes the question lists before it counts the rest.
const SHOWN: usize = 20;

/// What the gate decided.
pub enum Gate {
    /// The backups prove out: the proof, as the operator is shown it.
    Open(String),
    /// The backups were taken again: prove and ask again.
    Again,
    /// The operator stopped (or the new backup failed; it says why).
    Stop,
    /// The backups cannot unlock the step; the failure menu takes over.
    Locked(StepError),
}

pub async fn check(runner: &mut Runner<'_>, index: usize) -> Result<Gate, EngineError> {
    let proof = recovery::prove_backups(runner, index).await;
    match proof {
        Ok(proof) => Ok(Gate::Open(proof)),
        Err(ProofFailure::Other(e)) => {
            let message = format!("the destructive step is locked: {e}");
            let backup_again = runner.journal.steps()[index].attempts == 0;
            let error = if backup_again { StepError::BackupsUnusable(message) } else { StepError::Failed(message) };
            Ok(Gate::Locked(error))
        }
        Err(ProofFailure::Drift(changes)) => {
            if !ask_to_refresh(runner, index, &changes).await? {
                return Ok(Gate::Stop);
            }
            Ok(if refresh(runner, index, true).await? { Gate::Again } else { Gate::Stop })
        }
    }
}

async fn ask_to_refresh(runner: &mut Runner<'_>, index: usize, changes: &[String]) -> Result<bool, EngineError> {
    let mut does = vec![format!(
        "the cluster changed since the backup: {} objects differ, and the step would take them unsaved",
        changes.len()
    )];
    does.extend(changes.iter().take(SHOWN).map(|c| format!("  {c}")));
    if changes.len() > SHOWN {
        does.push(format!("  … and {} more", changes.len() - SHOWN));
    }
    does.push("take the backups before this step again; each one taken before is kept beside the new one".into());
    // Said as a warning too, so that a log or a headless run keeps the list.
    runner.send(Event::Warning { index: Some(index), text: does.join("\n") });
    let question = Question::Confirm {
        index,
        title: "Take the backup again".into(),
        does,
        destructive: false,
        word: None,
        skippable: false,
        unlocked_by: None,
    };
    Ok(runner.ask(question).await? == Answer::Yes)
}

/// The operator's choice when the backups cannot unlock a step that has not
/// started (a damaged or incomplete backup): take them again. A kind that the
/// earlier backup held and the cluster no longer does still makes the new one
/// incomplete, so a cluster emptied by hand cannot replace a good backup.
pub async fn take_again(runner: &mut Runner<'_>, index: usize) -> Result<bool, EngineError> {
    refresh(runner, index, false).await
}

/// Runs every backup step of the hop before `index` again (`drifted`: the
/// operator has seen the changes, so a kind emptied since is not refused).
/// False when one of them fails; it is then recorded failed, and a resume
/// starts there.
async fn refresh(runner: &mut Runner<'_>, index: usize, drifted: bool) -> Result<bool, EngineError> {
    let backups: Vec<(usize, super::work::WorkItem)> = recovery::earlier_backups(&runner.work, &runner.resolved, index)
        .into_iter()
        .map(|(i, w)| (i, w.clone()))
        .collect();
    for (i, w) in backups {
        let step = runner.resolved.step(&w).clone();
        let values: BTreeMap<String, String> = runner.step_values(&w);
        runner.journal.start_step(i)?;
        let Action::Backup(b) = step.action() else { continue };
        match backup::run(&mut runner.step_ctx(&step, &values, i), b, drifted).await {
            Ok(outcome) => {
                runner.journal.finish_step(i, StepState::Done, Some(outcome.clone()), None)?;
                runner.send(Event::StepFinished { index: i, state: StepState::Done, outcome });
            }
            Err(e) => {
                let state = if e.is_interrupted() { StepState::Interrupted } else { StepState::Failed };
                runner.journal.finish_step(i, state, None, Some(e.to_string()))?;
                runner
                    .send(Event::Warning { index: Some(i), text: format!("the backup could not be taken again: {e}") });
                return Ok(false);
            }
        }
    }
    Ok(true)
}
