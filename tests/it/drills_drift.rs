//! Drift drills, through the real binary (headless, so `--yes` answers), on a
//! made-up product upgraded by removing its CRD and deploying it again, with a
//! pause before the removal and one before the restore in which the world
//! changes the cluster the way a second operator, a GitOps controller or a CI
//! job would:
//! - after the backup, one custom resource is edited and another created: the
//!   check right before the removal finds both, names them, takes the backup
//!   again (keeping the first), and after the upgrade both are on the cluster;
//! - before the restore, an object of the backup is created with other
//!   content: the restore leaves it as it is and ends "done with differences",
//!   naming it, instead of reporting success.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::support;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;
use stepwise::journal::{StepRecord, StepState};

const WORD: &str = "drift-mesh";
const OBJECTS: usize = 10;
/// Step indexes of the two pauses in PROCEDURE.
const PAUSE_BEFORE_REMOVAL: usize = 1;
const PAUSE_BEFORE_RESTORE: usize = 4;

const PROCEDURE: &str = r#"id: reinstall
product: drift-mesh
title: Remove and deploy again
description: Backs up the gadgets, removes the mesh, deploys it again and restores them.
disruption: high
applies:
  from: ">=1.0.0"
  to: ">=1.1.0"
variables:
  - name: crd
    description: The gadgets' CRD.
  - name: crd_file
    description: The CRD the new release installs.
  - name: go_dir
    description: Where the files that end the pauses appear.
steps:
  - id: backup-resources
    title: Save the gadgets
    explain: Every gadget, before the removal takes them with their CRD.
    backup:
      resources: ["{{crd}}"]
  - id: pause
    title: Wait for the maintenance window
    explain: Waits until the window opens.
    command:
      argv: [sh, -c, 'while [ ! -e "$0/remove" ]; do sleep 0.2; done', "{{go_dir}}"]
  - id: remove
    title: Remove the mesh
    explain: Deletes the CRD and with it every gadget.
    destructive: true
    confirm: {typed: drift-mesh}
    command:
      argv: [sh, -c, '"$STEPWISE_KUBECTL" delete crd "$0"', "{{crd}}"]
  - id: deploy
    title: Deploy the new release
    explain: Installs the CRD again.
    command:
      argv: [sh, -c, '"$STEPWISE_KUBECTL" apply -f "$0" && "$STEPWISE_KUBECTL" wait --for condition=established crd/"$1"', "{{crd_file}}", "{{crd}}"]
  - id: pause-again
    title: Wait for the new release to settle
    explain: Waits until it has.
    command:
      argv: [sh, -c, 'while [ ! -e "$0/restore" ]; do sleep 0.2; done', "{{go_dir}}"]
  - id: restore-resources
    title: Restore the gadgets
    explain: Re-creates every saved gadget.
    restore:
      from: backup-resources
"#;

/// One drill at a time: every session of the product holds its lease on the
/// one test cluster, so a second would be refused.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One upgrade of the made-up product, its gadgets in a CRD of `group`.
struct Scene {
    tb: &'static support::TestCluster,
    work: tempfile::TempDir,
    group: String,
    ns: String,
    api: Api<DynamicObject>,
}

impl Scene {
    async fn new(group: &str) -> Scene {
        let tb = support::cluster();
        let client = tb.client().await;
        let ns = tb.namespace(&client, "drift").await;
        let work = tempfile::tempdir().unwrap();
        let scene = Scene {
            tb,
            group: group.to_string(),
            ns: ns.clone(),
            api: Api::namespaced_with(client, &ns, &api_resource(group)),
            work,
        };
        std::fs::write(scene.crd_file(), crd(group).to_string()).unwrap();
        let mut apply = tb.command(&tb.kubectl);
        apply.args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context, "apply", "-f"]);
        apply.arg(scene.crd_file());
        support::run_ok(apply);
        support::wait_until("the gadget CRD to be served", Duration::from_secs(60), || async {
            scene.api.list(&Default::default()).await.ok().map(|_| ())
        })
        .await;
        for i in 0..OBJECTS {
            scene.api.create(&PostParams::default(), &scene.gadget(&format!("g-{i}"), i as u64)).await.unwrap();
        }
        let about = "A made-up product upgraded by removing and deploying it again.";
        let product = support::two_release_product("drift-mesh", "Drift Mesh", about);
        support::write_runbooks(scene.work.path(), "drift-mesh", &product, &[("reinstall.yaml", PROCEDURE)]);
        std::fs::create_dir_all(scene.go_dir()).unwrap();
        scene
    }

    fn crd_file(&self) -> PathBuf {
        self.work.path().join("crd.json")
    }

    fn go_dir(&self) -> PathBuf {
        self.work.path().join("go")
    }

    fn state(&self) -> PathBuf {
        self.work.path().join("state")
    }

    fn gadget(&self, name: &str, weight: u64) -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": format!("{}/v1", self.group), "kind": "Gadget",
            "metadata": {"name": name, "namespace": self.ns}, "spec": {"weight": weight}}))
        .unwrap()
    }

    fn start(&self) -> Running {
        let mut cmd = support::stepwise_command(self.tb, &self.tb.context, &self.state());
        cmd.arg("--runbooks").arg(self.work.path().join("runbooks"));
        cmd.args(["run", "drift-mesh", "--from", "1.0.0", "--to", "1.1.0", "--yes", "--confirm", WORD]);
        for (name, value) in [
            ("crd", format!("gadgets.{}", self.group)),
            ("crd_file", self.crd_file().display().to_string()),
            ("go_dir", self.go_dir().display().to_string()),
        ] {
            cmd.arg("--set").arg(format!("{name}={value}"));
        }
        let (out, err) = (self.work.path().join("stepwise.out"), self.work.path().join("stepwise.err"));
        cmd.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&err).unwrap());
        Running { child: cmd.spawn().unwrap(), out, err }
    }

    fn steps(&self) -> Option<Vec<StepRecord>> {
        let sessions = std::fs::read_dir(self.state().join("sessions")).ok()?;
        let dir = sessions.filter_map(Result::ok).find(|e| !e.file_name().to_string_lossy().starts_with('.'))?.path();
        serde_json::from_slice(&std::fs::read(dir.join("steps.json")).ok()?).ok()
    }

    async fn wait_for_pause(&self, index: usize) {
        support::wait_until(&format!("the pause at step {index}"), Duration::from_secs(120), || async {
            (self.steps()?.get(index)?.state == StepState::Running).then_some(())
        })
        .await;
    }

    fn go(&self, pause: &str) {
        std::fs::write(self.go_dir().join(pause), "go").unwrap();
    }

    fn session(&self) -> PathBuf {
        std::fs::read_dir(self.state().join("sessions")).unwrap().next().unwrap().unwrap().path()
    }

    async fn weights(&self) -> Vec<(String, serde_json::Value)> {
        let list = self.api.list(&Default::default()).await.unwrap();
        let mut all: Vec<(String, serde_json::Value)> = list
            .items
            .iter()
            .map(|g| (g.metadata.name.clone().unwrap_or_default(), g.data["spec"]["weight"].clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

fn api_resource(group: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
    }
}

fn crd(group: &str) -> serde_json::Value {
    support::loose_crd(group, "gadgets", "Gadget")
}

/// The stepwise a drill started; it does not outlive the test.
struct Running {
    child: std::process::Child,
    out: PathBuf,
    err: PathBuf,
}

impl Running {
    /// Waits for the end; returns the exit status and everything it printed.
    async fn end(&mut self) -> (ExitStatus, String) {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "stepwise did not end within 180 s: {}", self.said());
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        (status, self.said())
    }

    fn said(&self) -> String {
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}\n{}", read(&self.out), read(&self.err))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_and_a_new_object_after_the_backup_are_found_before_the_removal_and_kept() {
    let _turn = TURN.lock().await;
    let scene = Scene::new("drift.stepwise.test").await;
    let mut running = scene.start();
    scene.wait_for_pause(PAUSE_BEFORE_REMOVAL).await;
    let edit = json!({"spec": {"weight": 1000}});
    scene.api.patch("g-3", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    scene.api.create(&PostParams::default(), &scene.gadget("g-new", 7)).await.unwrap();
    scene.go("remove");
    scene.go("restore");

    let (status, said) = running.end().await;
    assert!(status.success(), "the upgrade finished: {said}");
    let ns = &scene.ns;
    for needle in [
        "the cluster changed since the backup: 2 objects differ".to_string(),
        format!("gadgets.drift.stepwise.test {ns}/g-3: changed since the backup (spec)"),
        format!("gadgets.drift.stepwise.test {ns}/g-new: created since the backup"),
    ] {
        assert!(said.contains(&needle), "the operator is told `{needle}`: {said}");
    }
    let weights = scene.weights().await;
    assert_eq!(weights.len(), OBJECTS + 1, "every gadget and the new one came back: {weights:?}\n{said}");
    let weight = |name: &str| weights.iter().find(|(n, _)| n == name).map(|(_, w)| w.clone());
    assert_eq!(weight("g-3"), Some(json!(1000)), "the edit made after the first backup survived");
    assert_eq!(weight("g-new"), Some(json!(7)), "the object created after the first backup survived");
    let kept = std::fs::read_dir(scene.session().join("backups"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("backup-resources.taken-"));
    assert!(kept, "the first backup is kept beside the new one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_already_there_with_other_content_ends_the_restore_done_with_differences() {
    let _turn = TURN.lock().await;
    let scene = Scene::new("differ.stepwise.test").await;
    let mut running = scene.start();
    scene.go("remove");
    scene.wait_for_pause(PAUSE_BEFORE_RESTORE).await;
    scene.api.create(&PostParams::default(), &scene.gadget("g-2", 999)).await.unwrap();
    scene.go("restore");

    let (status, said) = running.end().await;
    assert!(status.success(), "the upgrade finished once the differences were acknowledged: {said}");
    let ns = &scene.ns;
    for needle in [
        "\"Restore the gadgets\" is done with differences".to_string(),
        "1 objects were already there with other content and were left as they are".to_string(),
        format!("gadgets.differ.stepwise.test/{ns}/g-2"),
    ] {
        assert!(said.contains(&needle), "the operator is told `{needle}`: {said}");
    }
    let weights = scene.weights().await;
    assert_eq!(weights.len(), OBJECTS, "{weights:?}");
    let weight = |name: &str| weights.iter().find(|(n, _)| n == name).map(|(_, w)| w.clone());
    assert_eq!(weight("g-2"), Some(json!(999)), "the object already there was left as it was");
    assert_eq!(weight("g-5"), Some(json!(5)), "the others came back as saved");
    let steps = scene.steps().unwrap();
    let restore = steps.last().unwrap();
    assert_eq!(restore.state, StepState::Done);
    assert!(restore.outcome.as_deref().unwrap_or_default().contains("done with differences"), "{restore:?}");
}

/// The runbooks change under a stopped session: a step is inserted before the
/// ones already done. `--accept-changed-runbooks` matches the journal to the
/// new steps by id, not by position: what was done stays done (the backup is
/// not taken again), the new step runs, and the upgrade ends with every gadget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_runbooks_are_matched_to_the_journal_by_step_id() {
    let _turn = TURN.lock().await;
    let scene = Scene::new("changed.stepwise.test").await;
    scene.go("remove");
    scene.go("restore");
    // Without --confirm the session stops at the removal's typed word.
    let mut cmd = support::stepwise_command(scene.tb, &scene.tb.context, &scene.state());
    cmd.arg("--runbooks").arg(scene.work.path().join("runbooks"));
    cmd.args(["run", "drift-mesh", "--from", "1.0.0", "--to", "1.1.0", "--yes"]);
    for (name, value) in [
        ("crd", format!("gadgets.{}", scene.group)),
        ("crd_file", scene.crd_file().display().to_string()),
        ("go_dir", scene.go_dir().display().to_string()),
    ] {
        cmd.arg("--set").arg(format!("{name}={value}"));
    }
    let stopped = support::run_bounded(cmd, scene.work.path(), Duration::from_secs(120));
    assert_eq!(stopped.code, Some(7), "{}", stopped.show());

    let file = scene.work.path().join("runbooks/drift-mesh/reinstall.yaml");
    let inserted = PROCEDURE.replace(
        "steps:\n",
        "steps:\n  - id: announce\n    title: Announce the upgrade\n    explain: Says so.\n    \
         command:\n      argv: [echo, announcing the upgrade]\n",
    );
    std::fs::write(&file, inserted).unwrap();
    let resume = |extra: &[&str]| {
        let mut cmd = support::stepwise_command(scene.tb, &scene.tb.context, &scene.state());
        cmd.arg("--runbooks").arg(scene.work.path().join("runbooks"));
        cmd.args(["resume", "--yes", "--confirm", WORD]).args(extra);
        support::run_bounded(cmd, scene.work.path(), Duration::from_secs(180))
    };
    let refused = resume(&[]);
    assert_eq!(refused.code, Some(4), "changed runbooks need --accept-changed-runbooks: {}", refused.show());

    let ended = resume(&["--accept-changed-runbooks"]);
    assert_eq!(ended.code, Some(0), "{}", ended.show());
    assert!(ended.stdout.contains("`announce` is new"), "the new step is shown: {}", ended.show());
    assert!(ended.stdout.contains("announcing the upgrade"), "and it ran: {}", ended.show());
    let steps = scene.steps().unwrap();
    let by_id = |id: &str| steps.iter().find(|s| s.step == id).unwrap_or_else(|| panic!("no {id}: {steps:?}"));
    assert_eq!(steps[0].step, "announce");
    assert!(steps.iter().all(|s| s.state == StepState::Done), "{steps:?}");
    assert_eq!(by_id("backup-resources").attempts, 1, "the backup done before was not taken again: {steps:?}");
    assert_eq!(by_id("announce").attempts, 1);
    assert_eq!(scene.weights().await.len(), OBJECTS, "every gadget came back");
}
