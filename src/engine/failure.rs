//! What the operator can do when a step fails (or is locked): retry it, skip it
//! when the runbook allows, restore the hop's backup, check with the runbook's
//! `verify` whether it worked after all, say it was finished by hand, take a
//! damaged backup again (before a destructive step that has not started), go
//! on after a restore without the objects it could not bring back, or stop.
//! Every failure has a way forward that does not need stepwise to be changed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::actions::command;
use super::error::EngineError;
use super::events::{Answer, Event, Question};
use super::recovery;
use super::runner::{RunOutcome, Runner};
use super::step::StepError;
use crate::journal::{SessionStatus, StepState};
use crate::runbook::model::{Action, Confirm, Step};

/// Where the step loop goes after the menu.
pub enum FailureChoice {
    Retry,
    Skip,
    /// Marked done: the runbook's verify agreed, or the operator finished it by hand.
    Done,
    End(SessionStatus, RunOutcome),
}

/// Who said a step was finished by hand, and when: kept in the transcript.
#[derive(Serialize)]
struct MarkedDone<'a> {
    index: usize,
    step: &'a str,
    by: String,
    host: String,
    error_before: &'a str,
}

/// Reports the failure and asks what now, until the operator picks a way on.
pub async fn ask(
    runner: &mut Runner<'_>,
    index: usize,
    step: &Step,
    values: &BTreeMap<String, String>,
    e: &StepError,
) -> Result<FailureChoice, EngineError> {
    let cluster_state = recovery::likely_state(&runner.journal, &runner.work, &runner.resolved, index);
    runner.send(Event::StepFailed { index, error: e.to_string(), cluster_state: cluster_state.clone() });
    let can_restore = recovery::restorable_backup(&runner.journal, &runner.work, &runner.resolved, index).is_some();
    let verify = match step.action() {
        Action::Command(c) if c.verify.is_some() && !runner.ctx.mode.is_rehearsal() => Some(c),
        _ => None,
    };
    let mut choices = vec![Answer::Retry];
    let backup_again = e.backup_again() && !runner.ctx.mode.is_rehearsal();
    if backup_again {
        choices.push(Answer::BackupAgain);
    }
    if step.skippable {
        choices.push(Answer::Skip);
    }
    if can_restore {
        choices.push(Answer::Restore);
    }
    if verify.is_some() {
        choices.push(Answer::Verify);
    }
    let go_on_without = !e.unrestored().is_empty() && !runner.ctx.mode.is_rehearsal();
    if go_on_without {
        choices.push(Answer::GoOnWithout);
    }
    if !runner.ctx.mode.is_rehearsal() {
        choices.push(Answer::MarkDone);
    }
    choices.push(Answer::Stop);
    let question = Question::AfterFailure {
        index,
        title: step.title.render_partial(values),
        error: e.to_string(),
        cluster_state,
        choices: choices.clone(),
    };
    loop {
        match runner.ask(question.clone()).await? {
            Answer::Retry => return Ok(FailureChoice::Retry),
            Answer::Skip if step.skippable => return Ok(FailureChoice::Skip),
            Answer::Restore if can_restore => restore(runner, index).await,
            Answer::Verify if let Some(command) = verify => {
                let cancel = runner.cancel.clone();
                match command::verify(&runner.ctx, command, values, index, &runner.out, cancel).await {
                    Ok(true) => {
                        let note = "the runbook's verify command shows it worked after all".to_string();
                        return done(runner, index, note);
                    }
                    Ok(false) => {
                        runner.send(Event::Notice { text: "the verify command says it has not worked".into() })
                    }
                    Err(err) => runner.send(Event::Warning { index: Some(index), text: err.to_string() }),
                }
            }
            Answer::BackupAgain if backup_again => {
                if super::gate::take_again(runner, index).await? {
                    return Ok(FailureChoice::Retry);
                }
            }
            Answer::GoOnWithout if go_on_without => return go_on_without_them(runner, index, step, e),
            Answer::MarkDone if !runner.ctx.mode.is_rehearsal() => {
                if mark_done_by_hand(runner, index, step, values, &e.to_string(), true).await? {
                    return Ok(FailureChoice::Done);
                }
            }
            _ => return Ok(FailureChoice::End(SessionStatus::Failed, RunOutcome::Failed)),
        }
    }
}

async fn restore(runner: &mut Runner<'_>, index: usize) {
    match recovery::restore_after_failure(runner, index).await {
        Ok(text) => runner.send(Event::Notice { text }),
        Err(err) => runner.send(Event::Warning { index: Some(index), text: err.to_string() }),
    }
}

/// The operator says the step's work is done (finished by hand, or the command
/// cut short had finished): behind the step's own typed word for a destructive
/// step, and a yes for any other when `ask_yes`; recorded in the transcript
/// with who said so. False when the operator did not confirm.
pub(super) async fn mark_done_by_hand(
    runner: &mut Runner<'_>,
    index: usize,
    step: &Step,
    values: &BTreeMap<String, String>,
    before: &str,
    ask_yes: bool,
) -> Result<bool, EngineError> {
    if (step.destructive || ask_yes) && !confirm_done_by_hand(runner, index, step, values).await? {
        return Ok(false);
    }
    record_by_hand(runner, index, step, before)?;
    done(runner, index, "finished by hand, as the operator said".into())?;
    Ok(true)
}

/// The same word the step itself asks for (a yes for a step without one):
/// saying a destructive step is done weighs as much as running it.
async fn confirm_done_by_hand(
    runner: &mut Runner<'_>,
    index: usize,
    step: &Step,
    values: &BTreeMap<String, String>,
) -> Result<bool, EngineError> {
    let word = match step.confirmation() {
        Confirm::Typed(word) => Some(word.render_partial(values)),
        _ => None,
    };
    let question = Question::Confirm {
        index,
        title: format!("Mark \"{}\" done", step.title),
        does: vec![
            "you finished what this step does by hand; stepwise will not run it".into(),
            "the transcript records who said so, and when".into(),
        ],
        destructive: step.destructive,
        word,
        skippable: false,
        unlocked_by: None,
    };
    Ok(runner.ask(question).await? == Answer::Yes)
}

fn record_by_hand(runner: &mut Runner<'_>, index: usize, step: &Step, error: &str) -> Result<(), EngineError> {
    let record =
        MarkedDone { index, step: &step.id.value, by: operator(), host: crate::process::host(), error_before: error };
    runner.journal.append_transcript("marked_done", &record)?;
    Ok(())
}

/// The operator goes on after a restore without the objects it could not
/// bring back: the step's outcome names them (the first fifty; the transcript
/// keeps them all, with who decided).
fn go_on_without_them(
    runner: &mut Runner<'_>,
    index: usize,
    step: &Step,
    e: &StepError,
) -> Result<FailureChoice, EngineError> {
    const LISTED: usize = 50;
    let record = serde_json::json!({
        "index": index,
        "step": step.id.value,
        "by": operator(),
        "host": crate::process::host(),
        "not_restored": e.unrestored(),
    });
    runner.journal.append_transcript("went_on_without", &record)?;
    let mut note = format!(
        "went on without {} objects that could not be restored: {}",
        e.unrestored().len(),
        e.unrestored().iter().take(LISTED).cloned().collect::<Vec<_>>().join("; ")
    );
    if e.unrestored().len() > LISTED {
        note.push_str(&format!("; … and {} more (all in the transcript)", e.unrestored().len() - LISTED));
    }
    done(runner, index, note)
}

/// Who is at the keyboard, as the login names them.
fn operator() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into())
}

fn done(runner: &mut Runner<'_>, index: usize, note: String) -> Result<FailureChoice, EngineError> {
    runner.journal.finish_step(index, StepState::Done, Some(note.clone()), None)?;
    runner.send(Event::StepFinished { index, state: StepState::Done, outcome: note });
    Ok(FailureChoice::Done)
}
