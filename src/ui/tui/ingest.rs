//! Taking in what the engine sends: events change the plan, the log and the
//! progress; a question opens a dialog (or, once the operator has chosen to leave,
//! is answered "stop" at once).

use std::time::Duration;

use tokio::sync::oneshot;

use crate::engine::{ActionKind, Answer, Event, Question, StepInfo};

use super::app::{App, Session, Summary};
use super::dialog::Dialog;
use super::format::sanitize;
use super::log::Kind;
use super::message::{Effect, Reply};
use super::progress::Progress;
use super::steps::{self, Failure, Marks, Status, StepView};

pub fn question(app: &mut App, question: Question, reply: oneshot::Sender<Answer>) -> Option<Effect> {
    if app.stopping {
        return Some(Effect::Reply(Reply::new(Answer::Stop, reply)));
    }
    let dialog = Dialog::new(question, reply);
    if let (true, Some(index)) = (app.follow, dialog.step()) {
        app.selected = index.min(app.steps.len().saturating_sub(1));
    }
    app.dialog = Some(dialog);
    app.dialog_hidden = false;
    if app.overlay == super::app::Overlay::Help {
        app.overlay = super::app::Overlay::None;
    }
    None
}

pub fn event(app: &mut App, event: Event) {
    match event {
        Event::Detected { detection } => app.log.push(Kind::Notice, sanitize(&detection.to_string())),
        Event::PlanReady { plan } => planned(app, &plan),
        Event::SessionStarted { id, dir, rehearsal, product, from, to, hops, context, server, steps } => {
            app.session = Some(Session { id, rehearsal, product, from, to, hops, context, server, started: app.now });
            app.log.push(Kind::Notice, format!("session folder: {}", dir.display()));
            plan(app, steps);
        }
        Event::Notice { text } => app.log.push(Kind::Notice, sanitize(&text)),
        Event::Warning { text, .. } => app.log.push(Kind::Warning, sanitize(&text)),
        Event::Line { text, .. } => app.log.push(Kind::Output, sanitize(&text)),
        Event::StepStarted { index, title, kind, explain, does } => started(app, index, title, kind, explain, does),
        Event::Progress { index, done, total, bytes, what } => {
            let since = match &app.progress {
                Some(p) if p.index == index => p.since,
                _ => app.now,
            };
            app.progress = Some(Progress { index, done, total, bytes, what, since });
        }
        Event::StepFinished { index, state, outcome } => {
            let status = state;
            app.log.push(Kind::Step, format!("{} {}. {}: {outcome}", status.mark(), index + 1, status.word()));
            if let Some(step) = app.steps.get_mut(index) {
                step.status = status;
                step.outcome = Some(outcome);
                step.failure = None;
            }
            settle(app, index);
        }
        Event::StepFailed { index, error, cluster_state } => {
            app.log.push(Kind::Failure, format!("[!] {}. FAILED: {error}", index + 1));
            app.log.push(Kind::Failure, format!("    cluster: {cluster_state}"));
            if let Some(step) = app.steps.get_mut(index) {
                step.status = Status::Failed;
                step.failure = Some(Failure { error, cluster_state });
            }
            settle(app, index);
        }
        Event::SessionFinished { status, elapsed_secs, backups, report, resume_hint } => {
            app.log.push(Kind::Step, format!("session {status}"));
            app.summary =
                Some(Summary { status, elapsed: Duration::from_secs(elapsed_secs), backups, report, resume_hint });
            app.current = None;
            app.progress = None;
            app.overlay = super::app::Overlay::None;
        }
    }
}

/// The plan before the session starts: its path and procedures, in the log
/// (the steps come with the session).
fn planned(app: &mut App, plan: &crate::plan::Plan) {
    let steps = plan.steps_text();
    app.log.push(Kind::Notice, format!("plan: {} {} -> {}, {steps}", plan.product_name, plan.from, plan.to));
    for (i, hop) in plan.hops.iter().enumerate() {
        let text = format!("  hop {}: {} -> {} {} [{}]", i + 1, hop.from, hop.to, hop.procedure_title, hop.procedure);
        app.log.push(Kind::Notice, sanitize(&text));
    }
}

/// The plan, with the selection on the first step left to do (a resumed session
/// has some behind it).
fn plan(app: &mut App, steps: Vec<StepInfo>) {
    app.steps = steps.into_iter().map(StepView::new).collect();
    app.rows = steps::rows(&app.steps);
    app.selected = app.steps.iter().position(|s| !matches!(s.status, Status::Done | Status::Skipped)).unwrap_or(0);
}

fn started(app: &mut App, index: usize, title: String, kind: ActionKind, explain: String, does: Vec<String>) {
    app.log.push(Kind::Step, format!("[>] {}. {title} ({kind})", index + 1));
    if let Some(step) = app.steps.get_mut(index) {
        step.status = Status::Running;
        step.info.kind = kind;
        step.explain = Some(explain);
        step.does = does;
        step.outcome = None;
        step.failure = None;
    }
    app.current = Some(index);
    if app.follow && index < app.steps.len() {
        app.selected = index;
    }
    if app.progress.as_ref().is_some_and(|p| p.index != index) {
        app.progress = None;
    }
}

/// A step ended: it is no longer running and its progress is history.
fn settle(app: &mut App, index: usize) {
    if app.progress.as_ref().is_some_and(|p| p.index == index) {
        app.progress = None;
    }
    // The step stays current after a failure: the question about it follows.
    if app.current == Some(index) && app.steps.get(index).is_some_and(|s| s.status != Status::Failed) {
        app.current = None;
    }
}
