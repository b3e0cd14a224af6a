//! Why a session could not go on.

use crate::cluster::ClusterError;
use crate::journal::JournalError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("runbooks: {0}")]
    Runbooks(String),
    /// The session cannot be resumed or started as asked; the text says why and what to do.
    #[error("{0}")]
    Refused(String),
    #[error("no front end is answering questions")]
    NoFrontEnd,
    #[error("preflight checks failed; nothing was changed:\n{}", .0.join("\n"))]
    Preflight(Vec<String>),
}
