//! Connecting the way kubectl does (`--kubeconfig`, `KUBECONFIG`, `--context`), and
//! recording which cluster this is so a resumed session can refuse another one.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Api, Client, Config};

use super::error::ClusterError;
use crate::base::{ClusterIdentity, Target};

/// A client plus what it is connected to.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    /// The context actually used.
    pub context: String,
    pub server: String,
}

/// The oldest Kubernetes minor release stepwise is tested on (the test bed
/// runs the whole suite on the newest it builds and the journeys on this one).
pub const OLDEST_TESTED_MINOR: u32 = 33;
/// The newest Kubernetes minor release stepwise is tested on.
pub const NEWEST_TESTED_MINOR: u32 = 37;
/// Set (non-empty) to go on with a server older than [`OLDEST_TESTED_MINOR`].
pub const ALLOW_UNTESTED_ENV: &str = "STEPWISE_ALLOW_UNTESTED_KUBERNETES";

/// Refuses a server older than the releases stepwise is tested on, before
/// anything reads or changes the cluster, unless the operator allowed it.
/// Providers write the minor with a suffix (`33+` on EKS and GKE); only its
/// digits count. A version that cannot be read is let through: the server
/// answered, and a missing number proves nothing about its age.
pub fn check_server_release(major: &str, minor: &str, shown: &str, allowed: bool) -> Result<(), ClusterError> {
    let number = |s: &str| s.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u32>().ok();
    let (Some(major), Some(minor)) = (number(major), number(minor)) else { return Ok(()) };
    if allowed || major > 1 || minor >= OLDEST_TESTED_MINOR {
        return Ok(());
    }
    Err(ClusterError::UntestedServer { version: shown.to_string(), major, minor })
}

impl Target {
    /// Reads the kubeconfig. A failure names the file once and says where its
    /// name came from, so the advice never asks for what is already done.
    pub(crate) fn read_kubeconfig(&self) -> Result<Kubeconfig, ClusterError> {
        let origin = self.origin();
        let read = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        };
        read.map_err(|e| {
            let (path, reason) = match e {
                // kube's own message quotes the path again, in Debug form.
                KubeconfigError::ReadConfig(io, path) => (Some(path), io.to_string()),
                other => (origin.path(), other.to_string()),
            };
            ClusterError::Kubeconfig { path, message: format!("{reason} ({})", origin.advice()) }
        })
    }

    /// The file this target reads, for messages: --kubeconfig, else KUBECONFIG
    /// as given, else the default path.
    fn shown_path(&self) -> Option<PathBuf> {
        self.origin().path()
    }

    fn origin(&self) -> Origin {
        match (&self.kubeconfig, std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty())) {
            (Some(path), _) => Origin::Flag(path.clone()),
            (None, Some(value)) => Origin::Env(PathBuf::from(value)),
            (None, None) => Origin::Default(directories::BaseDirs::new().map(|d| d.home_dir().join(".kube/config"))),
        }
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
                        path: self.shown_path(),
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
            .map_err(|e| ClusterError::Kubeconfig { path: self.shown_path(), message: e.to_string() })?;
        // Fail fast on a dead address instead of hanging an operator's terminal.
        config.connect_timeout = Some(Duration::from_secs(10));
        // A server that accepts a connection and then says nothing must not hang a
        // call forever; idle watches simply start again after this.
        config.read_timeout = Some(Duration::from_secs(120));
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let client = Client::try_from(config)
            .map_err(|e| ClusterError::Kubeconfig { path: self.shown_path(), message: e.to_string() })?;
        tracing::info!(%server, %context, "using the cluster");
        Ok(Connection { client, context, server })
    }
}

impl Connection {
    /// Asks the server who it is; also the reachability check, and the check
    /// that the server runs a Kubernetes release stepwise is tested on.
    pub async fn identity(&self) -> Result<ClusterIdentity, ClusterError> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns =
            namespaces.get("kube-system").await.map_err(|e| self.unreachable_or(e, "read namespace kube-system"))?;
        let version =
            self.client.apiserver_version().await.map_err(|e| self.unreachable_or(e, "read the server's /version"))?;
        let allowed = std::env::var_os(ALLOW_UNTESTED_ENV).is_some_and(|v| !v.is_empty());
        check_server_release(&version.major, &version.minor, &version.git_version, allowed)?;
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

/// Where the kubeconfig's name came from.
enum Origin {
    Flag(PathBuf),
    /// `KUBECONFIG` as set: one file, or several joined with `:`.
    Env(PathBuf),
    /// `~/.kube/config`, when the home folder is known.
    Default(Option<PathBuf>),
}

impl Origin {
    fn path(&self) -> Option<PathBuf> {
        match self {
            Origin::Flag(path) | Origin::Env(path) => Some(path.clone()),
            Origin::Default(path) => path.clone(),
        }
    }

    /// What to do about a kubeconfig that cannot be read, given where it was named.
    fn advice(&self) -> &'static str {
        match self {
            Origin::Flag(_) => "named with --kubeconfig FILE; check the path",
            Origin::Env(_) => {
                "named by KUBECONFIG; point KUBECONFIG at a readable kubeconfig, or pass --kubeconfig FILE"
            }
            Origin::Default(_) => "the default, as KUBECONFIG is not set; pass --kubeconfig FILE or set KUBECONFIG",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test bed no longer runs a server older than 1.33, so the refusal is
    // checked here on the /version fields such a server answers with.
    #[test]
    fn a_server_older_than_the_tested_releases_is_refused_with_what_to_do() {
        let err = check_server_release("1", "20", "v1.20.2", false).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Kubernetes v1.20.2"), "{text}");
        assert!(text.contains("tested on 1.33 to 1.37"), "{text}");
        assert!(text.contains("STEPWISE_ALLOW_UNTESTED_KUBERNETES=1"), "{text}");
        assert!(check_server_release("1", "32+", "v1.32.9-eks-1", false).is_err(), "a provider's suffix is read past");
    }

    #[test]
    fn tested_newer_unreadable_and_allowed_servers_go_on() {
        for (major, minor) in [("1", "33"), ("1", "33+"), ("1", "37"), ("1", "40"), ("2", "0"), ("", ""), ("1", "x")] {
            assert!(check_server_release(major, minor, "v?", false).is_ok(), "{major}.{minor}");
        }
        assert!(check_server_release("1", "20", "v1.20.2", true).is_ok());
    }
}
