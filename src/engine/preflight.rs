//! Checks made before the first step runs, all listed at once: the API server
//! answers, the operator may do everything the remaining steps do, the vendor
//! CLIs they run are installed, and nothing that runs beside the control plane
//! (data planes) is further behind the hop's release than the vendor allows. In a real run a failure stops the session before
//! anything changes; in rehearsal failures are reported as problems found.

use std::collections::BTreeMap;

use super::actions;
use super::events::Event;
use super::runner::Runner;
use crate::cluster::preflight::{self as checks, Check, Status};
use crate::commands;

pub async fn run(runner: &Runner<'_>) -> Result<(), Vec<String>> {
    let start = runner.journal.first_unfinished().unwrap_or(runner.work.len());
    let mut needs = Vec::new();
    let mut programs = BTreeMap::new();
    for w in &runner.work[start..] {
        let step = runner.resolved.step(w);
        let values = runner.step_values(w);
        // Steps on another kube context are checked when they run, on that cluster.
        let elsewhere = step.context.as_ref().is_some_and(|c| c.render_partial(&values) != runner.ctx.conn.context);
        if !elsewhere {
            needs.extend(actions::access_needs(step, &values, &runner.resolved, runner.ctx.mode));
        }
        if let Some(program) = actions::program(step, &values, runner.ctx.mode.is_rehearsal()) {
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
