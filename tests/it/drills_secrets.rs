//! Secrets drill: a step applies what a command prints (as `kumactl install
//! control-plane` does, Secrets and TLS keys included). The objects reach the
//! cluster, but not one line of that output reaches the screen, the
//! transcript or the log. A one-line value of 70 KiB in that output arrives
//! whole. Another step runs a command with a variable the runbook marks
//! secret, and prints a bearer token and a key the way a Secret's data looks:
//! none of them reaches the screen, the transcript, steps.json or the log.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

/// base64 of the secret value; neither form may appear anywhere.
const SECRET_VALUE: &str = "do-not-print-me-0f3a";
const SECRET_B64: &str = "ZG8tbm90LXByaW50LW1lLTBmM2E=";
/// Given with --set for a variable marked secret.
const PASSWORD: &str = "registry-pass-7c41e";
/// What the second step's command prints besides the password.
const BEARER: &str = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu";
const TLS_KEY: &str = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Fo";
/// Bytes in the one-line value of the dashboard ConfigMap.
const LONG_LINE: usize = 70 * 1024;

const PRODUCT: &str = "id: vault-mesh
name: Vault Mesh
description: A made-up product whose installer prints manifests with Secrets in them.
releases: [1.0.0, 1.1.0]
variables:
  - name: namespace
    description: Namespace of the control plane.
    default: vault-mesh-system
path:
  rules:
    - reason: One minor at a time.
      max_minor: 1
";

const PROCEDURE: &str = r#"id: install
product: vault-mesh
title: Install the rendered control plane
description: Applies what the installer prints.
disruption: low
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: rendered
    description: A file holding what the installer prints.
  - name: registry_password
    description: The password of the image registry.
    secret: true
  - name: exchange
    description: A file holding what a token exchange prints.
steps:
  - id: login
    title: Log in to the registry
    explain: Prints what a login and a token exchange print.
    command:
      argv: [sh, -c, 'echo "logged in with $0"; cat "$1"', "{{registry_password}}", "{{exchange}}"]
  - id: install
    title: Apply the control plane
    explain: The installer prints the manifests, Secrets included; they are applied.
    apply:
      command:
        argv: [cat, "{{rendered}}"]
"#;

/// What the "installer" prints: a ConfigMap and a Secret.
const RENDERED: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: vault-mesh-config
data:
  mode: strict
---
apiVersion: v1
kind: Secret
metadata:
  name: vault-mesh-tls
data:
  key: ZG8tbm90LXByaW50LW1lLTBmM2E=
";

/// A ConfigMap on one line of JSON (JSON is YAML) whose one value is
/// LONG_LINE bytes, the way a dashboard or a CA bundle arrives.
fn long_line_configmap() -> (String, String) {
    let value: String = (0..LONG_LINE).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let line = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "vault-mesh-dashboard"},
        "data": {"dashboard.json": value},
    });
    (format!("---\n{line}\n"), value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_command_prints_for_applying_is_applied_and_never_shown_or_kept() {
    let tb = support::cluster();
    let client = tb.client().await;
    let ns = tb.namespace(&client, "vault-mesh").await;
    let work = tempfile::tempdir().unwrap();
    let product = work.path().join("runbooks/vault-mesh");
    std::fs::create_dir_all(&product).unwrap();
    std::fs::write(product.join("product.yaml"), PRODUCT).unwrap();
    std::fs::write(product.join("install.yaml"), PROCEDURE).unwrap();
    let state = work.path().join("state");
    let rendered = work.path().join("rendered.yaml");
    let (dashboard, long_value) = long_line_configmap();
    std::fs::write(&rendered, format!("{RENDERED}{dashboard}")).unwrap();

    let mut cmd = support::stepwise_command(tb, &tb.context, &state);
    cmd.arg("--runbooks").arg(work.path().join("runbooks")).arg("-v");
    cmd.args(["run", "vault-mesh", "--from", "1.0.0", "--to", "1.1.0", "--yes", "--set"]);
    cmd.arg(format!("namespace={ns}")).arg("--set").arg(format!("rendered={}", rendered.display()));
    let exchange = work.path().join("exchange.txt");
    std::fs::write(&exchange, format!("Authorization: Bearer {BEARER}\n  tls.key: {TLS_KEY}\n")).unwrap();
    cmd.arg("--set").arg(format!("registry_password={PASSWORD}"));
    cmd.arg("--set").arg(format!("exchange={}", exchange.display()));
    let out = cmd.output().unwrap();
    let screen = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the run failed:\n{screen}");

    let secret = Api::<Secret>::namespaced(client.clone(), &ns).get("vault-mesh-tls").await.unwrap();
    let key = secret.data.unwrap_or_default().remove("key").map(|b| b.0).unwrap_or_default();
    assert_eq!(key, SECRET_VALUE.as_bytes(), "the Secret was applied");
    let dashboard = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), &ns)
        .get("vault-mesh-dashboard")
        .await
        .unwrap();
    let applied = dashboard.data.unwrap_or_default().remove("dashboard.json").unwrap_or_default();
    assert!(applied == long_value, "the {LONG_LINE}-byte line arrived whole ({} bytes came)", applied.len());

    let mut places = vec![("the screen".to_string(), screen)];
    for file in walk(&state) {
        places.push((file.display().to_string(), String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned()));
    }
    for (place, text) in &places {
        for needle in [SECRET_B64, SECRET_VALUE, "kind: Secret", PASSWORD, BEARER, TLS_KEY] {
            assert!(!text.contains(needle), "`{needle}` is in {place}:\n{text}");
        }
    }
    let transcript = places.iter().find(|(p, _)| p.ends_with("transcript.jsonl")).expect("a transcript");
    assert!(transcript.1.contains("lines of output to apply, not shown"), "the transcript says output was withheld");
    for shown in ["logged in with «secret»", "Bearer «secret»", "tls.key: «secret»"] {
        assert!(transcript.1.contains(shown), "the login step's output is there, masked: `{shown}`");
    }
    assert!(
        places.iter().any(|(p, _)| p.ends_with("stepwise.log")),
        "the -v run wrote its log: {:?}",
        places.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
