//! Backup and restore behaviour short of deleting CRDs, on the real test bed:
//! rehearsal changes nothing, a damaged backup is refused, existing objects are
//! never overwritten, and owner references are handled deliberately.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;
use stepwise::base::progress::silent;
use stepwise::base::{Mode, Target};
use stepwise::cluster::backup::{BackupRequest, backup};
use stepwise::cluster::restore::{Outcome, RestoreRequest, restore};
use stepwise::cluster::{ClusterError, Connection};

async fn connect() -> Connection {
    let tb = support::cluster();
    // Per test: the cluster is cleaned whenever another module had it.
    seed::install_crds(&tb.kubectl, &tb.kubeconfig, &tb.context);
    Target { kubeconfig: Some(tb.kubeconfig.clone()), context: Some(tb.context.clone()) }.connect().await.unwrap()
}

fn request(dir: &std::path::Path, namespaces: &[String]) -> BackupRequest {
    let mut r = BackupRequest::new(seed::resource_names(), dir.to_path_buf());
    r.namespaces = Some(namespaces.to_vec());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehearsed_restore_validates_every_object_and_changes_nothing() {
    let conn = connect().await;
    let namespaces = vec!["rehearse-a".to_string(), "rehearse-b".to_string()];
    seed::seed(&conn.client, &namespaces, 20).await;
    let dir = tempfile::tempdir().unwrap();
    backup(&conn, &request(dir.path(), &namespaces), silent()).await.unwrap();
    let before = seed::versions(&seed::live(&conn.client, &namespaces).await);

    let report =
        restore(&conn, &RestoreRequest::new(dir.path().to_path_buf(), Mode::Rehearsal), silent()).await.unwrap();
    assert!(report.verified, "{report:#?}");
    assert!(report.kinds.iter().all(|k| k.validated == 20 && k.created == 0), "{:#?}", report.kinds);

    let after = seed::versions(&seed::live(&conn.client, &namespaces).await);
    assert_eq!(before, after, "a rehearsal must leave every resourceVersion as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_backup_file_is_refused_before_anything_is_created() {
    let conn = connect().await;
    let namespaces = vec!["damaged".to_string()];
    seed::seed(&conn.client, &namespaces, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = backup(&conn, &request(dir.path(), &namespaces), silent()).await.unwrap();
    let file = dir.path().join(&manifest.kinds[0].file);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("svc-", "svx-", 1)).unwrap();

    let err = restore(&conn, &RestoreRequest::new(dir.path().to_path_buf(), Mode::Real), silent()).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ClusterError::Backup { .. }), "{message}");
    assert!(message.contains("SHA-256") && message.contains(&manifest.kinds[0].file), "{message}");

    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let err = restore(&conn, &RestoreRequest::new(dir.path().to_path_buf(), Mode::Real), silent()).await.unwrap_err();
    assert!(err.to_string().contains("never finished"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_objects_are_reported_not_overwritten() {
    let conn = connect().await;
    let namespaces = vec!["existing".to_string()];
    seed::seed(&conn.client, &namespaces, 3).await;
    let dir = tempfile::tempdir().unwrap();
    backup(&conn, &request(dir.path(), &namespaces), silent()).await.unwrap();

    let kind = &seed::KINDS[0];
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), "existing", &seed::api_resource(kind));
    let changed = "trafficsplit-1";
    let mut obj = api.get(changed).await.unwrap();
    obj.data["spec"]["service"] = json!("changed-by-operator");
    api.replace(changed, &PostParams::default(), &obj).await.unwrap();
    // Object 0 carries a finalizer; 2 does not, so its deletion completes.
    api.delete("trafficsplit-2", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, &["trafficsplit-2"]).await;

    let report = restore(&conn, &RestoreRequest::new(dir.path().to_path_buf(), Mode::Real), silent()).await.unwrap();
    let splits = report.kinds.iter().find(|k| k.resource.starts_with("trafficsplits")).unwrap();
    assert_eq!((splits.created, splits.different, splits.identical), (1, 1, 1), "{splits:?}");
    assert_eq!(splits.live, Some(3), "counted in the backed-up namespace only");
    let different = report.notable.iter().find(|o| o.outcome == Outcome::AlreadyDifferent).unwrap();
    assert_eq!(different.name, changed);
    assert_eq!(api.get(changed).await.unwrap().data["spec"]["service"], "changed-by-operator", "not overwritten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_references_to_deleted_owners_are_dropped_and_inner_owners_relinked() {
    let conn = connect().await;
    let ns = "owners";
    seed::ensure_namespaces(&conn.client, &[ns.to_string()]).await;
    let configmaps: Api<ConfigMap> = Api::namespaced(conn.client.clone(), ns);
    let owner: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap();
    let owner = configmaps.create(&PostParams::default(), &owner).await.unwrap();
    let kind = &seed::KINDS[0];
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), ns, &seed::api_resource(kind));
    let mut parent = seed::object(kind, ns, 1);
    parent["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid.unwrap()}]);
    let parent = api.create(&PostParams::default(), &serde_json::from_value(parent).unwrap()).await.unwrap();
    let mut child = seed::object(kind, ns, 2);
    child["metadata"]["ownerReferences"] = json!([{"apiVersion": "split.smi-spec.io/v1alpha3", "kind": "TrafficSplit", "name": "trafficsplit-1", "uid": parent.metadata.uid.clone().unwrap()}]);
    api.create(&PostParams::default(), &serde_json::from_value(child).unwrap()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut req = BackupRequest::new(vec!["trafficsplits.split.smi-spec.io".into()], dir.path().to_path_buf());
    req.namespaces = Some(vec![ns.into()]);
    let manifest = backup(&conn, &req, silent()).await.unwrap();
    assert_eq!(manifest.external_owner_refs, 1, "the ConfigMap owner is outside the backup");

    // Removal takes the owner with it, and the custom resources.
    configmaps.delete("owner", &DeleteParams::default()).await.unwrap();
    for name in ["trafficsplit-1", "trafficsplit-2"] {
        let _ = api.delete(name, &DeleteParams::default()).await;
    }
    wait_gone(&api, &["trafficsplit-1", "trafficsplit-2"]).await;

    let report = restore(&conn, &RestoreRequest::new(dir.path().to_path_buf(), Mode::Real), silent()).await.unwrap();
    assert!(report.verified, "{report:#?}");
    assert_eq!(report.dropped_owner_refs.len(), 1, "{:?}", report.dropped_owner_refs);
    assert!(report.dropped_owner_refs[0].contains("ConfigMap owner"), "{:?}", report.dropped_owner_refs);
    let parent = api.get("trafficsplit-1").await.unwrap();
    assert!(parent.metadata.owner_references.is_none(), "the gone owner's reference is dropped");
    let child = api.get("trafficsplit-2").await.unwrap();
    let link = &child.metadata.owner_references.unwrap()[0];
    assert_eq!(Some(&link.uid), parent.metadata.uid.as_ref(), "the child points at the re-created parent");

    // A second run of the restore (the child was lost again): the parent this
    // backup holds is already there, re-created by the first run with a new
    // uid, and the child is linked to it rather than losing its owner.
    api.delete("trafficsplit-2", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, &["trafficsplit-2"]).await;
    let report = restore(&conn, &RestoreRequest::new(dir.path().to_path_buf(), Mode::Real), silent()).await.unwrap();
    assert!(report.verified, "{report:#?}");
    assert!(!report.dropped_owner_refs.iter().any(|d| d.contains("trafficsplit-2")), "{:?}", report.dropped_owner_refs);
    let child = api.get("trafficsplit-2").await.unwrap();
    let links = child.metadata.owner_references.expect("the child keeps its owner on the second run");
    assert_eq!(Some(&links[0].uid), parent.metadata.uid.as_ref(), "and points at the live parent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_being_deleted_at_the_backup_are_reported_and_left_out_of_the_restore() {
    let conn = connect().await;
    let ns = "being-deleted";
    seed::ensure_namespaces(&conn.client, &[ns.to_string()]).await;
    let kind = &seed::KINDS[0];
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), ns, &seed::api_resource(kind));
    for i in 1..=3 {
        let mut object = seed::object(kind, ns, i);
        if i == 2 {
            object["metadata"]["finalizers"] = json!(["stepwise.test/hold"]);
        }
        api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap();
    }
    // Deleted, but held by its finalizer: Terminating when the backup runs.
    api.delete("trafficsplit-2", &DeleteParams::default()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut req = BackupRequest::new(vec!["trafficsplits.split.smi-spec.io".into()], dir.path().to_path_buf());
    req.namespaces = Some(vec![ns.into()]);
    let manifest = backup(&conn, &req, silent()).await.unwrap();
    assert_eq!(manifest.being_deleted, ["trafficsplits.split.smi-spec.io being-deleted/trafficsplit-2"]);

    // The removal: the finalizer's controller lets it go, and everything is deleted.
    let release = json!({"metadata": {"finalizers": null}});
    api.patch("trafficsplit-2", &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
    for name in ["trafficsplit-1", "trafficsplit-3"] {
        api.delete(name, &DeleteParams::default()).await.unwrap();
    }
    wait_gone(&api, &["trafficsplit-1", "trafficsplit-2", "trafficsplit-3"]).await;

    let report = restore(&conn, &RestoreRequest::new(dir.path().to_path_buf(), Mode::Real), silent()).await.unwrap();
    assert!(report.verified, "{report:#?}");
    assert_eq!((report.kinds[0].created, report.kinds[0].left_out), (2, 1), "{report:#?}");
    assert!(report.notable.iter().any(|o| o.name == "trafficsplit-2" && o.outcome == Outcome::LeftOut));
    assert!(api.get_opt("trafficsplit-2").await.unwrap().is_none(), "not brought back");
}

/// `stepwise ARGS` on the test cluster: its exit code and everything it said.
fn stepwise_cli(tb: &support::TestCluster, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = tb.command(env!("CARGO_BIN_EXE_stepwise"));
    cmd.args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context]).args(args);
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

async fn wait_gone(api: &Api<DynamicObject>, names: &[&str]) {
    for _ in 0..100 {
        let mut left = 0;
        for n in names {
            if api.get_opt(n).await.unwrap().is_some() {
                left += 1;
            }
        }
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("objects were not deleted in time");
}

/// The way a half-done removal looks to a retried backup: every object of one
/// kind gone since the last complete backup in the same folder. The new backup
/// is incomplete and says why, and the earlier one is kept whole beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_emptied_since_the_last_backup_makes_the_next_one_incomplete_and_keeps_the_last() {
    let conn = connect().await;
    let namespaces = vec!["emptied".to_string()];
    seed::seed(&conn.client, &namespaces, 4).await;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("backup-resources");
    let first = backup(&conn, &request(&dir, &namespaces), silent()).await.unwrap();
    assert_eq!(first.total(), 24);

    let kind = &seed::KINDS[4];
    // Some seeded objects carry a finalizer; this plays its controller.
    let finalizers = seed::spawn_finalizer_controller(conn.client.clone());
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), "emptied", &seed::api_resource(kind));
    let names: Vec<String> =
        api.list(&Default::default()).await.unwrap().iter().filter_map(|o| o.metadata.name.clone()).collect();
    for n in &names {
        api.delete(n, &DeleteParams::default()).await.unwrap();
    }
    wait_gone(&api, &names.iter().map(String::as_str).collect::<Vec<_>>()).await;
    finalizers.abort();

    let err = backup(&conn, &request(&dir, &namespaces), silent()).await.unwrap_err().to_string();
    let resource = format!("{}.{}", kind.0, kind.1);
    assert!(err.contains(&format!("{resource}: no objects now")) && err.contains("saved 4"), "{err}");
    let kept: Vec<std::path::PathBuf> = std::fs::read_dir(parent.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("backup-resources.taken-"))
        .collect();
    assert_eq!(kept.len(), 1, "the earlier backup is kept beside the new one: {kept:?}");
    assert!(err.contains(&kept[0].display().to_string()), "the error names where it is: {err}");
    let proof = stepwise::cluster::proof::prove(&conn, &kept[0], silent()).await.unwrap_err().to_string();
    assert!(proof.contains(&resource), "the kept backup still holds the deleted objects: {proof}");
    let report = restore(&conn, &RestoreRequest::new(kept[0].clone(), Mode::Real), silent()).await.unwrap();
    assert_eq!(report.kinds.iter().map(|k| k.created).sum::<u64>(), 4, "{:#?}", report.kinds);
}

/// A kind the cluster does not serve cannot be counted, so a backup that asks
/// for one is incomplete rather than "complete with nothing to save".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_asking_for_a_kind_not_served_is_incomplete() {
    let conn = connect().await;
    let namespaces = vec!["unserved".to_string()];
    seed::seed(&conn.client, &namespaces, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(dir.path(), &namespaces);
    req.resources.push("meshgateways.kuma.io".into());
    let err = backup(&conn, &req, silent()).await.unwrap_err().to_string();
    assert!(err.contains("incomplete") && err.contains("meshgateways.kuma.io is not served"), "{err}");
    let manifest = stepwise::cluster::manifest::Manifest::read(dir.path()).unwrap();
    assert!(!manifest.complete && manifest.not_served == ["meshgateways.kuma.io"], "{manifest:#?}");
}

/// The proof holds while every saved object is in the cluster unchanged, and a
/// status-only update (which moves the resourceVersion) does not break it;
/// an object created, edited or deleted since the backup is drift, each named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_proven_only_while_it_matches_the_cluster() {
    let conn = connect().await;
    let namespaces = vec!["proof".to_string()];
    seed::seed(&conn.client, &namespaces, 5).await;
    let dir = tempfile::tempdir().unwrap();
    backup(&conn, &request(dir.path(), &namespaces), silent()).await.unwrap();

    let proof = stepwise::cluster::proof::prove(&conn, dir.path(), silent()).await.unwrap();
    assert_eq!(proof.objects, 30);
    assert!(proof.summary().contains("each unchanged since the backup"), "{}", proof.summary());

    let kind = &seed::KINDS[1];
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), "proof", &seed::api_resource(kind));
    let names: Vec<String> =
        api.list(&Default::default()).await.unwrap().iter().filter_map(|o| o.metadata.name.clone()).collect();
    // A new resourceVersion whose content a restore would not put back: not drift.
    let label = json!({"metadata": {"labels": {"touched": "yes"}}});
    api.patch(&names[0], &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&label)).await.unwrap();
    let unlabel = json!({"metadata": {"labels": {"touched": null}}});
    api.patch(&names[0], &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&unlabel)).await.unwrap();
    stepwise::cluster::proof::prove(&conn, dir.path(), silent()).await.expect("the same content proves");

    let late = seed::object(kind, "proof", 99);
    api.create(&PostParams::default(), &serde_json::from_value(late).unwrap()).await.unwrap();
    let edit = json!({"spec": {"edited": true}});
    api.patch(&names[1], &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&edit)).await.unwrap();
    let err = stepwise::cluster::proof::prove(&conn, dir.path(), silent()).await.unwrap_err();
    let ClusterError::Drift { changes, .. } = &err else { panic!("not drift: {err}") };
    let resource = format!("{}.{}", kind.0, kind.1);
    assert!(
        changes.contains(&format!("{resource} proof/{}-99: created since the backup", kind.3.to_lowercase())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&format!("{resource} proof/{}: changed since the backup (spec)", names[1])),
        "{changes:?}"
    );
    assert_eq!(changes.len(), 2, "{changes:?}");
}

/// The proof reads metadata lists in protobuf; what it reads from the real API
/// server (names, namespaces, uids, resourceVersions, the continue token) is
/// what the same list says in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proof_reads_the_servers_protobuf_metadata_lists_as_their_json() {
    use kube::Resource;
    let conn = connect().await;
    seed::seed(&conn.client, &["protobuf".to_string()], 3).await;
    let kind = &seed::KINDS[0];
    let resource = seed::api_resource(kind);
    let url = DynamicObject::url_path(&resource, Some("protobuf"));
    let params = kube::api::ListParams::default().limit(2);
    let request = kube::core::Request::new(&url).list_metadata(&params).unwrap();
    let page = stepwise::cluster::proof::protobuf_page(&conn, request).await.expect("a protobuf page");
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), "protobuf", &resource);
    let json = api.list_metadata(&params).await.unwrap();
    let seen: Vec<_> = page
        .items
        .iter()
        .map(|m| (m.name.clone(), m.namespace.clone(), m.uid.clone(), m.resource_version.clone()))
        .collect();
    let expected: Vec<_> = json
        .items
        .iter()
        .map(|o| {
            let m = &o.metadata;
            (m.name.clone().unwrap(), m.namespace.clone(), m.uid.clone().unwrap(), m.resource_version.clone().unwrap())
        })
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen, expected);
    assert!(page.continue_token.is_some(), "three objects in pages of two: a next page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_and_restore_commands_work_on_their_own_and_refuse_a_changed_backup() {
    let conn = connect().await;
    let tb = support::cluster();
    seed::seed(&conn.client, &["commands".to_string()], 4).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("nsm");
    let run = |args: &[&str]| {
        let mut cmd = tb.command(env!("CARGO_BIN_EXE_stepwise"));
        cmd.args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context]).args(args);
        cmd.output().unwrap()
    };
    let out = run(&["backup", "--product", "nginx-service-mesh", "-n", "commands", "--to", folder.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("24 objects saved"), "the six kinds of the product were backed up: {text}");

    let out = run(&["restore", folder.to_str().unwrap(), "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("4 validated of 4"), "{text}");

    let file = folder.join("tcproutes.specs.smi-spec.io.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replacen("svc-", "svx-", 1)).unwrap();
    let out = run(&["restore", folder.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "a changed backup is refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tcproutes.specs.smi-spec.io.yaml") && err.contains("SHA-256"), "{err}");
}

/// `stepwise backup --check DIR` makes the proof a destructive step waits for,
/// through the real binary: it holds right after the backup, and once an object
/// is edited and another created, it fails with exit 4 naming both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_check_proves_a_fresh_backup_and_names_each_change_since() {
    let conn = connect().await;
    let tb = support::cluster();
    let ns = "check";
    seed::seed(&conn.client, &[ns.to_string()], 3).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("saved");
    let folder = folder.to_str().unwrap();
    let run = |args: &[&str]| stepwise_cli(tb, args);
    let (code, text) = run(&["backup", "--product", "nginx-service-mesh", "-n", ns, "--to", folder]);
    assert_eq!(code, Some(0), "{text}");

    let (code, text) = run(&["backup", "--check", folder]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("proven: 18 objects") && text.contains("each unchanged since the backup"), "{text}");

    let kind = &seed::KINDS[2];
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), ns, &seed::api_resource(kind));
    let edited = format!("{}-1", kind.3.to_lowercase());
    let edit = json!({"spec": {"service": "edited-by-hand"}});
    api.patch(&edited, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&edit)).await.unwrap();
    let late = seed::object(kind, ns, 42);
    api.create(&PostParams::default(), &serde_json::from_value(late).unwrap()).await.unwrap();

    let (code, text) = run(&["backup", "--check", folder]);
    assert_eq!(code, Some(4), "drift is a refusal: {text}");
    let resource = format!("{}.{}", kind.0, kind.1);
    assert!(text.contains(&format!("{resource} {ns}/{edited}: changed since the backup (spec)")), "{text}");
    let created = format!("{resource} {ns}/{}-42: created since the backup", kind.3.to_lowercase());
    assert!(text.contains(&created), "{text}");
    assert!(text.contains("no longer matches the cluster") && text.contains("Take a new backup"), "{text}");

    let (code, text) = run(&["backup", "--check", folder, "--to", folder]);
    assert_eq!(code, Some(2), "--check takes no backup: {text}");
}

/// The CRD of `ratelimits.versions.stepwise.test`: each `(name, served,
/// storage)`, converted with `strategy` (a webhook that is never called: no
/// object is ever sent through it here).
fn ratelimit_crd(versions: &[(&str, bool, bool)], strategy: &str) -> serde_json::Value {
    let schema = json!({"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}});
    let versions: Vec<serde_json::Value> = versions
        .iter()
        .map(|(name, served, storage)| json!({"name": name, "served": served, "storage": storage, "schema": schema}))
        .collect();
    let mut conversion = json!({"strategy": strategy});
    if strategy == "Webhook" {
        conversion["webhook"] = json!({
            "conversionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://127.0.0.1:9/convert"},
        });
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "ratelimits.versions.stepwise.test"},
        "spec": {
            "group": "versions.stepwise.test",
            "names": {"plural": "ratelimits", "singular": "ratelimit", "kind": "RateLimit"},
            "scope": "Namespaced",
            "versions": versions,
            "conversion": conversion,
        }
    })
}

/// Replaces the CRD (and with it every object of the kind) and waits until the
/// new one is Established.
async fn swap_crd(conn: &Connection, crd: serde_json::Value) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(conn.client.clone());
    let name = "ratelimits.versions.stepwise.test";
    if crds.get_opt(name).await.unwrap().is_some() {
        crds.delete(name, &DeleteParams::default()).await.unwrap();
        support::wait_until("the old CRD to go", std::time::Duration::from_secs(60), || async {
            crds.get_opt(name).await.unwrap().is_none().then_some(())
        })
        .await;
    }
    crds.create(&PostParams::default(), &serde_json::from_value(crd).unwrap()).await.unwrap();
    support::wait_until("the new CRD to be Established", std::time::Duration::from_secs(60), || async {
        let crd = crds.get_opt(name).await.unwrap()?;
        stepwise::cluster::restore::is_established(&crd).then_some(())
    })
    .await;
    // Discovery catches up a moment after Established.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
}

/// RateLimits saved while their CRD served only v1alpha1, restored through the
/// real binary after a release's CRD arrived: first one that still serves
/// v1alpha1 beside a new storage version v1alpha2 (what NGINX Service Mesh 1.2
/// and later ship), then one that no longer serves v1alpha1 but converts
/// without a webhook. Every object comes back both times. A CRD that would
/// need its webhook to read the saved version is refused before anything is
/// created, naming the versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_saved_under_an_older_crd_version_come_back_after_the_crd_changes() {
    let conn = connect().await;
    let tb = support::cluster();
    let ns = "crd-versions";
    seed::ensure_namespaces(&conn.client, &[ns.to_string()]).await;
    swap_crd(&conn, ratelimit_crd(&[("v1alpha1", true, true)], "None")).await;
    let v1 = kube::discovery::ApiResource {
        group: "versions.stepwise.test".into(),
        version: "v1alpha1".into(),
        api_version: "versions.stepwise.test/v1alpha1".into(),
        kind: "RateLimit".into(),
        plural: "ratelimits".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), ns, &v1);
    let spec = |i: usize| json!({"destination": {"name": format!("svc-{i}")}, "rate": format!("{i}r/s"), "burst": i});
    for i in 0..40 {
        let object = json!({"apiVersion": v1.api_version, "kind": "RateLimit",
            "metadata": {"name": format!("rl-{i}"), "namespace": ns}, "spec": spec(i)});
        api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("saved");
    let run = |args: &[&str]| stepwise_cli(tb, args);
    let (code, text) =
        run(&["backup", "ratelimits.versions.stepwise.test", "-n", ns, "--to", folder.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("40 objects saved"), "{text}");

    let v2 = kube::discovery::ApiResource {
        version: "v1alpha2".into(),
        api_version: "versions.stepwise.test/v1alpha2".into(),
        ..v1.clone()
    };
    for (versions, case) in [
        (vec![("v1alpha1", true, false), ("v1alpha2", true, true)], "v1alpha1 still served, v1alpha2 stored"),
        (vec![("v1alpha1", false, false), ("v1alpha2", true, true)], "v1alpha1 no longer served"),
    ] {
        swap_crd(&conn, ratelimit_crd(&versions, "None")).await;
        let (code, text) = run(&["restore", folder.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{case}: {text}");
        let back: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), ns, &v2);
        let live = back.list(&Default::default()).await.unwrap();
        assert_eq!(live.items.len(), 40, "{case}: every object came back: {text}");
        for object in &live.items {
            let name = object.metadata.name.clone().unwrap();
            let i: usize = name.trim_start_matches("rl-").parse().unwrap();
            assert_eq!(object.data["spec"], spec(i), "{case}: {name} came back as it was saved");
        }
    }

    swap_crd(&conn, ratelimit_crd(&[("v1alpha1", false, false), ("v1alpha2", true, true)], "Webhook")).await;
    let (code, text) = run(&["restore", folder.to_str().unwrap()]);
    assert_ne!(code, Some(0), "a saved version only a webhook could convert is refused: {text}");
    for needle in ["saved as versions.stepwise.test/v1alpha1", "v1alpha2", "strategy Webhook", "nothing of this backup"]
    {
        assert!(text.contains(needle), "the refusal says `{needle}`: {text}");
    }
    let back: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), ns, &v2);
    assert!(back.list(&Default::default()).await.unwrap().items.is_empty(), "nothing was created");
}
