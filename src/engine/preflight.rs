//! Checks made before the first step runs, all listed at once: the API server
//! answers, the operator may do everything the remaining steps do, and the vendor
//! CLIs they run are installed. In a real run a failure stops the session before
//! anything changes; in rehearsal failures are reported as problems found.

use std::collections::BTreeMap;

use super::events::Event;
use super::runner::Runner;
use crate::cluster::preflight::{self as checks, AccessNeed, Check, Status};
use crate::cluster::wait::WaitTarget;
use crate::commands;
use crate::runbook::model::{Action, ApplyAction, CheckAction, Step};
use crate::runbook::template::Template;

pub async fn run(runner: &Runner<'_>) -> Result<(), Vec<String>> {
    let start = runner.journal.first_unfinished().unwrap_or(runner.work.len());
    let mut needs = Vec::new();
    let mut programs = BTreeMap::new();
    for w in &runner.work[start..] {
        let step = runner.resolved.step(w);
        let values = runner.step_values(w);
        needs.extend(access_needs(runner, step, &values));
        if let Some(program) = program_of(step, &values, runner.ctx.mode.is_rehearsal()) {
            programs.entry(program).or_insert_with(|| step.title.clone());
        }
    }
    if !runner.ctx.mode.is_rehearsal() {
        // The session's lease on the cluster (see engine/lease.rs).
        needs.extend(crate::cluster::lease::access_needs());
    }
    let checks = [Check::ApiReachable, Check::Access(checks::dedup(needs))];
    let mut problems = Vec::new();
    for result in checks::run_all(&runner.ctx.conn, &checks).await {
        let mark = match result.status {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "FAILED",
        };
        let mut text = format!("preflight {mark}: {}: {}", result.title, result.message);
        for d in &result.details {
            text.push_str(&format!("\n  - {d}"));
        }
        runner.send(Event::Notice { text: text.clone() });
        if result.status == Status::Failed {
            problems.push(text);
        }
    }
    for (program, step) in programs {
        match commands::which(&program) {
            Some(path) => runner.send(Event::Notice { text: format!("preflight ok: {program} is {}", path.display()) }),
            None => {
                let text = format!(
                    "preflight FAILED: `{program}` (needed by step \"{step}\") is not on PATH; install it or fix PATH"
                );
                runner.send(Event::Notice { text: text.clone() });
                problems.push(text);
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    if runner.ctx.mode.is_rehearsal() {
        for p in &problems {
            runner.send(Event::Warning { index: None, text: format!("rehearsal found a problem: {p}") });
        }
        return Ok(());
    }
    Err(problems)
}

fn render(ts: &[Template], values: &BTreeMap<String, String>) -> Vec<String> {
    ts.iter().map(|t| t.render_partial(values)).collect()
}

fn access_needs(runner: &Runner<'_>, step: &Step, values: &BTreeMap<String, String>) -> Vec<AccessNeed> {
    // Steps on another kube context are checked when they run, on that cluster.
    if step.context.as_ref().is_some_and(|c| c.render_partial(values) != runner.ctx.conn.context) {
        return Vec::new();
    }
    let mode = runner.ctx.mode;
    match step.action() {
        Action::Backup(b) => {
            let ns = b.namespaces.as_ref().map(|n| render(n, values));
            checks::backup_needs(&render(&b.resources, values), ns.as_deref())
        }
        Action::Restore(r) => {
            let backup =
                runner.resolved.procedures.iter().flat_map(|p| &p.procedure.steps).find(|s| s.id.value == r.from.value);
            match backup.map(Step::action) {
                Some(Action::Backup(b)) => {
                    let ns = b.namespaces.as_ref().map(|n| render(n, values));
                    checks::restore_needs(&render(&b.resources, values), ns.as_deref(), mode)
                }
                _ => Vec::new(),
            }
        }
        Action::RolloutRestart(rr) => {
            let ns = rr.namespaces.as_ref().map(|n| crate::cluster::rollout::split_namespaces(&render(n, values)));
            checks::rollout_restart_needs(ns.as_deref(), rr.kinds.as_deref().unwrap_or(&[]), rr.delete_unowned_pods)
        }
        Action::Wait(w) => WaitTarget::render(&w.condition, values).map(|t| checks::wait_needs(&t)).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The program a step will run in this mode, if any.
fn program_of(step: &Step, values: &BTreeMap<String, String>, rehearsal: bool) -> Option<String> {
    let argv = match step.action() {
        Action::Command(c) if rehearsal => c.dry_run_argv.as_ref()?,
        Action::Command(c) => &c.argv,
        Action::Check(CheckAction::CommandSucceeds(c)) => &c.argv,
        Action::Apply(ApplyAction::Command(c)) => &c.argv,
        _ => return None,
    };
    argv.first().map(|t| t.render_partial(values)).filter(|p| !p.contains("{{"))
}
