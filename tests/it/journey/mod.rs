//! What the journeys that upgrade, kill and resume NGINX Service Mesh through
//! the real binary share: a fresh mesh, a session under test with its rounds of
//! stepwise processes, and checks on the journal and the cluster.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;
use stepwise::journal::{StepRecord, StepState};

use crate::{seed, support};

pub const RESUME: &[&str] = &["resume", "--yes", "--confirm", "nginx-mesh"];

/// The mesh at 1.6.0 with no custom resource at all: whatever mesh is there
/// (another journey's) is removed first, with everything of its kinds.
pub async fn fresh_mesh(journey: &str, tb: &support::TestCluster, client: &kube::Client, old: &Path, new: &Path) {
    let controller: Api<Deployment> = Api::namespaced(client.clone(), "nginx-mesh");
    if controller.get_opt("nginx-mesh-api").await.unwrap().is_some() {
        let mut c = tb.command(new);
        c.args(["--namespace", "nginx-mesh", "remove", "--yes"]);
        support::run_ok(c);
    }
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    if crds.get_opt(&seed::resource_names()[0]).await.unwrap().is_some() {
        seed::delete_crds(client, &tb.kubectl, &tb.kubeconfig, &tb.context).await;
    }
    let mut c = tb.command(old);
    c.args(["--namespace", "nginx-mesh", "deploy"]);
    support::run_ok(c);
    eprintln!("{journey}: NGINX Service Mesh 1.6.0 deployed afresh");
}

/// A mesh at 1.6.0 with seeded custom resources and meshed workloads, ready
/// for an upgrade: the two nginx-meshctl releases, the objects as they were,
/// and the finalizer controller (aborted when the scene is dropped).
pub struct Scene {
    pub client: kube::Client,
    _tools: tempfile::TempDir,
    pub old: PathBuf,
    pub new: PathBuf,
    pub namespaces: Vec<String>,
    pub before: BTreeMap<String, Value>,
    finalizers: tokio::task::JoinHandle<()>,
}

impl Scene {
    /// `per_kind` objects of each kind over `teams` namespaces named `{prefix}-team-N`,
    /// and a meshed workload in each of `meshed`.
    pub async fn set_up(
        journey: &str,
        tb: &support::TestCluster,
        prefix: &str,
        teams: usize,
        per_kind: usize,
        meshed: &[&str],
    ) -> Scene {
        let client = tb.client().await;
        let tools = tempfile::tempdir().unwrap();
        let old = seed::meshctl_at(tools.path(), "1.6.0", &tb.standins);
        let new = seed::meshctl_at(tools.path(), "1.7.0", &tb.standins);
        let finalizers = seed::spawn_finalizer_controller(client.clone());
        fresh_mesh(journey, tb, &client, &old, &new).await;
        let namespaces: Vec<String> = (0..teams).map(|i| format!("{prefix}-team-{i}")).collect();
        seed::seed(&client, &namespaces, per_kind).await;
        for ns in meshed {
            seed::meshed_app(&client, ns).await;
        }
        let before = seed::live(&client, &namespaces).await;
        assert_eq!(before.len(), seed::KINDS.len() * per_kind, "{journey}, setup: seeded");
        Scene { client, _tools: tools, old, new, namespaces, before, finalizers }
    }

    pub async fn live(&self) -> BTreeMap<String, Value> {
        seed::live(&self.client, &self.namespaces).await
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        self.finalizers.abort();
    }
}

/// How one stepwise process ended.
pub struct Ended {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub killed: bool,
}

impl Ended {
    pub fn show(&self) -> String {
        let how = if self.killed { "killed by the test".to_string() } else { self.status.to_string() };
        format!("{} ({how}):\n--- stdout\n{}\n--- stderr\n{}", self.what, self.stdout, self.stderr)
    }
}

/// A stepwise process running in the background, output going to files.
pub struct Running {
    pub what: String,
    pub child: Child,
    pub out: PathBuf,
    pub err: PathBuf,
}

impl Running {
    pub fn ended(self, status: ExitStatus, killed: bool) -> Ended {
        Ended {
            what: self.what,
            status,
            stdout: std::fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.err).unwrap_or_default(),
            killed,
        }
    }
}

/// One upgrade session under test: its state directory, its stand-in log, and
/// how many stepwise processes it has seen.
pub struct Upgrade<'a> {
    pub journey: &'static str,
    pub tb: &'a support::TestCluster,
    pub state: tempfile::TempDir,
    pub standin_log: PathBuf,
    pub rounds: usize,
}

impl<'a> Upgrade<'a> {
    pub fn new(journey: &'static str, tb: &'a support::TestCluster) -> Self {
        // STEPWISE_TESTBED_KEEP=1 keeps the test bed's logs; keep the sessions and outputs too.
        let keep = std::env::var_os("STEPWISE_TESTBED_KEEP").is_some();
        let state = tempfile::Builder::new().prefix("stepwise-journey-").disable_cleanup(keep).tempdir().unwrap();
        let standin_log = state.path().join("standin.log");
        Upgrade { journey, tb, state, standin_log, rounds: 0 }
    }

    pub fn run_args(old: &Path, new: &Path, meshed: &[&str]) -> Vec<String> {
        seed::mesh::manual_upgrade_args("run", old, new, meshed)
    }

    /// Starts the real binary (same --kubeconfig, --context and --state-dir every time).
    pub fn spawn(&mut self, args: &[impl AsRef<str>]) -> Running {
        self.spawn_with_env(args, &[])
    }

    /// Starts the real binary with extra environment variables.
    pub fn spawn_with_env(&mut self, args: &[impl AsRef<str>], env: &[(&str, String)]) -> Running {
        self.rounds += 1;
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let what = format!("round {}: stepwise {}", self.rounds, args[0]);
        let out = self.state.path().join(format!("round-{}.out", self.rounds));
        let err = self.state.path().join(format!("round-{}.err", self.rounds));
        let mut cmd = self.tb.command(env!("CARGO_BIN_EXE_stepwise"));
        cmd.args(["--kubeconfig", self.tb.kubeconfig.to_str().unwrap(), "--context", &self.tb.context])
            .arg("--state-dir")
            .arg(self.state.path())
            .args(&args)
            .env("NO_COLOR", "1")
            .env("STEPWISE_STANDIN_LOG", &self.standin_log)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        eprintln!("{}, {what}: output in {}", self.journey, out.display());
        Running { what, child: cmd.spawn().unwrap(), out, err }
    }

    /// Runs the binary to its end.
    pub fn run(&mut self, args: &[impl AsRef<str>]) -> Ended {
        let mut running = self.spawn(args);
        let status = running.child.wait().unwrap();
        running.ended(status, false)
    }

    /// Lets `running` go on until `moment` holds (polled every 10 ms), then
    /// kills it with SIGKILL. Panics, naming the moment, if the process ends
    /// first or the moment does not come within `timeout`.
    pub async fn kill_when<F, Fut>(&self, mut running: Running, moment: &str, timeout: Duration, mut ready: F) -> Ended
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if ready().await {
                running.child.kill().unwrap();
                let status = running.child.wait().unwrap();
                eprintln!("{}, {}: killed {moment}", self.journey, running.what);
                return running.ended(status, true);
            }
            if let Some(status) = running.child.try_wait().unwrap() {
                let ended = running.ended(status, false);
                panic!("{}, kill {moment}: stepwise ended before that moment came; {}", self.journey, ended.show());
            }
            if Instant::now() > deadline {
                let _ = running.child.kill();
                let status = running.child.wait().unwrap();
                let ended = running.ended(status, true);
                panic!("{}, kill {moment}: the moment did not come within {timeout:?}; {}", self.journey, ended.show());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn session(&self) -> PathBuf {
        let sessions: Vec<PathBuf> = std::fs::read_dir(self.state.path().join("sessions"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        let sessions: Vec<PathBuf> =
            sessions.into_iter().filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.')).collect();
        assert_eq!(sessions.len(), 1, "{}: expected one session, found {sessions:?}", self.journey);
        sessions.into_iter().next().unwrap()
    }

    /// The step records, or `None` while there is no session yet.
    pub fn try_steps(&self) -> Option<Vec<StepRecord>> {
        let sessions = std::fs::read_dir(self.state.path().join("sessions")).ok()?;
        let dir = sessions
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))?;
        serde_json::from_slice(&std::fs::read(dir.join("steps.json")).ok()?).ok()
    }

    pub fn steps(&self) -> Vec<StepRecord> {
        self.try_steps().unwrap_or_else(|| panic!("{}: the session has no readable steps.json", self.journey))
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.session().join("backups/backup-resources")
    }

    pub fn standin_actions(&self) -> Vec<String> {
        std::fs::read_to_string(&self.standin_log).unwrap_or_default().lines().map(String::from).collect()
    }

    /// `stepwise sessions` for this state directory.
    pub fn sessions(&self) -> String {
        let out = self
            .tb
            .command(env!("CARGO_BIN_EXE_stepwise"))
            .arg("--state-dir")
            .arg(self.state.path())
            .arg("sessions")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}, `stepwise sessions`: {}",
            self.journey,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

pub fn step<'s>(steps: &'s [StepRecord], id: &str, item: Option<&str>) -> &'s StepRecord {
    steps
        .iter()
        .find(|s| s.step == id && s.item.as_deref() == item)
        .unwrap_or_else(|| panic!("no step `{id}` {item:?} in the journal: has the runbook changed?"))
}

pub fn state_of(steps: &[StepRecord], id: &str) -> StepState {
    step(steps, id, None).state
}

/// How many objects of `kind` the cluster holds (0 while the kind is not served).
pub async fn live_count(client: &kube::Client, kind: &(&str, &str, &str, &str)) -> usize {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &seed::api_resource(kind));
    api.list(&ListParams::default()).await.map(|l| l.items.len()).unwrap_or(0)
}

pub async fn live_total(client: &kube::Client) -> usize {
    let mut n = 0;
    for kind in seed::KINDS {
        n += live_count(client, kind).await;
    }
    n
}

pub fn restarted_at(d: &Deployment) -> Option<String> {
    d.spec.as_ref()?.template.metadata.as_ref()?.annotations.as_ref()?.get("kubectl.kubernetes.io/restartedAt").cloned()
}

pub async fn control_plane_image(client: &kube::Client) -> Option<String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "nginx-mesh");
    api.get_opt("nginx-mesh-api").await.ok()??.spec?.template.spec?.containers.first()?.image.clone()
}

/// Every seeded object is back exactly once, with what must survive intact.
pub fn assert_all_back(journey: &str, before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) {
    let missing: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let extra: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{journey}, after the restore: {} objects missing (first {:?}), {} not seeded (first {:?})",
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
    for (key, original) in before {
        assert_eq!(seed::essence(&after[key]), seed::essence(original), "{journey}, after the restore: {key} changed");
    }
}
