//! Targeting drills: two clusters in one kubeconfig, and an nginx-meshctl that
//! — like the real one — has no context flag and acts on whatever the
//! kubeconfig's current context is. The session's cluster must be the only one
//! changed, however the operator's kubeconfig points elsewhere.
//!
//! Cluster A (`stepwise-test`) and cluster B (`stepwise-test-2`) both run NGINX
//! Service Mesh 1.6.0 with custom resources of all six kinds; the two context
//! drills upgrade B and then check A is exactly as it was. The drills of two
//! operators, a dead lease holder and a hangup need only B: each takes a
//! cluster of its own, so they run beside other modules, not after them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::journey;
use crate::seed;
use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

const PER_KIND: usize = 10;
const TEAMS: usize = 2;
const MESHED: &str = "shop";

/// A kubeconfig of the operator's: a copy of the bed's with `current` as its
/// current context, which the drill may switch later.
fn operator_kubeconfig(bed: &support::TestCluster, dir: &Path, current: &str) -> PathBuf {
    let path = dir.join("operator-kubeconfig");
    std::fs::copy(&bed.kubeconfig, &path).unwrap();
    use_context(bed, &path, current);
    path
}

fn use_context(bed: &support::TestCluster, kubeconfig: &Path, context: &str) {
    let mut c = std::process::Command::new(&bed.kubectl);
    c.arg("--kubeconfig").arg(kubeconfig).args(["config", "use-context", context]);
    support::run_ok(c);
}

/// One cluster of the drill: its client, the objects seeded there, and the
/// finalizer controller that lets its CRDs go when a mesh is removed.
struct Side {
    name: &'static str,
    client: kube::Client,
    namespaces: Vec<String>,
    before: BTreeMap<String, Value>,
    finalizers: tokio::task::JoinHandle<()>,
}

impl Drop for Side {
    fn drop(&mut self) {
        self.finalizers.abort();
    }
}

/// Mesh 1.6.0 in `context` (deployed through a kubeconfig whose current
/// context is that one, as an operator would), custom resources, a meshed app.
async fn prepare(
    bed: &support::TestCluster,
    name: &'static str,
    context: &str,
    meshctls: &seed::mesh::Meshctls,
    work: &Path,
) -> Side {
    let client = bed.client_for(context).await;
    let finalizers = seed::spawn_finalizer_controller(client.clone());
    let kubeconfig = work.join(format!("setup-{name}"));
    std::fs::copy(&bed.kubeconfig, &kubeconfig).unwrap();
    use_context(bed, &kubeconfig, context);
    seed::mesh::clear_mesh(&bed.kubectl, &kubeconfig, context, &[MESHED]);
    let mut deploy = bed.command(&meshctls.old);
    deploy.env("KUBECONFIG", &kubeconfig).args(["--namespace", "nginx-mesh", "deploy"]);
    support::run_ok(deploy);
    let namespaces: Vec<String> = (0..TEAMS).map(|i| format!("targeting-{name}-{i}")).collect();
    seed::seed(&client, &namespaces, PER_KIND).await;
    seed::meshed_app(&client, MESHED).await;
    let before = seed::live(&client, &namespaces).await;
    assert_eq!(before.len(), seed::KINDS.len() * PER_KIND, "cluster {name}: seeded");
    Side { name, client, namespaces, before, finalizers }
}

/// The upgrade of B through `kubeconfig`, headless, as the journeys run it.
fn upgrade(
    bed: &support::TestCluster,
    kubeconfig: &Path,
    state: &Path,
    context: Option<&str>,
    args: &[String],
) -> std::process::Output {
    let mut cmd = bed.command(support::stepwise_bin());
    cmd.env("KUBECONFIG", kubeconfig).env("NO_COLOR", "1").arg("--state-dir").arg(state);
    if let Some(context) = context {
        cmd.args(["--context", context]);
    }
    cmd.args(args);
    let out = cmd.output().unwrap();
    eprintln!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// A was not touched: every custom resource exactly as it was (same
/// resourceVersion) and its control plane still 1.6.0.
async fn assert_untouched(drill: &str, a: &Side) {
    let now = seed::live(&a.client, &a.namespaces).await;
    assert_eq!(seed::versions(&now), seed::versions(&a.before), "{drill}: cluster {} changed", a.name);
    let image = journey::control_plane_image(&a.client).await.unwrap_or_default();
    assert!(image.ends_with(":1.6.0"), "{drill}: cluster {}'s control plane is {image:?}", a.name);
}

/// B was upgraded: 1.7.0, every custom resource back identical.
async fn assert_upgraded(drill: &str, b: &Side) {
    let image = journey::control_plane_image(&b.client).await.unwrap_or_default();
    assert!(image.ends_with(":1.7.0"), "{drill}: cluster {}'s control plane is {image:?}", b.name);
    journey::assert_all_back(drill, &b.before, &seed::live(&b.client, &b.namespaces).await);
}

/// After a finished session no copy of the operator's credentials is left in it.
fn assert_no_pinned_kubeconfig_left(drill: &str, state: &Path) {
    for session in std::fs::read_dir(state.join("sessions")).unwrap().flatten() {
        let left: Vec<String> = std::fs::read_dir(session.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("kubeconfig"))
            .collect();
        assert!(left.is_empty(), "{drill}: {left:?} left in {}", session.path().display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_current_context_on_a_and_context_b_only_b_changes() {
    let drill = "current context A, --context B";
    let (a, OnB { bed, work, meshctls: _meshctls, b, kubeconfig, args }) = on_a_and_b(Current::A).await;
    let state = work.path().join("state");
    let out = upgrade(bed, &kubeconfig, &state, bed.second_context.as_deref(), &args);
    assert!(out.status.success(), "{drill}: the upgrade of B failed");
    assert_untouched(drill, &a).await;
    assert_upgraded(drill, &b).await;
    assert_no_pinned_kubeconfig_left(drill, &state);
}

/// The operator's kubeconfig is switched to A (kubectx in another terminal)
/// after the backup of B, right before the removal: the removal and the deploy
/// still act on B, the session's cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_the_current_context_to_a_before_the_removal_still_only_changes_b() {
    let drill = "current context switched to A before the removal";
    // The session starts with B current and no --context at all.
    let (a, OnB { bed, work, meshctls, b, kubeconfig, args: _ }) = on_a_and_b(Current::B).await;
    let state = work.path().join("state");

    // The nginx-meshctl the removal runs switches the operator's kubeconfig to
    // A first: the moment between the backup and the removal, when another
    // terminal's `kubectx` would land.
    let switching = work.path().join("nginx-meshctl-switching");
    let script = format!(
        "#!/usr/bin/env bash\nfor a in \"$@\"; do [[ $a == remove ]] && {} --kubeconfig {} config use-context {} >/dev/null; done\nexec {} \"$@\"\n",
        bed.kubectl.display(),
        kubeconfig.display(),
        bed.context,
        meshctls.old.display()
    );
    std::fs::write(&switching, script).unwrap();
    std::fs::set_permissions(&switching, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let args = seed::mesh::manual_upgrade_args("run", &switching, &meshctls.new, &[MESHED]);
    let out = upgrade(bed, &kubeconfig, &state, None, &args);
    assert!(out.status.success(), "{drill}: the upgrade of B failed");
    let current = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(current.contains(&format!("current-context: {}", bed.context)), "{drill}: the switch happened:\n{current}");
    assert_untouched(drill, &a).await;
    assert_upgraded(drill, &b).await;
    assert_no_pinned_kubeconfig_left(drill, &state);
}

/// `stepwise run` started in the background with its own state folder, its
/// output in that folder; the caller waits for a line or kills it.
struct Background {
    child: std::process::Child,
    err: PathBuf,
}

impl Background {
    fn start(
        bed: &support::TestCluster,
        kubeconfig: &Path,
        state: &Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Self {
        std::fs::create_dir_all(state).unwrap();
        let err = state.join("stepwise.err");
        let mut cmd = bed.command(support::stepwise_bin());
        cmd.env("KUBECONFIG", kubeconfig)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .arg("--state-dir")
            .arg(state)
            .args(args)
            .stdout(std::fs::File::create(state.join("stepwise.out")).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        Background { child: cmd.spawn().unwrap(), err }
    }

    /// Waits until stderr shows `line` (a drill hold point), failing if the
    /// process ends first or a minute passes.
    async fn wait_for(&mut self, line: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let err = std::fs::read_to_string(&self.err).unwrap_or_default();
            if err.contains(line) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("stepwise ended ({status}) before `{line}`:\n{err}");
            }
            assert!(std::time::Instant::now() < deadline, "no `{line}` within a minute:\n{err}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Cluster B ready for a drill that needs only it: the mesh and its objects,
/// the operator's kubeconfig with B current, and the headless upgrade's arguments.
struct OnB {
    bed: &'static support::TestCluster,
    work: tempfile::TempDir,
    meshctls: seed::mesh::Meshctls,
    b: Side,
    kubeconfig: PathBuf,
    args: Vec<String>,
}

/// Which cluster the operator's kubeconfig has as its current context.
#[derive(PartialEq)]
enum Current {
    A,
    B,
}

/// A cluster of its own (the module is one of `lanes::ONE_TEST_A_CLUSTER`)
/// with the mesh, to upgrade.
async fn on_b() -> OnB {
    let bed = support::cluster();
    on_cluster_b(bed, None, &bed.context).await.1
}

/// Both clusters with the mesh: A to stay untouched, B to upgrade.
async fn on_a_and_b(current: Current) -> (Side, OnB) {
    let bed = support::multi_cluster();
    let b_context = bed.second_context.clone().unwrap();
    let current = if current == Current::A { bed.context.clone() } else { b_context.clone() };
    let (a, scene) = on_cluster_b(bed, Some(&bed.context), &b_context).await;
    use_context(bed, &scene.kubeconfig, &current);
    (a.expect("cluster A was prepared"), scene)
}

/// The mesh on B (and on A, when given), and the operator's kubeconfig with B
/// as its current context.
async fn on_cluster_b(
    bed: &'static support::TestCluster,
    a_context: Option<&str>,
    b_context: &str,
) -> (Option<Side>, OnB) {
    let work = tempfile::tempdir().unwrap();
    let meshctls = seed::mesh::deploy_tools(bed);
    let a = match a_context {
        Some(context) => Some(prepare(bed, "a", context, &meshctls, work.path()).await),
        None => None,
    };
    let b = prepare(bed, "b", b_context, &meshctls, work.path()).await;
    let kubeconfig = operator_kubeconfig(bed, work.path(), b_context);
    let args = seed::mesh::manual_upgrade_args("run", &meshctls.old, &meshctls.new, &[MESHED]);
    (a, OnB { bed, work, meshctls, b, kubeconfig, args })
}

const LEASE: &str = "stepwise-nginx-service-mesh";
const HOLD_AT_FIRST_STEP: (&str, &str) = ("STEPWISE_DRILL_HOLD_BEFORE_STEP", "0");

async fn lease_holder(client: &kube::Client) -> Option<String> {
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client.clone(), "kube-system");
    leases.get_opt(LEASE).await.unwrap()?.spec?.holder_identity
}

/// A lease as a stepwise on another machine would have left it, renewed
/// `seconds_ago` seconds ago.
async fn plant_lease(client: &kube::Client, holder: &str, seconds_ago: i64) {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    let leases: kube::Api<Lease> = kube::Api::namespaced(client.clone(), "kube-system");
    let _ = leases.delete(LEASE, &Default::default()).await;
    let at = k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(seconds_ago);
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": LEASE},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60, "renewTime": MicroTime(at), "acquireTime": MicroTime(at)}
    }))
    .unwrap();
    leases.create(&Default::default(), &lease).await.unwrap();
}

/// A session holds the cluster (it waits before its first step, as at its first
/// question); a second `run` from another state folder is refused, naming it,
/// and changes nothing. Once the first is killed, a third takes the lease at
/// once: its holder ran on this machine and is provably gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_session_from_another_state_folder_is_refused_while_the_first_holds_the_lease() {
    let drill = "two operators";
    let OnB { bed, work, meshctls: _meshctls, b, kubeconfig, args } = on_b().await;

    let first_state = work.path().join("first");
    let mut first = Background::start(bed, &kubeconfig, &first_state, &args, &[HOLD_AT_FIRST_STEP]);
    first.wait_for("drill: holding before step 0").await;
    let first_id = support::only_session(&first_state).file_name().unwrap().to_string_lossy().into_owned();
    assert!(lease_holder(&b.client).await.unwrap_or_default().contains(&format!("session={first_id}")));

    let second = upgrade(bed, &kubeconfig, &work.path().join("second"), None, &args);
    let said = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(4), "{drill}: the second run is refused (exit 4)");
    for text in [format!("held by session={first_id}"), "Nothing was changed".into(), "--break-lease".into()] {
        assert!(said.contains(&text), "{drill}: the refusal says `{text}`:\n{said}");
    }
    let now = seed::live(&b.client, &b.namespaces).await;
    assert_eq!(seed::versions(&now), seed::versions(&b.before), "{drill}: nothing changed");
    let image = journey::control_plane_image(&b.client).await.unwrap_or_default();
    assert!(image.ends_with(":1.6.0"), "{drill}: the mesh is untouched: {image}");

    drop(first);
    let third_state = work.path().join("third");
    let mut third = Background::start(bed, &kubeconfig, &third_state, &args, &[HOLD_AT_FIRST_STEP]);
    third.wait_for("drill: holding before step 0").await;
    let transcript = std::fs::read_to_string(support::only_session(&third_state).join("transcript.jsonl")).unwrap();
    assert!(
        transcript.contains("its holder's process on this machine is gone") && transcript.contains(&first_id),
        "{drill}: the killed session's lease is taken over at once:\n{transcript}"
    );
}

/// A lease whose holder stopped renewing long ago is taken over, and the
/// transcript says whose it was; a live one is taken only with --break-lease
/// and the product's name typed (here --confirm).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over_and_a_live_one_only_broken_on_purpose() {
    let drill = "dead holder";
    let OnB { bed, work, meshctls: _meshctls, b, kubeconfig, args } = on_b().await;
    let ghost = "session=20261130-000000-ghost host=bastion-2 user=someone pid=4242";

    // Expired: renewed five minutes ago, lasting 60 s.
    plant_lease(&b.client, ghost, 300).await;
    let state = work.path().join("expired");
    let mut run = Background::start(bed, &kubeconfig, &state, &args, &[HOLD_AT_FIRST_STEP]);
    run.wait_for("drill: holding before step 0").await;
    let id = support::only_session(&state).file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        lease_holder(&b.client).await.unwrap_or_default().contains(&format!("session={id}")),
        "{drill}: taken over"
    );
    let transcript = std::fs::read_to_string(support::only_session(&state).join("transcript.jsonl")).unwrap();
    assert!(transcript.contains("taken over after it expired") && transcript.contains(ghost), "{drill}:\n{transcript}");
    drop(run);

    // Live: refused without --break-lease, taken with it and the typed word.
    let drill = "live holder";
    plant_lease(&b.client, ghost, 1).await;
    let refused = upgrade(bed, &kubeconfig, &work.path().join("refused"), None, &args);
    assert_eq!(refused.status.code(), Some(4), "{drill}: refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("held by session=20261130-000000-ghost"));
    assert_eq!(lease_holder(&b.client).await.as_deref(), Some(ghost), "{drill}: the lease is left alone");

    let mut breaking = args.clone();
    breaking.extend(["--break-lease".to_string(), "--confirm".into(), "nginx-service-mesh".into()]);
    let state = work.path().join("broken");
    let mut run = Background::start(bed, &kubeconfig, &state, &breaking, &[HOLD_AT_FIRST_STEP]);
    run.wait_for("drill: holding before step 0").await;
    let id = support::only_session(&state).file_name().unwrap().to_string_lossy().into_owned();
    assert!(lease_holder(&b.client).await.unwrap_or_default().contains(&format!("session={id}")), "{drill}: broken");
    let transcript = std::fs::read_to_string(support::only_session(&state).join("transcript.jsonl")).unwrap();
    assert!(transcript.contains("broken with --break-lease"), "{drill}:\n{transcript}");
    drop(run);
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(b.client.clone(), "kube-system");
    let _ = leases.delete(LEASE, &Default::default()).await;
}

/// The SSH connection drops (SIGHUP) while the removal command runs: the
/// command's whole process group is gone within the grace period, the step is
/// recorded as interrupted with what the command had printed, and the resume
/// shows that output and then finishes the upgrade with nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hangup_during_a_long_command_ends_it_and_the_resume_shows_its_output() {
    let drill = "SIGHUP during the removal";
    let OnB { bed, work, meshctls, b, kubeconfig, args: _ } = on_b().await;

    // A removal that says what it does, then takes its time; its pid is kept
    // so the drill can tell whether it outlived stepwise.
    let pid_file = work.path().join("slow-remove.pid");
    let slow = work.path().join("nginx-meshctl-slow");
    let script = format!(
        "#!/usr/bin/env bash\nfor a in \"$@\"; do if [[ $a == remove ]]; then echo \"removing the mesh, slowly\"; \
         echo $$ > {}; sleep 120; fi; done\nexec {} \"$@\"\n",
        pid_file.display(),
        meshctls.old.display()
    );
    std::fs::write(&slow, script).unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let args = seed::mesh::manual_upgrade_args("run", &slow, &meshctls.new, &[MESHED]);
    let state = work.path().join("state");
    let mut run = Background::start(bed, &kubeconfig, &state, &args, &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !pid_file.exists() {
        assert!(run.child.try_wait().unwrap().is_none(), "{drill}: stepwise ended before the removal began");
        assert!(std::time::Instant::now() < deadline, "{drill}: the removal did not begin");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let child: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let hung_up = std::time::Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(run.child.id() as i32), nix::sys::signal::Signal::SIGHUP)
        .unwrap();
    let status = loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            hung_up.elapsed() < std::time::Duration::from_secs(30),
            "{drill}: stepwise still runs 30 s after SIGHUP"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(130), "{drill}: ends as interrupted");
    assert!(!Path::new(&format!("/proc/{child}")).exists(), "{drill}: the removal command outlived stepwise");
    let session = support::only_session(&state);
    let steps: Vec<stepwise::journal::StepRecord> =
        serde_json::from_slice(&std::fs::read(session.join("steps.json")).unwrap()).unwrap();
    assert_eq!(journey::state_of(&steps, "remove-mesh"), stepwise::journal::StepState::Interrupted, "{drill}");
    assert!(std::fs::read_to_string(session.join("transcript.jsonl")).unwrap().contains("removing the mesh, slowly"));
    drop(run);

    // The resume (the slow removal is swapped for the real one) shows what the
    // interrupted command printed, then finishes.
    std::fs::copy(&meshctls.old, &slow).unwrap();
    let mut resume = bed.command(support::stepwise_bin());
    resume.env("KUBECONFIG", &kubeconfig).env("NO_COLOR", "1").arg("--state-dir").arg(&state).args(journey::RESUME);
    let out = resume.output().unwrap();
    let said = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{drill}: the resume failed:\n{said}");
    assert!(
        said.contains("was interrupted last time; it had printed:") && said.contains("removing the mesh, slowly"),
        "{said}"
    );
    assert_upgraded(drill, &b).await;
}
