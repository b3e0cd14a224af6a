//! The cluster side of the sandbox that `tests/sandbox/sandbox.sh` opens: a
//! test-bed cluster with the node stand-in, NGINX Service Mesh 1.6.0 deployed
//! by the nginx-meshctl stand-in, a few hundred custom resources of the six
//! kinds the manual upgrade saves, and workloads that carry the sidecar.
//!
//! It is test support, built only with `--features sandbox`, and reuses the
//! tests' own cluster, node and seed code so the sandbox behaves exactly like
//! the test bed. It writes `DIR/sandbox.env` once everything is in place and
//! then keeps the node stand-in and the finalizer controller running until it
//! is told to stop (SIGTERM, SIGINT, SIGHUP) or the process named by
//! `--exit-with` has gone. When it exits, the test bed's reaper stops the cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

#[path = "../it/seed/mod.rs"]
mod seed;
#[path = "../it/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Namespaces that get the custom resources.
const TEAMS: &[&str] = &["team-orders", "team-billing", "team-search", "team-ads", "team-edge"];
/// Namespaces whose workloads carry the sidecar and are re-rolled by the upgrade.
const MESHED: &[&str] = &["shop", "payments", "checkout"];

#[derive(Debug, Parser)]
#[command(name = "stepwise-sandbox", about = "The sandbox cluster behind tests/sandbox/sandbox.sh")]
struct Args {
    /// The sandbox directory; sandbox.env is written here when the sandbox is ready.
    #[arg(long)]
    dir: PathBuf,
    /// Stop once this process has exited (the script that opened the sandbox).
    #[arg(long, value_name = "PID")]
    exit_with: Option<i32>,
    /// Custom resources of each of the six kinds.
    #[arg(long, default_value_t = 50)]
    per_kind: usize,
}

fn main() -> ExitCode {
    // The seed and support code report trouble by panicking, as tests do; say
    // what it means here instead of leaving a bare backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("stepwise-sandbox: setting up the sandbox failed: {info}");
    }));
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stepwise-sandbox: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let finalizers = match set_up(&args).await {
            Ok(handle) => handle,
            Err(e) => {
                eprintln!("stepwise-sandbox: {e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_stop(args.exit_with).await;
        finalizers.abort();
        println!("stepwise-sandbox: stopping; the test bed's reaper stops the cluster");
        ExitCode::SUCCESS
    })
}

async fn set_up(args: &Args) -> Result<tokio::task::JoinHandle<()>, String> {
    say("starting a local Kubernetes control plane (the test bed)");
    let tb =
        tokio::task::spawn_blocking(support::cluster).await.map_err(|e| format!("the test bed start failed: {e}"))?;
    let bin = args.dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("cannot create {}: {e}", bin.display()))?;
    let current = seed::meshctl_at(&bin, "1.6.0", &tb.standins);
    let target = seed::meshctl_at(&bin, "1.7.0", &tb.standins);

    say("deploying NGINX Service Mesh 1.6.0 with nginx-meshctl");
    let deployed = tb.command(&current).args(["--namespace", "nginx-mesh", "deploy"]).output();
    match deployed {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Err(format!("nginx-meshctl deploy failed: {}", String::from_utf8_lossy(&out.stderr))),
        Err(e) => return Err(format!("cannot run {}: {e}", current.display())),
    }
    let client = tb.client().await;
    // Some seeded objects carry a finalizer; removing the mesh waits on it.
    let finalizers = seed::spawn_finalizer_controller(client.clone());

    let teams: Vec<String> = TEAMS.iter().map(|s| s.to_string()).collect();
    say(&format!("creating {} custom resources of six kinds in {} namespaces", 6 * args.per_kind, teams.len()));
    seed::seed(&client, &teams, args.per_kind).await;
    say(&format!("starting workloads with the sidecar in {}", MESHED.join(", ")));
    for ns in MESHED {
        seed::meshed_app(&client, ns).await;
    }
    write_env(&args.dir, tb, &current, &target)?;
    say("ready");
    Ok(finalizers)
}

fn say(what: &str) {
    println!("stepwise-sandbox: {what}");
}

/// `sandbox.env`, sourced by the script; written whole and renamed into place,
/// so its presence means the sandbox is ready.
fn write_env(dir: &Path, tb: &support::TestCluster, current: &Path, target: &Path) -> Result<(), String> {
    let tools = tb.kubectl.parent().map(Path::to_path_buf).unwrap_or_default();
    let vars = [
        ("SANDBOX_PID", std::process::id().to_string()),
        ("SANDBOX_BED_DIR", tb.dir.display().to_string()),
        ("SANDBOX_KUBECONFIG", tb.kubeconfig.display().to_string()),
        ("SANDBOX_CONTEXT", tb.context.clone()),
        ("SANDBOX_SERVER", tb.server.clone()),
        ("SANDBOX_STANDINS", tb.standins.display().to_string()),
        ("SANDBOX_TOOLS", tools.display().to_string()),
        ("SANDBOX_KUBECTL", tb.kubectl.display().to_string()),
        ("SANDBOX_HELM", tb.helm.display().to_string()),
        ("SANDBOX_CURRENT_MESHCTL", current.display().to_string()),
        ("SANDBOX_TARGET_MESHCTL", target.display().to_string()),
        ("SANDBOX_MESHED_NAMESPACES", MESHED.join(",")),
    ];
    let text: String = vars.iter().map(|(k, v)| format!("{k}='{}'\n", v.replace('\'', r"'\''"))).collect();
    let tmp = dir.join("sandbox.env.tmp");
    let path = dir.join("sandbox.env");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

async fn wait_for_stop(exit_with: Option<i32>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hangup.recv() => {}
        () = parent_gone(exit_with) => {}
    }
}

/// Resolves once `pid` no longer runs; never without one.
async fn parent_gone(pid: Option<i32>) {
    let Some(pid) = pid else { return std::future::pending().await };
    let pid = nix::unistd::Pid::from_raw(pid);
    while nix::sys::signal::kill(pid, None).is_ok() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
