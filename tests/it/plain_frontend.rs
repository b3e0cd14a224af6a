//! The line-by-line front end in a real pseudo-terminal: a rehearsal of the NGINX
//! Service Mesh manual upgrade answered with keystrokes, as an operator would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_answered_at_the_terminal_prompts() {
    let tb = support::cluster();
    let client = tb.client().await;
    let meshctl = seed::mesh::deploy_1_6(tb, &[]);
    seed::seed(&client, &["plain-a".to_string()], 10).await;
    let before = seed::versions(&seed::live(&client, &["plain-a".to_string()]).await);

    let state = tempfile::tempdir().unwrap();
    let mut cmd = support::stepwise_command(tb, &tb.context, state.path());
    // Stdin must stay the pseudo-terminal, which a closed stdin would replace.
    cmd.stdin(std::process::Stdio::inherit())
        .args(["rehearse", "nginx-service-mesh", "--to", "1.7.0", "--procedure", "manual-meshctl", "--plain"])
        .args(["--set", &format!("target_meshctl={}", meshctl.new.display()), "--set", "meshed_namespaces=plain-a"])
        .env("TERM", "xterm");
    let transcript = tokio::task::spawn_blocking(move || drive(cmd)).await.unwrap();

    let after = seed::versions(&seed::live(&client, &["plain-a".to_string()]).await);
    assert_eq!(before, after, "the rehearsal changed nothing:\n{transcript}");
}

/// Answers every prompt of the rehearsal and returns what the screen showed.
fn drive(cmd: std::process::Command) -> String {
    let mut p = support::pty::Pty::spawn(cmd, "rehearsal via the terminal");
    // Variables with defaults: accept each with Enter. The deploy settings
    // come from the mesh's mesh-config, and the question says so.
    p.answer("namespace", "\r");
    p.answer("Found on the cluster, key mesh-config.json of ConfigMap nginx-mesh/mesh-config at /mtls/mode", "\r");
    for name in ["access_control_mode", "disable_auto_inject", "enabled_namespaces", "registry_server"] {
        p.answer(name, "\r");
    }
    for name in ["image_tag", "mesh_crds", "current_meshctl"] {
        p.answer(name, "\r");
    }
    p.answer("Manual step", "");
    p.answer("When you have done it", "\r");
    p.answer("is destructive", "nginx-mesh\r");
    p.answer("Run \"Deploy the target release\"?", "\r");
    p.answer("Run \"Restore the mesh custom resources\"?", "\r");
    p.answer("Run \"Re-roll the meshed workloads\"?", "\r");
    p.answer("Rehearsal report", "");
    let seen = p.finish();
    assert!(seen.contains("REHEARSAL"), "the mode is shown:\n{seen}");
    assert!(seen.contains("Unlocked: backup"), "the destructive step shows its proof:\n{seen}");
    assert!(seen.contains("validated 60 objects"), "the restore was rehearsed for every saved object:\n{seen}");
    seen
}
