//! stepwise as a kubectl plugin: the real kubectl of the test bed finds a
//! `kubectl-stepwise` link on PATH, and `kubectl stepwise ...` runs it with
//! the usage spelled the way the operator typed it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::path::Path;
use std::process::{Command, Output};

/// A directory holding only a `kubectl-stepwise` link to the built binary.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stepwise"), dir.path().join("kubectl-stepwise")).unwrap();
    dir
}

/// `kubectl ARGS` with the plugin directory first on PATH.
fn kubectl(tb: &support::TestCluster, plugins: &Path, args: &[&str]) -> Output {
    let mut path = vec![plugins.to_path_buf()];
    path.extend(std::env::split_paths(&tb.path_env()));
    let mut cmd: Command = tb.command(&tb.kubectl);
    cmd.env("PATH", std::env::join_paths(path).unwrap()).env("NO_COLOR", "1").args(args);
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn kubectl_finds_and_runs_the_plugin() {
    let tb = support::cluster();
    let plugins = plugin_dir();

    let listed = kubectl(tb, plugins.path(), &["plugin", "list"]);
    assert!(text(&listed.stdout).contains("kubectl-stepwise"), "{}{}", text(&listed.stdout), text(&listed.stderr));

    let version = kubectl(tb, plugins.path(), &["stepwise", "--version"]);
    assert!(version.status.success(), "{}", text(&version.stderr));
    assert!(text(&version.stdout).starts_with(&format!("stepwise {}", env!("CARGO_PKG_VERSION"))));

    let list = kubectl(tb, plugins.path(), &["stepwise", "list"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert!(text(&list.stdout).contains("(nginx-service-mesh)"), "{}", text(&list.stdout));
}

#[test]
fn help_and_usage_say_kubectl_stepwise() {
    let tb = support::cluster();
    let plugins = plugin_dir();
    let help = kubectl(tb, plugins.path(), &["stepwise", "plan", "--help"]);
    let help = text(&help.stdout);
    assert!(help.contains("Usage: kubectl stepwise plan"), "{help}");
    assert!(help.contains("  kubectl stepwise plan nginx-service-mesh"), "the examples too: {help}");

    let wrong = kubectl(tb, plugins.path(), &["stepwise", "no-such-command"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(text(&wrong.stderr).contains("Usage: kubectl stepwise"), "{}", text(&wrong.stderr));

    // The binary under its own name keeps its own name.
    let own = Command::new(env!("CARGO_BIN_EXE_stepwise")).args(["plan", "--help"]).output().unwrap();
    assert!(text(&own.stdout).contains("Usage: stepwise plan"), "{}", text(&own.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_acts_on_the_cluster_kubectl_would_use() {
    let tb = support::cluster();
    let client = tb.client().await;
    seed::install_crds(&tb.kubectl, &tb.kubeconfig, &tb.context);
    seed::seed(&client, &["plugin-a".to_string()], 2).await;
    let plugins = plugin_dir();
    let work = tempfile::tempdir().unwrap();
    let to = work.path().join("backup");
    let state = work.path().join("state");
    // KUBECONFIG comes from the environment, as kubectl's own commands take it.
    let args = ["stepwise", "--state-dir", state.to_str().unwrap(), "backup", "--product", "nginx-service-mesh"];
    let args = [&args[..], &["-n", "plugin-a", "--to", to.to_str().unwrap()]].concat();
    let out = kubectl(tb, plugins.path(), &args);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let manifest = std::fs::read_to_string(to.join("manifest.json")).unwrap();
    assert!(manifest.contains("trafficsplits"), "{manifest}");
}
