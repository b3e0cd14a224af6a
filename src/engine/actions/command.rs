//! The `command` step, and the way every step kind runs a vendor CLI: with the
//! session's pinned kubeconfig, its output streamed as events and kept in the
//! transcript, and in rehearsal only in a form that changes nothing.

use std::collections::BTreeMap;

use super::super::events::{Event, Msg, Tee};
use super::super::execute::Context;
use super::super::step::{StepCtx, StepError};
use crate::base::CancelSignal;
use crate::commands::{self, CommandRequest, KubeEnv, Planned};
use crate::runbook::arg::Arg;
use crate::runbook::model::{CommandAction, CommandSpec};
use crate::runbook::template::{Template, TemplateError};

/// How much standard output a command that prints manifests may give.
const MANIFEST_LIMIT: usize = 32 << 20;
/// How many output lines of one command the transcript keeps.
const KEPT_LINES: usize = 2000;

/// Runs the step's command (in rehearsal its dry-run form, or nothing).
pub async fn run(cx: &mut StepCtx<'_>, c: &CommandAction) -> Result<String, StepError> {
    let planned = commands::plan_for_mode(&c.argv, c.dry_run_argv.as_ref(), c.read_only, cx.ctx.mode.is_rehearsal());
    let argv = planned.argv();
    if let Planned::ShowOnly(argv) = &planned {
        return shown_only(cx, argv, "it has no dry-run form and is not declared read-only");
    }
    let spec = CommandSpec { argv: argv.to_vec(), env: c.env.clone(), timeout: c.timeout, read_only: c.read_only };
    run_spec(cx, &spec, false).await?;
    Ok(format!("`{}` exited 0", crate::plan::display_argv(argv, cx.values)))
}

/// The program the step runs in this mode, for the PATH check.
pub fn program(c: &CommandAction, rehearsal: bool) -> Option<&[Arg]> {
    if rehearsal { c.dry_run_argv.as_deref() } else { Some(&c.argv) }
}

/// A rehearsal shows a command it may not run: the transcript keeps it (the
/// report lists what ran and what was only shown) and the outcome says why.
pub fn shown_only(cx: &mut StepCtx<'_>, argv: &[Arg], why: &str) -> Result<String, StepError> {
    let shown = crate::plan::display_argv(argv, cx.values);
    cx.journal.append_transcript("shown_only", &serde_json::json!({ "index": cx.index, "argv": shown, "why": why }))?;
    Ok(format!("rehearsal: would run `{shown}` ({why})"))
}

/// Runs a command, streaming its lines as events and into the transcript; returns
/// its standard output (kept, and never shown, when `keep_stdout`). A non-zero
/// exit is an error carrying the last lines.
pub async fn run_spec(cx: &mut StepCtx<'_>, spec: &CommandSpec, keep_stdout: bool) -> Result<String, StepError> {
    let mut request = request(cx.ctx, cx.step.context.as_ref(), spec, cx.values).await?;
    if keep_stdout {
        request = request.with_capture_limit(MANIFEST_LIMIT);
    }
    let index = cx.index;
    let mut lines = Vec::new();
    let mut withheld = 0usize;
    let sender = cx.out.clone();
    let journal = &mut *cx.journal;
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
            if lines.len() < KEPT_LINES {
                lines.push(text);
            }
        },
        cx.cancel.clone(),
    )
    .await?;
    if withheld > 0 {
        lines.push(format!("({withheld} lines of output to apply, not shown)"));
    }
    cx.journal
        .append_transcript("output", &serde_json::json!({ "index": index, "argv": request.argv, "lines": lines }))?;
    if outcome.cancelled {
        return Err(StepError::Interrupted);
    }
    if !outcome.success() {
        let shown_stdout = outcome.stdout.lines().filter(|_| !keep_stdout);
        let tail: Vec<&str> = outcome.stderr.lines().chain(shown_stdout).collect();
        let tail: Vec<_> = tail.iter().rev().take(5).rev().map(|l| commands::shown(l)).collect();
        let tail = tail.join(" | ");
        let why = if outcome.timed_out { "timed out".to_string() } else { outcome.exit.to_string() };
        return Err(StepError::failed(format!("`{}` failed ({why}): {tail}", request.argv.join(" "))));
    }
    if keep_stdout && outcome.stdout.is_truncated() {
        return Err(StepError::failed("the command printed more than stepwise keeps (32 MiB); nothing was applied"));
    }
    Ok(outcome.stdout.text())
}

/// Runs a command step's `verify` command: true when it exits 0.
pub async fn verify(
    ctx: &Context,
    command: &CommandAction,
    values: &BTreeMap<String, String>,
    index: usize,
    out: &Tee,
    cancel: CancelSignal,
) -> Result<bool, StepError> {
    let Some(verify) = &command.verify else { return Ok(false) };
    let request = request(ctx, None, verify, values).await?;
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

/// A command request with the session's kube settings: KUBECONFIG in the
/// environment, pointing at the pinned kubeconfig of the context the step acts
/// on (so a CLI without a context flag still acts on the session's cluster),
/// and `{{kube_context}}` / `{{kubeconfig}}` for the runbook's own flags.
async fn request(
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
    let argv = crate::runbook::arg::render_args(&spec.argv, &values).map_err(StepError::CommandTemplate)?;
    let mut request = CommandRequest::checked(argv)?;
    request.env = render_env(&spec.env, &values).map_err(StepError::CommandTemplate)?;
    if let Some(t) = spec.timeout {
        request = request.with_timeout(t.0);
    }
    Ok(kube.apply(request)?)
}

/// Renders a command's environment values; names are taken as written.
pub fn render_env(
    env: &BTreeMap<String, Template>,
    values: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, TemplateError> {
    env.iter().map(|(name, value)| Ok((name.clone(), value.render(values)?))).collect()
}
