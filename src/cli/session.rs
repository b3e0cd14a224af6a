//! `run`, `rehearse`, `resume` and `sessions`: wiring the engine to a front end.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::args::{AnswerArgs, ClusterArgs, Global, Output, PlanArgs, ResumeArgs, RunArgs};
use super::catalog::{check_set_values, known_product, load_catalog, plan_failure, render_plan};
use super::{Failure, exit, output};
use crate::base::{CancelSignal, Canceller, cancel_pair};
use crate::base::{Mode, Target};
use crate::cluster::ClusterError;
use crate::engine::{self, EngineError, Inbox, RunOutcome};
use crate::journal::{self, Journal};
use crate::plan::{self, Request};
use crate::runbook::{Catalog, Version};
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

/// A line for the operator: standard output, or standard error when standard
/// output carries a summary.
fn say(format: Output, line: &str) {
    if format == Output::Text {
        println!("{line}");
    } else {
        eprintln!("{line}");
    }
}

pub fn run(global: &Global, args: &RunArgs, rehearse: bool) -> Result<String, Failure> {
    let format = args.plan.output.format;
    check_summary(&args.answers, format)?;
    check_answerable(&args.answers)?;
    let catalog = load_catalog(&global.runbooks)?;
    // What is wrong with the request itself is said before any cluster is used.
    known_product(&catalog, &args.plan.product)?;
    check_set_values(&catalog, &args.plan.product, &args.plan.values)?;
    let mode = if rehearse || args.dry_run { Mode::Rehearsal } else { Mode::Real };
    // Secrets given with --set are masked before anything shows them, the plan included.
    if let Some(product) = catalog.product(&args.plan.product) {
        for (name, value) in &args.plan.values {
            if product.is_secret(name) {
                crate::redact::add(value);
            }
        }
    }
    runtime()?.block_on(async {
        let target = target(global, &args.plan.cluster);
        // A kubeconfig that cannot be read stops the run before a plan is shown for it.
        target.connect().await.map_err(cluster_failure)?;
        let (mut plan, detected) = make_plan(&catalog, &target, &args.plan, None).await?;
        for line in detected {
            say(format, &line);
        }
        if let Some(id) = offer_procedures(&plan, args).await? {
            plan = make_plan(&catalog, &target, &args.plan, Some(id)).await?.0;
        }
        say(format, &crate::redact::text(&render_plan(&plan)));
        let state_dir = state_dir(global);
        let request = engine::StartRequest {
            plan,
            mode,
            target,
            state_dir,
            values: args.plan.values.iter().cloned().collect(),
            new_session: args.new_session,
            break_lease: args.break_lease,
        };
        drive(&args.answers, format, |out, cancel| engine::start(&catalog, request, out, cancel)).await
    })
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
        drive(&args.answers, format, |out, cancel| engine::resume(&catalog, request, out, cancel)).await
    })
}

pub fn sessions(global: &Global, format: Output) -> Result<String, Failure> {
    let dir = state_dir(global);
    let list = Journal::list(&dir).map_err(|e| Failure::one(exit::FAILURE, miette::miette!("{e}")))?;
    let document = output::session_list(dir.clone(), &list, ended_unrecorded);
    output::render(format, &document, || sessions_text(&dir, list))
}

/// A session still marked running that no process holds was killed (or its
/// machine went down) before it could record the stop.
fn ended_unrecorded(s: &journal::SessionSummary) -> bool {
    s.status == journal::SessionStatus::Running && s.damaged.is_none() && Journal::open(&s.dir).is_ok()
}

fn sessions_text(dir: &std::path::Path, list: Vec<journal::SessionSummary>) -> String {
    if list.is_empty() {
        return format!("no sessions under {}\n", dir.display());
    }
    let mut out = String::new();
    for s in list {
        let unrecorded = ended_unrecorded(&s);
        let mode = if s.mode.is_rehearsal() { " (rehearsal)" } else { "" };
        let mut last = s.last_step.map(|l| format!(", last: {l}")).unwrap_or_default();
        let damaged = s.damaged.map(|d| format!(" DAMAGED: {d}")).unwrap_or_default();
        let mut status = format!("{:?}", s.status);
        // Say so, rather than leave the operator waiting for a run that is not there.
        if unrecorded {
            status = "Interrupted (stepwise ended without recording it)".into();
            if let Some(cut) = last.strip_suffix(" (running)") {
                last = format!("{cut} (cut short)");
            }
        }
        out.push_str(&format!(
            "{}  {} {} -> {}{mode}  {status}  {} ({}){last}{damaged}\n",
            s.id, s.product, s.from, s.to, s.context, s.server
        ));
    }
    out
}

/// Plans from --from, or from the version detected on the cluster. Also
/// returns what was detected, one line each, for the operator to read.
pub(super) async fn make_plan(
    catalog: &Catalog,
    target: &Target,
    p: &PlanArgs,
    picked: Option<String>,
) -> Result<(plan::Plan, Vec<String>), Failure> {
    let mut detected = Vec::new();
    let mut facts: std::collections::BTreeMap<String, String> = p.facts.iter().cloned().collect();
    if let Some(entry) = catalog.product(&p.product).filter(|e| e.product.facts.iter().any(|f| f.detect.is_some())) {
        let conn = target.connect().await.map_err(cluster_failure)?;
        let told =
            crate::engine::detection::detect_facts(&conn, &entry.product, &facts).await.map_err(cluster_failure)?;
        for (name, value, why) in told {
            detected.push(format!("Detected {name}={value} ({why}; --fact {name}=... says otherwise)"));
            facts.insert(name, value);
        }
    }
    let from = match &p.from {
        Some(f) => Version::parse(f).map_err(|e| Failure::one(exit::USAGE, miette::miette!("--from: {e}")))?,
        None => {
            let product = known_product(catalog, &p.product)?;
            let conn = target.connect().await.map_err(cluster_failure)?;
            let values = p.values.iter().cloned().collect();
            let found =
                crate::engine::detection::detect(&conn, &product.product, &values).await.map_err(|e| match e {
                    // An unreachable cluster is not an undetectable version: --from would not help.
                    crate::cluster::detect::DetectError::Cluster(c @ ClusterError::Unreachable { .. }) => {
                        cluster_failure(c)
                    }
                    e => Failure::one(
                        exit::REFUSED,
                        miette::miette!(help = "pass --from VERSION to say which version is installed", "{e}"),
                    ),
                })?;
            detected.push(format!("Detected {} {} ({})", product.product.name, found.version, found.source));
            for (k, v) in found.facts {
                facts.entry(k).or_insert(v);
            }
            found.version
        }
    };
    let request = Request {
        product: p.product.clone(),
        from: Some(from),
        to: p.to.clone(),
        facts,
        procedure: picked.or_else(|| p.procedure.clone()),
        values: p.values.iter().cloned().collect(),
    };
    Ok((plan::plan(catalog, &request).map_err(plan_failure)?, detected))
}

/// When several procedures fit a one-hop plan and the operator is at a terminal
/// without having chosen, offers them (the least disruptive first).
async fn offer_procedures(plan: &plan::Plan, args: &RunArgs) -> Result<Option<String>, Failure> {
    let [hop] = plan.hops.as_slice() else { return Ok(None) };
    if args.answers.yes || args.plan.procedure.is_some() || hop.alternatives.is_empty() {
        return Ok(None);
    }
    let mut options =
        vec![(hop.procedure.clone(), format!("{} ({}, recommended)", hop.procedure, hop.procedure_title))];
    options.extend(hop.alternatives.iter().map(|a| (a.split(' ').next().unwrap_or(a).to_string(), a.clone())));
    let label = format!("{} -> {}", hop.from, hop.to);
    let picked = tokio::task::spawn_blocking(move || ui::plain::pick_procedure(&label, &options))
        .await
        .map_err(|e| Failure::one(exit::FAILURE, miette::miette!("{e}")))?;
    match picked {
        None => Err(Failure::one(exit::STOPPED, miette::miette!("no procedure chosen; nothing was done"))),
        Some(id) if id == hop.procedure => Ok(None),
        Some(id) => Ok(Some(id)),
    }
}

/// Runs the engine with the chosen front end, stopping it cleanly on Ctrl-C,
/// SIGTERM or SIGHUP, and turns the outcome into an exit code. With `-o json`
/// or `yaml` the events are also recorded on their way to the front end, and
/// the session's summary is printed whatever the outcome.
async fn drive<F, Fut>(answers: &AnswerArgs, format: Output, start: F) -> Result<String, Failure>
where
    F: FnOnce(engine::Outbox, CancelSignal) -> Fut,
    Fut: Future<Output = Result<RunOutcome, EngineError>>,
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
        Err(ref e) => Some(engine_failure(e)),
    };
    let summary = recorded.and_then(|r| r.finish(outcome_shown(&result)));
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

fn outcome_shown(result: &Result<RunOutcome, EngineError>) -> output::RunOutcomeShown {
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

pub(super) fn cluster_failure(e: ClusterError) -> Failure {
    Failure::one(exit::CLUSTER, miette::miette!("{e}"))
}

fn engine_failure(e: &EngineError) -> Failure {
    match e {
        EngineError::Cluster(c) => Failure::one(exit::CLUSTER, miette::miette!("{c}")),
        EngineError::Preflight(_) => Failure::one(exit::PREFLIGHT, miette::miette!("{e}")),
        EngineError::Refused(_) | EngineError::Journal(_) => Failure::one(exit::REFUSED, miette::miette!("{e}")),
        other => Failure::one(exit::FAILURE, miette::miette!("{other}")),
    }
}
