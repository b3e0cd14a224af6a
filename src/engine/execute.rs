//! Executing one step of each kind, real or rehearsed, and the safety rules around
//! destructive steps: what must be proven first, what state a failure leaves, and
//! how to restore after one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Mutex;

use super::events::{Event, Msg, Tee};
use super::work::{Resolved, WorkItem};
use crate::base::CancelSignal;
use crate::base::{Mode, OpEvent, Reporter, Target};
use crate::cluster::apply::{ApplyRequest, apply};
use crate::cluster::backup::{BackupRequest, backup};
use crate::cluster::delete::{DeleteTarget, delete};
use crate::cluster::preflight::{Check, Status};
use crate::cluster::restore::{ObjectOutcome, Outcome, RestoreReport, RestoreRequest, restore};
use crate::cluster::rollout::{RolloutRequest, rollout_restart};
use crate::cluster::wait::{DEFAULT_TIMEOUT, WaitTarget, wait};
use crate::cluster::{Connection, pinned, proof};
use crate::commands::{self, CommandRequest, KubeEnv, Planned};
use crate::journal::{Journal, StepState};
use crate::plan::Plan;
use crate::runbook::model::{Action, ApplyAction, CheckAction, CommandAction, CommandSpec, Step};
use crate::runbook::template::Template;

/// What every step shares: the plan, the mode, and connections to each cluster.
pub struct Context {
    pub plan: Plan,
    pub mode: Mode,
    pub target: Target,
    pub conn: Connection,
    /// Connections to other kube contexts steps name, made on first use.
    others: Mutex<HashMap<String, Connection>>,
    /// Where each hop's procedure file lives, for relative `apply.file` paths.
    pub procedure_dirs: Vec<Option<PathBuf>>,
    /// The session's folder, where the pinned kubeconfigs of its children live.
    session_dir: PathBuf,
    /// Pinned kubeconfigs written so far, by kube context.
    pins: std::sync::Mutex<HashMap<String, PathBuf>>,
}

/// Why a step did not complete.
#[derive(Debug, Clone)]
pub struct StepError {
    pub message: String,
    /// Ctrl-C or SIGTERM, not a failure of the step.
    pub interrupted: bool,
    /// The step did its work, but these objects were already in the cluster
    /// with other content and were left as they are: not a success until the
    /// operator has read the list.
    pub differences: Vec<String>,
    /// A restore that could not bring these objects back (each with why): the
    /// operator may retry, or go on without them, listed in the outcome.
    pub unrestored: Vec<String>,
    /// The backups before a destructive step that has not started cannot
    /// unlock it (damaged, incomplete): taking them again is a way forward.
    pub backup_again: bool,
}

impl StepError {
    pub fn new(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            interrupted: false,
            differences: Vec::new(),
            unrestored: Vec::new(),
            backup_again: false,
        }
    }

    fn interrupted() -> Self {
        StepError { interrupted: true, ..StepError::new("interrupted; the step was cut short") }
    }
}

impl<E: std::fmt::Display> From<E> for StepError {
    fn from(e: E) -> Self {
        StepError::new(e.to_string())
    }
}

impl Context {
    pub fn new(
        plan: Plan,
        mode: Mode,
        target: Target,
        conn: Connection,
        procedure_dirs: Vec<Option<PathBuf>>,
        session_dir: &Path,
    ) -> Self {
        Context {
            plan,
            mode,
            target,
            conn,
            others: Mutex::new(HashMap::new()),
            procedure_dirs,
            session_dir: session_dir.to_path_buf(),
            pins: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The kubeconfig every child acting on `context` runs with: the session's
    /// own copy holding that context alone as the current one (see
    /// [`pinned`]). Written from the operator's kubeconfig the first time a
    /// context is needed in this process (the session's own at the start and on
    /// every resume), so a later change to that file cannot redirect a step.
    pub fn pinned_kubeconfig(&self, context: &str) -> Result<PathBuf, StepError> {
        let mut pins = self.pins.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = pins.get(context) {
            return Ok(path.clone());
        }
        let path = self.session_dir.join(pinned::file_name(context, &self.conn.context));
        pinned::write(&self.target, context, &path)?;
        pins.insert(context.to_string(), path.clone());
        Ok(path)
    }

    /// Removes the pinned kubeconfigs: once the session has finished nothing
    /// runs in its name again, and the copies hold credentials.
    pub fn remove_pinned_kubeconfigs(&self) {
        for (_, path) in self.pins.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The connection a step acts on: its own kube context, or the session's.
    pub async fn connection(&self, step: &Step, values: &BTreeMap<String, String>) -> Result<Connection, StepError> {
        let Some(context) = step.context.as_ref().map(|c| c.render(values)).transpose()? else {
            return Ok(self.conn.clone());
        };
        if context.is_empty() || context == self.conn.context {
            return Ok(self.conn.clone());
        }
        let mut others = self.others.lock().await;
        if let Some(conn) = others.get(&context) {
            return Ok(conn.clone());
        }
        let target = Target { kubeconfig: self.target.kubeconfig.clone(), context: Some(context.clone()) };
        let conn = target.connect().await?;
        others.insert(context, conn.clone());
        Ok(conn)
    }
}

/// Right before a destructive step starts: the cluster the step will change,
/// both through stepwise's own connection and through the pinned kubeconfig
/// its commands run with, is the one the session checked (same kube-system
/// UID and server). Another cluster behind the same address, or a pinned file
/// that no longer leads where the session began, stops the step.
pub async fn check_same_cluster(
    ctx: &Context,
    journal: &Journal,
    step: &Step,
    values: &BTreeMap<String, String>,
) -> Result<(), StepError> {
    let context = match step.context.as_ref().map(|c| c.render(values)).transpose()? {
        Some(c) if !c.is_empty() => c,
        _ => ctx.conn.context.clone(),
    };
    let conn = ctx.connection(step, values).await?;
    let now = conn.identity().await?;
    let expected = if context == ctx.conn.context { journal.meta().cluster.clone() } else { now.clone() };
    let through_pin = Target { kubeconfig: Some(ctx.pinned_kubeconfig(&context)?), context: Some(context.clone()) }
        .connect()
        .await?
        .identity()
        .await?;
    for (what, found) in [("stepwise's connection", &now), ("the kubeconfig its commands run with", &through_pin)] {
        if found.kube_system_uid != expected.kube_system_uid || found.server != expected.server {
            return Err(StepError::new(format!(
                "stopped before changing anything: {what} reaches {} (kube-system {}), but this session's cluster \
                 for context `{context}` is {} (kube-system {}). Check which cluster `{context}` names now, then \
                 resume; nothing of this step has run",
                found.server, found.kube_system_uid, expected.server, expected.kube_system_uid
            )));
        }
    }
    Ok(())
}

/// Turns cluster-operation events into engine events for step `index`.
pub fn reporter(out: &Tee, index: usize) -> Reporter {
    let out = out.clone();
    Arc::new(move |e| {
        let event = match e {
            OpEvent::Progress { done, total, bytes, what } => Event::Progress { index, done, total, bytes, what },
            OpEvent::Line(text) => Event::Line { index, text },
            OpEvent::Warning(text) => Event::Warning { index: Some(index), text },
        };
        let _ = out.send(Msg::Event(event));
    })
}

/// Runs the backup step `step`. With `refresh`, the operator has seen how the
/// cluster changed since this step last ran and asked for a new backup.
#[allow(clippy::too_many_arguments)]
pub async fn take_backup(
    ctx: &Context,
    journal: &Journal,
    step: &Step,
    values: &BTreeMap<String, String>,
    index: usize,
    out: &Tee,
    mut cancel: CancelSignal,
    refresh: bool,
) -> Result<String, StepError> {
    let Action::Backup(b) = step.action() else { return Err(StepError::new("not a backup step")) };
    let item = values.get("item").map(String::as_str).filter(|_| step.for_each.is_some());
    let conn = ctx.connection(step, values).await?;
    let resources = render_all(&b.resources, values)?;
    let dir = backup_dir(journal, step, item);
    let mut request = BackupRequest::new(resources, dir.clone());
    request.namespaces = b.namespaces.as_ref().map(|ns| render_all(ns, values)).transpose()?;
    request.refresh = refresh;
    let manifest = interruptible(&mut cancel, backup(&conn, &request, reporter(out, index))).await??;
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

/// Where a backup step keeps its files.
pub fn backup_dir(journal: &Journal, step: &Step, item: Option<&str>) -> PathBuf {
    let name = match item {
        Some(item) => format!("{}-{}", step.id.value, item.replace(['/', '\\'], "_")),
        None => step.id.value.clone(),
    };
    journal.backups_dir().join(name)
}

/// Runs a future unless the session is interrupted first.
async fn interruptible<T>(cancel: &mut CancelSignal, work: impl Future<Output = T>) -> Result<T, StepError> {
    tokio::select! {
        value = work => Ok(value),
        () = cancel.cancelled() => Err(StepError::interrupted()),
    }
}

/// Executes a step; returns a one-line outcome for the journal.
#[tracing::instrument(
    name = "step",
    skip_all,
    fields(index = index, id = %step.id.value),
    ret(level = "info"),
    err(level = "warn", Debug)
)]
pub async fn run(
    ctx: &Context,
    journal: &mut Journal,
    step: &Step,
    values: &BTreeMap<String, String>,
    index: usize,
    out: &Tee,
    mut cancel: CancelSignal,
) -> Result<String, StepError> {
    tracing::info!(title = %step.title, mode = ?ctx.mode, "step started");
    let report = reporter(out, index);
    let mode = ctx.mode;
    let item = values.get("item").map(String::as_str).filter(|_| step.for_each.is_some());
    match step.action() {
        Action::Note(_) => Ok("acknowledged".into()),
        Action::Manual(m) => match &m.verify {
            None => Ok("the operator confirmed it is done".into()),
            Some(verify) if mode.is_rehearsal() && !verify.read_only => {
                shown_only(journal, index, &verify.argv, values, "it is not declared read-only")
            }
            Some(verify) => {
                run_command_spec(ctx, journal, step, verify, values, index, out, cancel, false).await?;
                Ok(format!(
                    "the operator confirmed it is done; `{}` agrees",
                    crate::plan::display_argv(&verify.argv, values)
                ))
            }
        },
        Action::Check(check) => run_check(ctx, journal, step, check, values, index, out, cancel).await,
        Action::Backup(_) => take_backup(ctx, journal, step, values, index, out, cancel, false).await,
        Action::Restore(r) => {
            let conn = ctx.connection(step, values).await?;
            let from = backup_dir_of(journal, ctx, &r.from.value, item)?;
            let mut request = RestoreRequest::new(from.clone(), mode);
            if let Some(c) = r.concurrency {
                request.concurrency = c;
            }
            let result = interruptible(&mut cancel, restore(&conn, &request, report)).await??;
            restore_outcome(&result, &from, mode)
        }
        Action::RolloutRestart(action) => {
            let conn = ctx.connection(step, values).await?;
            let request = RolloutRequest::from_action(action, values, mode)?;
            let summary = interruptible(&mut cancel, rollout_restart(&conn, &request, report)).await??;
            let (verb, deleted) =
                if mode.is_rehearsal() { ("would restart", "would delete") } else { ("restarted", "deleted") };
            Ok(format!("{verb} {} workloads, {deleted} {} pods", summary.restarted.len(), summary.deleted_pods.len()))
        }
        Action::Wait(w) => {
            let target = WaitTarget::render(&w.condition, values)?;
            if mode.is_rehearsal() {
                return Ok(target.describe());
            }
            let conn = ctx.connection(step, values).await?;
            let timeout = w.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
            let waited = interruptible(&mut cancel, wait(&conn, &target, timeout, report)).await??;
            Ok(format!("{} after {}s", target.condition(), waited.elapsed.as_secs()))
        }
        Action::Delete(d) => {
            let target = DeleteTarget::render(d, values)?;
            let conn = ctx.connection(step, values).await?;
            let timeout = d.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
            let summary = interruptible(&mut cancel, delete(&conn, &target, mode, timeout, report)).await??;
            Ok(summary.line(&target, mode))
        }
        Action::Apply(a) => {
            let conn = ctx.connection(step, values).await?;
            let (yaml, origin) = match a {
                ApplyAction::File(f) => read_manifest_file(ctx, values, f, index)?,
                ApplyAction::Command(c) if mode.is_rehearsal() && !c.read_only => {
                    let why = "it is not declared read-only, so there is nothing to apply";
                    return shown_only(journal, index, &c.argv, values, why);
                }
                ApplyAction::Command(c) => {
                    // A read-only command that prints manifests runs in rehearsal too.
                    let outcome =
                        run_command_spec(ctx, journal, step, c, values, index, out, cancel.clone(), true).await?;
                    (outcome, format!("`{}`", crate::plan::display_argv(&c.argv, values)))
                }
            };
            let ns = values.get("namespace").cloned().unwrap_or_else(|| "default".into());
            let request = ApplyRequest::new(yaml, origin.clone(), ns, mode);
            let result = interruptible(&mut cancel, apply(&conn, &request, report)).await??;
            if !result.all_ok() {
                let first: Vec<String> = result.failed().take(5).map(|o| format!("{o:?}")).collect();
                return Err(StepError::new(format!("some manifests from {origin} were refused: {}", first.join("; "))));
            }
            Ok(format!("applied {} objects from {origin}", result.objects.len()))
        }
        Action::Command(c) => run_command(ctx, journal, step, c, values, index, out, cancel).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_check(
    ctx: &Context,
    journal: &mut Journal,
    step: &Step,
    check: &CheckAction,
    values: &BTreeMap<String, String>,
    index: usize,
    out: &Tee,
    cancel: CancelSignal,
) -> Result<String, StepError> {
    let conn = ctx.connection(step, values).await?;
    let check = match check {
        CheckAction::CrdsExist(kinds) => Check::KindsExist(render_all(kinds, values)?),
        CheckAction::DeploymentAvailable(o) => {
            Check::DeploymentAvailable { namespace: o.namespace.render(values)?, name: o.name.render(values)? }
        }
        CheckAction::MinReplicas(m) => Check::MinReplicas {
            namespace: m.namespace.render(values)?,
            name: m.name.render(values)?,
            min: m.min,
            required: m.required,
        },
        CheckAction::CommandSucceeds(c) if ctx.mode.is_rehearsal() && !c.read_only => {
            return shown_only(journal, index, &c.argv, values, "it is not declared read-only");
        }
        CheckAction::CommandSucceeds(c) => {
            run_command_spec(ctx, journal, step, c, values, index, out, cancel, false).await?;
            return Ok(format!("`{}` succeeded", crate::plan::display_argv(&c.argv, values)));
        }
    };
    let result = check.run(&conn).await;
    let detail = if result.details.is_empty() { String::new() } else { format!(" ({})", result.details.join("; ")) };
    match result.status {
        Status::Ok => Ok(result.message),
        Status::Warning => {
            let _ = out
                .send(Msg::Event(Event::Warning { index: Some(index), text: format!("{}{detail}", result.message) }));
            Ok(format!("warning: {}", result.message))
        }
        Status::Failed => Err(StepError::new(format!("{}{detail}", result.message))),
    }
}

fn render_all(templates: &[Template], values: &BTreeMap<String, String>) -> Result<Vec<String>, StepError> {
    templates.iter().map(|t| t.render(values).map_err(StepError::from)).collect()
}

fn read_manifest_file(
    ctx: &Context,
    values: &BTreeMap<String, String>,
    file: &Template,
    index: usize,
) -> Result<(String, String), StepError> {
    let rendered = PathBuf::from(file.render(values)?);
    let hop = values
        .get("from_version")
        .and_then(|_| ctx.plan.hops.iter().position(|h| h.to.to_string() == values["to_version"]));
    let base = hop.and_then(|h| ctx.procedure_dirs.get(h).cloned().flatten());
    let path = match base {
        Some(dir) if rendered.is_relative() => dir.join(&rendered),
        _ => rendered,
    };
    let _ = index;
    let text =
        std::fs::read_to_string(&path).map_err(|e| StepError::new(format!("cannot read {}: {e}", path.display())))?;
    Ok((text, path.display().to_string()))
}

#[allow(clippy::too_many_arguments)]
async fn run_command(
    ctx: &Context,
    journal: &mut Journal,
    step: &Step,
    c: &CommandAction,
    values: &BTreeMap<String, String>,
    index: usize,
    out: &Tee,
    cancel: CancelSignal,
) -> Result<String, StepError> {
    let planned = commands::plan_for_mode(&c.argv, c.dry_run_argv.as_ref(), c.read_only, ctx.mode.is_rehearsal());
    let argv = planned.argv();
    if let Planned::ShowOnly(argv) = &planned {
        return shown_only(journal, index, argv, values, "it has no dry-run form and is not declared read-only");
    }
    let spec = CommandSpec { argv: argv.to_vec(), env: c.env.clone(), timeout: c.timeout, read_only: c.read_only };
    run_command_spec(ctx, journal, step, &spec, values, index, out, cancel, false).await?;
    Ok(format!("`{}` exited 0", crate::plan::display_argv(argv, values)))
}

/// What a restore step reports: done (saying what was already there, left out
/// or unlinked from a gone owner), done with differences (the operator reads
/// the list), or failed, naming the objects that could not be restored.
fn restore_outcome(result: &RestoreReport, from: &Path, mode: Mode) -> Result<String, StepError> {
    let place = |o: &ObjectOutcome| {
        format!("{}/{}{}", o.resource, o.namespace.as_ref().map(|n| format!("{n}/")).unwrap_or_default(), o.name)
    };
    if result.failed() > 0 || !result.verified {
        let unrestored: Vec<String> = result
            .notable
            .iter()
            .filter_map(|o| match &o.outcome {
                Outcome::Failed(why) => Some(format!("{}: {why}", place(o))),
                _ => None,
            })
            .collect();
        let first: Vec<&str> = unrestored.iter().take(5).map(String::as_str).collect();
        let message = format!(
            "{} objects could not be restored from {}; first: {}",
            result.failed(),
            from.display(),
            first.join("; ")
        );
        return Err(StepError { unrestored, ..StepError::new(message) });
    }
    let done: u64 = result.kinds.iter().map(|k| k.created + k.validated + k.identical).sum();
    let verb = if mode.is_rehearsal() { "validated" } else { "restored" };
    let mut text = format!("{verb} {done} objects from {}", from.display());
    // A restore run again (after an interruption, say) finds objects already there: say
    // how many, and name those left as they are because they differ from the backup.
    let identical: u64 = result.kinds.iter().map(|k| k.identical).sum();
    if identical > 0 {
        text.push_str(&format!(" ({identical} of them were already there, identical)"));
    }
    let left_out: Vec<String> = result.notable.iter().filter(|o| o.outcome == Outcome::LeftOut).map(place).collect();
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
    let different: Vec<String> =
        result.notable.iter().filter(|o| o.outcome == Outcome::AlreadyDifferent).map(place).collect();
    if different.is_empty() || mode.is_rehearsal() {
        return Ok(text);
    }
    text.push_str(&format!(
        "; done with differences: {} objects were already there with other content and were left as they are",
        different.len()
    ));
    Err(StepError { differences: different, ..StepError::new(text) })
}

/// A rehearsal shows a command it may not run: the transcript keeps it (the
/// report lists what ran and what was only shown) and the outcome says why.
fn shown_only(
    journal: &mut Journal,
    index: usize,
    argv: &[crate::runbook::arg::Arg],
    values: &BTreeMap<String, String>,
    why: &str,
) -> Result<String, StepError> {
    let shown = crate::plan::display_argv(argv, values);
    journal.append_transcript("shown_only", &serde_json::json!({ "index": index, "argv": shown, "why": why }))?;
    Ok(format!("rehearsal: would run `{shown}` ({why})"))
}

/// Runs a command, streaming its lines as events and into the transcript; returns
/// its standard output. A non-zero exit is an error carrying the last lines.
#[allow(clippy::too_many_arguments)]
async fn run_command_spec(
    ctx: &Context,
    journal: &mut Journal,
    step: &Step,
    spec: &CommandSpec,
    values: &BTreeMap<String, String>,
    index: usize,
    out: &Tee,
    cancel: CancelSignal,
    keep_stdout: bool,
) -> Result<String, StepError> {
    let mut request = command_request(ctx, step.context.as_ref(), spec, values).await?;
    if keep_stdout {
        request = request.with_capture_limit(32 << 20);
    }
    let mut lines = Vec::new();
    let mut withheld = 0usize;
    let sender = out.clone();
    // On disk before any of its output is read: a resume after stepwise was
    // killed finds it there and asks before anything runs beside it.
    let record =
        |pid: u32| journal.record_child(index, crate::process::ProcessMark::of(pid)).map_err(|e| e.to_string());
    let outcome = commands::run_recorded(
        &request,
        record,
        |line| {
            // What a command prints for stepwise to apply (rendered manifests,
            // with Secrets, TLS keys, a license) is data: never echoed to the
            // screen or the logs, never kept in the transcript.
            if keep_stdout && line.stream == commands::Stream::Stdout {
                withheld += 1;
                return;
            }
            let text = commands::shown(&line.text).into_owned();
            let _ = sender.send(Msg::Event(Event::Line { index, text: text.clone() }));
            if lines.len() < 2000 {
                lines.push(text);
            }
        },
        cancel,
    )
    .await?;
    if withheld > 0 {
        lines.push(format!("({withheld} lines of output to apply, not shown)"));
    }
    journal
        .append_transcript("output", &serde_json::json!({ "index": index, "argv": request.argv, "lines": lines }))?;
    if outcome.cancelled {
        return Err(StepError::interrupted());
    }
    if !outcome.success() {
        let shown_stdout = outcome.stdout.lines().filter(|_| !keep_stdout);
        let tail: Vec<&str> = outcome.stderr.lines().chain(shown_stdout).collect();
        let tail: Vec<_> = tail.iter().rev().take(5).rev().map(|l| commands::shown(l)).collect();
        let tail = tail.join(" | ");
        let why = if outcome.timed_out { "timed out".to_string() } else { outcome.exit.to_string() };
        return Err(StepError::new(format!("`{}` failed ({why}): {tail}", request.argv.join(" "))));
    }
    if keep_stdout && outcome.stdout.is_truncated() {
        return Err(StepError::new("the command printed more than stepwise keeps (32 MiB); nothing was applied"));
    }
    Ok(outcome.stdout.text())
}

/// A command request with the session's kube settings: KUBECONFIG in the
/// environment, pointing at the pinned kubeconfig of the context the step acts
/// on (so a CLI without a context flag still acts on the session's cluster),
/// and `{{kube_context}}` / `{{kubeconfig}}` for the runbook's own flags.
async fn command_request(
    ctx: &Context,
    step_context: Option<&Template>,
    spec: &CommandSpec,
    values: &BTreeMap<String, String>,
) -> Result<CommandRequest, StepError> {
    let context = match step_context.map(|c| c.render(values)).transpose()? {
        Some(c) if !c.is_empty() => c,
        _ => ctx.conn.context.clone(),
    };
    let kubeconfig = ctx.pinned_kubeconfig(&context)?;
    // The step's own context wins over the session's in `{{kube_context}}`:
    // the pinned file holds that one context alone.
    let mut values = values.clone();
    values.insert("kubeconfig".into(), kubeconfig.display().to_string());
    values.insert(commands::KUBE_CONTEXT_VARIABLE.into(), context.clone());
    let kube = KubeEnv { kubeconfig: Some(kubeconfig), context: Some(context) };
    let argv = crate::runbook::arg::render_args(&spec.argv, &values).map_err(commands::CommandError::from)?;
    let mut request = CommandRequest::from_rendered(argv, &spec.env, &values)?;
    if let Some(t) = spec.timeout {
        request = request.with_timeout(t.0);
    }
    Ok(kube.apply(request)?)
}

/// Runs a command step's `verify` command: true when it exits 0.
pub async fn verify_command(
    ctx: &Context,
    command: &CommandAction,
    values: &BTreeMap<String, String>,
    index: usize,
    out: &Tee,
    cancel: CancelSignal,
) -> Result<bool, StepError> {
    let Some(verify) = &command.verify else { return Ok(false) };
    let request = command_request(ctx, None, verify, values).await?;
    let sender = out.clone();
    let outcome = commands::run(
        &request,
        |line| {
            let _ = sender.send(Msg::Event(Event::Line { index, text: commands::shown(&line.text).into_owned() }));
        },
        cancel,
    )
    .await?;
    Ok(outcome.success())
}

/// The backup folder of the backup step `id` in the same session.
fn backup_dir_of(journal: &Journal, _ctx: &Context, id: &str, item: Option<&str>) -> Result<PathBuf, StepError> {
    let with_item = item.map(|i| journal.backups_dir().join(format!("{id}-{}", i.replace(['/', '\\'], "_"))));
    let plain = journal.backups_dir().join(id);
    match with_item {
        Some(dir) if dir.exists() => Ok(dir),
        _ if plain.exists() => Ok(plain),
        _ => Err(StepError::new(format!("there is no backup from step `{id}` in {}", journal.backups_dir().display()))),
    }
}

/// Why a destructive step's backups did not prove out.
pub enum ProofFailure {
    /// Objects changed, created or deleted since the backup: taking it again helps.
    Drift(Vec<String>),
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
pub async fn prove_backups(
    ctx: &Context,
    journal: &Journal,
    work: &[WorkItem],
    resolved: &Resolved<'_>,
    index: usize,
    out: &Tee,
) -> Result<String, ProofFailure> {
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
        let conn = ctx.connection(step, &values).await.map_err(|e| ProofFailure::Other(e.message))?;
        let dir = backup_dir(journal, step, w.item.as_deref());
        if journal.steps()[index].attempts > 0 {
            proofs.push(proof::prove_after_start(&conn, &dir).await.map_err(ProofFailure::from)?);
            continue;
        }
        let p = proof::prove(&conn, &dir, reporter(out, index)).await.map_err(ProofFailure::from)?;
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
pub async fn restore_after_failure(
    ctx: &Context,
    journal: &Journal,
    work: &[WorkItem],
    resolved: &Resolved<'_>,
    index: usize,
    out: &Tee,
) -> Result<String, StepError> {
    let dir = restorable_backup(journal, work, resolved, index)
        .ok_or_else(|| StepError::new("there is no backup to restore"))?;
    let result = restore(&ctx.conn, &RestoreRequest::new(dir.clone(), ctx.mode), reporter(out, index)).await?;
    Ok(format!(
        "restore from {}: {} created, {} already there, {} failed",
        dir.display(),
        result.kinds.iter().map(|k| k.created).sum::<u64>(),
        result.kinds.iter().map(|k| k.identical + k.different).sum::<u64>(),
        result.failed()
    ))
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
        .last();
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
    for entry in entries.iter().filter(|e| e.kind == "event" && e.payload["index"] == index) {
        match entry.payload["event"].as_str() {
            Some("step_started") => lines.clear(),
            Some("line") => {
                if lines.len() == 20 {
                    lines.pop_front();
                }
                lines.push_back(entry.payload["text"].as_str().unwrap_or_default().to_string());
            }
            _ => {}
        }
    }
    lines.into()
}
