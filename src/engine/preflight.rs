//! Checks made before the first step runs, all listed at once: the API server
//! answers, the operator may do everything the remaining steps do, the vendor
//! CLIs they run are installed, and nothing that runs beside the control plane
//! (data planes) is further behind the hop's release than the vendor allows. In a real run a failure stops the session before
//! anything changes; in rehearsal failures are reported as problems found.

use std::collections::BTreeMap;

use super::events::Event;
use super::runner::Runner;
use crate::cluster::delete::DeleteTarget;
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
    let mut problems = skew_problems(runner, start).await;
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

/// What runs beside the control plane (data-plane sidecars, say) further
/// behind the release of the hop about to start than the vendor allows, one
/// problem per rule and version, naming the pods.
async fn skew_problems(runner: &Runner<'_>, start: usize) -> Vec<String> {
    const NAMED: usize = 5;
    let product = &runner.resolved.product.product;
    let Some(hop) = runner.work.get(start).and_then(|w| runner.ctx.plan.hops.get(w.hop)) else { return Vec::new() };
    let mut problems = Vec::new();
    for rule in &product.skew {
        let running = match crate::cluster::skew::running_versions(&runner.ctx.conn, &rule.image).await {
            Ok(running) => running,
            // Listing every pod needs a cluster-wide permission an operator
            // scoped to a few namespaces may lack: say what was not checked,
            // and leave the check to them rather than lock them out.
            Err(e) => {
                let text = format!(
                    "preflight warning: cannot tell which {} versions run ({e}); make sure none of `{}` is more \
                     than {} minor releases behind {} before going on",
                    rule.what, rule.image, rule.max_minors_behind, hop.to
                );
                runner.send(Event::Warning { index: None, text });
                continue;
            }
        };
        for (version, pods) in running {
            let behind = crate::plan::minors_behind(&product.releases, &version, &hop.to);
            if behind <= rule.max_minors_behind {
                continue;
            }
            let mut named = pods.iter().take(NAMED).cloned().collect::<Vec<_>>().join(", ");
            if pods.len() > NAMED {
                named.push_str(&format!(", and {} more", pods.len() - NAMED));
            }
            let text = format!(
                "preflight FAILED: {} {} {version} in {} pods ({named}) is {behind} minor releases behind {}, \
                 which this hop goes to; at most {} are allowed. {}",
                rule.what,
                rule.image,
                pods.len(),
                hop.to,
                rule.max_minors_behind,
                rule.advice
            );
            runner.send(Event::Notice { text: text.clone() });
            problems.push(text);
        }
    }
    problems
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
        Action::Delete(d) => DeleteTarget::render(d, values).map(|t| checks::delete_needs(&t)).unwrap_or_default(),
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
    argv.first().and_then(|a| a.render_partial(values)).filter(|p| !p.contains("{{"))
}
