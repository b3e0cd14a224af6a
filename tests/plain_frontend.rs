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
