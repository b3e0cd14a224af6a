//! Bad input drill: what an operator can get wrong, or what the environment gets
//! wrong for them, through the real binary. Each case must end within a bound
//! (the run is killed and the case fails otherwise) with a message saying what
//! happened, where, and what to do, the exit code the README documents, and no
//! panic. Cases that need no cluster run all at once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use stepwise::journal::StepState;
use support::Ran;

/// Exit codes from the README (src/cli/exit.rs).
const USAGE: i32 = 2;
const REFUSED: i32 = 4;
const PREFLIGHT: i32 = 5;
const STEP_FAILED: i32 = 6;
const CLUSTER: i32 = 8;

/// A case that runs longer than this is a hang: it is killed and fails.
const BOUND: Duration = Duration::from_secs(60);

/// Runs `cmd` with a deadline and NO_COLOR; output goes to files in `dir`.
fn bounded(mut cmd: Command, dir: &Path) -> Ran {
    cmd.env("NO_COLOR", "1");
    support::run_bounded(cmd, dir, BOUND)
}

/// The problems with one run, empty when it ended as the case expects.
fn judge(case: &str, ran: &Ran, code: i32, says: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let both = format!("{}\n{}", ran.stdout, ran.stderr);
    if ran.took >= BOUND {
        problems.push(format!("{case}: still running after {BOUND:?}; killed"));
    }
    if ran.code != Some(code) {
        problems.push(format!("{case}: exit {:?}, the README documents {code}", ran.code));
    }
    for text in says {
        if !both.contains(text) {
            problems.push(format!("{case}: the message does not say `{text}`"));
        }
    }
    if both.contains("panicked") {
        problems.push(format!("{case}: it panicked"));
    }
    if !problems.is_empty() {
        problems.push(format!("{case} printed:\n--- stdout\n{}\n--- stderr\n{}", ran.stdout, ran.stderr));
    }
    problems
}

fn stepwise(state: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    cmd.arg("--state-dir").arg(state).args(args);
    cmd
}

/// A kubeconfig whose one context points at a port nothing listens on.
fn kubeconfig_to_nowhere(dir: &Path) -> (PathBuf, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = format!("https://127.0.0.1:{port}");
    let path = dir.join("nowhere.kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {{server: \"{server}\"}}\n\
             users:\n- name: someone\n  user: {{token: abc}}\ncontexts:\n- name: gone\n  context: {{cluster: gone, user: someone}}\n\
             current-context: gone\n"
        ),
    )
    .unwrap();
    (path, server)
}

#[test]
fn bad_requests_and_kubeconfigs_fail_fast_with_the_documented_code() {
    let dir = tempfile::tempdir().unwrap();
    let (nowhere, server) = kubeconfig_to_nowhere(dir.path());
    let garbage = dir.path().join("garbage.kubeconfig");
    std::fs::write(&garbage, "{{{ clusters: [not yaml").unwrap();
    let no_current = dir.path().join("no-current.kubeconfig");
    std::fs::write(&no_current, "apiVersion: v1\nkind: Config\nclusters: []\n").unwrap();
    // `backup --to` a folder that holds files, and one that holds an earlier
    // backup: refused before anything is read or written, the files kept.
    let occupied = dir.path().join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), "mine").unwrap();
    let earlier = dir.path().join("earlier-backup");
    std::fs::create_dir(&earlier).unwrap();
    std::fs::write(earlier.join("manifest.json"), "{}").unwrap();
    let (nowhere, garbage, no_current) =
        (nowhere.to_str().unwrap(), garbage.to_str().unwrap(), no_current.to_str().unwrap());
    let (occupied_s, earlier_s) = (occupied.to_str().unwrap(), earlier.to_str().unwrap());
    let backup = ["backup", "--product", "nginx-service-mesh", "--kubeconfig"];
    let run = ["run", "nginx-service-mesh", "--to", "1.7.0", "--yes"];
    let with = |extra: &[&'static str], args: &[&str]| -> Vec<String> {
        extra.iter().map(|s| s.to_string()).chain(args.iter().map(|s| s.to_string())).collect()
    };
    let cases: Vec<(&str, Vec<String>, i32, Vec<String>)> = vec![
        (
            "unknown product",
            with(&["plan", "no-such-product", "--from", "1.0.0", "--to", "2.0.0"], &[]),
            USAGE,
            vec!["unknown product `no-such-product`".into(), "known products:".into(), "nginx-service-mesh".into()],
        ),
        (
            "unknown product, run",
            with(&["run", "no-such-product", "--to", "2.0.0", "--yes"], &[]),
            USAGE,
            vec!["unknown product `no-such-product`".into(), "known products:".into()],
        ),
        (
            "downgrade",
            with(&["plan", "nginx-service-mesh", "--from", "1.7.0", "--to", "1.6.0"], &[]),
            REFUSED,
            vec!["1.6.0 is older than the installed 1.7.0".into(), "does not downgrade".into()],
        ),
        (
            "unknown release",
            with(&["plan", "nginx-service-mesh", "--from", "1.6.0", "--to", "9.9.0"], &[]),
            REFUSED,
            vec!["no release `9.9.0`".into(), "known releases: 1.0.0".into()],
        ),
        (
            "not a version",
            with(&["plan", "nginx-service-mesh", "--from", "1.6.0", "--to", "one.seven"], &[]),
            USAGE,
            vec!["`one.seven` is not a version".into(), "like 1.6.0".into()],
        ),
        (
            "missing kubeconfig",
            with(&run, &["--kubeconfig", "/nonexistent/stepwise-kubeconfig"]),
            CLUSTER,
            vec!["cannot read the kubeconfig /nonexistent/stepwise-kubeconfig".into(), "--kubeconfig FILE".into()],
        ),
        (
            "garbage kubeconfig",
            with(&run, &["--kubeconfig", garbage]),
            CLUSTER,
            vec![format!("cannot read the kubeconfig {garbage}"), "YAML".into()],
        ),
        (
            "kubeconfig without a current context",
            with(&run, &["--kubeconfig", no_current]),
            CLUSTER,
            vec![format!("cannot read the kubeconfig {no_current}"), "no current context".into(), "--context".into()],
        ),
        (
            "unknown context",
            with(&run, &["--kubeconfig", nowhere, "--context", "nope"]),
            CLUSTER,
            vec!["kube context `nope` is not in the kubeconfig".into(), "contexts there: gone".into()],
        ),
        (
            "backup into a folder that holds files",
            with(&backup, &[nowhere, "--to", occupied_s]),
            REFUSED,
            vec![format!("{occupied_s} already holds files; nothing was written"), "--force".into()],
        ),
        (
            "backup over an earlier backup",
            with(&backup, &[nowhere, "--to", earlier_s]),
            REFUSED,
            vec![format!("{earlier_s} already holds an earlier backup"), "Choose a new folder".into()],
        ),
        (
            "unreachable server, detecting the version",
            with(&run, &["--kubeconfig", nowhere]),
            CLUSTER,
            vec![format!("cannot reach the API server at {server}"), "check the server is up".into()],
        ),
        (
            "unreachable server, version given",
            with(&run, &["--kubeconfig", nowhere, "--from", "1.6.0"]),
            CLUSTER,
            vec![format!("cannot reach the API server at {server}"), "check the server is up".into()],
        ),
    ];
    let problems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(case, args, code, says)| {
                scope.spawn(move || {
                    let state = tempfile::tempdir().unwrap();
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let ran = bounded(stepwise(state.path(), &args), state.path());
                    let says: Vec<&str> = says.iter().map(String::as_str).collect();
                    judge(&format!("bad input drill, {case}"), &ran, *code, &says)
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(std::fs::read_to_string(occupied.join("notes.txt")).unwrap(), "mine", "the refused folder is kept");
    assert_eq!(std::fs::read_dir(&earlier).unwrap().count(), 1, "the earlier backup is kept as it was");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_missing_vendor_cli_is_listed_before_anything_runs() {
    const CASE: &str = "bad input drill, missing vendor CLI, preflight";
    let tb = support::cluster();
    let state = tempfile::tempdir().unwrap();
    let mut cmd = support::stepwise_command(tb, &tb.context, state.path());
    cmd.args(["run", "nginx-service-mesh", "--from", "1.6.0", "--to", "1.7.0", "--procedure", "manual-meshctl"])
        .args(["--yes", "--confirm", "nginx-mesh", "--set", "target_meshctl=/nonexistent/nginx-meshctl-1.7.0"])
        .args(["--set", "meshed_namespaces=shop"])
        .args(support::NSM_SETTINGS);
    // No stand-ins on PATH: nginx-meshctl is nowhere.
    cmd.env("PATH", "/usr/bin:/bin");
    let ran = bounded(cmd, state.path());
    let problems = judge(CASE, &ran, PREFLIGHT, &["nginx-meshctl", "/nonexistent/nginx-meshctl-1.7.0", "PATH"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for s in support::session_steps(state.path()) {
        assert_eq!(s.state, StepState::Pending, "{CASE}, step `{}`: ran although the preflight failed", s.step);
    }
}

/// A product of its own whose one procedure runs `{{vendor_cli}}` with a short timeout.
fn vendor_runbooks(dir: &Path) -> PathBuf {
    let root = dir.join("runbooks");
    let product = root.join("vendor-drill");
    std::fs::create_dir_all(&product).unwrap();
    std::fs::write(
        product.join("product.yaml"),
        "id: vendor-drill\nname: Vendor CLI drill\ndescription: A product upgraded by one vendor CLI call.\n\
         releases: [1.0.0, 1.1.0]\npath:\n  rules:\n    - {reason: Any newer release., from: \"*\", to: \"*\"}\n",
    )
    .unwrap();
    std::fs::write(
        product.join("upgrade.yaml"),
        "id: upgrade\nproduct: vendor-drill\ntitle: Upgrade with the vendor CLI\n\
         description: Runs the vendor CLI once.\ndisruption: low\napplies: {from: \"*\", to: \"*\"}\n\
         variables:\n  - name: vendor_cli\n    description: The vendor CLI to run.\n\
         steps:\n  - id: upgrade\n    title: Run the vendor upgrade\n    explain: The vendor CLI does the upgrade.\n\
         \x20   command:\n      argv: [\"{{vendor_cli}}\", upgrade, --to, \"{{to_version}}\"]\n      timeout: 3s\n",
    )
    .unwrap();
    root
}

/// An executable script in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

fn run_vendor(tb: &support::TestCluster, state: &Path, cli: &Path) -> Ran {
    // Both vendor drills upgrade the same product on the same cluster, and a
    // second session of a product is refused while the first holds its lease.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let runbooks = vendor_runbooks(state);
    let cli = format!("vendor_cli={}", cli.display());
    let mut cmd = support::stepwise_command(tb, &tb.context, state);
    cmd.args([
        "--runbooks",
        runbooks.to_str().unwrap(),
        "run",
        "vendor-drill",
        "--from",
        "1.0.0",
        "--to",
        "1.1.0",
        "--yes",
        "--set",
        &cli,
    ]);
    bounded(cmd, state)
}

#[test]
fn a_vendor_cli_that_exits_non_zero_fails_the_step_resumably() {
    const CASE: &str = "bad input drill, vendor CLI exits 3, step `upgrade`";
    let tb = support::cluster();
    let state = tempfile::tempdir().unwrap();
    let cli = script(
        state.path(),
        "vendor-fail",
        "echo 'upgrading...'\necho 'vendor: the license key has expired' >&2\nexit 3",
    );
    let ran = run_vendor(tb, state.path(), &cli);
    let argv = format!("{} upgrade --to 1.1.0", cli.display());
    let problems =
        judge(CASE, &ran, STEP_FAILED, &[&argv, "exit code 3", "the license key has expired", "stepwise resume"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let steps = support::session_steps(state.path());
    assert_eq!(steps[0].state, StepState::Failed, "{CASE}: the journal marks the step failed");
}

#[test]
fn a_vendor_cli_that_hangs_is_stopped_at_its_timeout() {
    const CASE: &str = "bad input drill, vendor CLI hangs past its 3s timeout, step `upgrade`";
    let tb = support::cluster();
    let state = tempfile::tempdir().unwrap();
    let pid_file = state.path().join("vendor.pid");
    let cli = script(state.path(), "vendor-hang", &format!("echo $$ > '{}'\nexec sleep 600", pid_file.display()));
    let ran = run_vendor(tb, state.path(), &cli);
    let problems = judge(CASE, &ran, STEP_FAILED, &["timed out", "stepwise resume"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(ran.took < Duration::from_secs(30), "{CASE}: took {:?} for a 3 s timeout", ran.took);
    let pid = std::fs::read_to_string(&pid_file).unwrap_or_else(|e| panic!("{CASE}: the CLI never started: {e}"));
    let alive = Path::new("/proc").join(pid.trim());
    assert!(!alive.exists(), "{CASE}: the hung CLI (pid {}) is still running", pid.trim());
    assert_eq!(
        support::session_steps(state.path())[0].state,
        StepState::Failed,
        "{CASE}: the journal marks the step failed"
    );
}
