//! Shared by the Kong journeys (e2e_kong_mesh, e2e_kong_gateway): running the real
//! binary, reading what a session recorded, comparing a rehearsal's report with
//! what the real run then did, the resourceVersions a rehearsal must leave alone,
//! and meshed workloads.

#![allow(dead_code)]

pub mod revisions;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, Resource};
use serde_json::{Value, json};
use stepwise::journal::{StepRecord, StepState};

use crate::support::{self, Ran, TestCluster};

/// Runs `stepwise --kubeconfig K --context CONTEXT --state-dir STATE ARGS` with
/// `env` added to the test bed's. Its output also goes to `STATE/stepwise.log` as
/// it is written, so a hung run can be watched.
pub fn stepwise(tb: &TestCluster, context: &str, state: &Path, env: &[(&str, OsString)], args: &[&str]) -> Ran {
    let log = state.join(format!("stepwise-{}.log", args.first().copied().unwrap_or("run")));
    let mut cmd = support::stepwise_command(tb, context, state);
    cmd.args(args).envs(env.iter().map(|(k, v)| (*k, v)));
    let started = std::time::Instant::now();
    Ran::from_output(support::output_via_log(cmd, &log), started)
}

/// `stepwise rehearse ARGS` in `context`, in a state folder of its own; a failed
/// rehearsal fails the journey. Returns the output and the folder, which holds the
/// rehearsal's report for the real run to be compared with.
pub fn rehearse(
    journey: &str,
    tb: &TestCluster,
    context: &str,
    env: &[(&str, OsString)],
    args: &[&str],
) -> (Ran, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let out = stepwise(tb, context, state.path(), env, &[&["rehearse"][..], args].concat());
    assert!(out.success(), "{journey}, the rehearsal: {}", out.show());
    (out, state)
}

/// The real `stepwise run ARGS` in `context`, in a state folder of its own, while
/// `recorder` watches (it stops watching when the run ends, so what it saw is
/// the run's alone); a failed run fails the journey. Returns the output and the folder.
pub fn run_watched(
    journey: &str,
    tb: &TestCluster,
    context: &str,
    env: &[(&str, OsString)],
    args: &[&str],
    recorder: &revisions::Recorder,
) -> (Ran, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let out = stepwise(tb, context, state.path(), env, &[&["run"][..], args].concat());
    recorder.stop();
    assert!(out.success(), "{journey}, the run: {}", out.show());
    (out, state)
}

/// One session folder, as the journal left it.
pub struct Session {
    pub dir: PathBuf,
    pub meta: Value,
    pub steps: Vec<StepRecord>,
    pub transcript: Vec<Value>,
}

impl Session {
    /// The one session under `state`.
    pub fn only(state: &Path, journey: &str) -> Session {
        let sessions: Vec<PathBuf> = std::fs::read_dir(state.join("sessions"))
            .unwrap_or_else(|e| panic!("{journey}, the journal: no sessions folder under {}: {e}", state.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        assert_eq!(sessions.len(), 1, "{journey}, the journal: one session expected, found {sessions:?}");
        Session::open(&sessions[0])
    }

    pub fn open(dir: &Path) -> Session {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .unwrap_or_else(|e| panic!("the journal: cannot read {name} in {}: {e}", dir.display()))
        };
        let meta =
            serde_json::from_slice(&read("session.json")).unwrap_or_else(|e| panic!("the journal: session.json: {e}"));
        let steps =
            serde_json::from_slice(&read("steps.json")).unwrap_or_else(|e| panic!("the journal: steps.json: {e}"));
        let transcript = String::from_utf8_lossy(&read("transcript.jsonl"))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Session { dir: dir.to_path_buf(), meta, steps, transcript }
    }

    /// Fails the journey, naming the first step that is not done.
    pub fn assert_all_done(&self, journey: &str) {
        for s in &self.steps {
            assert_eq!(s.state, StepState::Done, "{journey}, step `{}` {:?}: not done: {:?}", s.step, s.item, s.error);
        }
    }

    /// The record of step `id` (for item `item` of a repeated step).
    pub fn step(&self, journey: &str, id: &str, item: Option<&str>) -> &StepRecord {
        self.steps.iter().find(|s| s.step == id && s.item.as_deref() == item).unwrap_or_else(|| {
            let all: Vec<String> = self.steps.iter().map(|s| format!("{} {:?}", s.step, s.item)).collect();
            panic!("{journey}, step `{id}` {item:?}: not in the journal, which has {all:?}")
        })
    }

    /// The plan's hops as the journal recorded them: (from, to, procedure).
    pub fn hops(&self) -> Vec<(String, String, String)> {
        self.meta["plan"]["hops"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| {
                let s = |k: &str| h[k].as_str().unwrap_or_default().to_string();
                (s("from"), s("to"), s("procedure"))
            })
            .collect()
    }

    pub fn report(&self, journey: &str) -> String {
        let path = self.dir.join("report.md");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{journey}, the report: cannot read {}: {e}", path.display()))
    }

    /// Titles of the acknowledgements asked and answered yes, in order, each with
    /// the time of its answer.
    pub fn acknowledged(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, e) in self.transcript.iter().enumerate() {
            if e["kind"] != "question" || e["payload"]["question"] != "acknowledge" {
                continue;
            }
            if let Some(answer) = self.transcript.get(i + 1).filter(|a| a["kind"] == "answer" && a["payload"] == "yes")
            {
                let title = e["payload"]["title"].as_str().unwrap_or_default().to_string();
                out.push((title, answer["at"].as_str().unwrap_or_default().to_string()));
            }
        }
        out
    }

    /// When the first step of hop `hop` started.
    pub fn hop_started(&self, hop: usize) -> Option<String> {
        self.steps.iter().filter(|s| s.hop == hop).filter_map(|s| s.started_at.clone()).min()
    }
}

/// The hops the shipped runbooks' planner chooses: (from, to, procedure).
pub fn planned_hops(product: &str, from: &str, to: &str, facts: &[(&str, &str)]) -> Vec<(String, String, String)> {
    let catalog = stepwise::catalog_files::load(&[]).expect("the shipped runbooks load");
    let request = stepwise::plan::Request {
        product: product.into(),
        from: Some(stepwise::runbook::Version::parse(from).unwrap()),
        to: to.into(),
        facts: facts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..stepwise::plan::Request::default()
    };
    let p = stepwise::plan::plan(&catalog, &request).expect("the planner finds a path");
    p.hops.iter().map(|h| (h.from.to_string(), h.to.to_string(), h.procedure.clone())).collect()
}

/// Every warning and breaking note of every hop was acknowledged before the
/// hop's first step started.
pub fn assert_notes_acknowledged(journey: &str, session: &Session) {
    let acknowledged = session.acknowledged();
    for (h, hop) in session.meta["plan"]["hops"].as_array().unwrap().iter().enumerate() {
        let started = session.hop_started(h).unwrap_or_else(|| panic!("{journey}, hop {}: never started", h + 1));
        for note in hop["notes"].as_array().unwrap().iter().filter(|n| n["severity"] != "info") {
            let title = note["title"].as_str().unwrap();
            let (_, at) = acknowledged.iter().find(|(t, _)| t.starts_with(title)).unwrap_or_else(|| {
                panic!(
                    "{journey}, hop {}: the {} note {title:?} was not acknowledged: {acknowledged:?}",
                    h + 1,
                    note["severity"]
                )
            });
            assert!(
                *at <= started,
                "{journey}, hop {}: {title:?} acknowledged at {at}, after the hop began at {started}",
                h + 1
            );
        }
    }
}

/// The rehearsal's report names the same steps as the real run, with the same
/// counts and commands.
pub fn assert_predicted(journey: &str, rehearsal: &Session, real: &Session) {
    let report = rehearsal.report(journey);
    eprintln!("{journey}: the rehearsal report\n{report}");
    let predicted = predicted(&report);
    let done = done(real);
    assert_eq!(predicted.len(), done.len(), "{journey}, the report: one row per step of the real run\n{report}");
    for (p, d) in predicted.iter().zip(&done) {
        assert_eq!(
            p, d,
            "{journey}, step \"{}\": the rehearsal predicted {:?}, the real run did {:?}\n{report}",
            d.0, p.2, d.2
        );
    }
}

/// The step of hop `hop` with id `id` (and item `item`), or a panic naming it.
pub fn step<'s>(journey: &str, session: &'s Session, hop: usize, id: &str, item: Option<&str>) -> &'s StepRecord {
    session
        .steps
        .iter()
        .find(|s| s.hop == hop && s.step == id && s.item.as_deref() == item)
        .unwrap_or_else(|| panic!("{journey}, step `{id}` {item:?} of hop {}: not in the journal", hop + 1))
}

/// Each step of `order` started only after the one before it ended, in every hop.
pub fn assert_in_order(journey: &str, session: &Session, order: &[(&str, Option<&str>)]) {
    let hops = session.hops().len();
    for h in 0..hops {
        for pair in order.windows(2) {
            let earlier = step(journey, session, h, pair[0].0, pair[0].1);
            let later = step(journey, session, h, pair[1].0, pair[1].1);
            let (began, ended) = (later.started_at.clone().unwrap(), earlier.ended_at.clone().unwrap());
            assert!(
                began >= ended,
                "{journey}, step `{}`: began at {began}, before step `{}` ended at {ended}",
                later.step,
                earlier.step
            );
        }
    }
}

/// What a step did, or in a rehearsal would do, in the terms both share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Saved(u64),
    Restored(u64),
    Restarted(u64),
    Applied(u64),
    /// A command, by its first three words (program, subcommand, object): the
    /// rehearsal runs or shows the dry-run form, whose flags differ.
    Ran(String),
    Nothing,
}

/// Reads a step's one-line outcome (a journal record or a report row).
pub fn effect(kind: &str, outcome: &str) -> Effect {
    let number_after = |words: &[&str]| -> Option<u64> {
        words.iter().find_map(|w| outcome.split(w).nth(1)?.split_whitespace().next()?.parse().ok())
    };
    let command = || {
        let quoted = outcome.split('`').nth(1).unwrap_or_default();
        Effect::Ran(quoted.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
    };
    match kind {
        "backup" => number_after(&["saved "]).map_or(Effect::Nothing, Effect::Saved),
        "restore" => number_after(&["validated ", "restored "]).map_or(Effect::Nothing, Effect::Restored),
        "rollout_restart" => number_after(&["would restart ", "restarted "]).map_or(Effect::Nothing, Effect::Restarted),
        "apply" => number_after(&["applied "]).map_or(Effect::Nothing, Effect::Applied),
        "command" => command(),
        _ => Effect::Nothing,
    }
}

/// The rows of a rehearsal report's step tables: (step title with its item, kind, effect).
pub fn predicted(report: &str) -> Vec<(String, String, Effect)> {
    report
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| # "))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let cell = |i: usize| cells.get(i).copied().unwrap_or_default().to_string();
            let result = cells[3.min(cells.len() - 1)..].join(" | ");
            (cell(1), cell(2), effect(&cell(2), &result))
        })
        .collect()
}

/// What a real session did, in the same shape as [`predicted`].
pub fn done(session: &Session) -> Vec<(String, String, Effect)> {
    session
        .steps
        .iter()
        .map(|s| {
            let title = match &s.item {
                Some(i) => format!("{} ({i})", s.title),
                None => s.title.clone(),
            };
            (title, s.kind.clone(), effect(&s.kind, s.outcome.as_deref().unwrap_or_default()))
        })
        .collect()
}

/// resourceVersions of everything an upgrade could write in `namespaces`
/// (workloads, replica sets, Jobs, Secrets such as Helm's releases, ConfigMaps,
/// the namespaces themselves) and of every CRD, keyed `Kind/namespace/name`.
pub async fn versions(client: &Client, namespaces: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for ns in namespaces {
        add::<Deployment>(&mut out, Api::namespaced(client.clone(), ns)).await;
        add::<ReplicaSet>(&mut out, Api::namespaced(client.clone(), ns)).await;
        add::<Job>(&mut out, Api::namespaced(client.clone(), ns)).await;
        add::<Secret>(&mut out, Api::namespaced(client.clone(), ns)).await;
        add::<ConfigMap>(&mut out, Api::namespaced(client.clone(), ns)).await;
        if let Ok(n) = Api::<Namespace>::all(client.clone()).get(ns).await {
            out.insert(format!("Namespace/{ns}"), n.metadata.resource_version.unwrap_or_default());
        }
    }
    add::<CustomResourceDefinition>(&mut out, Api::all(client.clone())).await;
    out
}

async fn add<K>(out: &mut BTreeMap<String, String>, api: Api<K>)
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    let list = api.list(&ListParams::default()).await.unwrap_or_else(|e| panic!("listing {}: {e}", K::kind(&())));
    for o in list.items {
        let m = o.meta();
        let key =
            format!("{}/{}/{}", K::kind(&()), m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or(""));
        out.insert(key, m.resource_version.clone().unwrap_or_default());
    }
}

/// [`versions`] once they hold still for a second: controllers finish writing
/// status after a change, and a rehearsal must be judged against a quiet cluster.
pub async fn quiet_versions(journey: &str, client: &Client, namespaces: &[&str]) -> BTreeMap<String, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut last = versions(client, namespaces).await;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = versions(client, namespaces).await;
        if now == last {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "{journey}, setup: the cluster did not settle in 90 s");
        last = now;
    }
}

/// The keys whose resourceVersion differs, or that appeared or went.
pub fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter().filter(|k| before.get(*k) != after.get(*k)).cloned().collect()
}

/// The label that turns on kuma-dp injection for a namespace.
pub const INJECTION_LABEL: &str = "kuma.io/sidecar-injection";

/// A namespace with a Deployment `web` of two replicas. When `meshed`, the
/// namespace turns injection on and the pods carry the kuma-dp sidecar of
/// `sidecar_version`, as the injector would have added it.
pub async fn workload(client: &Client, ns: &str, meshed: bool, sidecar_version: &str) {
    let mut labels = serde_json::Map::new();
    if meshed {
        labels.insert(INJECTION_LABEL.into(), json!("enabled"));
    }
    let namespace: Namespace = serde_json::from_value(json!({ "metadata": { "name": ns, "labels": labels } })).unwrap();
    match Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("cannot create namespace {ns}: {e}"),
    }
    let mut containers = vec![json!({ "name": "app", "image": "example/web:1.0" })];
    if meshed {
        containers.push(json!({ "name": "kuma-sidecar", "image": format!("kong/kuma-dp:{sidecar_version}") }));
    }
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web", "namespace": ns },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": containers }
            }
        }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap_or_else(|e| panic!("cannot create {ns}/web: {e}"));
}

/// Waits until Deployment `ns/name` has every replica updated and available.
pub async fn available(journey: &str, client: &Client, ns: &str, name: &str) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    support::wait_until(&format!("{journey}, setup: {ns}/{name} available"), Duration::from_secs(90), || async {
        let d = api.get(name).await.ok()?;
        let wanted = d.spec.as_ref()?.replicas.unwrap_or(1);
        let s = d.status?;
        (s.observed_generation == d.metadata.generation
            && s.available_replicas == Some(wanted)
            && s.updated_replicas == Some(wanted)
            && s.replicas == Some(wanted))
        .then_some(())
    })
    .await;
}

/// The pod-template `kubectl.kubernetes.io/restartedAt` of Deployment `ns/name`.
pub async fn restarted_at(client: &Client, ns: &str, name: &str) -> Option<String> {
    let d = Api::<Deployment>::namespaced(client.clone(), ns).get(name).await.ok()?;
    d.spec?.template.metadata?.annotations?.get("kubectl.kubernetes.io/restartedAt").cloned()
}

/// The image of the first container of Deployment `ns/name`.
pub async fn image(client: &Client, ns: &str, name: &str) -> String {
    let d = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("{ns}/{name}: {e}"));
    d.spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().next())
        .and_then(|c| c.image)
        .unwrap_or_default()
}

/// What the vendor-CLI stand-ins recorded in ConfigMap `stepwise-standin-log` of
/// `namespace`, oldest first: (time in the journal's format, action).
pub async fn standin_entries(client: &Client, namespace: &str) -> Vec<(String, String)> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let data = match api.get_opt("stepwise-standin-log").await {
        Ok(found) => found.and_then(|cm| cm.data).unwrap_or_default(),
        Err(e) => panic!("cannot read the stand-in log in namespace {namespace}: {e}"),
    };
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    // Keys are `NANOSECONDS-PID`, so the map's order is the order of the actions.
    data.into_iter()
        .map(|(key, line)| {
            let nanos: i128 = key.split('-').next().and_then(|n| n.parse().ok()).unwrap_or_default();
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
                .ok()
                .and_then(|t| t.format(&format).ok())
                .unwrap_or_default();
            (at, line)
        })
        .collect()
}
