//! The line-by-line front end in a real pseudo-terminal: a rehearsal of the NGINX
//! Service Mesh manual upgrade answered with keystrokes, as an operator would.

mod seed;
mod support;

use std::time::Duration;

use expectrl::{Expect, Session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_answered_at_the_terminal_prompts() {
    let tb = support::cluster();
    let client = tb.client().await;
    let tools = tempfile::tempdir().unwrap();
    let old = seed::meshctl_at(tools.path(), "1.6.0", &tb.standins);
    let new = seed::meshctl_at(tools.path(), "1.7.0", &tb.standins);
    support::run_ok({
        let mut c = tb.command(&old);
        c.args(["--namespace", "nginx-mesh", "deploy"]);
        c
    });
    seed::seed(&client, &["plain-a".to_string()], 10).await;
    let before = seed::versions(&seed::live(&client, &["plain-a".to_string()]).await);

    let state = tempfile::tempdir().unwrap();
    // Not tb.command(): that closes stdin, and here stdin must be the terminal.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stepwise"));
    cmd.env("PATH", tb.path_env()).env("STEPWISE_KUBECTL", &tb.kubectl).env("STEPWISE_HELM", &tb.helm);
    cmd.args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context, "--state-dir"])
        .arg(state.path())
        .args(["rehearse", "nginx-service-mesh", "--to", "1.7.0", "--procedure", "manual-meshctl", "--plain"])
        .args(["--set", &format!("target_meshctl={}", new.display()), "--set", "meshed_namespaces=plain-a"])
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let transcript = tokio::task::spawn_blocking(move || drive(cmd)).await.unwrap();

    let after = seed::versions(&seed::live(&client, &["plain-a".to_string()]).await);
    assert_eq!(before, after, "the rehearsal changed nothing:\n{transcript}");
}

/// Answers every prompt of the rehearsal and returns what the screen showed.
fn drive(cmd: std::process::Command) -> String {
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(90)));
    let mut seen = String::new();
    let mut step = |p: &mut expectrl::session::OsSession, needle: &str, answer: &str| {
        let found = p
            .expect(needle)
            .unwrap_or_else(|e| panic!("rehearsal via the terminal: waiting for `{needle}`: {e}\nso far:\n{seen}"));
        seen.push_str(&String::from_utf8_lossy(found.before()));
        seen.push_str(needle);
        p.send(answer).unwrap();
    };
    // Variables with defaults: accept each with Enter.
    for name in ["namespace", "mesh_crds", "current_meshctl"] {
        step(&mut p, name, "\r");
    }
    step(&mut p, "Manual step", "");
    step(&mut p, "When you have done it", "\r");
    step(&mut p, "is destructive", "nginx-mesh\r");
    step(&mut p, "Run \"Deploy the target release\"?", "\r");
    step(&mut p, "Run \"Restore the mesh custom resources\"?", "\r");
    step(&mut p, "Run \"Re-roll the meshed workloads\"?", "\r");
    step(&mut p, "Rehearsal report", "");
    let rest = p.expect(expectrl::Eof).map(|c| String::from_utf8_lossy(c.before()).into_owned()).unwrap_or_default();
    seen.push_str(&rest);
    assert!(seen.contains("REHEARSAL"), "the mode is shown:\n{seen}");
    assert!(seen.contains("Unlocked: backup"), "the destructive step shows its proof:\n{seen}");
    assert!(seen.contains("validated 60 objects"), "the restore was rehearsed for every saved object:\n{seen}");
    seen
}
