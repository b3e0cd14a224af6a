//! Shadow rehearsal (`stepwise rehearse --shadow-context NAME`): the real
//! procedure, run for real on a scratch cluster the operator owns, from a copy
//! of the primary's installation. The primary is only read — detection, the
//! settings, a backup's lists; no write reaches it, not even a dry run. On the
//! shadow stepwise installs the release the primary runs (the product file's
//! shadow recipe for its install method), copies the custom resources and their
//! namespaces, puts a stand-in Deployment in each meshed namespace, and then
//! runs the plan as an ordinary session there (its lease, journal and
//! confirmations). Afterwards it compares every object with the primary's,
//! writes the report and removes what it installed unless told to keep it.

mod report;
mod setup;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::base::{CancelSignal, ClusterIdentity, Mode, Target};
use crate::cluster::{Connection, pinned, preflight, scratch};
use crate::journal::{Journal, SessionStatus};
use crate::plan::Plan;
use crate::runbook::Catalog;
use crate::runbook::model::{Action, PRIMARY_VALUES, ShadowRecipe};

use super::events::{Event, Msg, Outbox};
use super::prepare::{self, PrepareError, RunRequest};
use super::runner::RunOutcome;
use super::session::{StartRequest, builtin_values, start};
use super::variables::ask_variables;
use super::work::{self, Resolved};
use super::{EngineError, detection};

pub use report::ShadowReport;
use setup::{Setup, primary_helm_values};

/// The values the session computes itself for its own cluster; the primary's
/// are not handed on.
const OWN_VALUES: [&str; 2] = ["kubeconfig", "kube_context"];

/// What `stepwise rehearse --shadow-context` asks for.
#[derive(Debug, Clone)]
pub struct ShadowRequest {
    /// The plan and the primary cluster (`target`), as for a real run.
    pub run: RunRequest,
    /// The scratch cluster.
    pub shadow: Target,
    /// Leave the product and the copies on the shadow afterwards.
    pub keep: bool,
}

/// The two clusters of a shadow rehearsal.
pub(super) struct Clusters {
    pub(super) primary: Connection,
    pub(super) primary_id: ClusterIdentity,
    pub(super) shadow: Connection,
    pub(super) shadow_target: Target,
}

/// Runs a shadow rehearsal to its report. The outcome is that of the session
/// on the shadow; the report is written whatever it was.
pub async fn rehearse(
    catalog: &Catalog,
    req: ShadowRequest,
    out: Outbox,
    cancel: CancelSignal,
) -> Result<RunOutcome, PrepareError> {
    let clusters = connect(&req).await?;
    let mut signal = cancel.clone();
    // Detection may wait on a slow cluster; a cancel ends the wait at once.
    let prepared = tokio::select! {
        prepared = prepare::plan(catalog, &req.run.target, &req.run.plan) => prepared?,
        () = signal.cancelled() => return Err(PrepareError::Interrupted),
    };
    let mut said = Vec::new();
    for detection in prepared.detected {
        said.push(Event::Detected { detection });
    }
    let plan = prepared.plan;
    said.push(Event::PlanReady { plan: Box::new(plan.clone()) });
    for event in &said {
        let _ = out.send(Msg::Event(event.clone()));
    }
    let resolved = work::resolve(catalog, &plan)?;
    let recipe = recipe(&resolved, &plan)?;
    let mut values = builtin_values(&plan, &req.run.target, &clusters.primary);
    values.extend(req.run.plan.values.clone());
    // A shadow the operator may not set up is refused first, whatever it runs.
    check_shadow_access(&clusters.shadow, &backed_up_kinds(&resolved, &values)).await?;
    refuse_installed_shadow(&resolved, &clusters, &values).await?;
    // Discovery reads the primary: the shadow is set up with its settings.
    ask_variables(&resolved, &mut values, &clusters.primary, &out).await?;
    let kinds = backed_up_kinds(&resolved, &values);
    let dir = shadow_dir(&req.run.state_dir, &plan)?;
    let say = |text: String| {
        let _ = out.send(Msg::Event(Event::Notice { text }));
    };
    say(format!(
        "Shadow rehearsal on {} ({}); the primary cluster {} ({}) is only read. Working folder: {}",
        clusters.shadow.context,
        clusters.shadow.server,
        clusters.primary.context,
        clusters.primary.server,
        dir.display()
    ));
    let kubeconfig = pinned::write(&clusters.shadow_target, &clusters.shadow.context, &dir.join("shadow.kubeconfig"))
        .map_err(PrepareError::Cluster)?;
    let setup = Setup {
        clusters: &clusters,
        dir: &dir,
        kubeconfig: &kubeconfig,
        out: &out,
        cancel: &cancel,
        created: std::sync::Mutex::default(),
    };
    let mut install_values = resolved.hop_values(&values, &plan.from, &plan.from);
    if let Some(release) = &recipe.helm_values {
        let file = primary_helm_values(&clusters.primary, release, &install_values, &dir).await?;
        install_values.insert(PRIMARY_VALUES.into(), file.display().to_string());
    }
    let copied = match setup.install_and_copy(&resolved, recipe, &install_values, &kinds).await {
        Ok(copied) => copied,
        Err(e) => {
            // Whatever part of the setup happened is taken away again.
            if !req.keep {
                setup.remove(recipe, &install_values, &kinds).await;
            }
            return Err(e);
        }
    };
    let sessions_before = session_ids(&req.run.state_dir);
    let start_request = StartRequest {
        plan: plan.clone(),
        mode: Mode::Real,
        target: clusters.shadow_target.clone(),
        state_dir: req.run.state_dir.clone(),
        values: values.iter().filter(|(k, _)| !OWN_VALUES.contains(&k.as_str())).map(clone_pair).collect(),
        new_session: true,
        break_lease: req.run.break_lease,
        earlier: said,
        shadow_of: Some(clusters.primary_id.clone()),
    };
    let outcome = start(catalog, start_request, out.clone(), cancel.clone()).await;
    let mut session = new_session(&req.run.state_dir, &sessions_before);
    let report = setup.report(&plan, &copied, session.as_ref()).await?;
    std::fs::write(dir.join("report.md"), report.markdown())
        .map_err(|e| EngineError::Refused(format!("cannot write {}: {e}", dir.join("report.md").display())))?;
    for line in report.summary() {
        say(line);
    }
    say(format!("The shadow rehearsal's report: {}", dir.join("report.md").display()));
    if req.keep {
        say(format!("--keep-shadow: the product and the copies stay on {}", clusters.shadow.context));
    } else {
        let remove_values = resolved.hop_values(&values, &plan.from, &plan.to);
        setup.remove(recipe, &remove_values, &kinds).await;
        // What an unfinished shadow session worked on is gone: it is not one to resume.
        if let Some(journal) = session.as_mut().filter(|j| j.meta().status != SessionStatus::Finished) {
            journal.set_status(SessionStatus::Abandoned).map_err(EngineError::from)?;
            say(format!("The shadow's session {} is marked abandoned: what it worked on is removed", journal.id()));
        }
    }
    Ok(outcome?)
}

fn clone_pair((k, v): (&String, &String)) -> (String, String) {
    (k.clone(), v.clone())
}

/// Connects to both clusters and refuses a shadow that is the primary itself.
async fn connect(req: &ShadowRequest) -> Result<Clusters, PrepareError> {
    let primary = req.run.target.connect().await.map_err(PrepareError::Cluster)?;
    let shadow = req.shadow.connect().await.map_err(PrepareError::Cluster)?;
    let primary_id = primary.identity().await.map_err(PrepareError::Cluster)?;
    let shadow_id = shadow.identity().await.map_err(PrepareError::Cluster)?;
    if primary_id.kube_system_uid == shadow_id.kube_system_uid {
        return Err(refused(format!(
            "the shadow context {} is the primary cluster itself (kube-system {}): a shadow rehearsal needs a \
             scratch cluster of its own, such as a kind or k3d cluster",
            shadow.context, shadow_id.kube_system_uid
        )));
    }
    let mut shadow_target = req.shadow.clone();
    shadow_target.context.get_or_insert_with(|| shadow.context.clone());
    Ok(Clusters { primary, primary_id, shadow, shadow_target })
}

pub(super) fn refused(text: String) -> PrepareError {
    PrepareError::Session(EngineError::Refused(text))
}

/// A shadow that runs the product already would be changed by the install and
/// by the cleanup: refused.
async fn refuse_installed_shadow(
    resolved: &Resolved<'_>,
    clusters: &Clusters,
    values: &BTreeMap<String, String>,
) -> Result<(), PrepareError> {
    let product = &resolved.product.product;
    if let Ok(found) = detection::detect(&clusters.shadow, product, values).await {
        return Err(refused(format!(
            "the shadow context {} already runs {} {} ({}); a shadow rehearsal installs its own copy, so use a \
             cluster without it",
            clusters.shadow.context, product.name, found.version, found.source
        )));
    }
    Ok(())
}

/// The product's shadow recipe for the installation's install method.
fn recipe<'r>(resolved: &'r Resolved<'_>, plan: &Plan) -> Result<&'r ShadowRecipe, PrepareError> {
    let product = &resolved.product.product;
    let method = plan.facts.get("install_method").map_or("default", String::as_str);
    product.shadow.get(method).ok_or_else(|| {
        let known: Vec<&str> = product.shadow.keys().map(String::as_str).collect();
        refused(format!(
            "{} has no shadow recipe for install method `{method}` (it has: {}); a shadow rehearsal cannot install \
             the current release on the shadow",
            product.name,
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        ))
    })
}

/// The kinds the plan's backup steps save, rendered.
fn backed_up_kinds(resolved: &Resolved<'_>, values: &BTreeMap<String, String>) -> Vec<String> {
    let mut kinds = BTreeSet::new();
    for w in resolved.work(values) {
        if let Action::Backup(b) = resolved.step(&w).action() {
            let step_values = resolved.step_values(values, &w);
            kinds.extend(b.resources.iter().filter_map(|t| t.render(&step_values).ok()));
        }
    }
    kinds.into_iter().collect()
}

/// Refuses a shadow the operator may not set up, naming every permission missing.
async fn check_shadow_access(shadow: &Connection, kinds: &[String]) -> Result<(), PrepareError> {
    let mut needs = scratch::needs();
    needs.extend(preflight::restore_needs(kinds, None, Mode::Real));
    let missing = preflight::missing_access(shadow, &needs).await.map_err(PrepareError::Cluster)?;
    if missing.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = missing.iter().map(|m| format!("the shadow's user may not {m}")).collect();
    Err(PrepareError::Session(EngineError::Preflight(lines)))
}

/// `<state dir>/shadows/<time>-<product>-<from>-to-<to>`, created 0700.
fn shadow_dir(state_dir: &Path, plan: &Plan) -> Result<PathBuf, PrepareError> {
    let stamp = crate::cluster::manifest::now_rfc3339().replace([':', '-'], "").replace('T', "-");
    let stamp = stamp.split('.').next().unwrap_or(&stamp).trim_end_matches('Z').to_string();
    let dir = state_dir.join("shadows").join(format!("{stamp}-{}-{}-to-{}", plan.product, plan.from, plan.to));
    crate::durable::create_private_dir(&dir)
        .map_err(|e| EngineError::Refused(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

fn session_ids(state_dir: &Path) -> BTreeSet<String> {
    Journal::list(state_dir).map(|l| l.into_iter().map(|s| s.id).collect()).unwrap_or_default()
}

/// The session the rehearsal started on the shadow: the one that was not there before.
fn new_session(state_dir: &Path, before: &BTreeSet<String>) -> Option<Journal> {
    let list = Journal::list(state_dir).ok()?;
    let id = list.into_iter().map(|s| s.id).find(|id| !before.contains(id))?;
    Journal::open_id(state_dir, &id).ok()
}
