//! The rehearsal report: what each step would do, and every problem found, as a
//! Markdown file in the session folder.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::error::EngineError;
use crate::journal::{Journal, StepState};
use crate::plan::Plan;

pub fn write(journal: &Journal, plan: &Plan) -> Result<PathBuf, EngineError> {
    let meta = journal.meta();
    let mut md = String::new();
    let _ = writeln!(md, "# Rehearsal: {} {} -> {}\n", plan.product_name, plan.from, plan.to);
    let _ = writeln!(md, "- Session: `{}`", meta.id);
    let _ = writeln!(
        md,
        "- Cluster: {} (context `{}`)",
        meta.cluster.server,
        meta.target.context.as_deref().unwrap_or("current")
    );
    let _ =
        writeln!(md, "- Every write was a server-side dry run; commands ran only in their declared dry-run form.\n");
    let mut problems = Vec::new();
    for (h, hop) in plan.hops.iter().enumerate() {
        let _ = writeln!(md, "## Hop {}: {} -> {} with `{}`\n", h + 1, hop.from, hop.to, hop.procedure);
        for note in &hop.notes {
            let _ = writeln!(md, "> **{:?}: {}** {}\n", note.severity, note.title, note.text);
            if note.severity != crate::runbook::model::Severity::Info {
                problems.push(format!("version note needs action: {}", note.title));
            }
        }
        let _ = writeln!(md, "| # | Step | Kind | Result |\n|---|---|---|---|");
        for (i, record) in journal.steps().iter().enumerate().filter(|(_, r)| r.hop == h) {
            let result = match record.state {
                StepState::Done | StepState::Skipped => record.outcome.clone().unwrap_or_default(),
                _ => {
                    let e = record.error.clone().unwrap_or_else(|| record.state.to_string());
                    problems.push(format!("step \"{}\": {e}", record.title));
                    format!("**{}**: {e}", record.state)
                }
            };
            let item = record.item.as_ref().map(|i| format!(" ({i})")).unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {}{item} | {} | {} |",
                i + 1,
                record.title,
                record.kind,
                result.replace('|', "\\|")
            );
        }
        md.push('\n');
    }
    if let Ok(entries) = journal.read_transcript() {
        for e in entries.iter().filter(|e| e.kind == "event") {
            if let Some(text) =
                e.payload.get("text").and_then(|t| t.as_str()).filter(|_| e.payload["event"] == "warning")
            {
                problems.push(text.to_string());
            }
        }
    }
    let _ = writeln!(md, "## Problems found\n");
    if problems.is_empty() {
        let _ = writeln!(md, "None.");
    }
    for p in &problems {
        let _ = writeln!(md, "- {p}");
    }
    let path = journal.report_path();
    crate::durable::write_atomic(&path, crate::redact::text(&md).as_bytes())
        .map_err(|e| EngineError::Refused(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}
