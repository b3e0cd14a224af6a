//! The rehearsal report: what each step would do, and every problem found, as a
//! Markdown file in the session folder.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::error::EngineError;
use crate::journal::{Journal, StepState, TranscriptEntry};
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
    let _ = writeln!(
        md,
        "- Every write was a server-side dry run; a command ran only in its declared dry-run form or when its \
         runbook declares it read-only (the list at the end says which ran and which were only shown).\n"
    );
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
    let entries = journal.read_transcript().unwrap_or_default();
    for event in super::events::recorded_events(&entries) {
        if let super::events::Event::Warning { text, .. } = event {
            problems.push(text);
        }
    }
    let _ = writeln!(md, "## Problems found\n");
    if problems.is_empty() {
        let _ = writeln!(md, "None.");
    }
    for p in &problems {
        let _ = writeln!(md, "- {p}");
    }
    commands(&mut md, &entries);
    let path = journal.report_path();
    crate::durable::write_atomic(&path, crate::redact::text(&md).as_bytes())
        .map_err(|e| EngineError::Refused(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// Every command the rehearsal ran (each time it ran), and every one it only
/// showed, with the step it belongs to.
fn commands(md: &mut String, entries: &[TranscriptEntry]) {
    let step = |e: &TranscriptEntry| e.payload["index"].as_u64().map(|i| i + 1).unwrap_or_default();
    let _ = writeln!(md, "\n## Commands that ran\n");
    let ran: Vec<_> = entries.iter().filter(|e| e.kind == "output").collect();
    if ran.is_empty() {
        let _ = writeln!(md, "None.");
    }
    for e in ran {
        let argv: Vec<&str> = e.payload["argv"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).collect();
        let _ = writeln!(md, "- step {}: `{}`", step(e), argv.join(" "));
    }
    let _ = writeln!(md, "\n## Commands only shown, not run\n");
    let shown: Vec<_> = entries.iter().filter(|e| e.kind == "shown_only").collect();
    if shown.is_empty() {
        let _ = writeln!(md, "None.");
    }
    for e in shown {
        let argv = e.payload["argv"].as_str().unwrap_or_default();
        let why = e.payload["why"].as_str().unwrap_or_default();
        let _ = writeln!(md, "- step {}: `{argv}` ({why})", step(e));
    }
}
