//! The cluster operations behind rollout_restart, wait, detect, preflight and
//! apply: pure rules first, then against the real test bed (see
//! tests/cluster/README.md), in real mode and in rehearsal. Every cluster test
//! uses its own namespaces and names, because the tests share one cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use stepwise::base::{Mode, OpEvent, Reporter, Target};
use stepwise::cluster::apply::{self, ApplyOutcome, ApplyRequest};
use stepwise::cluster::detect::{self, DetectError, Finding};
use stepwise::cluster::preflight::{self, AccessNeed, Check, Status};
use stepwise::cluster::rollout::{self, Criteria, Listed, Rollout, RolloutRequest, WorkloadRef};
use stepwise::cluster::wait::{self, WaitTarget};
use stepwise::cluster::{ClusterError, Connection};
use stepwise::engine::detection;
use stepwise::runbook::Version;
use stepwise::runbook::model::{Product, WorkloadKind};

// ---------------------------------------------------------------- helpers

fn object<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("valid object")
}

/// A reporter that keeps every event for the test to inspect.
fn recorder() -> (Reporter, Arc<Mutex<Vec<OpEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (Arc::new(move |e| sink.lock().unwrap().push(e)), events)
}

fn lines(events: &Arc<Mutex<Vec<OpEvent>>>) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            OpEvent::Line(l) | OpEvent::Warning(l) => Some(l.clone()),
            OpEvent::Progress { .. } => None,
        })
        .collect()
}

async fn connect(context: &str) -> Connection {
    let cluster = support::cluster();
    Target { kubeconfig: Some(cluster.kubeconfig.clone()), context: Some(context.to_string()) }
        .connect()
        .await
        .expect("connect to the test bed")
}

fn deployment(ns: &str, name: &str, replicas: i32, template_annotations: Value, images: &[(&str, &str)]) -> Deployment {
    let containers: Vec<Value> = images.iter().map(|(n, i)| json!({ "name": n, "image": i })).collect();
    object(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name }, "annotations": template_annotations },
                "spec": { "containers": containers }
            }
        }
    }))
}

fn statefulset(ns: &str, name: &str, template_annotations: Value) -> StatefulSet {
    object(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name }, "annotations": template_annotations },
                "spec": { "containers": [{ "name": "app", "image": "example/app:1.0.0" }] }
            }
        }
    }))
}

/// Creates a pod once the fresh namespace's default ServiceAccount has its token
/// (until then the API server refuses pods).
async fn create_pod(pods: &Api<Pod>, pod: &Pod) {
    support::wait_until("the pod to be admitted", Duration::from_secs(30), || async {
        pods.create(&PostParams::default(), pod).await.ok()
    })
    .await;
}

/// The object once its resourceVersion has stayed the same for a second.
async fn settled(api: &Api<Deployment>, name: &str) -> Deployment {
    let mut last = api.get(name).await.unwrap();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = api.get(name).await.unwrap();
        if now.metadata.resource_version == last.metadata.resource_version {
            return now;
        }
        last = now;
    }
}

fn template_annotation(d: &Deployment, key: &str) -> Option<String> {
    d.spec.as_ref()?.template.metadata.as_ref()?.annotations.as_ref()?.get(key).cloned()
}

fn product(yaml: &str) -> Product {
    serde_saphyr::from_str(yaml).expect("test product parses")
}

/// How Helm stores a release in its Secret: JSON, gzipped, base64 (and the
/// Secret's own base64 on top, which the API layer removes).
fn helm_payload(release: &Value, gzip: bool) -> Vec<u8> {
    let json = serde_json::to_vec(release).unwrap();
    let bytes = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&json).unwrap();
        enc.finish().unwrap()
    } else {
        json
    };
    base64::engine::general_purpose::STANDARD.encode(bytes).into_bytes()
}

// ---------------------------------------------------------------- pure rules

#[test]
fn selection_follows_kinds_namespaces_annotation_and_skips_what_cannot_restart() {
    let annotated = json!({ "sidecar.example.com/inject": "true" });
    let mut paused = deployment("a", "paused", 1, annotated.clone(), &[("app", "x:1")]);
    paused.spec.as_mut().unwrap().paused = Some(true);
    let mut on_delete = statefulset("a", "db-ondelete", annotated.clone());
    on_delete.spec.as_mut().unwrap().update_strategy = Some(object(json!({ "type": "OnDelete" })));
    let ds: DaemonSet = object(json!({
        "metadata": { "name": "agent", "namespace": "a" },
        "spec": {
            "selector": { "matchLabels": { "app": "agent" } },
            "template": { "metadata": { "annotations": { "sidecar.example.com/inject": "false" } }, "spec": { "containers": [] } }
        }
    }));
    let listed = Listed {
        deployments: vec![
            deployment("a", "web", 1, annotated.clone(), &[("app", "x:1")]),
            deployment("a", "plain", 1, json!({}), &[("app", "x:1")]),
            deployment("b", "elsewhere", 1, annotated.clone(), &[("app", "x:1")]),
            paused,
        ],
        statefulsets: vec![statefulset("a", "db", annotated.clone()), on_delete],
        daemonsets: vec![ds],
        pods: Vec::new(),
    };
    let criteria = Criteria {
        namespaces: Some(vec!["a".into()]),
        annotation: Some("sidecar.example.com/inject".into()),
        ..Criteria::default()
    };
    let s = rollout::select(&criteria, &listed);
    let names: Vec<String> = s.restart.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["deployment a/web", "statefulset a/db", "daemonset a/agent"]);
    let skipped: Vec<String> = s.skipped.iter().map(|k| k.workload.name.clone()).collect();
    assert_eq!(skipped, ["paused", "db-ondelete"]);
    assert!(s.skipped[0].reason.contains("paused"), "{:?}", s.skipped);

    // key=value matches the value exactly, and kinds narrow the choice.
    let criteria = Criteria {
        annotation: Some("sidecar.example.com/inject=true".into()),
        kinds: vec![WorkloadKind::Deployment],
        ..Criteria::default()
    };
    let names: Vec<String> = rollout::select(&criteria, &listed).restart.iter().map(|w| w.name.clone()).collect();
    assert_eq!(names, ["web", "elsewhere"]);
}

#[test]
fn only_live_pods_no_controller_owns_are_chosen_for_deletion_and_only_when_asked() {
    let pod = |name: &str, extra: Value| -> Pod {
        let mut v = json!({ "metadata": { "name": name, "namespace": "a", "annotations": { "inject": "yes" } } });
        merge(&mut v, extra);
        object(v)
    };
    let owner = json!({ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "1", "controller": true });
    let listed = Listed {
        pods: vec![
            pod("bare", json!({})),
            pod("owned", json!({ "metadata": { "ownerReferences": [owner] } })),
            pod("going", json!({ "metadata": { "deletionTimestamp": "2024-01-01T00:00:00Z" } })),
            pod("done", json!({ "status": { "phase": "Succeeded" } })),
            pod("mirror", json!({ "metadata": { "annotations": { "kubernetes.io/config.mirror": "x" } } })),
            pod("other", json!({ "metadata": { "annotations": { "inject": null } } })),
        ],
        ..Listed::default()
    };
    let mut criteria = Criteria { annotation: Some("inject".into()), ..Criteria::default() };
    assert!(rollout::select(&criteria, &listed).delete_pods.is_empty());
    criteria.delete_unowned_pods = true;
    let names: Vec<String> = rollout::select(&criteria, &listed).delete_pods.iter().map(|p| p.name.clone()).collect();
    assert_eq!(names, ["bare"]);
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[test]
fn deployment_rollout_rules_match_kubectl_rollout_status() {
    let d = |generation: i64, status: Value| -> Deployment {
        object(json!({
            "metadata": { "name": "web", "generation": generation },
            "spec": { "replicas": 3, "selector": {}, "template": {} },
            "status": status
        }))
    };
    let pending = |r: Rollout| matches!(r, Rollout::Pending(_));
    assert!(pending(rollout::deployment_rollout(&d(2, json!({ "observedGeneration": 1 })))));
    let r = rollout::deployment_rollout(&d(2, json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 1 })));
    assert_eq!(r, Rollout::Pending("1 out of 3 new replicas have been updated".into()));
    let r = rollout::deployment_rollout(&d(2, json!({ "observedGeneration": 2, "replicas": 4, "updatedReplicas": 3 })));
    assert_eq!(r, Rollout::Pending("1 old replicas are pending termination".into()));
    let r = rollout::deployment_rollout(&d(
        2,
        json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2 }),
    ));
    assert_eq!(r, Rollout::Pending("2 of 3 updated replicas are available".into()));
    let done = json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3 });
    assert!(matches!(rollout::deployment_rollout(&d(2, done)), Rollout::Complete(_)));
    let stuck = json!({ "observedGeneration": 2, "conditions": [
        { "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded" } ] });
    assert!(matches!(rollout::deployment_rollout(&d(2, stuck)), Rollout::Failed(m) if m.contains("progress deadline")));
}

#[test]
fn statefulset_and_daemonset_rollout_rules_match_kubectl_rollout_status() {
    let sts = |status: Value| -> StatefulSet {
        object(json!({
            "metadata": { "name": "db", "generation": 3 },
            "spec": { "replicas": 2, "serviceName": "db", "selector": {}, "template": {},
                      "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } } },
            "status": status
        }))
    };
    let base = json!({ "observedGeneration": 3, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 2,
                       "currentRevision": "db-1", "updateRevision": "db-2" });
    assert!(matches!(
        rollout::statefulset_rollout(&sts(json!({ "observedGeneration": 2, "replicas": 2 }))),
        Rollout::Pending(_)
    ));
    let mut not_ready = base.clone();
    not_ready["readyReplicas"] = json!(1);
    assert_eq!(
        rollout::statefulset_rollout(&sts(not_ready)),
        Rollout::Pending("waiting for 1 pods to be ready".into())
    );
    assert!(matches!(rollout::statefulset_rollout(&sts(base.clone())), Rollout::Pending(m) if m.contains("db-2")));
    let mut done = base;
    done["currentRevision"] = json!("db-2");
    assert!(matches!(rollout::statefulset_rollout(&sts(done)), Rollout::Complete(_)));

    let ds = |status: Value| -> DaemonSet {
        object(json!({ "metadata": { "name": "agent", "generation": 5 },
                       "spec": { "selector": {}, "template": {}, "updateStrategy": { "type": "RollingUpdate" } },
                       "status": status }))
    };
    let s = |upd: i32, avail: i32| {
        json!({ "observedGeneration": 5, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
                "numberMisscheduled": 0, "numberReady": 3, "updatedNumberScheduled": upd, "numberAvailable": avail })
    };
    assert_eq!(
        rollout::daemonset_rollout(&ds(s(1, 3))),
        Rollout::Pending("1 out of 3 new pods have been updated".into())
    );
    assert_eq!(rollout::daemonset_rollout(&ds(s(3, 2))), Rollout::Pending("2 of 3 updated pods are available".into()));
    assert!(matches!(rollout::daemonset_rollout(&ds(s(3, 3))), Rollout::Complete(_)));
}

#[test]
fn the_restart_patch_is_kubectls() {
    let patch = rollout::restart_patch("2024-05-06T07:08:09Z");
    assert_eq!(
        patch,
        json!({ "spec": { "template": { "metadata": { "annotations": {
            "kubectl.kubernetes.io/restartedAt": "2024-05-06T07:08:09Z" } } } } })
    );
}

#[test]
fn image_tags_are_read_past_digests_and_registry_ports() {
    assert_eq!(detect::image_tag("nginx/nginx-mesh-api:1.6.0"), Some("1.6.0"));
    assert_eq!(detect::image_tag("docker.io/kong:2.8.1@sha256:0123abcd"), Some("2.8.1"));
    assert_eq!(detect::image_tag("host:5000/team/app:v1.2.3"), Some("v1.2.3"));
    assert_eq!(detect::image_tag("host:5000/team/app"), None);
    assert_eq!(detect::image_tag("host:5000/team/app@sha256:0123abcd"), None);
    assert_eq!(detect::image_tag("app"), None);
    assert_eq!(detect::image_tag("app:"), None);
}

#[test]
fn a_deployment_with_containers_of_different_tags_is_ambiguous_unless_one_is_named() {
    let d = deployment("ns", "cp", 1, json!({}), &[("proxy", "kong:2.8.1"), ("ingress-controller", "kic:2.3.0")]);
    assert!(matches!(detect::deployment_finding(&d, None), Finding::Conflicting(m) if m.contains("kic:2.3.0")));
    match detect::deployment_finding(&d, Some("proxy")) {
        Finding::Found { version, source } => {
            assert_eq!(version, Version::parse("2.8.1").unwrap());
            assert!(source.contains("`proxy`") && source.contains("Deployment ns/cp"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(detect::deployment_finding(&d, Some("nope")), Finding::Unreadable(m) if m.contains("proxy, ingress-controller"))
    );
    let latest = deployment("ns", "cp", 1, json!({}), &[("app", "repo/app:latest")]);
    assert!(matches!(detect::deployment_finding(&latest, None), Finding::Unreadable(m) if m.contains("latest")));
}

#[test]
fn helm_releases_decode_gzipped_and_plain() {
    let release = json!({
        "name": "nsm", "version": 4, "info": { "status": "deployed" },
        "chart": { "metadata": { "name": "nginx-service-mesh", "version": "1.7.1", "appVersion": "1.7.0" } }
    });
    for gzip in [true, false] {
        let info = detect::decode_release(&helm_payload(&release, gzip)).unwrap();
        assert_eq!(info.revision, 4);
        assert_eq!(info.status, "deployed");
        assert_eq!(info.chart_name, "nginx-service-mesh");
        assert_eq!(info.chart_version.as_deref(), Some("1.7.1"));
        assert_eq!(info.app_version.as_deref(), Some("1.7.0"));
    }
    assert!(detect::decode_release(b"not base64 !!").unwrap_err().contains("base64"));
    let garbage = base64::engine::general_purpose::STANDARD.encode([0x1f, 0x8b, 0, 1, 2]);
    assert!(detect::decode_release(garbage.as_bytes()).unwrap_err().contains("gzip"));
}

#[test]
fn detection_findings_conclude_in_order_and_name_not_installed_and_ambiguous_apart() {
    let found = |v: &str, s: &str| Finding::Found { version: Version::parse(v).unwrap(), source: s.into() };
    let sets = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
    let d = detect::conclude(
        "Mesh",
        vec![
            (Finding::Absent("no Helm release".into()), sets("install_method", "helm")),
            (found("1.6.0", "image"), sets("install_method", "meshctl")),
            (found("1.6", "other"), sets("install_method", "other")),
        ],
    )
    .unwrap();
    assert_eq!(d.version, Version::parse("1.6.0").unwrap());
    assert_eq!(d.source, "image");
    assert_eq!(d.confirmed_by, ["other"]);
    assert_eq!(d.facts, sets("install_method", "meshctl"));

    let e = detect::conclude(
        "Mesh",
        vec![(found("1.6.0", "helm"), BTreeMap::new()), (found("1.7.0", "image"), BTreeMap::new())],
    )
    .unwrap_err();
    assert!(matches!(e, DetectError::Ambiguous { .. }));
    assert!(e.to_string().contains("helm says 1.6.0") && e.to_string().contains("image says 1.7.0"), "{e}");

    let e = detect::conclude("Mesh", vec![(Finding::Absent("no Deployment x/y".into()), BTreeMap::new())]).unwrap_err();
    assert_eq!(e.to_string(), "Mesh does not appear to be installed: no Deployment x/y");

    let e = detect::conclude("Mesh", vec![(Finding::Unreadable("tag latest".into()), BTreeMap::new())]).unwrap_err();
    assert!(matches!(e, DetectError::Unreadable { .. }), "{e}");
}

#[test]
fn manifests_split_into_documents_skipping_empty_ones_and_unwrapping_lists() {
    let yaml = "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n\
                apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n\
                - {apiVersion: v1, kind: Secret, metadata: {name: c}}\n";
    let docs = apply::parse_documents(yaml, "test").unwrap();
    let names: Vec<&str> = docs.iter().map(|d| d["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let e = apply::parse_documents("a: [1\n", "bad.yaml").unwrap_err();
    assert!(e.to_string().contains("bad.yaml"), "{e}");
}

#[test]
fn wait_targets_describe_themselves() {
    let target = WaitTarget::Gone {
        resource: "jobs.batch".into(),
        namespace: Some("nginx-mesh".into()),
        name: "csi-driver-sentinel".into(),
    };
    assert_eq!(target.describe(), "would wait until jobs.batch nginx-mesh/csi-driver-sentinel is gone");
    let crd = WaitTarget::CrdEstablished { name: "meshes.kuma.io".into() };
    assert_eq!(crd.condition(), "CRD meshes.kuma.io is Established");
}

#[test]
fn access_needs_come_from_the_step_kinds() {
    let backup = preflight::backup_needs(&["trafficsplits.split.smi-spec.io".into()], Some(&["a".into(), "b".into()]));
    assert!(backup.contains(&AccessNeed::new("list", "trafficsplits.split.smi-spec.io", Some("b"))));
    let rollout = preflight::rollout_restart_needs(None, &[WorkloadKind::Deployment], true);
    assert!(rollout.contains(&AccessNeed::new("patch", "deployments.apps", None)));
    assert!(rollout.contains(&AccessNeed::new("delete", "pods", None)));
    assert!(!rollout.iter().any(|n| n.resource == "statefulsets"));
    let wait = preflight::wait_needs(&WaitTarget::Gone {
        resource: "jobs.batch".into(),
        namespace: Some("m".into()),
        name: "j".into(),
    });
    assert_eq!(wait.len(), 3);
    assert_eq!(wait[2].to_string(), "watch jobs.batch in namespace m");
    let crd = AccessNeed::new("delete", "customresourcedefinitions.apiextensions.k8s.io", None);
    assert_eq!(crd.to_string(), "delete customresourcedefinitions.apiextensions.k8s.io (cluster-wide)");
    let restore = preflight::restore_needs(&["meshes.kuma.io".into()], None, Mode::Real);
    assert!(restore.contains(&AccessNeed::new("create", "meshes.kuma.io", None)));
    let twice = [restore.clone(), restore.clone()].concat();
    assert_eq!(preflight::dedup(twice).len(), preflight::dedup(restore).len());
}

// ---------------------------------------------------------------- against the test bed

#[tokio::test]
async fn rollout_restart_by_annotation_sets_kubectls_annotation_and_waits_for_the_rollouts() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "rollout-real").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();
    let inject = json!({ "sidecar.example.com/inject": "true" });
    deployments.create(&pp, &deployment(&ns, "web", 2, inject.clone(), &[("app", "example/web:1.0.0")])).await.unwrap();
    deployments.create(&pp, &deployment(&ns, "plain", 1, json!({}), &[("app", "example/plain:1.0.0")])).await.unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), &ns)
        .create(&pp, &statefulset(&ns, "db", inject.clone()))
        .await
        .unwrap();
    let agent: DaemonSet = object(json!({
        "metadata": { "name": "agent" },
        "spec": {
            "selector": { "matchLabels": { "app": "agent" } },
            "template": {
                "metadata": { "labels": { "app": "agent" }, "annotations": inject },
                "spec": {
                    "containers": [{ "name": "agent", "image": "example/agent:1.0.0" }],
                    // The stand-in node sends no heartbeats, so it gets tainted unreachable.
                    "tolerations": [{ "operator": "Exists" }]
                }
            }
        }
    }));
    Api::<DaemonSet>::namespaced(client.clone(), &ns).create(&pp, &agent).await.unwrap();
    let bare: Pod = object(json!({
        "metadata": { "name": "bare", "annotations": { "sidecar.example.com/inject": "true" } },
        "spec": { "containers": [{ "name": "app", "image": "example/bare:1.0.0" }] }
    }));
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    create_pod(&pods, &bare).await;

    let conn = connect(&cluster.context).await;
    // Let the first rollout finish so the restart is what the wait sees.
    let first = [WorkloadRef { kind: WorkloadKind::Deployment, namespace: ns.clone(), name: "web".into() }];
    rollout::wait_for_rollouts(&conn, &first, None, Duration::from_secs(30), stepwise::base::progress::silent())
        .await
        .expect("the initial rollout finishes");

    let (report, events) = recorder();
    let req = RolloutRequest {
        criteria: Criteria {
            namespaces: Some(vec![ns.clone()]),
            annotation: Some("sidecar.example.com/inject=true".into()),
            delete_unowned_pods: true,
            ..Criteria::default()
        },
        selector: None,
        timeout: Duration::from_secs(40),
        mode: Mode::Real,
    };
    let started = Instant::now();
    let summary = rollout::rollout_restart(&conn, &req, report).await.expect("restart and rollouts succeed");
    eprintln!("rollout restart of 3 workloads took {:.1}s", started.elapsed().as_secs_f64());
    let restarted: Vec<String> = summary.restarted.iter().map(ToString::to_string).collect();
    assert_eq!(
        restarted,
        [format!("deployment {ns}/web"), format!("statefulset {ns}/db"), format!("daemonset {ns}/agent")]
    );
    assert_eq!(summary.deleted_pods.len(), 1);
    assert!(summary.waited);

    let web = deployments.get("web").await.unwrap();
    let stamp = template_annotation(&web, rollout::RESTARTED_AT).expect("kubectl's restartedAt annotation");
    assert!(stamp.ends_with('Z') && stamp.len() == 20, "RFC 3339 to the second: {stamp}");
    assert!(matches!(rollout::deployment_rollout(&web), Rollout::Complete(_)), "{:?}", web.status);
    assert_eq!(template_annotation(&deployments.get("plain").await.unwrap(), rollout::RESTARTED_AT), None);
    let db = Api::<StatefulSet>::namespaced(client.clone(), &ns).get("db").await.unwrap();
    assert!(matches!(rollout::statefulset_rollout(&db), Rollout::Complete(_)), "{:?}", db.status);
    let agent = Api::<DaemonSet>::namespaced(client.clone(), &ns).get("agent").await.unwrap();
    assert!(matches!(rollout::daemonset_rollout(&agent), Rollout::Complete(_)), "{:?}", agent.status);
    assert_eq!(agent.status.as_ref().map(|s| s.desired_number_scheduled), Some(1), "one node, one agent");
    assert!(pods.get_opt("bare").await.unwrap().is_none_or(|p| p.metadata.deletion_timestamp.is_some()));
    // The wait ended only once the pods themselves had been replaced.
    let live: Vec<Pod> = pods
        .list(&kube::api::ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    assert_eq!(live.len(), 2);
    for pod in &live {
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(annotations.get(rollout::RESTARTED_AT), Some(&stamp), "{:?}", pod.metadata.name);
    }

    let progress: Vec<(u64, Option<u64>)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            OpEvent::Progress { done, total, .. } => Some((*done, *total)),
            _ => None,
        })
        .collect();
    assert_eq!(progress.first(), Some(&(0, Some(3))));
    assert_eq!(progress.last(), Some(&(3, Some(3))));

    // The Deployment now counts as available for a wait and for the preflight.
    let target = WaitTarget::DeploymentAvailable { namespace: ns.clone(), name: "web".into() };
    wait::wait(&conn, &target, Duration::from_secs(20), stepwise::base::progress::silent()).await.unwrap();
    let check = Check::DeploymentAvailable { namespace: ns.clone(), name: "web".into() };
    assert_eq!(check.run(&conn).await.status, Status::Ok);
    let check = Check::MinReplicas { namespace: ns.clone(), name: "web".into(), min: 3, required: false };
    let result = check.run(&conn).await;
    assert_eq!(result.status, Status::Warning, "{result:?}");
    assert!(result.message.contains("2 replicas configured"), "{}", result.message);
    let check = Check::MinReplicas { namespace: ns.clone(), name: "web".into(), min: 3, required: true };
    assert_eq!(check.run(&conn).await.status, Status::Failed);
}

#[tokio::test]
async fn rollout_restart_in_rehearsal_changes_nothing_and_waits_for_nothing() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "rollout-rehearsal").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();
    deployments
        .create(&pp, &deployment(&ns, "web", 1, json!({ "inject": "yes" }), &[("app", "example/web:1.0.0")]))
        .await
        .unwrap();
    let bare: Pod = object(json!({
        "metadata": { "name": "bare", "annotations": { "inject": "yes" } },
        "spec": { "containers": [{ "name": "app", "image": "example/bare:1.0.0" }] }
    }));
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    create_pod(&pods, &bare).await;
    let conn = connect(&cluster.context).await;
    // The controllers write status for a while after creation; only a settled
    // resourceVersion shows that the rehearsal wrote nothing.
    let first = [WorkloadRef { kind: WorkloadKind::Deployment, namespace: ns.clone(), name: "web".into() }];
    rollout::wait_for_rollouts(&conn, &first, None, Duration::from_secs(30), stepwise::base::progress::silent())
        .await
        .expect("the initial rollout finishes");
    let before = settled(&deployments, "web").await;
    let (report, events) = recorder();
    let req = RolloutRequest {
        criteria: Criteria {
            namespaces: Some(vec![ns.clone()]),
            annotation: Some("inject".into()),
            delete_unowned_pods: true,
            ..Criteria::default()
        },
        selector: None,
        timeout: Duration::from_secs(1),
        mode: Mode::Rehearsal,
    };
    let summary = rollout::rollout_restart(&conn, &req, report).await.expect("dry runs succeed");
    assert_eq!(summary.restarted.len(), 1);
    assert_eq!(summary.deleted_pods.len(), 1);
    assert!(!summary.waited);
    let web = deployments.get("web").await.unwrap();
    assert_eq!(web.metadata.resource_version, before.metadata.resource_version);
    assert_eq!(web.metadata.generation, before.metadata.generation);
    assert_eq!(template_annotation(&web, rollout::RESTARTED_AT), None);
    let bare = pods.get("bare").await.unwrap();
    assert!(bare.metadata.deletion_timestamp.is_none());
    let log = lines(&events);
    assert!(log.contains(&format!("would restart deployment {ns}/web")), "{log:?}");
    assert!(log.contains(&"would wait for 1 rollouts".to_string()), "{log:?}");
}

#[tokio::test]
async fn waiting_for_a_job_to_be_gone_ends_when_it_is_deleted() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "wait-job").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job: Job = object(json!({
        "metadata": { "name": "csi-driver-sentinel" },
        "spec": { "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "sentinel", "image": "example/sentinel:1.0.0" }] } } }
    }));
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let deleter = {
        let jobs = jobs.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            jobs.delete("csi-driver-sentinel", &DeleteParams::background()).await.unwrap();
            Instant::now()
        })
    };
    let conn = connect(&cluster.context).await;
    let target = WaitTarget::Gone {
        resource: "jobs.batch".into(),
        namespace: Some(ns.clone()),
        name: "csi-driver-sentinel".into(),
    };
    let (report, events) = recorder();
    let waited = wait::wait(&conn, &target, Duration::from_secs(30), report).await.expect("the job goes away");
    let deleted_at = deleter.await.unwrap();
    let lag = deleted_at.elapsed();
    assert!(waited.elapsed >= Duration::from_millis(1400), "it waited until the delete: {waited:?}");
    assert!(lag < Duration::from_secs(2), "a watch notices at once, not after a poll interval: {lag:?}");
    assert_eq!(waited.state, "gone");
    assert!(lines(&events).iter().any(|l| l.contains("exists and is not being deleted")), "{:?}", lines(&events));

    // A namespace goes away too, once the namespace controller has emptied it.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.delete(&ns, &DeleteParams::default()).await.unwrap();
    let target = WaitTarget::NamespaceGone { name: ns.clone() };
    wait::wait(&conn, &target, Duration::from_secs(30), stepwise::base::progress::silent())
        .await
        .expect("the namespace goes away");
    assert!(namespaces.get_opt(&ns).await.unwrap().is_none());
}

#[tokio::test]
async fn a_wait_that_times_out_says_what_for_how_long_and_what_it_last_saw() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "wait-timeout").await;
    let cm: ConfigMap = object(json!({ "metadata": { "name": "stays" } }));
    Api::<ConfigMap>::namespaced(client.clone(), &ns).create(&PostParams::default(), &cm).await.unwrap();
    let conn = connect(&cluster.context).await;
    let target = WaitTarget::Gone { resource: "configmaps".into(), namespace: Some(ns.clone()), name: "stays".into() };
    let started = Instant::now();
    let e = wait::wait(&conn, &target, Duration::from_secs(2), stepwise::base::progress::silent()).await.unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(5), "{took:?}");
    assert!(matches!(e, ClusterError::Timeout { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "timed out after 2s waiting until configmaps {ns}/stays is gone; last seen: it exists and is not being deleted"
        )
    );

    // A rollout that cannot finish (a paused Deployment creates no pods) ends
    // in a timeout naming where it stood.
    let mut paused = deployment(&ns, "paused", 1, json!({}), &[("app", "example/paused:1.0.0")]);
    paused.spec.as_mut().unwrap().paused = Some(true);
    Api::<Deployment>::namespaced(client.clone(), &ns).create(&PostParams::default(), &paused).await.unwrap();
    let stuck = [WorkloadRef { kind: WorkloadKind::Deployment, namespace: ns.clone(), name: "paused".into() }];
    let silent = stepwise::base::progress::silent();
    let e = rollout::wait_for_rollouts(&conn, &stuck, None, Duration::from_secs(1), silent).await.unwrap_err();
    assert!(matches!(e, ClusterError::Timeout { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "timed out after 1s waiting until 1 rollouts finished (0 did); last seen: \
             deployment {ns}/paused: 0 out of 1 new replicas have been updated"
        )
    );

    // A CRD that does not exist is never Established; the message says so.
    let target = WaitTarget::CrdEstablished { name: format!("nothings.{ns}.example.com") };
    let e = wait::wait(&conn, &target, Duration::from_secs(1), stepwise::base::progress::silent()).await.unwrap_err();
    assert!(e.to_string().ends_with("last seen: the CRD does not exist"), "{e}");
}

const DETECT_PRODUCT: &str = r#"
id: mesh
name: Test Mesh
releases: ["1.6.0", "1.7.0"]
variables:
  - name: namespace
    description: where
    default: NAMESPACE
  - name: release
    description: Helm release
    default: mesh
detect:
  - helm_release:
      namespace: "{{namespace}}"
      release: "{{release}}"
    sets: {install_method: helm}
  - deployment_image:
      namespace: "{{namespace}}"
      name: nginx-mesh-api
    sets: {install_method: meshctl}
path:
  rules:
    - reason: any hop
"#;

#[tokio::test]
async fn detection_reads_a_real_helm_release_and_a_deployment_image_tag() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "detect-helm").await;
    let chart = support::fixture_chart("nginx-service-mesh");
    cluster.helm(
        &cluster.context,
        &["install", "mesh", chart.to_str().unwrap(), "--namespace", &ns, "--skip-crds", "--set", "replicas=0"],
    );
    let conn = connect(&cluster.context).await;
    let product = product(&DETECT_PRODUCT.replace("NAMESPACE", &ns));

    let found = detection::detect(&conn, &product, &BTreeMap::new()).await.expect("detected");
    assert_eq!(found.version, Version::parse("1.6.0").unwrap());
    assert!(
        found.source.starts_with(&format!("app version of Helm release {ns}/mesh (revision 1")),
        "{}",
        found.source
    );
    assert_eq!(found.facts.get("install_method").map(String::as_str), Some("helm"), "the first finding entry wins");
    assert_eq!(found.confirmed_by.len(), 1, "the chart's Deployment agrees: {found:?}");

    // A second revision that is deployed supersedes the first.
    cluster.helm(
        &cluster.context,
        &[
            "upgrade",
            "mesh",
            chart.to_str().unwrap(),
            "--namespace",
            &ns,
            "--skip-crds",
            "--set",
            "replicas=0",
            "--set",
            "image.tag=1.6.0",
        ],
    );
    let again = detection::detect(&conn, &product, &BTreeMap::new()).await.expect("detected");
    assert!(again.source.contains("revision 2"), "{}", again.source);

    // The Deployment points at another version than the release: ambiguous.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let patch = json!({ "spec": { "template": { "spec": { "containers": [
        { "name": "nginx-mesh-api", "image": "registry.local:5000/nginx/nginx-mesh-api:1.7.0@sha256:abcd" } ] } } } });
    deployments
        .patch("nginx-mesh-api", &kube::api::PatchParams::default(), &kube::api::Patch::Strategic(patch))
        .await
        .unwrap();
    let e = detection::detect(&conn, &product, &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(e, DetectError::Ambiguous { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("disagree") && text.contains("says 1.6.0") && text.contains("says 1.7.0"), "{text}");

    // Overriding the release name to one that does not exist leaves the image.
    let values = BTreeMap::from([("release".to_string(), "other".to_string())]);
    let by_image = detection::detect(&conn, &product, &values).await.expect("detected from the image");
    assert_eq!(by_image.version, Version::parse("1.7.0").unwrap());
    assert_eq!(by_image.facts.get("install_method").map(String::as_str), Some("meshctl"));
    assert!(by_image.source.contains("nginx-mesh-api:1.7.0@sha256:abcd"), "{}", by_image.source);
}

/// The platform fact is read from the cluster: OpenShift serves the API group
/// config.openshift.io, and a plain cluster does not (the fact keeps its
/// default); a fact the operator gave is not looked up.
#[tokio::test]
async fn a_fact_is_detected_from_the_api_groups_the_cluster_serves() {
    let cluster = support::cluster();
    let conn = connect(&cluster.context).await;
    let product = product(
        "id: mesh\nname: Test Mesh\nreleases: [\"1.6.0\"]\nfacts:\n  - name: platform\n    values: [kubernetes, openshift]\n    \
         default: kubernetes\n    detect: {api_group: detect.openshift.stepwise.test, value: openshift}\n\
         path:\n  rules:\n    - reason: any hop\n",
    );
    let none = BTreeMap::new();
    assert!(detection::detect_facts(&conn, &product, &none).await.unwrap().is_empty(), "a plain cluster");

    let crd = support::loose_crd("detect.openshift.stepwise.test", "clusterversions", "ClusterVersion");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(conn.client.clone());
    crds.create(&PostParams::default(), &serde_json::from_value(crd).unwrap()).await.unwrap();
    let told = support::wait_until("the group to be served", Duration::from_secs(60), || async {
        let told = detection::detect_facts(&conn, &product, &none).await.unwrap();
        (!told.is_empty()).then_some(told)
    })
    .await;
    assert_eq!(told[0].0, "platform");
    assert_eq!(told[0].1, "openshift");
    assert!(told[0].2.contains("detect.openshift.stepwise.test"), "{told:?}");
    let given = BTreeMap::from([("platform".to_string(), "kubernetes".to_string())]);
    assert!(detection::detect_facts(&conn, &product, &given).await.unwrap().is_empty(), "the operator's word stands");
    crds.delete("clusterversions.detect.openshift.stepwise.test", &Default::default()).await.unwrap();
}

#[tokio::test]
async fn detection_says_not_installed_and_ambiguous_apart() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "detect-none").await;
    let conn = connect(&cluster.context).await;
    let product = product(&DETECT_PRODUCT.replace("NAMESPACE", &ns));

    let e = detection::detect(&conn, &product, &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(e, DetectError::NotInstalled { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "Test Mesh does not appear to be installed: no Helm release mesh in namespace {ns}; no Deployment {ns}/nginx-mesh-api"
        )
    );

    let two_tags = deployment(
        &ns,
        "nginx-mesh-api",
        0,
        json!({}),
        &[("controller", "nginx/nginx-mesh-api:1.6.0"), ("sidecar", "nginx/sidecar:1.5.0")],
    );
    Api::<Deployment>::namespaced(client.clone(), &ns).create(&PostParams::default(), &two_tags).await.unwrap();
    let e = detection::detect(&conn, &product, &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(e, DetectError::Ambiguous { .. }), "{e}");
    assert!(e.to_string().contains("controller=nginx/nginx-mesh-api:1.6.0, sidecar=nginx/sidecar:1.5.0"), "{e}");
}

#[tokio::test]
async fn the_restricted_user_learns_every_missing_permission_at_once() {
    let cluster = support::cluster();
    let needs = preflight::dedup(
        [
            preflight::backup_needs(&["trafficsplits.split.smi-spec.io".into()], None),
            preflight::rollout_restart_needs(Some(&["nginx-mesh".into()]), &[], true),
            preflight::wait_needs(&WaitTarget::Gone {
                resource: "jobs.batch".into(),
                namespace: Some("nginx-mesh".into()),
                name: "csi-driver-sentinel".into(),
            }),
            vec![AccessNeed::new("delete", "customresourcedefinitions.apiextensions.k8s.io", None)],
        ]
        .concat(),
    );
    let checks = vec![
        Check::ApiReachable,
        Check::KindsExist(vec!["deployments.apps".into(), "nothings.nowhere.example.com".into()]),
        Check::Access(needs.clone()),
    ];

    let restricted = connect(&cluster.restricted_context).await;
    let results = preflight::run_all(&restricted, &checks).await;
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].status, Status::Ok, "{:?}", results[0]);
    assert_eq!(results[1].status, Status::Failed);
    assert_eq!(results[1].details.len(), 1, "{:?}", results[1]);
    assert!(results[1].details[0].contains("nothings.nowhere.example.com"));
    let access = &results[2];
    assert_eq!(access.status, Status::Failed);
    let writes: Vec<String> = needs
        .iter()
        .filter(|n| !["get", "list", "watch"].contains(&n.verb.as_str()))
        .map(|n| format!("cannot {n}"))
        .collect();
    assert_eq!(access.details, writes, "every write is missing, and no read is");
    assert!(
        access
            .details
            .contains(&"cannot delete customresourcedefinitions.apiextensions.k8s.io (cluster-wide)".to_string())
    );
    assert!(access.details.contains(&"cannot patch deployments.apps in namespace nginx-mesh".to_string()));
    assert!(access.message.starts_with(&format!("{} permissions are missing", writes.len())), "{}", access.message);

    let admin = connect(&cluster.context).await;
    let results = preflight::run_all(&admin, &[Check::Access(needs)]).await;
    assert_eq!(results[0].status, Status::Ok, "{:?}", results[0]);
}

fn crd_yaml(group: &str, plural: &str, kind: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: {plural}, singular: {singular}, kind: {kind}, listKind: {kind}List}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
",
        singular = kind.to_lowercase()
    )
}

fn manifests(ns: &str, group: &str, plural: &str, kind: &str) -> String {
    format!(
        "{crd}---
apiVersion: {group}/v1
kind: {kind}
metadata:
  name: first
  namespace: {ns}
spec:
  size: 3
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: upgraded
---
",
        crd = crd_yaml(group, plural, kind)
    )
}

fn dynamic(client: &kube::Client, group: &str, kind: &str, plural: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

#[tokio::test]
async fn apply_puts_crds_first_waits_for_them_and_then_applies_their_resources() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "apply-real").await;
    let group = format!("{ns}.example.com");
    // The manifests put the custom resource before its CRD; the order must not matter.
    let yaml = manifests(&ns, &group, "widgets", "Widget");
    let (crd, rest) = yaml.split_once("---\n").unwrap();
    let yaml = format!("{rest}---\n{crd}");
    let conn = connect(&cluster.context).await;
    let (report, events) = recorder();
    let req = ApplyRequest::new(yaml.clone(), "test manifests".into(), ns.clone(), Mode::Real);
    let result = apply::apply(&conn, &req, report.clone()).await.expect("apply runs");
    let outcomes: Vec<(String, ApplyOutcome)> = result.objects.iter().map(|o| (o.label(), o.outcome.clone())).collect();
    assert_eq!(
        outcomes,
        [
            (format!("CustomResourceDefinition widgets.{group}"), ApplyOutcome::Applied),
            (format!("Widget {ns}/first"), ApplyOutcome::Applied),
            (format!("ConfigMap {ns}/settings"), ApplyOutcome::Applied),
        ]
    );
    let widget = dynamic(&client, &group, "Widget", "widgets", Some(&ns)).get("first").await.unwrap();
    assert_eq!(widget.data["spec"]["size"], 3);
    let managers: Vec<String> =
        widget.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert_eq!(managers, ["stepwise"]);
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns).get("settings").await.unwrap();
    assert_eq!(cm.data.unwrap()["mode"], "upgraded");
    assert!(events.lock().unwrap().contains(&OpEvent::Progress {
        done: 3,
        total: Some(3),
        bytes: 0,
        what: format!("ConfigMap {ns}/settings")
    }));

    // Applying again changes nothing and succeeds; a bad object fails alone.
    let bad = format!("{yaml}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: Not_Valid}}\n");
    let req = ApplyRequest::new(bad, "test manifests".into(), ns.clone(), Mode::Real);
    let again = apply::apply(&conn, &req, report).await.unwrap();
    assert_eq!(again.objects.len(), 4);
    let failed: Vec<&str> = again.failed().map(|o| o.name.as_str()).collect();
    assert_eq!(failed, ["Not_Valid"]);
    assert!(
        matches!(&again.objects[3].outcome, ApplyOutcome::Failed(m) if m.contains("422")),
        "{:?}",
        again.objects[3]
    );

    let needs = apply::access_needs(&conn, &yaml, "test manifests", &ns).await.unwrap();
    assert!(needs.contains(&AccessNeed::new("patch", &format!("widgets.{group}"), Some(&ns))), "{needs:?}");
    assert!(needs.contains(&AccessNeed::new("create", "customresourcedefinitions.apiextensions.k8s.io", None)));
    assert!(needs.contains(&AccessNeed::new("patch", "configmaps", Some(&ns))));
}

#[tokio::test]
async fn apply_in_rehearsal_stores_nothing_and_says_what_it_cannot_validate() {
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "apply-rehearsal").await;
    let group = format!("{ns}.example.com");
    // An object `kubectl create` made: a dry-run apply must take it over (force).
    cluster.kubectl(&cluster.context, &["create", "configmap", "settings", "-n", &ns, "--from-literal=mode=original"]);
    let yaml = format!(
        "{}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}-new}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: inside, namespace: {ns}-new}}\n",
        manifests(&ns, &group, "gadgets", "Gadget")
    );
    let conn = connect(&cluster.context).await;
    let req = ApplyRequest::new(yaml, "test manifests".into(), ns.clone(), Mode::Rehearsal);
    let result = apply::apply(&conn, &req, stepwise::base::progress::silent()).await.expect("apply runs");
    let outcomes: Vec<(String, ApplyOutcome)> = result.objects.iter().map(|o| (o.label(), o.outcome.clone())).collect();
    assert_eq!(
        outcomes,
        [
            (format!("CustomResourceDefinition gadgets.{group}"), ApplyOutcome::Validated),
            (format!("Namespace {ns}-new"), ApplyOutcome::Validated),
            (
                format!("Gadget {ns}/first"),
                ApplyOutcome::Unverifiable(format!("cannot be validated until the CRD gadgets.{group} exists"))
            ),
            (format!("ConfigMap {ns}/settings"), ApplyOutcome::Validated),
            (
                format!("ConfigMap {ns}-new/inside"),
                ApplyOutcome::Unverifiable(format!("cannot be validated until namespace {ns}-new exists"))
            ),
        ]
    );
    assert!(result.all_ok());
    let crds = dynamic(&client, "apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", None);
    assert!(crds.get_opt(&format!("gadgets.{group}")).await.unwrap().is_none());
    assert!(Api::<Namespace>::all(client.clone()).get_opt(&format!("{ns}-new")).await.unwrap().is_none());
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns).get("settings").await.unwrap();
    assert_eq!(cm.data.unwrap()["mode"], "original");
}

#[tokio::test]
async fn delete_in_rehearsal_lists_what_it_would_delete_and_for_real_deletes_and_waits() {
    use stepwise::cluster::delete::{self, DeleteTarget, ObjectName};
    let cluster = support::cluster();
    let client = cluster.client().await;
    let ns = cluster.namespace(&client, "delete").await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    for (name, app) in [("old-a", "old"), ("old-b", "old"), ("keep", "new")] {
        let map: ConfigMap = object(json!({ "metadata": { "name": name, "labels": { "app": app } } }));
        maps.create(&PostParams::default(), &map).await.unwrap();
    }
    let conn = connect(&cluster.context).await;
    let by_label = DeleteTarget {
        resource: "configmaps".into(),
        namespace: Some(ns.clone()),
        names: Vec::new(),
        selector: Some("app=old".into()),
        wait: true,
    };
    let at = |name: &str| ObjectName { namespace: Some(ns.clone()), name: name.into() };
    let (report, events) = recorder();
    let rehearsed = delete::delete(&conn, &by_label, Mode::Rehearsal, Duration::from_secs(30), report).await.unwrap();
    assert_eq!(rehearsed.deleted, [at("old-a"), at("old-b")]);
    assert!(maps.get("old-a").await.is_ok(), "a rehearsal deletes nothing");
    assert!(lines(&events).contains(&format!("would delete {ns}/old-a")), "{:?}", lines(&events));
    assert!(rehearsed.line(&by_label, Mode::Rehearsal).starts_with("would delete configmaps"));

    let by_name = DeleteTarget { names: vec!["old-a".into(), "never-was".into()], selector: None, ..by_label.clone() };
    let (report, _) = recorder();
    let done = delete::delete(&conn, &by_name, Mode::Real, Duration::from_secs(30), report).await.unwrap();
    assert_eq!((done.deleted.clone(), done.absent.clone()), (vec![at("old-a")], vec![at("never-was")]));
    assert!(maps.get_opt("old-a").await.unwrap().is_none(), "waited until it was gone");
    let (report, _) = recorder();
    let rest = delete::delete(&conn, &by_label, Mode::Real, Duration::from_secs(30), report).await.unwrap();
    assert_eq!(rest.deleted, [at("old-b")]);
    assert!(maps.get_opt("keep").await.unwrap().is_some(), "the selector chose only what it matches");

    let unserved = DeleteTarget { resource: "widgets.example.invalid".into(), ..by_name };
    let (report, _) = recorder();
    let none = delete::delete(&conn, &unserved, Mode::Real, Duration::from_secs(5), report).await.unwrap();
    assert!(!none.served && none.deleted.is_empty());
}
