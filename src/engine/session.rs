//! A session's life: starting one (after asking for the variables), resuming
//! one (after checking the cluster, the runbooks and the backups are still what
//! it relied on), and beginning the step loop behind the preflight checks and
//! the lease.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::EngineError;
use super::events::{self, Event, Msg, Outbox};
use super::execute::Context;
use super::guards::{check_backups, compare_with_cluster, refuse_beside_unfinished, remap_steps};
use super::runner::{RunOutcome, Runner};
use super::variables::{ask_variables, mask_secrets};
use super::work::{self, Resolved};
use super::{lease, preflight};
use crate::base::{CancelSignal, ClusterIdentity, Mode, Target};
use crate::cluster::Connection;
use crate::journal::{Journal, SessionMeta, SessionStatus, StepRecord};
use crate::plan::Plan;
use crate::runbook::Catalog;

/// What `stepwise run` and `stepwise rehearse` start from.
pub struct StartRequest {
    pub plan: Plan,
    pub mode: Mode,
    pub target: Target,
    pub state_dir: PathBuf,
    /// Variable values given on the command line.
    pub values: BTreeMap<String, String>,
    /// Start even though a real session of this product on this cluster is
    /// unfinished (`--new-session`).
    pub new_session: bool,
    /// Take the product's lease on the cluster even from a live holder, after
    /// a typed confirmation (`--break-lease`).
    pub break_lease: bool,
    /// What was said before the session existed (detection, the plan); the
    /// transcript starts with it.
    pub earlier: Vec<events::Event>,
    /// A shadow rehearsal's primary cluster, recorded beside the shadow's.
    pub shadow_of: Option<ClusterIdentity>,
}

/// Starts a new session and runs it to the end, a stop, or a failure.
pub async fn start(
    catalog: &Catalog,
    req: StartRequest,
    out: Outbox,
    cancel: CancelSignal,
) -> Result<RunOutcome, EngineError> {
    let conn = req.target.connect().await?;
    let identity = conn.identity().await?;
    if req.mode == Mode::Real && !req.new_session {
        refuse_beside_unfinished(&req.state_dir, &req.plan.product, &identity)?;
    }
    // The session keeps the context it checked by name, so a resume after the
    // kubeconfig's current context changed still goes to the same cluster.
    let mut target = req.target.clone();
    target.context.get_or_insert_with(|| conn.context.clone());
    let resolved = work::resolve(catalog, &req.plan)?;
    let mut values = builtin_values(&req.plan, &req.target, &conn);
    values.extend(req.values.clone());
    let deferred = ask_variables(&resolved, &mut values, &conn, &out).await?;
    let work = resolved.work(&values);
    let steps = work
        .iter()
        .map(|w| {
            let step = resolved.step(w);
            StepRecord::pending(
                w.hop,
                step.id.value.clone(),
                w.item.clone(),
                resolved.title(&values, w),
                step.action().kind(),
                step.destructive,
            )
        })
        .collect();
    let meta = SessionMeta {
        id: String::new(),
        product: req.plan.product.clone(),
        from: req.plan.from.to_string(),
        to: req.plan.to.to_string(),
        mode: req.mode,
        created_at: String::new(),
        target: target.clone(),
        cluster: identity,
        runbooks: runbook_hashes(catalog, &resolved),
        facts: req.plan.facts.clone(),
        variables: values.clone(),
        // The plan shows commands with their values; it keeps none that is secret.
        plan: serde_json::to_value(events::masked(req.plan.clone()))
            .map_err(|e| EngineError::Runbooks(e.to_string()))?,
        status: SessionStatus::Running,
        shadow_of: req.shadow_of.clone(),
    };
    let mut journal = Journal::create(&req.state_dir, meta, steps)?;
    add_session_values(&mut values, &journal);
    for (name, template) in deferred {
        values.insert(name, template.render_partial(&values));
    }
    journal.update_meta(|m| m.variables = values.clone())?;
    let ctx = Context::new(req.plan.clone(), req.mode, target, conn, procedure_dirs(&resolved), journal.dir());
    let out = events::Tee::with_log(out, req.earlier);
    let mut runner = Runner { resolved, work, journal, ctx, out, cancel, values };
    begin(&mut runner, req.break_lease).await
}

/// What `stepwise resume` needs.
pub struct ResumeRequest {
    pub state_dir: PathBuf,
    /// A session id; the newest unfinished session when `None`.
    pub id: Option<String>,
    pub accept_changed_runbooks: bool,
    /// `--kubeconfig` and `--context` as given now. Each one given replaces what the
    /// session recorded (a kubeconfig that moved, a context renamed); the cluster must
    /// still be the session's.
    pub target: Target,
    /// As in [`StartRequest`].
    pub break_lease: bool,
}

/// Continues a session at its first unfinished step, after checking that the
/// cluster, the runbooks and the backups are still what the session relied on.
pub async fn resume(
    catalog: &Catalog,
    req: ResumeRequest,
    out: Outbox,
    cancel: CancelSignal,
) -> Result<RunOutcome, EngineError> {
    let mut journal = match &req.id {
        Some(id) => Journal::open_id(&req.state_dir, id)?,
        None => Journal::newest_unfinished(&req.state_dir, None)?.ok_or_else(|| {
            EngineError::Refused(format!(
                "there is no unfinished session under {}; `stepwise sessions` lists them all",
                req.state_dir.display()
            ))
        })?,
    };
    if journal.meta().status == SessionStatus::Finished {
        return Err(EngineError::Refused(format!("session {} has already finished", journal.id())));
    }
    let meta = journal.meta().clone();
    let plan: Plan = serde_json::from_value(meta.plan.clone())
        .map_err(|e| EngineError::Refused(format!("session {} has a plan this version cannot read: {e}", meta.id)))?;
    let target = Target {
        kubeconfig: req.target.kubeconfig.clone().or_else(|| meta.target.kubeconfig.clone()),
        context: req.target.context.clone().or_else(|| meta.target.context.clone()),
    };
    let conn = target.connect().await?;
    journal.check_cluster(&conn.identity().await?)?;
    let mut values = meta.variables.clone();
    if target != meta.target {
        let text = format!("connecting through {} instead of {}", describe(&target), describe(&meta.target));
        let _ = out.send(Msg::Event(Event::Notice { text }));
        values.extend(
            builtin_values(&plan, &target, &conn).into_iter().filter(|(k, _)| k == "kubeconfig" || k == "kube_context"),
        );
        journal.update_meta(|m| {
            m.target = target.clone();
            m.variables = values.clone();
        })?;
    }
    let resolved = work::resolve(catalog, &plan)?;
    mask_secrets(&resolved, &values);
    let current = runbook_hashes(catalog, &resolved);
    let changes = journal.changed_runbooks(&current);
    if !changes.is_empty() {
        let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
        if !req.accept_changed_runbooks {
            return Err(EngineError::Refused(format!(
                "runbooks changed since session {} began: {}. Check the changes, then resume with --accept-changed-runbooks",
                meta.id,
                list.join("; ")
            )));
        }
        let _ = out
            .send(Msg::Event(Event::Notice { text: format!("continuing with changed runbooks: {}", list.join("; ")) }));
    }
    let work = resolved.work(&values);
    if !changes.is_empty() {
        remap_steps(&mut journal, &resolved, &work, &values, &out).await?;
        journal.update_meta(|m| m.runbooks = current)?;
    } else if work.len() != journal.steps().len() {
        return Err(EngineError::Refused(format!(
            "session {} recorded {} steps but its runbooks now give {}; it cannot be resumed safely",
            meta.id,
            journal.steps().len(),
            work.len()
        )));
    }
    check_backups(&journal, &work, &resolved, &out)?;
    let ctx = Context::new(plan, meta.mode, target, conn, procedure_dirs(&resolved), journal.dir());
    let mut runner = Runner { resolved, work, journal, ctx, out: events::Tee::new(out), cancel, values };
    compare_with_cluster(&runner).await;
    begin(&mut runner, req.break_lease).await
}

/// A target as the operator would read it.
fn describe(target: &Target) -> String {
    let kubeconfig =
        target.kubeconfig.as_ref().map_or("$KUBECONFIG (or ~/.kube/config)".into(), |p| p.display().to_string());
    format!("kubeconfig {kubeconfig}, context {}", target.context.as_deref().unwrap_or("(its current one)"))
}

async fn begin(runner: &mut Runner<'_>, break_lease: bool) -> Result<RunOutcome, EngineError> {
    let meta = runner.journal.meta().clone();
    runner.send(Event::SessionStarted {
        id: meta.id.clone(),
        dir: runner.journal.dir().to_path_buf(),
        rehearsal: meta.mode.is_rehearsal(),
        product: meta.product.clone(),
        from: meta.from.clone(),
        to: meta.to.clone(),
        hops: runner.ctx.plan.hops.iter().map(|h| h.to.to_string()).collect(),
        context: runner.ctx.conn.context.clone(),
        server: runner.ctx.conn.server.clone(),
        steps: runner.step_infos(),
    });
    // Every child of this process acts on the cluster just checked, whatever
    // happens to the operator's kubeconfig from here on.
    let context = runner.ctx.conn.context.clone();
    if let Err(e) = runner.ctx.pinned_kubeconfig(&context) {
        runner.journal.set_status(SessionStatus::Failed)?;
        return Err(EngineError::Refused(format!("cannot pin the session to its cluster: {e}")));
    }
    if let Err(problems) = preflight::run(runner).await {
        runner.journal.set_status(SessionStatus::Failed)?;
        return Err(EngineError::Preflight(problems));
    }
    if runner.ctx.mode.is_rehearsal() {
        return runner.run().await;
    }
    let guard = match lease::take(runner, break_lease).await {
        Ok(guard) => guard,
        Err(e) => {
            // Nothing ran; the session can be resumed once the lease is free.
            runner.journal.set_status(SessionStatus::Interrupted)?;
            return Err(e);
        }
    };
    let outcome = runner.run().await;
    guard.release().await;
    outcome
}

pub(super) fn builtin_values(plan: &Plan, target: &Target, conn: &Connection) -> BTreeMap<String, String> {
    let mut values = plan.facts.clone();
    values.insert("kubeconfig".into(), target.kubeconfig.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
    values.insert("kube_context".into(), conn.context.clone());
    values
}

fn add_session_values(values: &mut BTreeMap<String, String>, journal: &Journal) {
    values.insert("session_dir".into(), journal.dir().display().to_string());
    values.insert("backup_dir".into(), journal.backups_dir().display().to_string());
}

/// SHA-256 of every runbook file the plan uses: the product file, its procedures,
/// and the products whose notes it includes.
fn runbook_hashes(catalog: &Catalog, resolved: &Resolved) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let product = resolved.product;
    out.insert(product.file.name.clone(), product.file.sha256.clone());
    for p in &resolved.procedures {
        out.insert(p.file.name.clone(), p.file.sha256.clone());
    }
    for id in &product.product.includes_notes_of {
        if let Some(other) = catalog.product(id) {
            out.insert(other.file.name.clone(), other.file.sha256.clone());
        }
    }
    out
}

fn procedure_dirs(resolved: &Resolved) -> Vec<Option<PathBuf>> {
    resolved.procedures.iter().map(|p| p.path.as_ref().and_then(|f| f.parent().map(Path::to_path_buf))).collect()
}
