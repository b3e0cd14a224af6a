//! The session, steps and journal the journal tests start from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stepwise::base::{ClusterIdentity, Mode, Target};
use stepwise::journal::{Journal, SessionMeta, SessionStatus, StepRecord};

pub fn meta(product: &str, from: &str, to: &str) -> SessionMeta {
    SessionMeta {
        id: String::new(),
        product: product.into(),
        from: from.into(),
        to: to.into(),
        mode: Mode::Real,
        created_at: String::new(),
        target: Target { kubeconfig: Some(PathBuf::from("/home/op/.kube/config")), context: Some("prod".into()) },
        cluster: ClusterIdentity {
            server: "https://10.0.0.1:6443".into(),
            context: "prod".into(),
            kube_system_uid: "uid-1".into(),
        },
        runbooks: BTreeMap::from([("mesh/in-place.yaml".into(), "ab".repeat(32))]),
        facts: BTreeMap::from([("platform".into(), "kubernetes".into())]),
        variables: BTreeMap::from([("namespace".into(), "nginx-mesh".into())]),
        plan: serde_json::json!({"product": product, "hops": [{"from": from, "to": to}]}),
        status: SessionStatus::Running,
        shadow_of: None,
    }
}

pub fn steps(n: usize) -> Vec<StepRecord> {
    (0..n)
        .map(|i| {
            let item = (i % 3 == 2).then(|| format!("item-{i}"));
            StepRecord::pending(i / 4, format!("step-{i}"), item, format!("Step {i}"), "command", i % 5 == 0)
        })
        .collect()
}

pub fn create(state: &Path, product: &str, n: usize) -> Journal {
    Journal::create(state, meta(product, "1.6.0", "1.7.0"), steps(n)).expect("create a session")
}
