//! The plan as text: what `stepwise plan` prints and what the line front ends
//! show before a session starts.

use std::fmt::Write as _;

use crate::plan::Plan;
use crate::runbook::model::Severity;

/// The plan hop by hop: path, procedure, notes and steps, for a person to read.
pub fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    let hops = plan.hops.len();
    let _ = writeln!(
        out,
        "{} {} -> {} ({}, {})",
        plan.product_name,
        plan.from,
        plan.to,
        crate::plan::counted(hops, "hop"),
        plan.steps_text()
    );
    let facts: Vec<String> = plan.facts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !facts.is_empty() {
        let _ = writeln!(out, "installation: {}", facts.join(", "));
    }
    for (i, hop) in plan.hops.iter().enumerate() {
        let _ =
            writeln!(out, "\nHop {}: {} -> {}  {} [{}]", i + 1, hop.from, hop.to, hop.procedure_title, hop.procedure);
        let _ = writeln!(out, "  path: {}", hop.rule);
        let _ = writeln!(out, "  why:  {}", hop.reason);
        if !hop.alternatives.is_empty() {
            let _ = writeln!(out, "  also fits: {} (pick with --procedure)", hop.alternatives.join(", "));
        }
        if let Some(ack) = &hop.acknowledge {
            let _ = writeln!(out, "  ACKNOWLEDGE: {ack}");
        }
        for note in &hop.notes {
            let mark = match note.severity {
                Severity::Info => "note",
                Severity::Warning => "WARNING",
                Severity::Breaking => "BREAKING",
            };
            let _ = writeln!(out, "  {mark} ({}): {}", note.product, note.title);
            let _ = writeln!(out, "{}", indent(&note.text, "      "));
        }
        for (n, step) in hop.steps.iter().enumerate() {
            let flag = if step.destructive { "  [DESTRUCTIVE]" } else { "" };
            let _ = writeln!(out, "  {:>2}. {} ({}){flag}", n + 1, step.title, step.id);
            for line in &step.does {
                let _ = writeln!(out, "      - {line}");
            }
            if step.confirm != "none" {
                let _ = writeln!(out, "      confirm: {}", step.confirm);
            }
        }
    }
    out
}

/// `text` wrapped to the line width, each line after `prefix`.
pub fn indent(text: &str, prefix: &str) -> String {
    wrap(text, 88 - prefix.len()).lines().map(|l| format!("{prefix}{l}")).collect::<Vec<_>>().join("\n")
}

/// Greedy word wrap; runbook text is prose written without line breaks.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for para in text.split("\n\n") {
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.trim_end().to_string()
}
