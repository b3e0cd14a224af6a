//! `run`, `rehearse`, `resume` and `sessions`: wiring the engine to a front end.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::args::{AnswerArgs, ClusterArgs, Global, Output, PlanArgs, RehearseArgs, ResumeArgs, RunArgs};
use super::catalog::{check_set_values, known_product, load_catalog, plan_failure};
use super::{Failure, exit, output};
use crate::base::{CancelSignal, Canceller, cancel_pair};
use crate::base::{Mode, Target};
use crate::engine::{self, EngineError, Inbox, PrepareError, RunOutcome};
use crate::journal::{self, Journal};
use crate::ui;

pub(super) fn state_dir(global: &Global) -> PathBuf {
    global.state_dir.clone().unwrap_or_else(journal::default_state_dir)
}

/// The cluster named after the command, else before it, else the kubeconfig's defaults.
pub(super) fn target(global: &Global, cluster: &ClusterArgs) -> Target {
    Target {
        kubeconfig: cluster.kubeconfig.clone().or_else(|| global.kubeconfig.clone()),
        context: cluster.context.clone().or_else(|| global.context.clone()),
    }
}

/// Without a terminal and without --yes nobody could answer, so refuse at once.
fn check_answerable(answers: &AnswerArgs) -> Result<(), Failure> {
    if answers.yes || std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(Failure::one(
        exit::USAGE,
        miette::miette!(
            help = "pass --yes to answer every confirmation (and --confirm WORD for destructive steps), or run it in a terminal",
            "standard input is not a terminal, so stepwise cannot ask for confirmations"
        ),
    ))
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::one(exit::FAILURE, miette::miette!("cannot start the async runtime: {e}")))
}

/// `-o json|yaml` on a session is for automation: it ends with a summary on
/// standard output, so everything said along the way goes to standard error,
/// and nobody is asked anything.
fn check_summary(answers: &AnswerArgs, format: Output) -> Result<(), Failure> {
    if format == Output::Text || answers.yes {
        return Ok(());
    }
    Err(Failure::one(
        exit::USAGE,
        miette::miette!(
            help = "add --yes (and --confirm WORD for destructive steps), or leave out -o",
            "-o {} prints a summary for automation, which answers with --yes",
            if format == Output::Json { "json" } else { "yaml" }
        ),
    ))
}

/// The checks every session command makes before it uses a cluster, and the catalog.
fn checked_catalog(global: &Global, args: &RunArgs) -> Result<crate::runbook::Catalog, Failure> {
    check_summary(&args.answers, args.plan.output.format)?;
    check_answerable(&args.answers)?;
    let catalog = load_catalog(&global.runbooks)?;
    // What is wrong with the request itself is said before any cluster is used.
    known_product(&catalog, &args.plan.product)?;
    check_set_values(&catalog, &args.plan.product, &args.plan.values)?;
    Ok(catalog)
}

pub fn run(global: &Global, args: &RunArgs, rehearse: bool) -> Result<String, Failure> {
    let format = args.plan.output.format;
    let catalog = checked_catalog(global, args)?;
    let request = engine::RunRequest {
        plan: plan_request(&args.plan),
        mode: if rehearse || args.dry_run { Mode::Rehearsal } else { Mode::Real },
        target: target(global, &args.plan.cluster),
        state_dir: state_dir(global),
        new_session: args.new_session,
        break_lease: args.break_lease,
    };
    runtime()?.block_on(drive(
        &args.answers,
        format,
        |out, cancel| engine::prepare::run(&catalog, request, out, cancel),
        prepare_failure,
    ))
}

/// `stepwise rehearse --shadow-context`: the procedure for real on a scratch
/// cluster, the cluster of `--context` only read.
pub fn shadow(global: &Global, args: &RehearseArgs) -> Result<String, Failure> {
    let run = &args.run;
    let catalog = checked_catalog(global, run)?;
    let primary = target(global, &run.plan.cluster);
    let shadow = Target {
        kubeconfig: args.shadow.shadow_kubeconfig.clone().or_else(|| primary.kubeconfig.clone()),
        context: args.shadow.shadow_context.clone(),
    };
    let request = engine::shadow::ShadowRequest {
        run: engine::RunRequest {
            plan: plan_request(&run.plan),
            mode: Mode::Real,
            target: primary,
            state_dir: state_dir(global),
            new_session: true,
            break_lease: run.break_lease,
        },
        shadow,
        keep: args.shadow.keep_shadow,
    };
    runtime()?.block_on(drive(
        &run.answers,
        run.plan.output.format,
        |out, cancel| engine::shadow::rehearse(&catalog, request, out, cancel),
        prepare_failure,
    ))
}

/// The command line's plan arguments as the engine takes them.
pub(super) fn plan_request(p: &PlanArgs) -> engine::PlanRequest {
    engine::PlanRequest {
        product: p.product.clone(),
        from: p.from.clone(),
        to: p.to.clone(),
        facts: p.facts.iter().cloned().collect(),
        procedure: p.procedure.clone(),
        values: p.values.iter().cloned().collect(),
    }
}

pub fn resume(global: &Global, args: &ResumeArgs) -> Result<String, Failure> {
    let format = args.output.format;
    check_summary(&args.answers, format)?;
    check_answerable(&args.answers)?;
    let catalog = load_catalog(&global.runbooks)?;
    runtime()?.block_on(async {
        let request = engine::ResumeRequest {
            state_dir: state_dir(global),
            id: args.id.clone(),
            accept_changed_runbooks: args.accept_changed_runbooks,
            target: target(global, &args.cluster),
            break_lease: args.break_lease,
        };
        drive(&args.answers, format, |out, cancel| engine::resume(&catalog, request, out, cancel), engine_failure).await
    })
}

/// `stepwise sessions`: reads the sessions and changes nothing.
pub fn sessions(global: &Global, format: Output) -> Result<String, Failure> {
    let dir = state_dir(global);
    let list = Journal::list(&dir).map_err(|e| Failure::one(exit::FAILURE, miette::miette!("{e}")))?;
    let document = output::session_list(dir.clone(), &list);
    output::render(format, &document, || sessions_text(&dir, list))
}

fn sessions_text(dir: &std::path::Path, list: Vec<journal::SessionSummary>) -> String {
    if list.is_empty() {
        return format!("no sessions under {}\n", dir.display());
    }
    let mut out = String::new();
    for s in list {
        let mode = if s.mode.is_rehearsal() { " (rehearsal)" } else { "" };
        let last = s.last_step.as_ref().map(|l| format!(", last: {l}")).unwrap_or_default();
        let damaged = s.damaged.as_ref().map(|d| format!(" DAMAGED: {d}")).unwrap_or_default();
        // Say so, rather than leave the operator waiting for a run that is not there.
        let status = if s.ended_unrecorded() {
            "Interrupted (stepwise ended without recording it)".to_string()
        } else {
            format!("{:?}", s.status)
        };
        out.push_str(&format!(
            "{}  {} {} -> {}{mode}  {status}  {} ({}){last}{damaged}\n",
            s.id, s.product, s.from, s.to, s.context, s.server
        ));
    }
    out
}

/// Runs the engine with the chosen front end, stopping it cleanly on Ctrl-C,
/// SIGTERM or SIGHUP, and turns the outcome into an exit code. With `-o json`
/// or `yaml` the events are also recorded on their way to the front end, and
/// the session's summary is printed whatever the outcome.
async fn drive<F, Fut, E>(
    answers: &AnswerArgs,
    format: Output,
    start: F,
    failed: fn(E) -> Failure,
) -> Result<String, Failure>
where
    F: FnOnce(engine::Outbox, CancelSignal) -> Fut,
    Fut: Future<Output = Result<RunOutcome, E>>,
{
    let (out, inbox) = engine::channel();
    let (canceller, cancel) = cancel_pair();
    let for_screen = canceller.clone();
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        canceller.cancel();
    });
    let (front, recorder) = if format == Output::Text {
        (spawn_front_end(answers, inbox, for_screen, std::io::stdout()), None)
    } else {
        let (relay, front_inbox) = engine::channel();
        let front = spawn_front_end(answers, front_inbox, for_screen, std::io::stderr());
        (front, Some(tokio::spawn(record(inbox, relay))))
    };
    let result = start(out, cancel).await;
    signals.abort();
    let recorded = match recorder {
        Some(task) => task.await.ok(),
        None => None,
    };
    let _ = front.await;
    let shown = outcome_shown(&result);
    let failure = match result {
        Ok(RunOutcome::Finished) => None,
        Ok(RunOutcome::Stopped) => {
            Some(Failure::one(exit::STOPPED, miette::miette!("stopped; the session can be resumed")))
        }
        Ok(RunOutcome::Failed) => {
            Some(Failure::one(exit::STEP_FAILED, miette::miette!("a step failed; the session can be resumed")))
        }
        Ok(RunOutcome::Interrupted) => {
            Some(Failure::one(exit::INTERRUPTED, miette::miette!("interrupted; the session can be resumed")))
        }
        Err(e) => Some(failed(e)),
    };
    let summary = recorded.and_then(|r| r.finish(shown));
    let document = match &summary {
        Some(summary) => output::render(format, summary, String::new)?,
        None => String::new(),
    };
    match failure {
        None => Ok(document),
        Some(failure) if document.is_empty() => Err(failure),
        Some(failure) => Err(failure.with_output(document)),
    }
}

/// Passes every message on to the front end, noting what the summary needs.
async fn record(mut inbox: Inbox, relay: engine::Outbox) -> output::RunRecorder {
    let mut recorder = output::RunRecorder::default();
    while let Some(msg) = inbox.recv().await {
        if let engine::Msg::Event(event) = &msg {
            recorder.observe(event);
        }
        let _ = relay.send(msg);
    }
    recorder
}

fn outcome_shown<E>(result: &Result<RunOutcome, E>) -> output::RunOutcomeShown {
    use output::RunOutcomeShown as Shown;
    match result {
        Ok(RunOutcome::Finished) => Shown::Finished,
        Ok(RunOutcome::Stopped) => Shown::Stopped,
        Ok(RunOutcome::Failed) => Shown::Failed,
        Ok(RunOutcome::Interrupted) => Shown::Interrupted,
        Err(_) => Shown::Error,
    }
}

/// Whether the full screen will run: both ends terminals, no `--yes`, no `--plain`.
pub(super) fn full_screen(answers: &AnswerArgs) -> bool {
    !answers.yes && !answers.plain && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// `--yes`: headless. Both ends terminals and no `--plain`: the full screen.
/// Otherwise the line-by-line front end.
/// The headless front end writes to `lines`.
fn spawn_front_end(
    answers: &AnswerArgs,
    inbox: Inbox,
    canceller: Canceller,
    lines: impl std::io::Write + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    if answers.yes {
        let options = ui::headless::Options { confirm_words: answers.confirm.clone() };
        tokio::spawn(ui::headless::drive(inbox, options, lines))
    } else if full_screen(answers) {
        tokio::spawn(async move {
            if let Err(e) = ui::tui::drive(inbox, Some(canceller)).await {
                eprintln!("stepwise: the screen failed: {e}");
            }
        })
    } else {
        tokio::spawn(ui::plain::drive(inbox))
    }
}

/// Ctrl-C, SIGTERM, and SIGHUP — the SSH connection to the bastion dropping —
/// all stop the session the same way: the running command's process group is
/// ended and the step is recorded as interrupted, never left running orphaned.
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (term, hup) = (signal(SignalKind::terminate()), signal(SignalKind::hangup()));
    match (term, hup) {
        (Ok(mut term), Ok(mut hup)) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The cluster could not be reached or used.
pub(super) fn cluster_failure(e: &dyn std::fmt::Display) -> Failure {
    Failure::one(exit::CLUSTER, miette::miette!("{e}"))
}

/// The exit code and report for a session that could not be prepared, or
/// that ended in an error.
pub(super) fn prepare_failure(e: PrepareError) -> Failure {
    match e {
        PrepareError::Cluster(c) => cluster_failure(&c),
        PrepareError::BadFrom { .. } => Failure::one(exit::USAGE, miette::miette!("{e}")),
        PrepareError::Undetectable { .. } => Failure::one(
            exit::REFUSED,
            miette::miette!(help = "pass --from VERSION to say which version is installed", "{e}"),
        ),
        PrepareError::Plan(p) => plan_failure(*p),
        PrepareError::NoProcedure => Failure::one(exit::STOPPED, miette::miette!("{e}")),
        PrepareError::Interrupted => Failure::one(exit::INTERRUPTED, miette::miette!("{e}")),
        PrepareError::NoFrontEnd => Failure::one(exit::FAILURE, miette::miette!("{e}")),
        PrepareError::Session(e) => engine_failure(e),
    }
}

fn engine_failure(e: EngineError) -> Failure {
    match e {
        EngineError::Cluster(c) => Failure::one(exit::CLUSTER, miette::miette!("{c}")),
        EngineError::Preflight(_) => Failure::one(exit::PREFLIGHT, miette::miette!("{e}")),
        EngineError::Refused(_) | EngineError::Journal(_) => Failure::one(exit::REFUSED, miette::miette!("{e}")),
        other => Failure::one(exit::FAILURE, miette::miette!("{other}")),
    }
}
