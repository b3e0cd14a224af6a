//! A private kubeconfig for the programs a session starts.
//!
//! Vendor CLIs do not all take a context flag (`nginx-meshctl` has none) and
//! every one of them falls back to the kubeconfig's current context, which
//! anybody can change mid-session (`kubectx` in another terminal). So each
//! child runs with `KUBECONFIG` pointing at a file of the session's own: the one
//! context the step acts on, its cluster and user, `current-context` set to it,
//! and the certificate files it names copied in. Nothing done to the operator's
//! kubeconfig after the file is written can redirect a step.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use kube::config::{Kubeconfig, NamedAuthInfo, NamedCluster};

use super::error::ClusterError;
use crate::base::Target;

/// File name of the pinned kubeconfig for `context` inside a session folder.
/// The session's own context gets `kubeconfig`; a step's other context (a zone
/// cluster) gets one of its own, named after it with anything unusual replaced.
pub fn file_name(context: &str, session_context: &str) -> String {
    if context == session_context {
        return "kubeconfig".to_string();
    }
    let safe: String = context
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    format!("kubeconfig-{}", safe.trim_start_matches('.'))
}

/// Writes the pinned kubeconfig for `context` of `target`'s kubeconfig to
/// `path` (0600, replacing it whole) and returns the path.
pub fn write(target: &Target, context: &str, path: &Path) -> Result<PathBuf, ClusterError> {
    let pinned = pinned(target, context)?;
    let json = serde_json::to_vec_pretty(&pinned)
        .map_err(|e| ClusterError::Other(format!("cannot write the session's kubeconfig: {e}")))?;
    crate::durable::write_atomic(path, &json).map_err(|e| ClusterError::io("write", path, e))?;
    Ok(path.to_path_buf())
}

/// The one-context kubeconfig, with every file it refers to for TLS read in.
pub fn pinned(target: &Target, context: &str) -> Result<Kubeconfig, ClusterError> {
    let config = target.read_kubeconfig()?;
    let problem = |message: String| ClusterError::Kubeconfig { path: target.kubeconfig.clone(), message };
    let named =
        config.contexts.iter().find(|c| c.name == context).cloned().ok_or_else(|| ClusterError::UnknownContext {
            name: context.to_string(),
            available: config.contexts.iter().map(|c| c.name.clone()).collect(),
        })?;
    let Some(ctx) = named.context.clone() else {
        return Err(problem(format!("context `{context}` has no cluster")));
    };
    let mut cluster = config.clusters.iter().find(|c| c.name == ctx.cluster).cloned().ok_or_else(|| {
        problem(format!("context `{context}` names cluster `{}`, which it does not define", ctx.cluster))
    })?;
    flatten_cluster(&mut cluster)?;
    let mut users: Vec<NamedAuthInfo> = Vec::new();
    if let Some(user) = &ctx.user {
        let mut found = config
            .auth_infos
            .iter()
            .find(|u| &u.name == user)
            .cloned()
            .ok_or_else(|| problem(format!("context `{context}` names user `{user}`, which it does not define")))?;
        flatten_user(&mut found)?;
        users.push(found);
    }
    Ok(Kubeconfig {
        api_version: Some("v1".into()),
        kind: Some("Config".into()),
        clusters: vec![cluster],
        auth_infos: users,
        contexts: vec![named],
        current_context: Some(context.to_string()),
        ..Kubeconfig::default()
    })
}

fn read_base64(path: &str) -> Result<String, ClusterError> {
    let bytes = std::fs::read(path).map_err(|e| ClusterError::io("read", path, e))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn flatten_cluster(named: &mut NamedCluster) -> Result<(), ClusterError> {
    if let Some(cluster) = named.cluster.as_mut()
        && let Some(file) = cluster.certificate_authority.take()
        && cluster.certificate_authority_data.is_none()
    {
        cluster.certificate_authority_data = Some(read_base64(&file)?);
    }
    Ok(())
}

/// Certificate and key files are copied in. A token file and an exec plugin
/// stay as they are (already absolute): they are how credentials rotate.
fn flatten_user(named: &mut NamedAuthInfo) -> Result<(), ClusterError> {
    let Some(user) = named.auth_info.as_mut() else { return Ok(()) };
    if let Some(file) = user.client_certificate.take()
        && user.client_certificate_data.is_none()
    {
        user.client_certificate_data = Some(read_base64(&file)?);
    }
    if let Some(file) = user.client_key.take()
        && user.client_key_data.is_none()
    {
        user.client_key_data = Some(read_base64(&file)?.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CLUSTERS: &str = r#"
apiVersion: v1
kind: Config
current-context: staging
clusters:
- name: staging
  cluster: { server: "https://staging:6443", certificate-authority: ca.crt }
- name: prod
  cluster: { server: "https://prod:6443", certificate-authority-data: UFJPRA== }
users:
- name: staging-admin
  user: { token: staging-token }
- name: prod-admin
  user: { client-certificate: prod.crt, client-key: prod.key }
contexts:
- name: staging
  context: { cluster: staging, user: staging-admin }
- name: prod
  context: { cluster: prod, user: prod-admin, namespace: shop }
"#;

    fn target_in(dir: &Path) -> Target {
        std::fs::write(dir.join("config"), TWO_CLUSTERS).unwrap();
        std::fs::write(dir.join("ca.crt"), "STAGING CA").unwrap();
        std::fs::write(dir.join("prod.crt"), "PROD CERT").unwrap();
        std::fs::write(dir.join("prod.key"), "PROD KEY").unwrap();
        Target { kubeconfig: Some(dir.join("config")), context: None }
    }

    #[test]
    fn holds_only_the_pinned_context_made_current_with_its_files_read_in() {
        let dir = tempfile::tempdir().unwrap();
        let target = target_in(dir.path());
        let out = dir.path().join("session").join("kubeconfig");
        std::fs::create_dir(out.parent().unwrap()).unwrap();
        write(&target, "prod", &out).unwrap();

        let text = std::fs::read_to_string(&out).unwrap();
        assert!(!text.contains("staging"), "nothing of the other cluster: {text}");
        let back = Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(back.current_context.as_deref(), Some("prod"));
        assert_eq!(back.contexts.len(), 1);
        assert_eq!(back.contexts[0].context.as_ref().unwrap().namespace.as_deref(), Some("shop"));
        let cluster = back.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://prod:6443"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("UFJPRA=="));
        let user = back.auth_infos[0].auth_info.as_ref().unwrap();
        assert!(user.client_certificate.is_none() && user.client_key.is_none());
        let decode = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).unwrap();
        assert_eq!(decode(user.client_certificate_data.as_deref().unwrap()), b"PROD CERT");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_relative_ca_file_is_read_from_beside_the_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let pinned = pinned(&target_in(dir.path()), "staging").unwrap();
        let cluster = pinned.clusters[0].cluster.as_ref().unwrap();
        assert!(cluster.certificate_authority.is_none());
        let ca =
            base64::engine::general_purpose::STANDARD.decode(cluster.certificate_authority_data.as_deref().unwrap());
        assert_eq!(ca.unwrap(), b"STAGING CA");
    }

    #[test]
    fn an_unknown_context_names_the_ones_there() {
        let dir = tempfile::tempdir().unwrap();
        let err = pinned(&target_in(dir.path()), "dev").unwrap_err().to_string();
        assert!(err.contains("`dev`") && err.contains("staging, prod"), "{err}");
    }

    #[test]
    fn other_contexts_get_files_of_their_own() {
        assert_eq!(file_name("prod", "prod"), "kubeconfig");
        assert_eq!(file_name("zone/east:1", "prod"), "kubeconfig-zone_east_1");
        assert_eq!(file_name("..", "prod"), "kubeconfig-");
    }
}
