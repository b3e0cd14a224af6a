//! A node stand-in: the part of a kubelet (and scheduler) that the tests need.
//!
//! The test bed runs no kubelet and no scheduler, so pods would stay Pending
//! forever, rollouts would never finish and deleted pods would hang in
//! Terminating. This loop registers one Node per cluster and then, a few
//! times a second:
//!
//! * binds every unscheduled pod to that Node through the Binding API
//!   (`POST pods/{name}/binding`, as the scheduler does);
//! * reports pods on the Node as Running and Ready (status subresource);
//! * finishes pods by label `stepwise-test/outcome`:
//!   `succeed` (the default for pods owned by a Job) -> Succeeded after
//!   `stepwise-test/run-seconds` (annotation, default 1 s), `fail` -> Failed
//!   likewise, `run` (the default for everything else) -> stays Running;
//! * deletes (grace period 0) pods that carry a deletionTimestamp, as the
//!   kubelet does once the containers have stopped;
//! * deletes Jobs labelled `stepwise-test/delete-when=no-sidecars` and
//!   annotated `stepwise-test/armed=true` once no pod labelled
//!   `stepwise-test/sidecar=true` is left. The nginx-meshctl stand-in starts
//!   such a Job (csi-driver-sentinel) in OpenShift mode and arms it on
//!   `remove`.
//!
//! Polling (every 200 ms) rather than watching keeps this short and makes it
//! recover from any error on the next tick.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::params::Preconditions;
use serde_json::json;

const TICK: Duration = Duration::from_millis(200);
const OUTCOME_LABEL: &str = "stepwise-test/outcome";
const RUN_SECONDS_ANNOTATION: &str = "stepwise-test/run-seconds";
const SENTINEL_SELECTOR: &str = "stepwise-test/delete-when=no-sidecars";
const SENTINEL_ARMED: &str = "stepwise-test/armed";
const SIDECAR_SELECTOR: &str = "stepwise-test/sidecar=true";

/// Which end a pod on the stand-in node comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Run,
    Succeed,
    Fail,
}

fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("format time")
}

/// Run the node stand-in for one cluster until the process exits. Errors are
/// reported on stderr and retried on the next tick.
pub async fn run(client: Client, node_name: String) {
    let mut registered = false;
    let mut started: HashMap<String, Instant> = HashMap::new();
    let mut last_error: Option<String> = None;
    loop {
        let result = async {
            if !registered {
                register_node(&client, &node_name).await?;
                registered = true;
            }
            tick(&client, &node_name, &mut started).await
        }
        .await;
        if let Err(e) = result {
            let msg = e.to_string();
            // One line per distinct error, not one per tick.
            if last_error.as_deref() != Some(msg.as_str()) {
                eprintln!("[node stand-in {node_name}] {msg}");
                last_error = Some(msg);
            }
        }
        tokio::time::sleep(TICK).await;
    }
}

async fn register_node(client: &Client, name: &str) -> kube::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    if nodes.get_opt(name).await?.is_none() {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "stepwise-test/stand-in": "true"
                }
            }
        }))
        .expect("node object");
        nodes.create(&PostParams::default(), &node).await?;
    }
    let capacity = json!({ "cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "100Gi" });
    let status = json!({
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [
                { "type": "InternalIP", "address": "127.0.0.1" },
                { "type": "Hostname", "address": name }
            ],
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "node stand-in of the stepwise test bed",
                "lastHeartbeatTime": now(),
                "lastTransitionTime": now()
            }],
            "nodeInfo": {
                "architecture": "amd64", "operatingSystem": "linux",
                "kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2",
                "containerRuntimeVersion": "stand-in://1", "kernelVersion": "",
                "osImage": "stand-in", "machineID": "", "systemUUID": "", "bootID": ""
            }
        }
    });
    nodes.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await?;
    Ok(())
}

async fn tick(client: &Client, node: &str, started: &mut HashMap<String, Instant>) -> kube::Result<()> {
    let pods_api: Api<Pod> = Api::all(client.clone());
    let pods = pods_api.list(&ListParams::default()).await?;
    let mut seen = HashSet::new();
    for pod in &pods.items {
        let meta = &pod.metadata;
        let (Some(ns), Some(name), Some(uid)) = (&meta.namespace, &meta.name, &meta.uid) else {
            continue;
        };
        seen.insert(uid.clone());
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();

        if meta.deletion_timestamp.is_some() {
            // The containers "stopped": finish the deletion now.
            let dp = DeleteParams::default()
                .grace_period(0)
                .preconditions(Preconditions { uid: Some(uid.clone()), resource_version: None });
            ignore_gone(api.delete(name, &dp).await.map(|_| ()))?;
            continue;
        }
        match node_name.as_deref() {
            None | Some("") => {
                bind(&api, name, node).await?;
                mark_running(&api, pod).await?;
                started.insert(uid.clone(), Instant::now());
            }
            Some(n) if n == node => match phase.as_str() {
                "Succeeded" | "Failed" => {}
                "Running" => {
                    let outcome = outcome(pod);
                    if outcome == Outcome::Run {
                        continue;
                    }
                    let since = *started.entry(uid.clone()).or_insert_with(Instant::now);
                    if since.elapsed() >= run_time(pod) {
                        mark_finished(&api, pod, outcome == Outcome::Succeed).await?;
                    }
                }
                _ => {
                    mark_running(&api, pod).await?;
                    started.insert(uid.clone(), Instant::now());
                }
            },
            Some(_) => {} // some other node's business
        }
    }
    started.retain(|uid, _| seen.contains(uid));
    delete_armed_sentinels(client, &pods.items).await
}

fn outcome(pod: &Pod) -> Outcome {
    let label = pod.metadata.labels.as_ref().and_then(|l| l.get(OUTCOME_LABEL)).map(String::as_str);
    match label {
        Some("succeed") => Outcome::Succeed,
        Some("fail") => Outcome::Fail,
        Some("run") => Outcome::Run,
        _ => {
            let owned_by_job = pod.metadata.owner_references.iter().flatten().any(|o| o.kind == "Job");
            if owned_by_job { Outcome::Succeed } else { Outcome::Run }
        }
    }
}

fn run_time(pod: &Pod) -> Duration {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RUN_SECONDS_ANNOTATION))
        .and_then(|v| v.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(1))
}

fn ignore_gone(r: kube::Result<()>) -> kube::Result<()> {
    match r {
        // Already gone, or changed under us: the next tick sees the new state.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        other => other,
    }
}

async fn bind(api: &Api<Pod>, name: &str, node: &str) -> kube::Result<()> {
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": { "name": name },
        "target": { "apiVersion": "v1", "kind": "Node", "name": node }
    });
    let r: kube::Result<serde_json::Value> =
        api.create_subresource("binding", name, &PostParams::default(), &binding).await;
    ignore_gone(r.map(|_| ()))
}

fn container_names(pod: &Pod) -> Vec<(String, String)> {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect()
}

fn condition(kind: &str, status: bool, at: &str) -> serde_json::Value {
    json!({ "type": kind, "status": if status { "True" } else { "False" }, "lastTransitionTime": at })
}

async fn mark_running(api: &Api<Pod>, pod: &Pod) -> kube::Result<()> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let at = now();
    let statuses: Vec<_> = container_names(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": format!("stand-in://{image}"),
                "containerID": format!("stand-in://{name}"),
                "ready": true, "started": true, "restartCount": 0,
                "state": { "running": { "startedAt": at } }
            })
        })
        .collect();
    let patch = json!({
        "status": {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "podIPs": [{ "ip": "127.0.0.1" }],
            "startTime": at,
            "conditions": [
                condition("Initialized", true, &at),
                condition("Ready", true, &at),
                condition("ContainersReady", true, &at),
                condition("PodScheduled", true, &at)
            ],
            "containerStatuses": statuses
        }
    });
    ignore_gone(api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ()))
}

async fn mark_finished(api: &Api<Pod>, pod: &Pod, success: bool) -> kube::Result<()> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let at = now();
    let exit_code = if success { 0 } else { 1 };
    let statuses: Vec<_> = container_names(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": format!("stand-in://{image}"),
                "containerID": format!("stand-in://{name}"),
                "ready": false, "started": false, "restartCount": 0,
                "state": { "terminated": {
                    "exitCode": exit_code,
                    "reason": if success { "Completed" } else { "Error" },
                    "startedAt": at, "finishedAt": at
                } }
            })
        })
        .collect();
    let patch = json!({
        "status": {
            "phase": if success { "Succeeded" } else { "Failed" },
            "conditions": [
                condition("Initialized", true, &at),
                condition("Ready", false, &at),
                condition("ContainersReady", false, &at),
                condition("PodScheduled", true, &at)
            ],
            "containerStatuses": statuses
        }
    });
    ignore_gone(api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ()))
}

async fn delete_armed_sentinels(client: &Client, pods: &[Pod]) -> kube::Result<()> {
    let jobs: Api<Job> = Api::all(client.clone());
    let sentinels = jobs.list(&ListParams::default().labels(SENTINEL_SELECTOR)).await?;
    if sentinels.items.is_empty() {
        return Ok(());
    }
    let (key, value) = SIDECAR_SELECTOR.split_once('=').expect("selector");
    let sidecars_left =
        pods.iter().any(|p| p.metadata.labels.as_ref().and_then(|l| l.get(key)).map(String::as_str) == Some(value));
    if sidecars_left {
        return Ok(());
    }
    for job in sentinels.items {
        let armed =
            job.metadata.annotations.as_ref().and_then(|a| a.get(SENTINEL_ARMED)).map(String::as_str) == Some("true");
        if !armed || job.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let (Some(ns), Some(name)) = (&job.metadata.namespace, &job.metadata.name) else {
            continue;
        };
        let api: Api<Job> = Api::namespaced(client.clone(), ns);
        ignore_gone(api.delete(name, &DeleteParams::background()).await.map(|_| ()))?;
    }
    Ok(())
}
