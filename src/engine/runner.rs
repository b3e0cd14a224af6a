//! The step loop: for each unfinished step, confirm as the runbook requires, prove
//! backups before anything destructive, record the start on disk, execute, record
//! the outcome on disk, and on failure ask the operator what to do.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio::sync::oneshot;

use super::actions::command;
use super::error::EngineError;
use super::events::{ActionKind, Answer, Event, Msg, Question, StepInfo, Tee};
use super::execute::{self, Context};
use super::failure::FailureChoice;
use super::gate::Gate;
use super::recovery;
use super::step::StepError;
use super::work::{Resolved, WorkItem};
use crate::base::CancelSignal;
use crate::journal::{Journal, SessionStatus, StepState};
use crate::plan::describe_step;
use crate::runbook::model::{Action, Confirm, Severity, Step};

/// How often output shown during a step is written to the transcript.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Finished,
    /// The operator chose to stop; the session can be resumed.
    Stopped,
    /// A step failed and the operator stopped; the session can be resumed.
    Failed,
    /// Ctrl-C or SIGTERM; the session can be resumed.
    Interrupted,
}

pub struct Runner<'a> {
    pub resolved: Resolved<'a>,
    pub work: Vec<WorkItem>,
    pub journal: Journal,
    pub ctx: Context,
    pub out: Tee,
    pub cancel: CancelSignal,
    /// Values every template sees (variables, facts); hop and item values are added per step.
    pub values: BTreeMap<String, String>,
}

impl Runner<'_> {
    pub fn send(&self, event: Event) {
        let _ = self.out.send(Msg::Event(event));
    }

    /// Writes the events sent since the last call to the transcript.
    fn flush_log(&mut self) -> Result<(), EngineError> {
        Ok(self.out.flush_to(&self.journal.transcript()?)?)
    }

    /// Writes what the front end is shown to the transcript every
    /// [`FLUSH_EVERY`] while a step runs, so a command's output is on disk as
    /// it arrives (a resume after a kill shows it), in batches.
    fn spawn_flusher(&self) -> Result<tokio::task::JoinHandle<()>, EngineError> {
        let (out, sink) = (self.out.clone(), self.journal.transcript()?);
        Ok(tokio::spawn(async move {
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                // A failure is kept for the step loop's next flush, which reports it.
                let _ = out.flush_to(&sink);
            }
        }))
    }

    /// Asks the front end and records question and answer in the transcript.
    pub async fn ask(&mut self, question: Question) -> Result<Answer, EngineError> {
        self.flush_log()?;
        let (tx, rx) = oneshot::channel();
        self.journal.append_transcript("question", &question)?;
        self.out.send(Msg::Ask(question, tx)).map_err(|_| EngineError::NoFrontEnd)?;
        let answer = rx.await.map_err(|_| EngineError::NoFrontEnd)?;
        self.journal.append_transcript("answer", &answer)?;
        Ok(answer)
    }

    pub fn step_infos(&self) -> Vec<StepInfo> {
        self.work
            .iter()
            .enumerate()
            .map(|(index, w)| {
                let step = self.resolved.step(w);
                StepInfo {
                    index,
                    hop: w.hop,
                    id: step.id.value.clone(),
                    title: self.resolved.title(&self.values, w),
                    kind: ActionKind::of(&step.action()),
                    destructive: step.destructive,
                    item: w.item.clone(),
                    state: self.journal.steps().get(index).map_or(StepState::Pending, |s| s.state),
                }
            })
            .collect()
    }

    /// The values a step's templates see.
    pub fn step_values(&self, w: &WorkItem) -> BTreeMap<String, String> {
        self.resolved.step_values(&self.values, w)
    }

    /// Runs every unfinished step in order.
    pub async fn run(&mut self) -> Result<RunOutcome, EngineError> {
        let flusher = self.spawn_flusher()?;
        let outcome = self.run_steps().await;
        flusher.abort();
        outcome
    }

    async fn run_steps(&mut self) -> Result<RunOutcome, EngineError> {
        let started = Instant::now();
        self.journal.set_status(SessionStatus::Running)?;
        let mut index = self.journal.first_unfinished().unwrap_or(self.work.len());
        while index < self.work.len() {
            if self.cancel.is_cancelled() {
                return self.end(SessionStatus::Interrupted, RunOutcome::Interrupted, started);
            }
            // Steps matched by id after the runbooks changed may be done already
            // beyond a new one.
            if self.journal.steps()[index].state.is_settled() {
                index += 1;
                continue;
            }
            super::drill::hold(super::drill::Point::Before(index)).await;
            if !self.acknowledge_hop(index).await? {
                return self.end(SessionStatus::Interrupted, RunOutcome::Stopped, started);
            }
            let end = self.run_step(index).await?;
            self.flush_log()?;
            match end {
                StepEnd::Next => index += 1,
                StepEnd::End(status, outcome) => return self.end(status, outcome, started),
            }
        }
        super::drill::hold(super::drill::Point::Before(index)).await;
        self.end(SessionStatus::Finished, RunOutcome::Finished, started)
    }

    fn end(&mut self, status: SessionStatus, outcome: RunOutcome, started: Instant) -> Result<RunOutcome, EngineError> {
        self.flush_log()?;
        self.journal.set_status(status)?;
        if status == SessionStatus::Finished {
            self.ctx.remove_pinned_kubeconfigs();
            self.forget_secrets()?;
        }
        // A rehearsal that stopped early still reports what it found up to there.
        let report = if self.ctx.mode.is_rehearsal() {
            Some(super::report::write(&self.journal, &self.ctx.plan)?)
        } else {
            None
        };
        let resume_hint = (outcome != RunOutcome::Finished).then(|| format!("stepwise resume {}", self.journal.id()));
        let finished = Event::SessionFinished {
            status: format!("{status:?}").to_lowercase(),
            elapsed_secs: started.elapsed().as_secs(),
            backups: self.journal.backups_dir(),
            report,
            resume_hint,
        };
        self.journal.append_transcript("event", &finished)?;
        let _ = self.out.send_unrecorded(Msg::Event(finished));
        Ok(outcome)
    }

    /// A finished session is never resumed, so the secret values it kept for
    /// a resume leave session.json.
    fn forget_secrets(&mut self) -> Result<(), EngineError> {
        let secret: Vec<String> =
            self.resolved.variables().into_iter().filter(|v| v.secret).map(|v| v.name.value.clone()).collect();
        if secret.iter().any(|name| self.journal.meta().variables.contains_key(name)) {
            self.journal.update_meta(|m| {
                for name in &secret {
                    if let Some(value) = m.variables.get_mut(name) {
                        *value = crate::redact::MASK.to_string();
                    }
                }
            })?;
        }
        Ok(())
    }

    async fn run_step(&mut self, index: usize) -> Result<StepEnd, EngineError> {
        let w = self.work[index].clone();
        let step = self.resolved.step(&w).clone();
        let values = self.step_values(&w);
        let summary = describe_step(&step, &values);
        if matches!(self.journal.steps()[index].state, StepState::Running | StepState::Interrupted) {
            let argv = match step.action() {
                Action::Command(c) => crate::plan::display_argv(&c.argv, &values),
                _ => format!("the command of \"{}\"", step.title.render_partial(&values)),
            };
            if let Some(outcome) = super::orphan::settle(self, index, &argv).await? {
                return Ok(StepEnd::End(SessionStatus::Interrupted, outcome));
            }
        }
        let record = &self.journal.steps()[index];
        let cut_short = record.state;
        // Interrupted before its command started (at the gate, at a question):
        // nothing to ask about, it simply runs.
        let started = cut_short == StepState::Running || record.child.is_some();
        if cut_short == StepState::Interrupted
            && let Action::Command(command) = step.action()
        {
            // A command stopped by Ctrl-C, SIGTERM or SIGHUP: show what it had
            // printed before the operator says whether it runs again.
            let output = recovery::transcript_tail(&self.journal, index);
            let argv = crate::plan::display_argv(&command.argv, &values);
            let printed =
                if output.is_empty() { " nothing".to_string() } else { format!("\n  {}", output.join("\n  ")) };
            self.send(Event::Notice { text: format!("`{argv}` was interrupted last time; it had printed:{printed}") });
        }
        if matches!(cut_short, StepState::Running | StepState::Interrupted)
            && started
            && let Some(end) = self.after_cut_short(index, &step, &values, cut_short).await?
        {
            return Ok(end);
        }
        self.send(Event::StepStarted {
            index,
            title: summary.title.clone(),
            kind: ActionKind::of(&step.action()),
            explain: summary.explain.clone(),
            does: summary.does.clone(),
        });
        loop {
            let unlocked_by = if step.destructive {
                match self.pass_gate(index, &step, &values).await? {
                    Passed::Open(proof) => Some(proof),
                    Passed::Again => continue,
                    Passed::End(end) => return end,
                }
            } else {
                None
            };
            match self.confirm(index, &step, &values, &summary.does, unlocked_by).await? {
                Confirmed::Go => {}
                Confirmed::Skip => return self.skip(index),
                Confirmed::Stop => return Ok(StepEnd::End(SessionStatus::Interrupted, RunOutcome::Stopped)),
            }
            // Again right before it starts: the confirmation may have stayed open
            // for minutes, and whatever changed meanwhile would be lost unsaved.
            if step.destructive && !self.ctx.mode.is_rehearsal() {
                match self.pass_gate(index, &step, &values).await? {
                    Passed::Open(_) => {}
                    Passed::Again => continue,
                    Passed::End(end) => return end,
                }
            }
            if step.destructive
                && !self.ctx.mode.is_rehearsal()
                && let Err(err) = execute::check_same_cluster(&self.ctx, &self.journal, &step, &values).await
            {
                let choice = super::failure::ask(self, index, &step, &values, &err).await?;
                match self.after_failure(index, choice) {
                    None => continue,
                    Some(end) => return end,
                }
            }
            self.journal.start_step(index)?;
            super::drill::hold(super::drill::Point::Inside(index)).await;
            let result = execute::run(&mut self.step_ctx(&step, &values, index)).await;
            match result {
                Ok(outcome) => {
                    self.journal.finish_step(index, StepState::Done, Some(outcome.clone()), None)?;
                    self.send(Event::StepFinished { index, state: StepState::Done, outcome });
                    return Ok(StepEnd::Next);
                }
                Err(e) if !e.differences().is_empty() => return self.acknowledge_differences(index, e).await,
                Err(e) if e.is_interrupted() => {
                    self.journal.finish_step(index, StepState::Interrupted, None, Some(e.to_string()))?;
                    self.send(Event::StepFinished { index, state: StepState::Interrupted, outcome: e.to_string() });
                    return Ok(StepEnd::End(SessionStatus::Interrupted, RunOutcome::Interrupted));
                }
                Err(e) => {
                    self.journal.finish_step(index, StepState::Failed, None, Some(e.to_string()))?;
                    let choice = super::failure::ask(self, index, &step, &values, &e).await?;
                    match self.after_failure(index, choice) {
                        None => continue,
                        Some(end) => return end,
                    }
                }
            }
        }
    }

    /// The destructive step's gate ([`super::gate`]), with the failure menu
    /// when the backups cannot unlock it.
    async fn pass_gate(
        &mut self,
        index: usize,
        step: &Step,
        values: &BTreeMap<String, String>,
    ) -> Result<Passed, EngineError> {
        Ok(match super::gate::check(self, index).await? {
            Gate::Open(proof) => Passed::Open(proof),
            Gate::Again => Passed::Again,
            Gate::Stop => Passed::End(Ok(StepEnd::End(SessionStatus::Interrupted, RunOutcome::Stopped))),
            Gate::Locked(err) => {
                let choice = super::failure::ask(self, index, step, values, &err).await?;
                match self.after_failure(index, choice) {
                    None => Passed::Again,
                    Some(end) => Passed::End(end),
                }
            }
        })
    }

    /// A restore that left objects as they were because they already existed
    /// with other content is done only once the operator has read which; the
    /// list stays in the transcript. Stopping instead leaves the step to run
    /// again on resume (a restore can).
    async fn acknowledge_differences(&mut self, index: usize, e: StepError) -> Result<StepEnd, EngineError> {
        const SHOWN: usize = 50;
        let mut text = format!("{e}:");
        for d in e.differences().iter().take(SHOWN) {
            text.push_str(&format!("\n  {d}"));
        }
        if e.differences().len() > SHOWN {
            text.push_str(&format!("\n  … and {} more", e.differences().len() - SHOWN));
        }
        text.push_str("\nCompare each with the backup and fix what should not stay as it is.");
        let question = Question::Acknowledge {
            title: format!("\"{}\" is done with differences", self.journal.steps()[index].title),
            text,
            severity: Severity::Warning,
        };
        if self.ask(question).await? != Answer::Yes {
            self.journal.finish_step(index, StepState::Interrupted, None, Some(e.to_string()))?;
            self.send(Event::StepFinished { index, state: StepState::Interrupted, outcome: e.to_string() });
            return Ok(StepEnd::End(SessionStatus::Interrupted, RunOutcome::Stopped));
        }
        self.journal.finish_step(index, StepState::Done, Some(e.to_string()), None)?;
        self.send(Event::StepFinished { index, state: StepState::Done, outcome: e.to_string() });
        Ok(StepEnd::Next)
    }

    /// Where the step loop goes after the failure menu; `None` tries the step again.
    fn after_failure(&mut self, index: usize, choice: FailureChoice) -> Option<Result<StepEnd, EngineError>> {
        match choice {
            FailureChoice::Retry => None,
            FailureChoice::Skip => Some(self.skip(index)),
            FailureChoice::Done => Some(Ok(StepEnd::Next)),
            FailureChoice::End(s, o) => Some(Ok(StepEnd::End(s, o))),
        }
    }

    fn skip(&mut self, index: usize) -> Result<StepEnd, EngineError> {
        self.journal.finish_step(index, StepState::Skipped, Some("skipped by the operator".into()), None)?;
        self.send(Event::StepFinished { index, state: StepState::Skipped, outcome: "skipped by the operator".into() });
        Ok(StepEnd::Next)
    }

    async fn confirm(
        &mut self,
        index: usize,
        step: &Step,
        values: &BTreeMap<String, String>,
        does: &[String],
        unlocked_by: Option<String>,
    ) -> Result<Confirmed, EngineError> {
        // A destructive step done by hand asks for its word before the operator
        // does it, as any other destructive step does; then for its being done.
        if let (Action::Manual(_), Confirm::Typed(word), true) = (step.action(), step.confirmation(), step.destructive)
        {
            let question = Question::Confirm {
                index,
                title: step.title.render_partial(values),
                does: does.to_vec(),
                destructive: true,
                word: Some(word.render_partial(values)),
                skippable: step.skippable,
                unlocked_by: unlocked_by.clone(),
            };
            match self.ask(question).await? {
                Answer::Yes => {}
                Answer::Skip if step.skippable => return Ok(Confirmed::Skip),
                _ => return Ok(Confirmed::Stop),
            }
        }
        let question = match (step.action(), step.confirmation()) {
            (Action::Note(n), _) if n.severity != Severity::Info => Question::Acknowledge {
                title: step.title.render_partial(values),
                text: n.text.render_partial(values),
                severity: n.severity,
            },
            (Action::Manual(m), _) => Question::Manual {
                index,
                title: step.title.render_partial(values),
                instructions: m.instructions.render_partial(values),
                skippable: step.skippable,
            },
            (_, Confirm::None) => return Ok(Confirmed::Go),
            (_, confirm) => Question::Confirm {
                index,
                title: step.title.render_partial(values),
                does: does.to_vec(),
                destructive: step.destructive,
                word: match confirm {
                    Confirm::Typed(word) => Some(word.render_partial(values)),
                    _ => None,
                },
                skippable: step.skippable,
                unlocked_by,
            },
        };
        Ok(match self.ask(question).await? {
            Answer::Yes => Confirmed::Go,
            Answer::Skip if step.skippable => Confirmed::Skip,
            _ => Confirmed::Stop,
        })
    }

    /// A step was running when stepwise stopped. Idempotent kinds run again; for a
    /// command the operator says whether it finished (with its output shown).
    /// A step cut short last time: stepwise was killed while it ran (`Running`)
    /// or stopped it on Ctrl-C, SIGTERM or SIGHUP (`Interrupted`). For a
    /// command, the operator says whether it finished (perhaps by hand), runs
    /// its verify, or runs it again; other kinds are safe to run again.
    async fn after_cut_short(
        &mut self,
        index: usize,
        step: &Step,
        values: &BTreeMap<String, String>,
        state: StepState,
    ) -> Result<Option<StepEnd>, EngineError> {
        let Action::Command(command) = step.action() else {
            if state == StepState::Running {
                self.send(Event::Notice {
                    text: format!("step `{}` was cut short; it is safe to run again, so it runs again", step.id.value),
                });
            }
            return Ok(None);
        };
        let output = recovery::transcript_tail(&self.journal, index);
        let argv = crate::plan::display_argv(&command.argv, values);
        loop {
            let question = Question::CommandFinished {
                index,
                title: step.title.render_partial(values),
                argv: argv.clone(),
                output: output.clone(),
                can_verify: command.verify.is_some(),
                interrupted: state == StepState::Interrupted,
            };
            match self.ask(question).await? {
                Answer::Yes => {
                    let before = format!("`{argv}` was cut short");
                    if super::failure::mark_done_by_hand(self, index, step, values, &before, false).await? {
                        return Ok(Some(StepEnd::Next));
                    }
                }
                Answer::No | Answer::Retry => return Ok(None),
                Answer::Verify if command.verify.is_some() => {
                    match command::verify(&self.ctx, command, values, index, &self.out, self.cancel.clone()).await {
                        Ok(true) => {
                            let note = "the runbook's verify command shows the step finished".to_string();
                            self.journal.finish_step(index, StepState::Done, Some(note.clone()), None)?;
                            self.send(Event::StepFinished { index, state: StepState::Done, outcome: note });
                            return Ok(Some(StepEnd::Next));
                        }
                        Ok(false) => self
                            .send(Event::Notice { text: "the verify command says the step has not finished".into() }),
                        Err(e) => self.send(Event::Warning { index: Some(index), text: e.to_string() }),
                    }
                }
                _ => return Ok(Some(StepEnd::End(SessionStatus::Interrupted, RunOutcome::Stopped))),
            }
        }
    }
}

/// What the step loop does after the gate.
enum Passed {
    Open(String),
    /// Prove and ask again from the top.
    Again,
    End(Result<StepEnd, EngineError>),
}

enum StepEnd {
    Next,
    End(SessionStatus, RunOutcome),
}

enum Confirmed {
    Go,
    Skip,
    Stop,
}
