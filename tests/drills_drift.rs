//! Drift drill: after the backup and before the removal, someone edits one
//! custom resource and creates another — the way a second operator, a GitOps
//! controller or a CI job would while the removal waits. Through the real
//! binary (headless, so `--yes` answers): the check right before the removal
//! finds both, names them, takes the backup again (keeping the first one), and
//! after the upgrade the cluster holds the edit and the new object.

mod support;

use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;

const WORD: &str = "drift-mesh";
const OBJECTS: usize = 10;

const PRODUCT: &str = "id: drift-mesh
name: Drift Mesh
description: A made-up product upgraded by removing and deploying it again.
releases: [1.0.0, 1.1.0]
path:
  rules:
    - reason: One minor at a time.
      max_minor: 1
";

const PROCEDURE: &str = r#"id: reinstall
product: drift-mesh
title: Remove and deploy again
description: Backs up the gadgets, removes the mesh, deploys it again and restores them.
disruption: high
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: crd_file
    description: The CRD the new release installs.
  - name: go_file
    description: The file whose appearance ends the pause.
steps:
  - id: backup-resources
    title: Save the gadgets
    explain: Every gadget, before the removal takes them with their CRD.
    backup:
      resources: [gadgets.drift.stepwise.test]
  - id: pause
    title: Wait for the maintenance window
    explain: Waits until the window opens.
    command:
      argv: [sh, -c, 'while [ ! -e "$0" ]; do sleep 0.2; done', "{{go_file}}"]
  - id: remove
    title: Remove the mesh
    explain: Deletes the CRD and with it every gadget.
    destructive: true
    confirm: {typed: drift-mesh}
    command:
      argv: [sh, -c, '"$STEPWISE_KUBECTL" delete crd gadgets.drift.stepwise.test']
  - id: deploy
    title: Deploy the new release
    explain: Installs the CRD again.
    command:
      argv: [sh, -c, '"$STEPWISE_KUBECTL" apply -f "$0"', "{{crd_file}}"]
  - id: restore-resources
    title: Restore the gadgets
    explain: Re-creates every saved gadget.
    restore:
      from: backup-resources
"#;

fn crd() -> serde_json::Value {
    let schema = json!({"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}});
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.drift.stepwise.test"},
        "spec": {
            "group": "drift.stepwise.test",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": schema}],
        }
    })
}

fn gadgets(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: "drift.stepwise.test".into(),
        version: "v1".into(),
        api_version: "drift.stepwise.test/v1".into(),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
    };
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn gadget(ns: &str, name: &str, weight: u64) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "drift.stepwise.test/v1", "kind": "Gadget",
        "metadata": {"name": name, "namespace": ns}, "spec": {"weight": weight}}))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_and_a_new_object_after_the_backup_are_found_before_the_removal_and_kept() {
    let tb = support::cluster();
    let client = tb.client().await;
    let ns = tb.namespace(&client, "drift").await;
    let work = tempfile::tempdir().unwrap();
    let crd_file = work.path().join("crd.json");
    std::fs::write(&crd_file, crd().to_string()).unwrap();
    let mut apply = tb.command(&tb.kubectl);
    apply.args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context, "apply", "-f"]);
    apply.arg(&crd_file);
    support::run_ok(apply);
    let api = gadgets(&client, &ns);
    support::wait_until("the gadget CRD to be served", Duration::from_secs(60), || async {
        api.list(&Default::default()).await.ok().map(|_| ())
    })
    .await;
    for i in 0..OBJECTS {
        api.create(&PostParams::default(), &gadget(&ns, &format!("g-{i}"), i as u64)).await.unwrap();
    }
    let product = work.path().join("runbooks/drift-mesh");
    std::fs::create_dir_all(&product).unwrap();
    std::fs::write(product.join("product.yaml"), PRODUCT).unwrap();
    std::fs::write(product.join("reinstall.yaml"), PROCEDURE).unwrap();
    let state = work.path().join("state");
    let go_file = work.path().join("go");
    let mut cmd = support::stepwise_command(tb, &tb.context, &state);
    cmd.arg("--runbooks").arg(work.path().join("runbooks"));
    cmd.args(["run", "drift-mesh", "--from", "1.0.0", "--to", "1.1.0", "--yes", "--confirm", WORD]);
    cmd.arg("--set").arg(format!("crd_file={}", crd_file.display()));
    cmd.arg("--set").arg(format!("go_file={}", go_file.display()));
    let (out, err) = (work.path().join("stepwise.out"), work.path().join("stepwise.err"));
    cmd.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&err).unwrap());
    let mut running = KillOnDrop(cmd.spawn().unwrap());

    // Once the backup is taken and the session waits: one edit, one new object.
    let steps_file = || {
        let sessions = std::fs::read_dir(state.join("sessions")).ok()?;
        let dir = sessions.filter_map(Result::ok).find(|e| !e.file_name().to_string_lossy().starts_with('.'))?.path();
        let steps: Vec<stepwise::journal::StepRecord> =
            serde_json::from_slice(&std::fs::read(dir.join("steps.json")).ok()?).ok()?;
        Some(steps)
    };
    support::wait_until("the backup to be taken and the pause to begin", Duration::from_secs(120), || async {
        let steps = steps_file()?;
        (steps[0].state == stepwise::journal::StepState::Done
            && steps[1].state == stepwise::journal::StepState::Running)
            .then_some(())
    })
    .await;
    let edit = json!({"spec": {"weight": 1000}});
    api.patch("g-3", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    api.create(&PostParams::default(), &gadget(&ns, "g-new", 7)).await.unwrap();
    std::fs::write(&go_file, "go").unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = running.0.kill();
            panic!("stepwise did not end within 180 s: {}", std::fs::read_to_string(&out).unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let said = format!(
        "{}\n{}",
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    assert!(status.success(), "the upgrade finished: {said}");
    for needle in [
        "the cluster changed since the backup: 2 objects differ".to_string(),
        format!("gadgets.drift.stepwise.test {ns}/g-3: changed since the backup (spec)"),
        format!("gadgets.drift.stepwise.test {ns}/g-new: created since the backup"),
    ] {
        assert!(said.contains(&needle), "the operator is told `{needle}`: {said}");
    }

    let back = api.list(&Default::default()).await.unwrap();
    assert_eq!(back.items.len(), OBJECTS + 1, "every gadget and the new one came back: {said}");
    let weight = |name: &str| {
        back.items.iter().find(|g| g.metadata.name.as_deref() == Some(name)).map(|g| g.data["spec"]["weight"].clone())
    };
    assert_eq!(weight("g-3"), Some(json!(1000)), "the edit made after the first backup survived");
    assert_eq!(weight("g-new"), Some(json!(7)), "the object created after the first backup survived");
    let session = std::fs::read_dir(state.join("sessions")).unwrap().next().unwrap().unwrap().path();
    let kept = std::fs::read_dir(session.join("backups"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("backup-resources.taken-"));
    assert!(kept, "the first backup is kept beside the new one");
}

/// Whatever happens to the test, the stepwise it started does not outlive it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
