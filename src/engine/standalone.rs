//! The upgrade's backup, its proof and its restore on their own, outside any
//! session (`stepwise backup`, `stepwise restore`). Progress goes to a front end
//! as [`Event`]s over the usual channel, like a session's; the results are
//! returned for the caller to show.

use std::path::{Path, PathBuf};

use crate::base::{Mode, OpEvent, Reporter, Target};
use crate::cluster::backup::BackupRequest;
use crate::cluster::restore::RestoreRequest;
use crate::cluster::{ClusterError, backup, manifest, proof, restore};
use crate::runbook::Catalog;
use crate::runbook::model::Action;

pub use crate::cluster::manifest::Manifest;
pub use crate::cluster::proof::Proof;
pub use crate::cluster::restore::{Outcome, RestoreReport};

use super::events::{Event, Msg, Outbox};

/// How many objects a restore creates at once unless told otherwise.
pub const DEFAULT_RESTORE_CONCURRENCY: usize = RestoreRequest::DEFAULT_CONCURRENCY;

/// Why a backup, proof or restore on its own did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    /// The cluster could not be reached or used.
    #[error("{0}")]
    Cluster(#[source] ClusterError),
    /// The backup is damaged, or of another cluster.
    #[error("{0}")]
    Damaged(#[source] ClusterError),
    /// The cluster changed since the backup was taken; one change a line.
    #[error("the backup in {} no longer matches the cluster", dir.display())]
    Drifted { dir: PathBuf, changes: Vec<String> },
}

impl From<ClusterError> for StandaloneError {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Drift { dir, changes } => StandaloneError::Drifted { dir, changes },
            e @ ClusterError::Backup { .. } => StandaloneError::Damaged(e),
            other => StandaloneError::Cluster(other),
        }
    }
}

/// What to back up, and where.
#[derive(Debug, Clone)]
pub struct BackupJob {
    pub target: Target,
    /// Kinds as `plural.group`.
    pub kinds: Vec<String>,
    pub to: PathBuf,
    /// Only these namespaces; all when `None`.
    pub namespaces: Option<Vec<String>>,
}

/// Saves every object of the job's kinds, with a SHA-256 manifest.
pub async fn backup(job: &BackupJob, out: &Outbox) -> Result<Manifest, StandaloneError> {
    let conn = job.target.connect().await.map_err(StandaloneError::Cluster)?;
    let mut request = BackupRequest::new(job.kinds.clone(), job.to.clone());
    request.namespaces = job.namespaces.clone();
    Ok(backup::backup(&conn, &request, reporter(out)).await?)
}

/// The proof a destructive step waits for: the backup in `dir` still matches
/// the cluster.
pub async fn prove(target: &Target, dir: &Path, out: &Outbox) -> Result<Proof, StandaloneError> {
    let conn = target.connect().await.map_err(StandaloneError::Cluster)?;
    Ok(proof::prove(&conn, dir, reporter(out)).await?)
}

/// What to restore, and how.
#[derive(Debug, Clone)]
pub struct RestoreJob {
    pub target: Target,
    pub dir: PathBuf,
    /// A rehearsal validates every object with a dry run and creates nothing.
    pub mode: Mode,
    pub concurrency: usize,
}

/// Restores the backup in the job's folder.
pub async fn restore(job: &RestoreJob, out: &Outbox) -> Result<RestoreReport, StandaloneError> {
    let conn = job.target.connect().await.map_err(StandaloneError::Cluster)?;
    let mut request = RestoreRequest::new(job.dir.clone(), job.mode);
    request.concurrency = job.concurrency.max(1);
    Ok(restore::restore(&conn, &request, reporter(out)).await?)
}

/// The kinds (`plural.group`) a product's procedures back up, those written
/// without variables; `None` for a product the catalog does not know.
pub fn product_kinds(catalog: &Catalog, product: &str) -> Option<Vec<String>> {
    let entry = catalog.product(product)?;
    let mut kinds = Vec::new();
    for p in &entry.procedures {
        for step in &p.procedure.steps {
            if let Action::Backup(b) = step.action() {
                kinds
                    .extend(b.resources.iter().filter(|t| t.variables().next().is_none()).map(|t| t.raw().to_string()));
            }
        }
    }
    Some(kinds)
}

/// Whether `dir` holds a backup's manifest.
pub fn holds_backup(dir: &Path) -> bool {
    dir.join(manifest::MANIFEST_FILE).exists()
}

/// The cluster operation's reports as events: progress, lines and warnings
/// belong to no step, so they carry index 0 and no step.
pub(super) fn reporter(out: &Outbox) -> Reporter {
    let out = out.clone();
    std::sync::Arc::new(move |e| {
        let event = match e {
            OpEvent::Progress { done, total, bytes, what } => Event::Progress { index: 0, done, total, bytes, what },
            OpEvent::Line(text) => Event::Line { index: 0, text },
            OpEvent::Warning(text) => Event::Warning { index: None, text },
        };
        let _ = out.send(Msg::Event(event));
    })
}
