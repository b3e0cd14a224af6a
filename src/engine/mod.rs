//! The session engine: runs a plan step by step against a cluster, real or
//! rehearsed, records every state change on disk before moving on, and resumes
//! where a session stopped. It knows no terminal: it talks to a front end through
//! [`events`].

mod actions;
pub mod detection;
mod discover;
pub mod drill;
pub mod error;
pub mod events;
mod execute;
mod failure;
mod gate;
mod lease;
mod notes;
mod orphan;
mod preflight;
mod recovery;
mod report;
mod runner;
mod step;
mod work;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::EngineError;
pub use events::{Answer, Event, Inbox, Msg, Outbox, Question, StepInfo, channel};
pub use runner::RunOutcome;

use crate::base::CancelSignal;
use crate::base::{ClusterIdentity, Mode, Target};
use crate::cluster::Connection;
use crate::cluster::manifest;
use crate::journal::{Journal, SessionMeta, SessionStatus, StepRecord, StepState};
use crate::plan::Plan;
use crate::runbook::Catalog;
use crate::runbook::model::{Action, Variable};
use crate::runbook::template::Template;
use execute::Context;
use runner::Runner;
use work::Resolved;

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
    };
    let mut journal = Journal::create(&req.state_dir, meta, steps)?;
    add_session_values(&mut values, &journal);
    for (name, template) in deferred {
        values.insert(name, template.render_partial(&values));
    }
    journal.update_meta(|m| m.variables = values.clone())?;
    let ctx = Context::new(req.plan.clone(), req.mode, target, conn, procedure_dirs(&resolved), journal.dir());
    let mut runner = Runner { resolved, work, journal, ctx, out: events::Tee::new(out), cancel, values };
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

/// After the runbooks changed, matches what the journal recorded to the new
/// plan by hop, step id and item — never by position, which an inserted step
/// would shift. A new step starts pending; a recorded step that is gone, or
/// whose kind changed (it starts pending again), is listed, and the operator
/// confirms before the journal is rewritten.
async fn remap_steps(
    journal: &mut Journal,
    resolved: &work::Resolved<'_>,
    work: &[work::WorkItem],
    values: &BTreeMap<String, String>,
    out: &Outbox,
) -> Result<(), EngineError> {
    let recorded = journal.steps().to_vec();
    let mut used = vec![false; recorded.len()];
    let mut next = Vec::with_capacity(work.len());
    let mut notes = Vec::new();
    for w in work {
        let step = resolved.step(w);
        let kind = step.action().kind();
        let fresh = StepRecord::pending(
            w.hop,
            step.id.value.clone(),
            w.item.clone(),
            resolved.title(values, w),
            kind,
            step.destructive,
        );
        let found = recorded
            .iter()
            .enumerate()
            .position(|(i, r)| !used[i] && r.hop == w.hop && r.step == step.id.value && r.item == w.item);
        match found {
            Some(i) if recorded[i].kind == kind => {
                used[i] = true;
                next.push(StepRecord { title: fresh.title, destructive: fresh.destructive, ..recorded[i].clone() });
            }
            Some(i) => {
                used[i] = true;
                notes.push(format!(
                    "`{}` is now a {kind} step (was {}, {}): it runs again",
                    step.id.value, recorded[i].kind, recorded[i].state
                ));
                next.push(fresh);
            }
            None => {
                notes.push(format!("`{}` is new: it runs in its turn", step.id.value));
                next.push(fresh);
            }
        }
    }
    for (r, _) in recorded.iter().zip(&used).filter(|(_, u)| !**u) {
        notes.push(format!("`{}` is no longer in the runbooks (it was {})", r.step, r.state));
    }
    if !notes.is_empty() {
        // Said as a notice too, so that a log or a headless run keeps the list.
        let text = format!("the changed runbooks change these steps:\n  {}", notes.join("\n  "));
        let _ = out.send(Msg::Event(Event::Notice { text }));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let question = Question::Confirm {
            index: next.iter().position(|r| !r.state.is_settled()).unwrap_or(0),
            title: "Continue with the changed steps".into(),
            does: notes,
            destructive: false,
            word: None,
            skippable: false,
            unlocked_by: None,
        };
        out.send(Msg::Ask(question, tx)).map_err(|_| EngineError::NoFrontEnd)?;
        if rx.await.map_err(|_| EngineError::NoFrontEnd)? != Answer::Yes {
            return Err(EngineError::Refused("stopped before the changed steps; nothing was changed".into()));
        }
    }
    journal.replace_steps(next)?;
    Ok(())
}

/// A real session that did not finish holds what the operator needs next: its
/// backups, and the steps it already took. Starting another one for the same
/// product on the same cluster would back up what is left (after a removal,
/// nothing) and carry on as if that were all, so it is refused, naming the
/// session to resume. So is one that another stepwise process is driving right
/// now, even before its first step. Only a session that stopped before any
/// step began (a failed preflight) does not count. Rehearsals never block, and
/// `--new-session` overrides.
fn refuse_beside_unfinished(state_dir: &Path, product: &str, cluster: &ClusterIdentity) -> Result<(), EngineError> {
    let sessions = Journal::list(state_dir)?;
    let same_cluster = |uid: &str, server: &str| {
        if uid.is_empty() || cluster.kube_system_uid.is_empty() {
            server == cluster.server
        } else {
            uid == cluster.kube_system_uid
        }
    };
    let Some(open) = sessions.into_iter().find(|s| {
        s.damaged.is_none()
            && s.status.is_unfinished()
            && !s.mode.is_rehearsal()
            && s.product == product
            && same_cluster(&s.kube_system_uid, &s.server)
            && (s.last_step.is_some() || Journal::open(&s.dir).is_err())
    }) else {
        return Ok(());
    };
    let last = open.last_step.map(|l| format!(", last step: {l}")).unwrap_or_default();
    Err(EngineError::Refused(format!(
        "session {} ({product} {} -> {}, {}{last}) is unfinished on this cluster; nothing was started. \
         `stepwise resume {}` continues it, or pass --new-session to start another one beside it",
        open.id, open.from, open.to, open.status, open.id
    )))
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

fn builtin_values(plan: &Plan, target: &Target, conn: &Connection) -> BTreeMap<String, String> {
    let mut values = plan.facts.clone();
    values.insert("kubeconfig".into(), target.kubeconfig.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
    values.insert("kube_context".into(), conn.context.clone());
    values
}

fn add_session_values(values: &mut BTreeMap<String, String>, journal: &Journal) {
    values.insert("session_dir".into(), journal.dir().display().to_string());
    values.insert("backup_dir".into(), journal.backups_dir().display().to_string());
}

/// Registers the values of the variables the runbooks mark secret, so that no
/// screen, transcript or log shows them.
fn mask_secrets(resolved: &Resolved<'_>, values: &BTreeMap<String, String>) {
    for var in resolved.variables().into_iter().filter(|v| v.secret) {
        if let Some(value) = values.get(&var.name.value) {
            crate::redact::add(value);
        }
    }
}

/// Asks for every variable without a value. Defaults that name the session's
/// folders are rendered once the session exists; those are returned.
async fn ask_variables(
    resolved: &Resolved<'_>,
    values: &mut BTreeMap<String, String>,
    conn: &Connection,
    out: &Outbox,
) -> Result<Vec<(String, Template)>, EngineError> {
    let mut deferred = Vec::new();
    for var in resolved.variables() {
        if let Some(given) = values.get(&var.name.value) {
            if var.secret {
                crate::redact::add(given);
            }
            work::check_value(var, given)
                .map_err(|why| EngineError::Refused(format!("--set {}: {why}", var.name.value)))?;
            continue;
        }
        let uses_session =
            var.default.as_ref().is_some_and(|d| d.variables().any(|n| n == "session_dir" || n == "backup_dir"));
        let mut default = var.default.as_ref().map(|d| d.render_partial(values));
        let mut var = var.clone();
        let mut discovered = None;
        if let Some(discover) = &var.discover {
            let (found, said) = discover::discovered(conn, discover, values).await;
            var.description = format!("{}\n{said}", var.description.trim());
            discovered = Some(events::Discovery { found: found.is_some(), said });
            default = match (found, discover.config_map.is_some()) {
                (Some(found), _) => Some(found),
                // A setting the product runs with is never guessed: the
                // operator gives it, or a headless run stops and asks for --set.
                (None, true) => {
                    if let Some(d) = &default {
                        var.description = format!("{}\nThe runbook's default would be `{d}`.", var.description);
                    }
                    None
                }
                (None, false) => default,
            };
        }
        let answer = ask_one(&var, default.clone(), discovered, out).await?;
        if var.secret {
            crate::redact::add(&answer);
        }
        if uses_session && Some(&answer) == default.as_ref() {
            if let Some(template) = &var.default {
                deferred.push((var.name.value.clone(), template.clone()));
                continue;
            }
        }
        values.insert(var.name.value.clone(), answer);
    }
    Ok(deferred)
}

async fn ask_one(
    var: &Variable,
    default: Option<String>,
    discovered: Option<events::Discovery>,
    out: &Outbox,
) -> Result<String, EngineError> {
    let mut problem = None;
    for _ in 0..5 {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let question = Question::Variable {
            name: var.name.value.clone(),
            description: var.description.trim().to_string(),
            default: default.clone(),
            pattern: var.pattern.as_ref().map(|p| p.value.clone()),
            choices: var.choices.clone(),
            problem: problem.take(),
            secret: var.secret,
            discovered: discovered.clone(),
        };
        out.send(Msg::Ask(question, tx)).map_err(|_| EngineError::NoFrontEnd)?;
        let answer = match rx.await.map_err(|_| EngineError::NoFrontEnd)? {
            Answer::Text(t) if t.is_empty() => default.clone().unwrap_or_default(),
            Answer::Text(t) => t,
            Answer::Stop => {
                return Err(EngineError::Refused(format!(
                    "`{}` has no value; give it with --set {}=VALUE",
                    var.name.value, var.name.value
                )));
            }
            _ => default.clone().unwrap_or_default(),
        };
        if answer.is_empty() && !work::may_be_empty(var) {
            problem = Some(format!("`{}` needs a value", var.name.value));
            continue;
        }
        match work::check_value(var, &answer) {
            Ok(()) => return Ok(answer),
            Err(why) => problem = Some(why),
        }
    }
    Err(EngineError::Refused(format!(
        "no valid value for `{}`; give one with --set {}=VALUE",
        var.name.value, var.name.value
    )))
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

/// Every completed backup must still match its manifest; a damaged one stops the
/// resume before any step that depends on it.
fn check_backups(
    journal: &Journal,
    work: &[work::WorkItem],
    resolved: &Resolved,
    out: &Outbox,
) -> Result<(), EngineError> {
    for (i, w) in work.iter().enumerate() {
        let step = resolved.step(w);
        if !matches!(step.action(), Action::Backup(_)) || journal.steps()[i].state != StepState::Done {
            continue;
        }
        let dir = step::backup_dir(journal, step, w.item.as_deref());
        match manifest::verify_files(&dir) {
            Ok(m) => {
                let text = format!("backup `{}` verified: {} objects, SHA-256 sums match", step.id.value, m.total());
                let _ = out.send(Msg::Event(Event::Notice { text }));
            }
            Err(e) => {
                return Err(EngineError::Refused(format!(
                    "the backup taken by step `{}` is damaged, so nothing that depends on it may run: {e}. \
                     The files are in {}; keep them, and compare with any other copy you hold",
                    step.id.value,
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// Says where the journal and the cluster disagree: the installed version, and
/// custom-resource counts against completed backups.
async fn compare_with_cluster(runner: &Runner<'_>) {
    let product = &runner.resolved.product.product;
    let notice = |text: String| runner.send(Event::Notice { text });
    match detection::detect(&runner.ctx.conn, product, &runner.values).await {
        Ok(found) => notice(format!("the cluster now runs {} {} ({})", product.name, found.version, found.source)),
        Err(e) => notice(format!("installed version: {e}")),
    }
    for (i, w) in runner.work.iter().enumerate() {
        let step = runner.resolved.step(w);
        if !matches!(step.action(), Action::Backup(_)) || runner.journal.steps()[i].state != StepState::Done {
            continue;
        }
        let dir = step::backup_dir(&runner.journal, step, w.item.as_deref());
        let Ok(m) = manifest::Manifest::read(&dir) else { continue };
        for kind in &m.kinds {
            let live = match crate::cluster::resource::resolve(&runner.ctx.conn.client, &kind.resource).await {
                Ok(r) => crate::cluster::restore::live_count(&runner.ctx.conn, &r, m.namespaces.as_deref()).await.ok(),
                Err(_) => None,
            };
            let text = match live {
                Some(n) if n == kind.count => continue,
                Some(n) => format!("{}: the cluster holds {n}, the backup {}", kind.resource, kind.count),
                None => format!("{}: not served by the cluster now (the backup holds {})", kind.resource, kind.count),
            };
            notice(text);
        }
    }
}
