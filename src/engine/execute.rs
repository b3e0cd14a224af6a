//! What every step runs against (the session's [`Context`]: its plan, mode and
//! connections), the same-cluster check before a destructive step, and the
//! entry point that executes one step of any kind (see [`super::actions`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use tokio::sync::Mutex;

use super::step::{StepCtx, StepError};
use crate::base::{Mode, Target};
use crate::cluster::{Connection, pinned};
use crate::journal::Journal;
use crate::plan::Plan;
use crate::runbook::model::Step;

/// What every step shares: the plan, the mode, and connections to each cluster.
pub struct Context {
    pub plan: Plan,
    pub mode: Mode,
    pub target: Target,
    pub conn: Connection,
    /// Connections to other kube contexts steps name, made on first use.
    others: Mutex<HashMap<String, Connection>>,
    /// Where each hop's procedure file lives, for relative `apply.file` paths.
    pub procedure_dirs: Vec<Option<PathBuf>>,
    /// The session's folder, where the pinned kubeconfigs of its children live.
    session_dir: PathBuf,
    /// Pinned kubeconfigs written so far, by kube context.
    pins: std::sync::Mutex<HashMap<String, PathBuf>>,
}

impl Context {
    pub fn new(
        plan: Plan,
        mode: Mode,
        target: Target,
        conn: Connection,
        procedure_dirs: Vec<Option<PathBuf>>,
        session_dir: &Path,
    ) -> Self {
        Context {
            plan,
            mode,
            target,
            conn,
            others: Mutex::new(HashMap::new()),
            procedure_dirs,
            session_dir: session_dir.to_path_buf(),
            pins: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The kubeconfig every child acting on `context` runs with: the session's
    /// own copy holding that context alone as the current one (see
    /// [`pinned`]). Written from the operator's kubeconfig the first time a
    /// context is needed in this process (the session's own at the start and on
    /// every resume), so a later change to that file cannot redirect a step.
    pub fn pinned_kubeconfig(&self, context: &str) -> Result<PathBuf, StepError> {
        let mut pins = self.pins.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = pins.get(context) {
            return Ok(path.clone());
        }
        let path = self.session_dir.join(pinned::file_name(context, &self.conn.context));
        pinned::write(&self.target, context, &path)?;
        pins.insert(context.to_string(), path.clone());
        Ok(path)
    }

    /// Removes the pinned kubeconfigs: once the session has finished nothing
    /// runs in its name again, and the copies hold credentials.
    pub fn remove_pinned_kubeconfigs(&self) {
        for (_, path) in self.pins.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The connection a step acts on: its own kube context, or the session's.
    pub async fn connection(&self, step: &Step, values: &BTreeMap<String, String>) -> Result<Connection, StepError> {
        let Some(context) = step.context.as_ref().map(|c| c.render(values)).transpose()? else {
            return Ok(self.conn.clone());
        };
        if context.is_empty() || context == self.conn.context {
            return Ok(self.conn.clone());
        }
        let mut others = self.others.lock().await;
        if let Some(conn) = others.get(&context) {
            return Ok(conn.clone());
        }
        let target = Target { kubeconfig: self.target.kubeconfig.clone(), context: Some(context.clone()) };
        let conn = target.connect().await?;
        others.insert(context, conn.clone());
        Ok(conn)
    }
}

/// Right before a destructive step starts: the cluster the step will change,
/// both through stepwise's own connection and through the pinned kubeconfig
/// its commands run with, is the one the session checked (same kube-system
/// UID and server). Another cluster behind the same address, or a pinned file
/// that no longer leads where the session began, stops the step.
pub async fn check_same_cluster(
    ctx: &Context,
    journal: &Journal,
    step: &Step,
    values: &BTreeMap<String, String>,
) -> Result<(), StepError> {
    let context = match step.context.as_ref().map(|c| c.render(values)).transpose()? {
        Some(c) if !c.is_empty() => c,
        _ => ctx.conn.context.clone(),
    };
    let conn = ctx.connection(step, values).await?;
    let now = conn.identity().await?;
    let expected = if context == ctx.conn.context { journal.meta().cluster.clone() } else { now.clone() };
    let through_pin = Target { kubeconfig: Some(ctx.pinned_kubeconfig(&context)?), context: Some(context.clone()) }
        .connect()
        .await?
        .identity()
        .await?;
    for (what, found) in [("stepwise's connection", &now), ("the kubeconfig its commands run with", &through_pin)] {
        if found.kube_system_uid != expected.kube_system_uid || found.server != expected.server {
            return Err(StepError::failed(format!(
                "stopped before changing anything: {what} reaches {} (kube-system {}), but this session's cluster \
                 for context `{context}` is {} (kube-system {}). Check which cluster `{context}` names now, then \
                 resume; nothing of this step has run",
                found.server, found.kube_system_uid, expected.server, expected.kube_system_uid
            )));
        }
    }
    Ok(())
}

/// Executes a step; returns a one-line outcome for the journal.
#[tracing::instrument(
    name = "step",
    skip_all,
    fields(index = cx.index, id = %cx.step.id.value),
    ret(level = "info"),
    err(level = "warn", Debug)
)]
pub async fn run(cx: &mut StepCtx<'_>) -> Result<String, StepError> {
    tracing::info!(title = %cx.step.title, mode = ?cx.ctx.mode, "step started");
    super::actions::run(cx).await
}
