//! Wording shared by the line-oriented front ends.

use crate::engine::Event;

/// An event as the lines a person reads; `None` for events shown another way
/// (progress) or not at all.
pub fn describe_event(event: &Event) -> Option<String> {
    Some(match event {
        Event::Detected { detection } => detection.to_string(),
        Event::PlanReady { plan } => crate::redact::text(&super::plan_text::render_plan(plan)).into_owned(),
        Event::SessionStarted { id, rehearsal, product, from, to, hops, context, server, steps, .. } => {
            let mode = if *rehearsal { "REHEARSAL (nothing will change)" } else { "REAL (this changes the cluster)" };
            let path = if hops.len() > 1 { hops.join(" -> ") } else { to.clone() };
            format!(
                "{mode}: {product} {from} -> {path} on context {context} ({server}), {}, session {id}",
                crate::plan::counted(steps.len(), "step")
            )
        }
        Event::Notice { text } => text.clone(),
        Event::StepStarted { index, title, kind, explain, does } => {
            let mut s = format!("\n[{}] {title} ({kind})\n    {explain}", index + 1);
            for d in does {
                s.push_str(&format!("\n    - {d}"));
            }
            s
        }
        Event::Line { text, .. } => format!("    | {text}"),
        Event::Progress { .. } => return None,
        Event::Warning { text, .. } => format!("WARNING: {text}"),
        Event::StepFinished { index, state, outcome } => format!("[{}] {state}: {outcome}", index + 1),
        Event::StepFailed { index, error, cluster_state } => {
            format!("[{}] FAILED: {error}\n    cluster: {cluster_state}", index + 1)
        }
        Event::SessionFinished { status, elapsed_secs, backups, report, resume_hint } => {
            let mut s = format!("\nSession {status} after {elapsed_secs}s. Backups: {}", backups.display());
            if let Some(r) = report {
                s.push_str(&format!("\nRehearsal report: {}", r.display()));
            }
            if let Some(h) = resume_hint {
                s.push_str(&format!("\nTo continue later: {h}"));
            }
            s
        }
    })
}

pub fn progress_text(done: u64, total: Option<u64>, bytes: u64, what: &str) -> String {
    let count = match total {
        Some(t) => format!("{done}/{t}"),
        None => done.to_string(),
    };
    if bytes > 0 { format!("{what}: {count} objects, {} KiB", bytes / 1024) } else { format!("{what}: {count}") }
}
