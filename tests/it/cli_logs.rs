//! `-v` / `-vv` logs through the real binary on the test bed: they land in
//! `<state dir>/logs/stepwise.log` with timestamps, also on standard error in
//! the line-by-line and headless modes, and without `-v` only warnings and
//! errors are written.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::path::Path;
use std::process::Output;

fn stepwise(tb: &support::TestCluster, state: &Path, args: &[&str]) -> Output {
    let mut cmd = tb.command(env!("CARGO_BIN_EXE_stepwise"));
    cmd.args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--state-dir"])
        .arg(state)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("STEPWISE_LOG");
    cmd.output().unwrap()
}

fn log_lines(state: &Path) -> Vec<String> {
    std::fs::read_to_string(state.join("logs/stepwise.log")).unwrap_or_default().lines().map(String::from).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `2026-11-22T06:30:05.955973Z  INFO ...`
fn timestamped(line: &str) -> bool {
    let re =
        regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z +(TRACE|DEBUG|INFO|WARN|ERROR) ").unwrap();
    re.is_match(line)
}

fn backup_args<'a>(context: &'a str, to: &'a Path) -> Vec<&'a str> {
    let to = to.to_str().unwrap();
    vec!["--context", context, "backup", "--product", "nginx-service-mesh", "-n", "logs-a", "--to", to]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_go_to_the_state_dir_and_to_stderr() {
    let tb = support::cluster();
    let client = tb.client().await;
    seed::install_crds(&tb.kubectl, &tb.kubeconfig, &tb.context);
    seed::seed(&client, &["logs-a".to_string()], 3).await;
    let state = tempfile::tempdir().unwrap();

    let first = state.path().join("backup-1");
    let out = stepwise(tb, state.path(), &[&["-v"], backup_args(&tb.context, &first).as_slice()].concat());
    assert!(out.status.success(), "backup failed:\n{}", text(&out.stderr));
    let lines = log_lines(state.path());
    assert!(!lines.is_empty(), "-v wrote nothing to {}/logs/stepwise.log", state.path().display());
    assert!(lines.iter().all(|l| timestamped(l)), "every line starts with a timestamp and a level:\n{lines:#?}");
    let connected = lines.iter().find(|l| l.contains("using the cluster")).expect("the connection is logged");
    assert!(connected.contains(&tb.server), "it names the server: {connected}");
    assert!(lines.iter().any(|l| l.contains("stepwise started")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains(" DEBUG ")), "-v is not -vv:\n{lines:#?}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("using the cluster"), "without a full screen -v also writes to stderr:\n{stderr}");

    // Without -v the same command adds nothing below a warning, and nothing on stderr.
    let before = lines.len();
    let second = state.path().join("backup-2");
    let out = stepwise(tb, state.path(), &backup_args(&tb.context, &second));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let quiet: Vec<String> = log_lines(state.path()).into_iter().skip(before).collect();
    assert!(
        quiet.iter().all(|l| l.contains(" WARN ") || l.contains(" ERROR ")),
        "only warnings and errors without -v:\n{quiet:#?}"
    );
    assert!(!text(&out.stderr).contains("using the cluster"), "{}", text(&out.stderr));

    // -vv adds details, appended to the same file.
    let third = state.path().join("backup-3");
    let out = stepwise(tb, state.path(), &[&["-vv"], backup_args(&tb.context, &third).as_slice()].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = log_lines(state.path());
    assert!(all.len() > before, "appended, not replaced");
    assert!(all.iter().skip(before).any(|l| l.contains(" DEBUG ")), "-vv logs details:\n{all:#?}");
}

#[test]
fn a_failure_is_logged_even_without_verbose() {
    let tb = support::cluster();
    let state = tempfile::tempdir().unwrap();
    let out = stepwise(tb, state.path(), &["--context", "no-such-context", "sessions"]);
    assert!(out.status.success(), "sessions needs no cluster: {}", text(&out.stderr));
    assert!(log_lines(state.path()).is_empty(), "a quiet success leaves no log");

    let to = state.path().join("backup");
    let out = stepwise(tb, state.path(), &backup_args("no-such-context", &to));
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    let lines = log_lines(state.path());
    let error = lines.iter().find(|l| l.contains(" ERROR ")).unwrap_or_else(|| panic!("no error line: {lines:#?}"));
    assert!(error.contains("no-such-context"), "the log says what failed: {error}");
    assert!(error.contains("exit_code=8"), "and how the command ended: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_logs_each_step_start_and_end() {
    let tb = support::cluster();
    seed::meshed_app(&tb.client().await, "logs-app").await;
    let tools = tempfile::tempdir().unwrap();
    let meshctl = seed::meshctl_at(tools.path(), "1.6.0", &tb.standins);
    support::run_ok({
        let mut c = tb.command(&meshctl);
        c.args(["--namespace", "nginx-mesh", "deploy"]);
        c
    });
    let state = tempfile::tempdir().unwrap();
    let args = ["-v", "--context", &tb.context, "rehearse", "nginx-service-mesh", "--to", "1.7.0", "--yes"];
    let args = [&args[..], &["--set", "meshed_namespaces=logs-app"]].concat();
    let out = stepwise(tb, state.path(), &args);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let lines = log_lines(state.path());
    assert!(lines.iter().any(|l| l.contains("detected") && l.contains("1.6.0")), "{lines:#?}");
    let started = lines.iter().filter(|l| l.contains("step started")).count();
    let ended = lines.iter().filter(|l| l.contains("step{") && l.contains("return=")).count();
    assert!(started > 0, "{lines:#?}");
    assert_eq!(started, ended, "every step that starts is logged when it ends:\n{lines:#?}");
    assert!(!text(&out.stdout).contains("step started"), "logs never mix into the operator's output");
}
