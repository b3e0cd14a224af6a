//! Test support: a real Kubernetes control plane for integration tests.
//!
//! The suite is one test binary (`tests/it`); its modules use this kit as
//! `crate::support`:
//!
//! ```ignore
//! let cluster = support::cluster();          // a cluster of this test's own
//! let client = cluster.client().await;       // admin kube::Client
//! let out = cluster.command("nginx-meshctl").arg("version").output().unwrap();
//! ```
//!
//! The first call of [`cluster`] (or [`multi_cluster`]) in the binary runs
//! `tests/cluster/testbed.sh up --clusters 2` with `--watch-pid` set to this
//! process: a detached reaper stops the clusters once the process has exited,
//! however it ended. Which cluster a test gets, and when a cluster is cleaned
//! for the next module, is [`lanes`]'s business. The node stand-in ([`node`])
//! runs on a thread of its own with its own tokio runtime, so it outlives each
//! `#[tokio::test]` runtime.
//!
//! A test that needs the cluster and cannot get one panics, saying why; it
//! never passes silently. The binaries are built by `tests/run`.
//!
//! `kube::Client` values belong to the tokio runtime they were made in, and
//! every `#[tokio::test]` has its own: make one per test with
//! [`TestCluster::client`], never share one across tests.
#![allow(dead_code)]

pub mod chart_repo;
#[cfg(test)]
pub mod lanes;
pub mod node;
#[cfg(test)]
mod reset;
// Test binaries only: the sandbox's cluster side shares this module and has no
// dev-dependencies.
#[cfg(test)]
pub mod pty;
#[cfg(test)]
pub mod tmux;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
#[cfg(not(test))]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Which Kubernetes release the test beds of this run use: the value of
/// `STEPWISE_TESTBED_K8S` (a built version, a minor such as `1.33`, `newest` or
/// `oldest`; tests/run sets it for its second pass), else the newest built.
/// `tests/cluster/testbed.sh versions` lists what is built.
pub fn k8s_release_wanted() -> String {
    std::env::var("STEPWISE_TESTBED_K8S").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "newest".into())
}

/// A running test bed: one or two clusters in one kubeconfig.
#[derive(Debug)]
pub struct TestCluster {
    /// Working directory of the test bed (certificates, logs, kubeconfig).
    pub dir: PathBuf,
    /// Kubeconfig holding every context below; TLS is verified.
    pub kubeconfig: PathBuf,
    /// Admin context of the first cluster (also the current context).
    pub context: String,
    /// Context of a user who may only get, list and watch.
    pub restricted_context: String,
    /// Admin context of the second cluster, for [`multi_cluster`].
    pub second_context: Option<String>,
    /// Read-only context of the second cluster.
    pub second_restricted_context: Option<String>,
    /// https://127.0.0.1:PORT of the first cluster's apiserver.
    pub server: String,
    /// https://127.0.0.1:PORT of the second cluster's apiserver, if any.
    pub second_server: Option<String>,
    /// Which cluster of the test bed `context` is (1 or 2): the one
    /// [`TestCluster::restart_apiserver`] and its kin act on.
    pub index: u8,
    /// The Kubernetes release the clusters run, e.g. `1.37.2`.
    pub k8s_version: String,
    /// Real kubectl (1.33) from the test bed's cache.
    pub kubectl: PathBuf,
    /// Real helm (4.x) from the test bed's cache.
    pub helm: PathBuf,
    /// Directory of the vendor-CLI stand-ins (nginx-meshctl, kong, kumactl).
    pub standins: PathBuf,
    /// Seconds `testbed.sh up` took until every cluster was ready.
    pub ready_seconds: f64,
}

/// Repository root (this crate's manifest directory).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture Helm chart under tests/fixtures/charts.
pub fn fixture_chart(name: &str) -> PathBuf {
    repo_dir().join("tests/fixtures/charts").join(name)
}

/// Where tests/cluster/build.sh caches binaries.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
    base.join("stepwise-testbed")
}

/// A cluster for this test alone among the modules: see [`lanes`]. Panics,
/// with the reason, if the test bed cannot start.
#[cfg(test)]
pub fn cluster() -> &'static TestCluster {
    lanes::take(lanes::Want::One)
}

/// Both clusters of the test bed (contexts `context` and `second_context`)
/// for this test alone among the modules: see [`lanes`].
#[cfg(test)]
pub fn multi_cluster() -> &'static TestCluster {
    lanes::take(lanes::Want::Both)
}

/// The test bed with one cluster, started on first use (the sandbox's cluster
/// side and the benchmarks, which are not the test suite).
#[cfg(not(test))]
pub fn cluster() -> &'static TestCluster {
    static ONE: OnceLock<Result<TestCluster, String>> = OnceLock::new();
    match ONE.get_or_init(|| TestCluster::start(1)) {
        Ok(c) => c,
        Err(e) => panic!("the test cluster is not available: {e}"),
    }
}

/// The helper programs every bed needs; testbed.sh checks the Kubernetes
/// binaries of the release it is asked for.
fn missing_tools() -> Vec<PathBuf> {
    let cache = cache_dir();
    [cache.join("tools/kubectl"), cache.join("tools/helm")].into_iter().filter(|p| !p.is_file()).collect()
}

impl TestCluster {
    pub(crate) fn start(clusters: u32) -> Result<TestCluster, String> {
        let missing = missing_tools();
        if !missing.is_empty() {
            return Err(format!(
                "the test bed is not built ({} missing); run `tests/run` once, which builds \
                 and caches it (or `tests/cluster/build.sh`)",
                missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ));
        }
        // tests/run points STEPWISE_TESTBED_ROOT at a directory it checks
        // for leftovers afterwards; elsewhere use the temp directory.
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::var_os("STEPWISE_TESTBED_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "test".into());
        let dir =
            root.join(format!("stepwise-testbed-{exe}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;

        let script = repo_dir().join("tests/cluster/testbed.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .arg("up")
            .arg("--dir")
            .arg(&dir)
            .arg("--clusters")
            .arg(clusters.to_string())
            .arg("--version")
            .arg(k8s_release_wanted())
            .arg("--watch-pid")
            .arg(std::process::id().to_string());
        // Keep the logs of a run for inspection when asked to (what the
        // tests check is the same either way).
        let keep_logs = std::env::var_os("STEPWISE_TESTBED_KEEP").is_some();
        if !keep_logs {
            cmd.arg("--purge");
        }
        // The script's progress (and the measured start time) goes straight
        // to the terminal; its stdout carries the KEY=VALUE results.
        let out = cmd
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} up failed ({}); its messages are above, the logs in {}/logs",
                script.display(),
                out.status,
                dir.display()
            ));
        }
        let vars: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let get = |k: &str| vars.get(k).cloned().ok_or_else(|| format!("testbed.sh up did not report {k}"));
        let cluster = TestCluster {
            dir: PathBuf::from(get("TESTBED_DIR")?),
            kubeconfig: PathBuf::from(get("KUBECONFIG")?),
            context: get("TESTBED_CONTEXT")?,
            restricted_context: get("TESTBED_CONTEXT_RESTRICTED")?,
            second_context: vars.get("TESTBED_CONTEXT_2").cloned(),
            second_restricted_context: vars.get("TESTBED_CONTEXT_2_RESTRICTED").cloned(),
            server: get("TESTBED_SERVER")?,
            second_server: vars.get("TESTBED_SERVER_2").cloned(),
            index: 1,
            k8s_version: get("TESTBED_K8S_VERSION")?,
            kubectl: PathBuf::from(get("TESTBED_KUBECTL")?),
            helm: PathBuf::from(get("TESTBED_HELM")?),
            standins: PathBuf::from(get("TESTBED_STANDINS")?),
            ready_seconds: get("TESTBED_READY_SECONDS")?.parse().unwrap_or(f64::NAN),
        };
        cluster.start_node_standins()?;
        Ok(cluster)
    }

    /// Cluster `n` (1 or 2) of this two-cluster bed on its own: its contexts
    /// only, in a kubeconfig of its own whose current context is its admin.
    pub(crate) fn view(&self, n: u8) -> Result<TestCluster, String> {
        let (context, restricted, server) = match n {
            1 => (self.context.clone(), self.restricted_context.clone(), self.server.clone()),
            _ => (
                self.second_context.clone().ok_or("a one-cluster bed has no cluster 2")?,
                self.second_restricted_context.clone().ok_or("a one-cluster bed has no cluster 2")?,
                self.second_server.clone().ok_or("a one-cluster bed has no cluster 2")?,
            ),
        };
        // A copy of the bed's kubeconfig (YAML, as kubectl writes it) without
        // the other cluster's contexts, clusters and users.
        let kubeconfig = self.dir.join(format!("kubeconfig-{n}"));
        std::fs::copy(&self.kubeconfig, &kubeconfig).map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
        let config = |args: &[&str]| -> Result<Vec<u8>, String> {
            let mut cmd = self.command(&self.kubectl);
            cmd.arg("--kubeconfig").arg(&kubeconfig).arg("config").args(args);
            let out = cmd.output().map_err(|e| format!("kubectl config {args:?}: {e}"))?;
            match out.status.success() {
                true => Ok(out.stdout),
                false => Err(format!("kubectl config {args:?}: {}", String::from_utf8_lossy(&out.stderr))),
            }
        };
        let whole: serde_json::Value = serde_json::from_slice(&config(&["view", "--raw", "-o", "json"])?)
            .map_err(|e| format!("kubectl config view: {e}"))?;
        let keep = [context.as_str(), restricted.as_str()];
        let entries = |list: &str| -> Vec<serde_json::Value> { whole[list].as_array().cloned().unwrap_or_default() };
        let mut kept = (Vec::new(), Vec::new());
        config(&["use-context", &context])?;
        for c in entries("contexts") {
            let name = c["name"].as_str().unwrap_or_default();
            if keep.contains(&name) {
                kept.0.extend(c["context"]["cluster"].as_str().map(String::from));
                kept.1.extend(c["context"]["user"].as_str().map(String::from));
            } else {
                config(&["delete-context", name])?;
            }
        }
        for (list, verb, kept) in [("clusters", "delete-cluster", &kept.0), ("users", "delete-user", &kept.1)] {
            for item in entries(list) {
                let name = item["name"].as_str().unwrap_or_default();
                if !kept.iter().any(|k| k == name) {
                    config(&[verb, name])?;
                }
            }
        }
        Ok(TestCluster {
            kubeconfig,
            context,
            restricted_context: restricted,
            second_context: None,
            second_restricted_context: None,
            server,
            second_server: None,
            index: n,
            dir: self.dir.clone(),
            k8s_version: self.k8s_version.clone(),
            kubectl: self.kubectl.clone(),
            helm: self.helm.clone(),
            standins: self.standins.clone(),
            ready_seconds: self.ready_seconds,
        })
    }

    /// Admin contexts of every cluster of this test bed.
    pub fn admin_contexts(&self) -> Vec<&str> {
        std::iter::once(self.context.as_str()).chain(self.second_context.as_deref()).collect()
    }

    /// One thread, one tokio runtime, one node stand-in task per cluster.
    fn start_node_standins(&self) -> Result<(), String> {
        let kubeconfig = self.kubeconfig.clone();
        let contexts: Vec<String> = self.admin_contexts().into_iter().map(String::from).collect();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("node-stand-in".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("tokio runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(async move {
                    let mut tasks = Vec::new();
                    for ctx in contexts {
                        match client_for(&kubeconfig, &ctx).await {
                            Ok(client) => {
                                let node = format!("{ctx}-node");
                                tasks.push(tokio::spawn(node::run(client, node)));
                            }
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                return;
                            }
                        }
                    }
                    let _ = ready_tx.send(Ok(()));
                    for t in tasks {
                        let _ = t.await;
                    }
                });
            })
            .map_err(|e| format!("cannot start the node stand-in thread: {e}"))?;
        ready_rx.recv().map_err(|_| "the node stand-in thread died".to_string())?
    }

    /// An admin client of the first cluster. Make one per test.
    pub async fn client(&self) -> Client {
        self.client_for(&self.context).await
    }

    /// A client of the read-only user of the first cluster.
    pub async fn restricted_client(&self) -> Client {
        self.client_for(&self.restricted_context).await
    }

    /// An admin client of the second cluster; panics on a one-cluster view.
    pub async fn second_client(&self) -> Client {
        let ctx = self.second_context.as_deref().expect("second_client needs support::multi_cluster()");
        self.client_for(ctx).await
    }

    /// A client for any context of this test bed's kubeconfig.
    pub async fn client_for(&self, context: &str) -> Client {
        client_for(&self.kubeconfig, context).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// PATH with the stand-ins first, then the cached helm/kubectl, then the
    /// inherited PATH.
    pub fn path_env(&self) -> OsString {
        let tools = self.kubectl.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut dirs = vec![self.standins.clone(), tools];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs).expect("PATH entries contain no separator")
    }

    /// The environment that points a program at this test bed: KUBECONFIG, PATH
    /// (stand-ins first) and the stand-ins' STEPWISE_KUBECTL / STEPWISE_HELM.
    /// Separate from [`TestCluster::command`] for programs started in a terminal.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("KUBECONFIG", self.kubeconfig.clone().into_os_string()),
            ("PATH", self.path_env()),
            ("STEPWISE_KUBECTL", self.kubectl.clone().into_os_string()),
            ("STEPWISE_HELM", self.helm.clone().into_os_string()),
        ]
    }

    /// A command set up to act on this test bed ([`TestCluster::env`]). Stdin is
    /// closed so nothing can wait for an answer.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env()).stdin(Stdio::null());
        cmd
    }

    /// A command for one of the stand-ins (resolved from the stand-in
    /// directory, not from PATH).
    pub fn standin(&self, name: &str) -> Command {
        self.command(self.standins.join(name))
    }

    /// Run the cached kubectl against `context`; panics with its output if
    /// it fails. Returns stdout.
    pub fn kubectl(&self, context: &str, args: &[&str]) -> String {
        let mut cmd = self.command(&self.kubectl);
        cmd.arg("--context").arg(context).args(args);
        run_ok(cmd)
    }

    /// Run the cached helm against `context`; panics with its output if it
    /// fails. Returns stdout.
    pub fn helm(&self, context: &str, args: &[&str]) -> String {
        let mut cmd = self.command(&self.helm);
        cmd.arg("--kube-context").arg(context).args(args);
        run_ok(cmd)
    }

    /// Create a namespace with a unique name starting with `prefix`, so that
    /// tests sharing the cluster do not step on each other.
    pub async fn namespace(&self, client: &Client, prefix: &str) -> String {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!("{prefix}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name }
        }))
        .expect("namespace object");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
        name
    }
}

/// SIGTERM to SIGKILL for [`TestCluster::restart_apiserver`] and
/// [`TestCluster::stop_apiserver`]. The apiserver stops listening at SIGTERM
/// but then waits up to a minute for open watches, so this only lengthens
/// the outage.
pub const APISERVER_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What `testbed.sh restart-apiserver` / `start-apiserver` measured.
#[derive(Debug, Clone, Default)]
pub struct ApiserverRestart {
    /// Process id of the new apiserver.
    pub pid: u32,
    /// From its start until `/readyz` answered.
    pub ready_seconds: f64,
    /// From the stop signal (it stops listening at once) until `/readyz`
    /// answered again; 0 for `start_apiserver`.
    pub unavailable_seconds: f64,
}

impl TestCluster {
    /// Restarts this cluster's kube-apiserver (the first of a two-cluster view) (`testbed.sh
    /// restart-apiserver`): SIGTERM, SIGKILL after [`APISERVER_GRACE`], down
    /// for `down` more, then started with the same command line (the
    /// kubeconfig and every client stay valid) and waited for until
    /// `/readyz`. Blocks for all of that: from async code call it through
    /// `tokio::task::spawn_blocking`. Panics, with the script's messages, if
    /// it fails. Restarts affect every test of the binary that uses this
    /// cluster at the time.
    pub fn restart_apiserver(&self, down: std::time::Duration) -> ApiserverRestart {
        self.restart_apiserver_with_grace(down, APISERVER_GRACE)
    }

    /// [`TestCluster::restart_apiserver`] with another SIGTERM-to-SIGKILL
    /// grace (whole seconds); zero sends SIGKILL alone, cutting off the
    /// requests it is serving, as a crash would.
    pub fn restart_apiserver_with_grace(
        &self,
        down: std::time::Duration,
        grace: std::time::Duration,
    ) -> ApiserverRestart {
        self.apiserver_script(
            "restart-apiserver",
            &["--down-seconds", &format!("{:.3}", down.as_secs_f64()), "--grace-seconds", &grace.as_secs().to_string()],
        )
    }

    /// Stops this cluster's kube-apiserver (SIGTERM, SIGKILL after
    /// [`APISERVER_GRACE`]); [`TestCluster::start_apiserver`] brings it back.
    /// Blocking, like [`TestCluster::restart_apiserver`].
    pub fn stop_apiserver(&self) {
        self.stop_apiserver_with_grace(APISERVER_GRACE);
    }

    /// [`TestCluster::stop_apiserver`] with another SIGTERM-to-SIGKILL grace;
    /// zero is a crash (SIGKILL alone).
    pub fn stop_apiserver_with_grace(&self, grace: std::time::Duration) {
        self.apiserver_script("stop-apiserver", &["--grace-seconds", &grace.as_secs().to_string()]);
    }

    /// Starts this cluster's kube-apiserver again after
    /// [`TestCluster::stop_apiserver`] and waits for `/readyz`. Blocking.
    pub fn start_apiserver(&self) -> ApiserverRestart {
        self.apiserver_script("start-apiserver", &[])
    }

    fn apiserver_script(&self, action: &str, args: &[&str]) -> ApiserverRestart {
        let script = repo_dir().join("tests/cluster/testbed.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script).arg(action).arg("--dir").arg(&self.dir).args(["--cluster", &self.index.to_string()]);
        cmd.args(args).stdin(Stdio::null());
        let out = run_ok(cmd);
        let vars: BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once('=')).collect();
        let num = |k: &str| vars.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        ApiserverRestart {
            pid: vars.get("APISERVER_PID").and_then(|v| v.parse().ok()).unwrap_or(0),
            ready_seconds: num("APISERVER_READY_SECONDS"),
            unavailable_seconds: num("APISERVER_UNAVAILABLE_SECONDS"),
        }
    }
}

/// What the vendor-CLI stand-ins recorded in the cluster, oldest first: one
/// line per action such as `kong migrations up`, from the ConfigMap
/// `stepwise-standin-log` in `namespace` (the stand-ins' namespace is
/// `$STEPWISE_STANDIN_NAMESPACE`, default `default`). Empty if none.
pub async fn standin_log(client: &Client, namespace: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api.get_opt("stepwise-standin-log").await {
        // Keys are nanosecond timestamps: the BTreeMap's order is the order of events.
        Ok(Some(cm)) => cm.data.unwrap_or_default().into_values().collect(),
        Ok(None) => Vec::new(),
        Err(e) => panic!("cannot read the stand-in log in namespace {namespace}: {e}"),
    }
}

async fn client_for(kubeconfig: &Path, context: &str) -> Result<Client, String> {
    let kc = Kubeconfig::read_from(kubeconfig).map_err(|e| format!("cannot read {}: {e}", kubeconfig.display()))?;
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let config =
        Config::from_custom_kubeconfig(kc, &options).await.map_err(|e| format!("kubeconfig context {context}: {e}"))?;
    Client::try_from(config).map_err(|e| format!("kube client for {context}: {e}"))
}

/// The stepwise binary under test. Cargo names it to integration tests at
/// compile time; the sandbox's cluster side (tests/sandbox/cluster.rs, which
/// shares this module but is a binary, not a test) finds it beside itself.
pub fn stepwise_bin() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_stepwise") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("stepwise")))
            .unwrap_or_else(|| PathBuf::from("stepwise")),
    }
}

/// Makes `cmd` start with the environment of a person's fresh shell: only
/// PATH, HOME, TERM and, where set, the cache and cargo/rustup locations.
/// Nothing of the test process (CARGO_BIN_EXE_*, CARGO_MANIFEST_DIR,
/// RUSTUP_TOOLCHAIN, STEPWISE_* ...) leaks into what a README command runs.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    cmd.env_clear();
    for key in ["PATH", "HOME", "TERM", "XDG_CACHE_HOME", "CARGO_HOME", "RUSTUP_HOME", "USER", "LANG"] {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd
}

/// The stepwise binary run to its end with `args` and plain output (NO_COLOR),
/// for commands that need no cluster.
pub fn stepwise_plain(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(stepwise_bin());
    cmd.args(args).env("NO_COLOR", "1");
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// The options every journey gives stepwise before its command: this test bed's
/// kubeconfig, `context`, and `state` for the journal, so no run reads the
/// operator's own kubeconfig or leaves sessions outside the test's folder.
pub fn stepwise_args(tb: &TestCluster, context: &str, state: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--kubeconfig".into(), tb.kubeconfig.clone().into(), "--context".into()];
    args.extend([context.into(), "--state-dir".into(), state.into()]);
    args
}

/// The stepwise binary as the journeys run it: [`TestCluster::command`] with
/// [`stepwise_args`], and NO_COLOR so its output is plain text to search.
/// Stdin is closed; [`pty::Pty::spawn`] gives it the terminal back.
pub fn stepwise_command(tb: &TestCluster, context: &str, state: &Path) -> Command {
    let mut cmd = tb.command(stepwise_bin());
    cmd.args(stepwise_args(tb, context, state)).env("NO_COLOR", "1");
    cmd
}

/// Runs `cmd` to its end with stdout going to the file `log` as it is written,
/// so a hung run can be watched there, and stderr captured. The returned stdout
/// is what the log holds.
pub fn output_via_log(mut cmd: Command, log: &Path) -> std::process::Output {
    cmd.stdout(std::fs::File::create(log).unwrap()).stderr(Stdio::piped());
    eprintln!("stepwise output: {}", log.display());
    let out = cmd.spawn().unwrap().wait_with_output().unwrap();
    std::process::Output { stdout: std::fs::read(log).unwrap_or_default(), ..out }
}

/// How a run of a program ended and what it printed.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: std::time::Duration,
    /// Still running at the limit, so it was killed.
    pub killed: bool,
}

impl Ran {
    /// What a program run to its end left, `started` when it was started.
    pub fn from_output(out: std::process::Output, started: std::time::Instant) -> Ran {
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: started.elapsed(),
            killed: false,
        }
    }

    /// It exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Exit code and both outputs, for failure messages.
    pub fn show(&self) -> String {
        format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `cmd` with stdin closed, killing it if it still runs after `limit`, so a
/// hang fails the test instead of stalling the suite. Its output goes to
/// `stepwise.out` and `stepwise.err` in `dir` as it is written, so a slow run
/// can be watched and a killed one still shows what it printed.
pub fn run_bounded(mut cmd: Command, dir: &Path, limit: std::time::Duration) -> Ran {
    let (out, err) = (dir.join("stepwise.out"), dir.join("stepwise.err"));
    let started = std::time::Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    Ran {
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        took: started.elapsed(),
        killed: status.is_none(),
    }
}

/// The words that run a program in a terminal pane and write its exit status
/// (128 + the signal's number when a signal ended it) to `status_file` as it
/// ends. Tests read that file rather than tmux's `#{pane_dead_status}`: tmux
/// 3.3 now and then misses the SIGCHLD of a pane's process and leaves it a
/// zombie whose status it never collects, though the pane shows as dead.
pub fn recording_exit(status_file: &Path) -> Vec<OsString> {
    let script = r#"status_file=$1; shift; "$@"; echo "$?" > "$status_file""#;
    vec!["/bin/sh".into(), "-c".into(), script.into(), "sh".into(), status_file.into()]
}

/// The exit status [`recording_exit`] wrote, once the program has ended.
pub fn recorded_exit(status_file: &Path) -> Option<i32> {
    std::fs::read_to_string(status_file).ok().and_then(|s| s.trim().parse().ok())
}

/// Run a command; panic with its output unless it succeeds. Returns stdout.
pub fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Poll `check` every 200 ms until it returns `Some`, or panic after
/// `timeout` naming `what`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A namespaced CRD of `group` with one version `v1` that keeps any content:
/// a made-up product's kind for the drills.
pub fn loose_crd(group: &str, plural: &str, kind: &str) -> serde_json::Value {
    let schema =
        serde_json::json!({"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}});
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "names": {"plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": schema}],
        }
    })
}

/// The one session folder under a state folder (hidden entries aside).
pub fn only_session(state: &Path) -> PathBuf {
    let sessions: Vec<PathBuf> = std::fs::read_dir(state.join("sessions"))
        .unwrap_or_else(|e| panic!("no sessions under {}: {e}", state.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap_or_default().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(sessions.len(), 1, "one session under {}: {sessions:?}", state.display());
    sessions.into_iter().next().unwrap()
}

/// The step records of the one session under a state folder.
pub fn session_steps(state: &Path) -> Vec<stepwise::journal::StepRecord> {
    let file = only_session(state).join("steps.json");
    serde_json::from_slice(&std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A file of the one session under a state folder, as text.
pub fn only_session_file(state: &Path, name: &str) -> String {
    let file = only_session(state).join(name);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Writes a made-up product's runbooks under `work/runbooks/ID/`: its
/// product file and each `(file name, procedure)`; returns `work/runbooks`,
/// for `--runbooks`.
pub fn write_runbooks(work: &Path, id: &str, product: &str, procedures: &[(&str, &str)]) -> PathBuf {
    let root = work.join("runbooks");
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    std::fs::write(dir.join("product.yaml"), product).unwrap();
    for (name, text) in procedures {
        std::fs::write(dir.join(name), text).unwrap();
    }
    root
}

/// The product file of a made-up product with two releases, one minor a hop.
pub fn two_release_product(id: &str, name: &str, description: &str) -> String {
    format!(
        "id: {id}\nname: {name}\ndescription: {description}\nreleases: [1.0.0, 1.1.0]\npath:\n  rules:\n    \
         - reason: One minor at a time.\n      max_minor: 1\n"
    )
}

/// `--set` for every NGINX Service Mesh deploy setting, for drills that run the
/// manual upgrade where no mesh is deployed to read them from (a run without a
/// terminal stops rather than guess them).
pub const NSM_SETTINGS: [&str; 10] = [
    "--set",
    "mtls_mode=permissive",
    "--set",
    "access_control_mode=allow",
    "--set",
    "disable_auto_inject=false",
    "--set",
    "enabled_namespaces=",
    "--set",
    "registry_server=docker-registry.nginx.com/nsm",
];
