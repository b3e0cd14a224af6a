//! Connecting the way kubectl does (`--kubeconfig`, `KUBECONFIG`, `--context`), and
//! recording which cluster this is so a resumed session can refuse another one.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde::{Deserialize, Serialize};

use super::error::ClusterError;

/// Which cluster to talk to, as the operator named it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// A kubeconfig file; `KUBECONFIG` or `~/.kube/config` when absent.
    pub kubeconfig: Option<PathBuf>,
    /// A context in it; the current context when absent.
    pub context: Option<String>,
}

/// A client plus what it is connected to.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    /// The context actually used.
    pub context: String,
    pub server: String,
}

/// What identifies a cluster across sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIdentity {
    pub server: String,
    pub context: String,
    /// The UID of the `kube-system` namespace: stable for the life of a cluster and
    /// different for every cluster, even behind the same address.
    pub kube_system_uid: String,
}

impl Target {
    fn read_kubeconfig(&self) -> Result<Kubeconfig, ClusterError> {
        let read = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        };
        read.map_err(|e| ClusterError::Kubeconfig {
            path: self.kubeconfig.clone(),
            message: format!("{e} (pass --kubeconfig FILE or set KUBECONFIG)"),
        })
    }

    /// Connects without contacting the server yet.
    pub async fn connect(&self) -> Result<Connection, ClusterError> {
        let kubeconfig = self.read_kubeconfig()?;
        let context = match &self.context {
            Some(name) => {
                if !kubeconfig.contexts.iter().any(|c| &c.name == name) {
                    return Err(ClusterError::UnknownContext {
                        name: name.clone(),
                        available: kubeconfig.contexts.iter().map(|c| c.name.clone()).collect(),
                    });
                }
                name.clone()
            }
            None => match kubeconfig.current_context.clone().filter(|c| !c.is_empty()) {
                Some(current) => current,
                // kube's own error here ends in an empty reason; say what is missing instead.
                None => {
                    let available: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
                    return Err(ClusterError::Kubeconfig {
                        path: self.kubeconfig.clone(),
                        message: format!(
                            "it sets no current context; pass --context NAME (contexts there: {})",
                            if available.is_empty() { "none".to_string() } else { available.join(", ") }
                        ),
                    });
                }
            },
        };
        let options = KubeConfigOptions { context: Some(context.clone()), ..KubeConfigOptions::default() };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| ClusterError::Kubeconfig { path: self.kubeconfig.clone(), message: e.to_string() })?;
        // Fail fast on a dead address instead of hanging an operator's terminal.
        config.connect_timeout = Some(Duration::from_secs(10));
        // A server that accepts a connection and then says nothing must not hang a
        // call forever; idle watches simply start again after this.
        config.read_timeout = Some(Duration::from_secs(120));
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let client = Client::try_from(config)
            .map_err(|e| ClusterError::Kubeconfig { path: self.kubeconfig.clone(), message: e.to_string() })?;
        tracing::info!(%server, %context, "using the cluster");
        Ok(Connection { client, context, server })
    }
}

impl Connection {
    /// Asks the server who it is; also the reachability check.
    pub async fn identity(&self) -> Result<ClusterIdentity, ClusterError> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns =
            namespaces.get("kube-system").await.map_err(|e| self.unreachable_or(e, "read namespace kube-system"))?;
        Ok(ClusterIdentity {
            server: self.server.clone(),
            context: self.context.clone(),
            kube_system_uid: ns.metadata.uid.unwrap_or_default(),
        })
    }

    /// Classifies a failed call: no answer at all means the server is unreachable.
    pub fn unreachable_or(&self, e: kube::Error, action: &str) -> ClusterError {
        match e {
            kube::Error::Api(_) => ClusterError::api(action, e),
            other => ClusterError::Unreachable { server: self.server.clone(), message: other.to_string() },
        }
    }
}
