//! What can go wrong talking to a cluster, each with what the operator can do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot read the kubeconfig{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Kubeconfig { path: Option<PathBuf>, message: String },
    #[error("kube context `{name}` is not in the kubeconfig; contexts there: {}", available.join(", "))]
    UnknownContext { name: String, available: Vec<String> },
    #[error(
        "cannot reach the API server at {server}: {message} (check the server is up and the kubeconfig points at it)"
    )]
    Unreachable { server: String, message: String },
    #[error(
        "the API server runs Kubernetes {version} ({major}.{minor}); stepwise is tested on {}.{} to {}.{} and stops \
         here before reading or changing anything. Upgrade the cluster first, or set {}=1 to go on at your own risk",
        1,
        super::connect::OLDEST_TESTED_MINOR,
        1,
        super::connect::NEWEST_TESTED_MINOR,
        super::connect::ALLOW_UNTESTED_ENV
    )]
    UntestedServer { version: String, major: u32, minor: u32 },
    #[error("{action} failed: {source}")]
    Api {
        action: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("the cluster does not serve `{resource}`{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    NotServed { resource: String, hint: Option<String> },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("backup at {}: {problem}", dir.display())]
    Backup { dir: PathBuf, problem: String },
    #[error(
        "backup at {}: the cluster changed since it was taken: {} objects differ (first: {}); take the backup again",
        dir.display(), changes.len(), changes.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
    )]
    Drift { dir: PathBuf, changes: Vec<String> },
    #[error("{0}")]
    Other(String),
    #[error("timed out after {} waiting until {what}; last seen: {last}", crate::base::duration::Timeout(*after))]
    Timeout { what: String, after: std::time::Duration, last: String },
}

impl ClusterError {
    pub fn api(action: impl Into<String>, source: kube::Error) -> Self {
        ClusterError::Api { action: action.into(), source: Box::new(source) }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ClusterError::Io { action, path: path.into(), source }
    }

    /// The HTTP status the API server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClusterError::Api { source, .. } => api_status(source),
            _ => None,
        }
    }
}

/// The HTTP status of an API error response.
pub fn api_status(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}
