//! Interrupted upgrades picked up again, end to end through the real binary on
//! the test bed, headless with --yes: the NGINX Service Mesh 1.6 -> 1.7 manual
//! upgrade (remove the mesh, deploy the new one, restore the custom resources)
//! killed with SIGKILL at the moments that matter and resumed each time; a
//! backup damaged while the mesh is gone; and the refusals that keep a resume
//! from doing harm (no way to answer, another cluster).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::journey;
use crate::seed;
use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use journey::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::Value;
use stepwise::cluster::manifest::Manifest;
use stepwise::journal::StepState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_killed_at_every_moment_that_matters_resumes_to_the_end() {
    const JOURNEY: &str = "kill drill";
    let started = Instant::now();
    let tb = support::cluster();
    let meshed = ["kd-app-a", "kd-app-b"];
    let per_kind = 300;
    let scene = Scene::set_up(JOURNEY, tb, "kd", 6, per_kind, &meshed).await;
    let (client, old, new, before) = (&scene.client, &scene.old, &scene.new, &scene.before);
    let total = seed::KINDS.len() * per_kind;
    eprintln!("{JOURNEY}: set up in {:?}", started.elapsed());

    let mut up = Upgrade::new(JOURNEY, tb);
    let run_args = Upgrade::run_args(old, new, &meshed);

    // (a) During the backup: the step is running and its files are being written.
    let running = up.spawn(&run_args);
    let backup_begun = |up: &Upgrade| -> bool {
        let Some(steps) = up.try_steps() else { return false };
        let files = std::fs::read_dir(up.session().join("backups/backup-resources"))
            .map(|d| d.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().contains(".yaml")))
            .unwrap_or(false);
        state_of(&steps, "backup-resources") == StepState::Running && files
    };
    let ended =
        up.kill_when(running, "during the backup", Duration::from_secs(120), || async { backup_begun(&up) }).await;
    let steps = up.steps();
    assert_eq!(
        state_of(&steps, "backup-resources"),
        StepState::Running,
        "{JOURNEY}, kill during the backup: {}",
        ended.show()
    );
    assert!(
        !up.backup_dir().join("manifest.json").exists(),
        "{JOURNEY}, kill during the backup: the backup had already finished (manifest written) when it was killed"
    );
    assert_eq!(state_of(&steps, "remove-mesh"), StepState::Pending, "{JOURNEY}, kill during the backup");
    let listed = up.sessions();
    let id = up.session().file_name().unwrap().to_string_lossy().into_owned();
    let line = listed.lines().find(|l| l.starts_with(&id)).unwrap_or_else(|| {
        panic!("{JOURNEY}, `stepwise sessions` after the kill during the backup: {id} not listed:\n{listed}")
    });
    for part in ["nginx-service-mesh", "1.6.0 -> 1.7.0", "last: Save the mesh custom resources"] {
        assert!(
            line.contains(part),
            "{JOURNEY}, `stepwise sessions` after the kill during the backup: no {part:?} in {line}"
        );
    }
    assert!(
        line.contains("Interrupted") && !line.contains("Running"),
        "{JOURNEY}, `stepwise sessions` after the kill during the backup: a killed session is shown as running: {line}"
    );

    // (b) Right after the removal command finished: the journal says done, nothing after it has started.
    let running = up.spawn(RESUME);
    let ended = up
        .kill_when(running, "right after the removal", Duration::from_secs(180), || async {
            up.try_steps().is_some_and(|s| state_of(&s, "remove-mesh") == StepState::Done)
        })
        .await;
    assert!(
        ended.stdout.contains("was cut short; it is safe to run again"),
        "{JOURNEY}, resume after the kill during the backup: the interrupted backup step is not named as run again; {}",
        ended.show()
    );
    let steps = up.steps();
    assert_eq!(
        state_of(&steps, "deploy"),
        StepState::Pending,
        "{JOURNEY}, kill right after the removal: the kill came too late, the deploy had started"
    );
    assert_eq!(
        up.standin_actions().iter().filter(|a| a.contains(" remove")).count(),
        1,
        "{JOURNEY}, step `remove-mesh`"
    );

    // (c) During the restore: the first kind is partly back.
    let first_kind = seed::KINDS.iter().min_by_key(|k| format!("{}.{}", k.0, k.1)).unwrap();
    let running = up.spawn(RESUME);
    let ended = up
        .kill_when(running, "during the restore", Duration::from_secs(180), || async {
            up.try_steps().is_some_and(|s| state_of(&s, "restore-resources") == StepState::Running)
                && live_count(client, first_kind).await >= per_kind / 4
        })
        .await;
    let restored = live_total(client).await;
    assert!(
        restored > 0 && restored < total,
        "{JOURNEY}, kill during the restore: {restored} of {total} objects were back, so it was not mid-restore; {}",
        ended.show()
    );
    assert_eq!(state_of(&up.steps(), "restore-resources"), StepState::Running, "{JOURNEY}, kill during the restore");

    // (d) During the re-roll: a workload has been restarted and its step is still running.
    let running = up.spawn(RESUME);
    let rerolled = std::cell::Cell::new(None);
    let ended = up
        .kill_when(running, "during the re-roll", Duration::from_secs(180), || async {
            let Some(steps) = up.try_steps() else { return false };
            for ns in meshed {
                if step(&steps, "reroll", Some(ns)).state != StepState::Running {
                    continue;
                }
                let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
                if api.get("web").await.ok().as_ref().and_then(restarted_at).is_some() {
                    rerolled.set(Some(ns));
                    return true;
                }
            }
            false
        })
        .await;
    let rerolled = rerolled.get().unwrap();
    for (what, needle) in [
        ("the interrupted restore is run again", "was cut short; it is safe to run again"),
        ("the partly restored kinds are pointed out", "the cluster holds"),
        ("the objects found already restored are counted", "of them were already there, identical"),
    ] {
        assert!(
            ended.stdout.contains(needle),
            "{JOURNEY}, resume after the kill during the restore: {what}; {}",
            ended.show()
        );
    }
    assert_eq!(
        step(&up.steps(), "reroll", Some(rerolled)).state,
        StepState::Running,
        "{JOURNEY}, kill during the re-roll of {rerolled}"
    );

    // To the end.
    let ended = up.run(RESUME);
    assert!(ended.status.success(), "{JOURNEY}, the last resume: {}", ended.show());
    assert!(ended.stdout.contains("Session finished"), "{JOURNEY}, the last resume: {}", ended.show());

    let after = scene.live().await;
    assert_all_back(JOURNEY, before, &after);
    let image = control_plane_image(client).await;
    assert!(
        image.as_deref().is_some_and(|i| i.ends_with(":1.7.0")),
        "{JOURNEY}, step `deploy`: control plane runs {image:?}"
    );
    for ns in meshed {
        let d = Api::<Deployment>::namespaced(client.clone(), ns).get("web").await.unwrap();
        assert!(restarted_at(&d).is_some(), "{JOURNEY}, step `reroll` [{ns}]: not re-rolled");
    }
    let steps = up.steps();
    for s in &steps {
        assert_eq!(s.state, StepState::Done, "{JOURNEY}, step `{}` {:?}: {:?}", s.step, s.item, s.error);
    }
    // Each kill hit the step it meant to, and nothing ran twice that must not.
    for (id, item, attempts) in [
        ("backup-resources", None, 2),
        ("remove-mesh", None, 1),
        ("deploy", None, 1),
        ("restore-resources", None, 2),
        ("reroll", Some(rerolled), 2),
    ] {
        assert_eq!(step(&steps, id, item).attempts, attempts, "{JOURNEY}, step `{id}` {item:?}: attempts");
    }
    let actions = up.standin_actions();
    for verb in [" remove", " deploy"] {
        assert_eq!(
            actions.iter().filter(|a| a.contains(verb)).count(),
            1,
            "{JOURNEY}, step `{}`: the stand-in ran it more or less than once: {actions:?}",
            verb.trim()
        );
    }
    // No destructive step ran before its backup was complete.
    let backup = step(&steps, "backup-resources", None);
    let remove = step(&steps, "remove-mesh", None);
    assert!(
        remove.started_at.as_deref().unwrap() > backup.ended_at.as_deref().unwrap(),
        "{JOURNEY}, step `remove-mesh`: started {:?}, before the backup ended {:?}",
        remove.started_at,
        backup.ended_at
    );
    let manifest = Manifest::read(&up.backup_dir()).unwrap();
    assert!(
        manifest.complete,
        "{JOURNEY}, step `backup-resources`: the manifest is not complete: {:?}",
        manifest.problems
    );
    assert_eq!(manifest.total(), total as u64, "{JOURNEY}, step `backup-resources`: objects saved");
    let transcript = std::fs::read_to_string(up.session().join("transcript.jsonl")).unwrap();
    let remove_index = steps.iter().position(|s| s.step == "remove-mesh").unwrap();
    let confirms: Vec<Value> = transcript
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == "question" && e["payload"]["question"] == "confirm")
        .filter(|e| e["payload"]["index"] == remove_index)
        .collect();
    assert_eq!(confirms.len(), 1, "{JOURNEY}, step `remove-mesh`: asked {} times", confirms.len());
    let proof = confirms[0]["payload"]["unlocked_by"].as_str().unwrap_or_default();
    assert!(
        proof.contains(&format!("proven: {total} objects")),
        "{JOURNEY}, step `remove-mesh`: not unlocked by a proof of all {total} objects: {proof}"
    );

    let listed = up.sessions();
    let line = listed.lines().find(|l| l.starts_with(&id)).unwrap_or_default();
    for part in
        ["nginx-service-mesh", "1.6.0 -> 1.7.0", "Finished", "last: Re-roll the meshed workloads [kd-app-b] (done)"]
    {
        assert!(line.contains(part), "{JOURNEY}, `stepwise sessions` at the end: no {part:?} in:\n{listed}");
    }
    eprintln!("{JOURNEY}: done in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_stops_the_resume_before_the_restore() {
    const JOURNEY: &str = "damaged backup";
    let started = Instant::now();
    let tb = support::cluster();
    let scene = Scene::set_up(JOURNEY, tb, "db", 3, 40, &["db-app"]).await;
    let (client, old, new, before) = (&scene.client, &scene.old, &scene.new, &scene.before);

    let mut up = Upgrade::new(JOURNEY, tb);
    let running = up.spawn(&Upgrade::run_args(old, new, &["db-app"]));
    up.kill_when(running, "right after the removal", Duration::from_secs(180), || async {
        up.try_steps().is_some_and(|s| state_of(&s, "remove-mesh") == StepState::Done)
    })
    .await;
    assert_eq!(
        state_of(&up.steps(), "deploy"),
        StepState::Pending,
        "{JOURNEY}, kill right after the removal: too late"
    );

    // One character of one object changes; the line stays valid JSON, so only the SHA-256 can tell.
    let file_name = "trafficsplits.split.smi-spec.io.yaml";
    let file = up.backup_dir().join(file_name);
    let original = std::fs::read(&file).unwrap();
    let text = String::from_utf8(original.clone()).unwrap();
    let line_start = text.find("\n{").unwrap() + 1;
    let at = line_start + text[line_start..].find("\"0755\"").unwrap() + 4;
    let mut damaged = original.clone();
    assert_eq!(damaged[at], b'5');
    damaged[at] = b'6';
    std::fs::write(&file, &damaged).unwrap();

    let refused = up.run(RESUME);
    eprintln!("{JOURNEY}: the refusal:\n{}", refused.stderr);
    assert!(!refused.status.success(), "{JOURNEY}, resume with the damaged backup: it went on; {}", refused.show());
    assert_eq!(
        refused.status.code(),
        Some(4),
        "{JOURNEY}, resume with the damaged backup: exit code; {}",
        refused.show()
    );
    for (what, needle) in [
        ("the backup step", "backup-resources"),
        ("the damaged file", file_name),
        ("why", "SHA-256"),
        ("that it is damaged", "damaged"),
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{JOURNEY}, resume with the damaged backup: does not name {what}; {}",
            refused.show()
        );
    }
    let steps = up.steps();
    for id in ["deploy", "restore-resources"] {
        let s = step(&steps, id, None);
        assert!(
            s.state == StepState::Pending && s.attempts == 0,
            "{JOURNEY}, resume with the damaged backup: step `{id}` ran ({:?}, {} attempts)",
            s.state,
            s.attempts
        );
    }
    assert!(
        !up.standin_actions().iter().any(|a| a.contains(" deploy")),
        "{JOURNEY}, resume with the damaged backup: deployed"
    );
    assert_eq!(live_total(client).await, 0, "{JOURNEY}, resume with the damaged backup: objects were restored");

    // The original byte back, the resume goes to the end.
    std::fs::write(&file, &original).unwrap();
    let ended = up.run(RESUME);
    assert!(ended.status.success(), "{JOURNEY}, resume with the backup repaired: {}", ended.show());
    assert!(
        ended.stdout.contains("backup `backup-resources` verified"),
        "{JOURNEY}, resume with the backup repaired: the check is not shown; {}",
        ended.show()
    );
    assert_all_back(JOURNEY, before, &scene.live().await);
    for s in &up.steps() {
        assert_eq!(s.state, StepState::Done, "{JOURNEY}, step `{}` {:?}: {:?}", s.step, s.item, s.error);
    }
    eprintln!("{JOURNEY}: done in {:?}", started.elapsed());
}

/// Processes (of any test) whose environment holds `entry` (`NAME=value`).
fn processes_with_env(entry: &str) -> Vec<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    procs
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == entry.as_bytes()))
        })
        .collect()
}

/// Answers the prompts of an interactive `stepwise resume` in a pseudo-terminal:
/// `finished` says whether the removal that was cut short is to be marked done
/// (else it runs again). Returns what the screen showed.
fn resume_at_the_terminal(journey: &str, cmd: Command, finished: bool) -> String {
    let mut p = support::pty::Pty::spawn(cmd, &format!("{journey}, interactive resume"));
    if finished {
        p.answer("Did it finish?", "\r");
        // Saying a destructive step is done weighs as much as running it.
        p.answer("done\" is destructive", "nginx-mesh\r");
    } else {
        // The second choice: run it again.
        p.answer("Did it finish?", "\x1b[B\r");
        p.answer("is destructive", "nginx-mesh\r");
    }
    p.answer("Run \"Deploy the target release\"?", "\r");
    p.answer("Run \"Restore the mesh custom resources\"?", "\r");
    p.answer("Run \"Re-roll the meshed workloads\"?", "\r");
    p.answer("Session finished", "");
    p.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_removal_command_runs_only_a_person_can_say_how_to_go_on() {
    const JOURNEY: &str = "kill during the removal command";
    let started = Instant::now();
    let tb = support::cluster();
    let scene = Scene::set_up(JOURNEY, tb, "cs", 2, 20, &["cs-app"]).await;
    let (client, old, new, before) = (&scene.client, &scene.old, &scene.new, &scene.before);

    let mut up = Upgrade::new(JOURNEY, tb);
    let running = up.spawn(&Upgrade::run_args(old, new, &["cs-app"]));
    up.kill_when(running, "while `nginx-meshctl remove` runs", Duration::from_secs(180), || async {
        up.standin_actions().iter().any(|a| a.contains(" remove"))
    })
    .await;
    assert_eq!(state_of(&up.steps(), "remove-mesh"), StepState::Running, "{JOURNEY}, kill during `remove-mesh`");
    // The command lives in a process group of its own and goes on without stepwise
    // until it next writes to the closed pipe (SIGPIPE): before its deletions or after
    // all of them. Wait for it (and its kubectl) to end, then look which it was.
    let marker = format!("STEPWISE_STANDIN_LOG={}", up.standin_log.display());
    support::wait_until(&format!("{JOURNEY}: the cut-short command to end"), Duration::from_secs(120), || async {
        processes_with_env(&marker).is_empty().then_some(())
    })
    .await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    let untouched = control_plane_image(client).await.is_some()
        && crds
            .get_opt(&seed::resource_names()[0])
            .await
            .unwrap()
            .is_some_and(|c| c.metadata.deletion_timestamp.is_none());
    if !untouched {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        assert!(
            namespaces.get_opt("nginx-mesh").await.unwrap().is_none(),
            "{JOURNEY}: the cut-short removal left the mesh half removed"
        );
    }
    eprintln!("{JOURNEY}: the removal {}", if untouched { "had not begun" } else { "went on without stepwise" });

    // Headless, nobody can say whether it finished: the resume stops, saying so.
    let stopped = up.run(RESUME);
    assert_eq!(stopped.status.code(), Some(7), "{JOURNEY}, headless resume: expected a stop; {}", stopped.show());
    for (what, needle) in [
        ("the step", "\"Remove the mesh\" was cut short"),
        ("why it stops", "cannot tell whether it finished"),
        ("what to do", "resume interactively"),
        ("that the session is kept", "the session can be resumed"),
    ] {
        assert!(
            stopped.stdout.contains(needle) || stopped.stderr.contains(needle),
            "{JOURNEY}, headless resume: does not say {what}; {}",
            stopped.show()
        );
    }
    let steps = up.steps();
    assert_eq!(state_of(&steps, "remove-mesh"), StepState::Running, "{JOURNEY}, headless resume: step `remove-mesh`");
    assert_eq!(state_of(&steps, "deploy"), StepState::Pending, "{JOURNEY}, headless resume: step `deploy`");

    // A person answers at the terminal, and the upgrade goes to the end.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    cmd.env("PATH", tb.path_env())
        .env("STEPWISE_KUBECTL", &tb.kubectl)
        .env("STEPWISE_HELM", &tb.helm)
        .env("STEPWISE_STANDIN_LOG", &up.standin_log)
        .env("NO_COLOR", "1")
        .args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context, "--state-dir"])
        .arg(up.state.path())
        .args(["resume", "--plain"]);
    let screen = tokio::task::spawn_blocking(move || resume_at_the_terminal(JOURNEY, cmd, !untouched)).await.unwrap();
    assert!(
        screen.contains("was running `") && screen.contains("remove --yes` when stepwise stopped"),
        "{JOURNEY}, interactive resume: the question does not name the command:\n{screen}"
    );
    let removals = up.standin_actions().iter().filter(|a| a.contains(" remove")).count();
    assert_eq!(removals, if untouched { 2 } else { 1 }, "{JOURNEY}, step `remove-mesh`: runs of the command");
    assert_all_back(JOURNEY, before, &scene.live().await);
    let image = control_plane_image(client).await;
    assert!(image.as_deref().is_some_and(|i| i.ends_with(":1.7.0")), "{JOURNEY}, step `deploy`: {image:?}");
    for s in &up.steps() {
        assert_eq!(s.state, StepState::Done, "{JOURNEY}, step `{}` {:?}: {:?}", s.step, s.item, s.error);
    }
    eprintln!("{JOURNEY}: done in {:?}", started.elapsed());
}

#[test]
fn without_a_terminal_or_yes_resume_exits_at_once() {
    let state = tempfile::tempdir().unwrap();
    for args in [&["resume"][..], &["resume", "20261122-031500-nginx-service-mesh-1.6.0-to-1.7.0"][..]] {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
            .arg("--state-dir")
            .arg(state.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "no terminal, stepwise {args:?}: {stderr}");
        assert!(
            stderr.contains("not a terminal") && stderr.contains("--yes"),
            "no terminal, stepwise {args:?}: {stderr}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "no terminal, stepwise {args:?}: it waited");
    }
}

/// A copy of the test bed's kubeconfig in which `context` uses the cluster
/// and user of `other` (as if the operator's kubeconfig had been changed to
/// point that name elsewhere). Written as JSON, which kubeconfig readers take.
fn kubeconfig_swapped(from: &Path, to: &Path, context: &str, other: &str) {
    let mut kc: Value = serde_json::to_value(kube::config::Kubeconfig::read_from(from).unwrap()).unwrap();
    let contexts = kc["contexts"].as_array_mut().unwrap();
    let find = |name: &str| contexts.iter().position(|c| c["name"] == name).unwrap();
    let (i, j) = (find(context), find(other));
    let target = contexts[j]["context"].clone();
    contexts[i]["context"]["cluster"] = target["cluster"].clone();
    contexts[i]["context"]["user"] = target["user"].clone();
    std::fs::write(to, serde_json::to_vec_pretty(&kc).unwrap()).unwrap();
}

fn server_of(kubeconfig: &Path, context: &str) -> String {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let ctx = kc.contexts.iter().find(|c| c.name == context).unwrap().context.clone().unwrap();
    let cluster = kc.clusters.iter().find(|c| c.name == ctx.cluster).unwrap().cluster.clone().unwrap();
    cluster.server.unwrap().trim_end_matches('/').to_string()
}

// Named to sort early: libtest starts tests in name order, two at a time here, so
// this one runs beside the mesh journeys (which take turns) rather than after them.
#[test]
fn another_cluster_is_refused_on_resume() {
    const JOURNEY: &str = "resume on another cluster";
    let tb = support::multi_cluster();
    let second = tb.second_context.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::copy(&tb.kubeconfig, &kubeconfig).unwrap();
    let stepwise = |kubeconfig: &Path, args: &[&str]| {
        let out = tb
            .command(env!("CARGO_BIN_EXE_stepwise"))
            .env("KUBECONFIG", kubeconfig)
            .env("NO_COLOR", "1")
            .arg("--state-dir")
            .arg(&state)
            .args(args)
            .output()
            .unwrap();
        let show = format!(
            "stepwise {args:?} ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), show)
    };
    // A session on the first cluster, stopped at the removal since no --confirm word is given.
    // The mesh's CRDs are there (with no objects), so its backup is complete.
    seed::install_crds(&tb.kubectl, &tb.kubeconfig, &tb.context);
    let (code, _, show) = stepwise(
        &kubeconfig,
        &[
            "--context",
            &tb.context,
            "rehearse",
            "nginx-service-mesh",
            "--from",
            "1.6.0",
            "--to",
            "1.7.0",
            "--procedure",
            "manual-meshctl",
            "--yes",
            "--set",
            "target_meshctl=nginx-meshctl",
            "--set",
            "meshed_namespaces=app-a",
        ]
        .into_iter()
        .chain(support::NSM_SETTINGS)
        .collect::<Vec<_>>(),
    );
    assert_eq!(code, Some(7), "{JOURNEY}, the session on the first cluster: expected a stop at `remove-mesh`; {show}");

    // The same kubeconfig file and context name now lead to the second cluster.
    let first_server = server_of(&kubeconfig, &tb.context);
    let second_server = server_of(&tb.kubeconfig, &second);
    assert_ne!(first_server, second_server);
    kubeconfig_swapped(&tb.kubeconfig, &kubeconfig, &tb.context, &second);
    assert_eq!(server_of(&kubeconfig, &tb.context), second_server);
    let (code, stderr, show) = stepwise(&kubeconfig, &["resume", "--yes"]);
    assert_eq!(code, Some(4), "{JOURNEY}, resume: not refused; {show}");
    eprintln!("{JOURNEY}: the refusal:\n{stderr}");
    for (what, needle) in [
        ("the session's cluster", first_server.as_str()),
        ("the cluster found", second_server.as_str()),
        ("what is wrong", "belongs to cluster"),
    ] {
        assert!(stderr.contains(needle), "{JOURNEY}, resume: the refusal does not name {what}; {show}");
    }

    // As the refusal advises, --kubeconfig points the resume at the session's cluster
    // again: it goes on (and stops at the same word), and says what it connects through.
    let original = tb.kubeconfig.to_str().unwrap();
    let (code, _, show) = stepwise(&kubeconfig, &["--kubeconfig", original, "resume", "--yes"]);
    assert_eq!(code, Some(7), "{JOURNEY}, resume with --kubeconfig of the first cluster; {show}");
    assert!(
        show.contains(&format!("connecting through kubeconfig {original}")),
        "{JOURNEY}, resume with --kubeconfig of the first cluster: the change is not shown; {show}"
    );
    // ...and --context naming the other cluster is refused just the same.
    let (code, stderr, show) = stepwise(&kubeconfig, &["--context", &second, "resume", "--yes"]);
    assert_eq!(code, Some(4), "{JOURNEY}, resume with --context of the second cluster: not refused; {show}");
    assert!(
        stderr.contains(&first_server) && stderr.contains(&second_server),
        "{JOURNEY}, resume with --context of the second cluster: {show}"
    );
}
