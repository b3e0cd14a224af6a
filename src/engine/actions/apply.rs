//! The `apply` step: server-side apply of manifests from a file beside the
//! runbook or from a read-only command's standard output; a rehearsal applies
//! as a server-side dry run.

use std::path::PathBuf;

use super::super::step::{StepCtx, StepError};
use super::command;
use crate::cluster::apply::{ApplyRequest, apply};
use crate::runbook::arg::Arg;
use crate::runbook::model::ApplyAction;
use crate::runbook::template::Template;

/// Applies the step's manifests; returns how many objects.
pub async fn run(cx: &mut StepCtx<'_>, a: &ApplyAction) -> Result<String, StepError> {
    let conn = cx.connection().await?;
    let mode = cx.ctx.mode;
    let (yaml, origin) = match a {
        ApplyAction::File(f) => read_manifest_file(cx, f)?,
        ApplyAction::Command(c) if mode.is_rehearsal() && !c.read_only => {
            let why = "it is not declared read-only, so there is nothing to apply";
            return command::shown_only(cx, &c.argv, why);
        }
        ApplyAction::Command(c) => {
            // A read-only command that prints manifests runs in rehearsal too.
            let outcome = command::run_spec(cx, c, true).await?;
            (outcome, format!("`{}`", crate::plan::display_argv(&c.argv, cx.values)))
        }
    };
    let ns = cx.values.get("namespace").cloned().unwrap_or_else(|| "default".into());
    let request = ApplyRequest::new(yaml, origin.clone(), ns, mode);
    let report = cx.reporter();
    let result = cx.interruptible(apply(&conn, &request, report)).await??;
    if !result.all_ok() {
        let first: Vec<String> = result.failed().take(5).map(|o| format!("{o:?}")).collect();
        return Err(StepError::failed(format!("some manifests from {origin} were refused: {}", first.join("; "))));
    }
    Ok(format!("applied {} objects from {origin}", result.objects.len()))
}

/// The program a command that prints manifests runs, for the PATH check.
pub fn program(a: &ApplyAction) -> Option<&[Arg]> {
    match a {
        ApplyAction::Command(c) => Some(&c.argv),
        ApplyAction::File(_) => None,
    }
}

/// Reads the manifest file, relative to the hop's procedure file unless absolute.
fn read_manifest_file(cx: &StepCtx<'_>, file: &Template) -> Result<(String, String), StepError> {
    let values = cx.values;
    let rendered = PathBuf::from(file.render(values)?);
    let to = values.get("to_version").filter(|_| values.contains_key("from_version"));
    let hop = to.and_then(|to| cx.ctx.plan.hops.iter().position(|h| h.to.to_string() == *to));
    let base = hop.and_then(|h| cx.ctx.procedure_dirs.get(h).cloned().flatten());
    let path = match base {
        Some(dir) if rendered.is_relative() => dir.join(&rendered),
        _ => rendered,
    };
    let text =
        std::fs::read_to_string(&path).map_err(|source| StepError::ReadManifest { path: path.clone(), source })?;
    Ok((text, path.display().to_string()))
}
