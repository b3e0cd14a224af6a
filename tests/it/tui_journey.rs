//! The full-screen front end in a real terminal, through a whole NGINX Service
//! Mesh 1.6.0 -> 1.7.0 manual upgrade on the test bed. The terminal is a tmux
//! pane: keys go in with `send-keys` and the screen comes back as text with
//! `capture-pane`, exactly as an operator would see it, so each question is read
//! off the screen and answered with keystrokes. At the end the cluster holds
//! every custom resource as it was, the new control plane and re-rolled
//! workloads, and the session journal shows every step done.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;
use crate::support::tmux::Terminal;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;

/// Wide enough for the plan to show every title whole.
const WIDTH: u16 = 132;
const HEIGHT: u16 = 36;
const MESHED: [&str; 2] = ["tui-app-a", "tui-app-b"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_manual_upgrade_answered_at_the_full_screen() {
    let tb = support::cluster();
    let client = tb.client().await;
    let meshctl = seed::mesh::deploy_1_6(tb, &[]);
    let finalizers = seed::spawn_finalizer_controller(client.clone());
    let namespaces: Vec<String> = (0..3).map(|i| format!("tui-team-{i}")).collect();
    seed::seed(&client, &namespaces, 50).await;
    let before = seed::live(&client, &namespaces).await;
    assert_eq!(before.len(), 300, "six kinds, fifty of each");
    for ns in MESHED {
        seed::meshed_app(&client, ns).await;
    }

    let state = tempfile::tempdir().unwrap();
    let mut args = support::stepwise_args(tb, &tb.context, state.path());
    args.extend(
        ["run", "nginx-service-mesh", "--to", "1.7.0", "--procedure", "manual-meshctl"]
            .into_iter()
            .chain(["--set", &format!("current_meshctl={}", meshctl.old.display())])
            .chain(["--set", &format!("target_meshctl={}", meshctl.new.display())])
            .map(OsString::from),
    );
    // Not tb.command(): stdin and stdout must be the terminal, so the environment
    // it would set is handed to the pane instead (and no NO_COLOR: the screen is
    // read as an operator sees it).
    let env = tb.env();
    let program = PathBuf::from(env!("CARGO_BIN_EXE_stepwise"));
    let seen = tokio::task::spawn_blocking(move || {
        let term = Terminal::open((WIDTH, HEIGHT), &program, &args, &env, |_| {});
        operate(&term)
    })
    .await
    .unwrap();
    finalizers.abort();

    let after = seed::live(&client, &namespaces).await;
    assert_eq!(after.len(), before.len(), "nothing lost, nothing duplicated; the screen at the end:\n{seen}");
    for (key, original) in &before {
        assert_eq!(seed::essence(&after[key]), seed::essence(original), "{key} changed");
    }
    let controller: Api<Deployment> = Api::namespaced(client.clone(), "nginx-mesh");
    let spec = controller.get("nginx-mesh-api").await.unwrap().spec.unwrap();
    let image = spec.template.spec.unwrap().containers[0].image.clone().unwrap();
    assert!(image.ends_with(":1.7.0"), "the control plane runs {image}");
    for ns in MESHED {
        let d: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let annotations =
            d.get("web").await.unwrap().spec.unwrap().template.metadata.unwrap().annotations.unwrap_or_default();
        assert!(annotations.contains_key("kubectl.kubernetes.io/restartedAt"), "{ns}/web was re-rolled");
    }
    let states = journal_states(state.path());
    assert!(!states.is_empty() && states.iter().all(|s| s == "done"), "every step done: {states:?}");
}

/// The state of each step in the one session's journal.
fn journal_states(state_dir: &Path) -> Vec<String> {
    let sessions: Vec<PathBuf> =
        std::fs::read_dir(state_dir.join("sessions")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let steps: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sessions[0].join("steps.json")).unwrap()).unwrap();
    steps.as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap().to_string()).collect()
}

/// What the operator does, question by question, reading the screen before each
/// answer. Returns the last screen.
fn operate(term: &Terminal) -> String {
    let asked = answer_variables(term);
    let settings = ["mtls_mode", "access_control_mode", "disable_auto_inject", "enabled_namespaces", "registry_server"];
    let expected: Vec<&str> =
        ["namespace", "meshed_namespaces"].into_iter().chain(settings).chain(["image_tag", "mesh_crds"]).collect();
    assert_eq!(asked, expected);
    let plan = read_the_plan(term);
    let number = |title: &str| step_number(&plan, title);
    confirm_the_removal(term, number("Remove the mesh"), number("Save the mesh custom resources"));
    confirm_the_rest(term, &number);
    leave_at_the_summary(term, plan_size(&plan))
}

/// Acknowledges the version note, then reads the plan behind the first manual
/// step (Tab puts the question aside) and says it is done. Returns the plan.
fn read_the_plan(term: &Terminal) -> String {
    let note = term.wait_for("the version note to acknowledge", |s| s.contains("┌ Warning to acknowledge "));
    assert!(note.contains("WARNING: Tracing settings"), "the note that applies to 1.6 -> 1.7:\n{note}");
    term.press(&["y"]);

    term.wait_for("the first manual step", |s| s.contains("┌ Manual step 1 "));
    term.press(&["Tab"]);
    let plan = term.wait_for("the plan behind the question", |s| !s.contains("┌ Manual step 1 "));
    for shown in [
        "REAL: this changes the cluster",
        "nginx-service-mesh 1.6.0 -> 1.7.0",
        "Hop 1: 1.6.0 -> 1.7.0",
        "Confirm the target nginx-meshctl",
        "Re-roll the meshed workloads (tui-app-b)",
    ] {
        assert!(plan.contains(shown), "the plan screen shows `{shown}`:\n{plan}");
    }
    term.press(&["Tab"]);
    term.wait_for("the manual step back", |s| s.contains("┌ Manual step 1 "));
    term.press(&["y"]);
    plan
}

/// The typed word for the destructive removal: a wrong word first, refused.
fn confirm_the_removal(term: &Terminal, removal: usize, backup: usize) {
    let removal = format!("┌ Run step {removal}? ");
    let word = term.wait_for("the typed confirmation of the removal", |s| s.contains(&removal));
    for shown in ["DESTRUCTIVE", "Unlocked: backup", "Type `nginx-mesh` and press Enter"] {
        assert!(word.contains(shown), "the removal dialog shows `{shown}`:\n{word}");
    }
    let saved = format!("[x] {backup}. done");
    assert!(word.contains(&saved), "the log shows the backup done (`{saved}`):\n{word}");
    term.type_text("nginx");
    term.press(&["Enter"]);
    term.wait_for("the mismatch message", |s| s.contains("`nginx` is not `nginx-mesh`"));
    term.type_text("nginx-mesh");
    term.press(&["Enter"]);
}

/// Yes to the deploy, the restore and each re-roll, checking the running steps
/// between them show on screen.
fn confirm_the_rest(term: &Terminal, number: &dyn Fn(&str) -> usize) {
    let deploy = format!("┌ Run step {}? ", number("Deploy the target release"));
    let mut running = false;
    let confirm = term.wait_for("the question before deploying", |s| {
        running |= s.contains("Status: [>] running");
        s.contains(&deploy)
    });
    assert!(running, "a running step was on screen between the removal and the deploy");
    assert!(dialog_names(&confirm, &deploy, "Deploy the target release"), "{confirm}");
    assert!(confirm.contains("[s] skip it"), "the deploy is skippable:\n{confirm}");
    term.press(&["y"]);

    let restore = format!("┌ Run step {}? ", number("Restore the mesh custom resources"));
    let confirm = term.wait_for("the question before restoring", |s| s.contains(&restore));
    let deployed = format!("[x] {}. done", number("Deploy the target release"));
    assert!(confirm.contains(&deployed), "the log shows the deploy done (`{deployed}`):\n{confirm}");
    term.press(&["Enter"]);

    // The restore of 300 objects takes seconds: long enough to see its gauge.
    let mut gauge = None;
    for ns in MESHED {
        let reroll = format!("┌ Run step {}? ", number(&format!("Re-roll the meshed workloads ({ns})")));
        term.wait_for(&format!("the question before re-rolling {ns}"), |s| {
            gauge =
                gauge.take().or_else(|| s.lines().find(|l| l.contains("% ") && l.contains("/300")).map(String::from));
            s.contains(&reroll)
        });
        term.press(&["y"]);
    }
    let gauge = gauge.unwrap_or_else(|| panic!("no gauge was seen while the restore ran"));
    assert!(gauge.contains("│[█") || gauge.contains("│[░"), "the gauge is a bar: {gauge}");
}

/// Reads the summary, leaves with a key, and returns the screen stepwise left.
fn leave_at_the_summary(term: &Terminal, total: usize) -> String {
    let summary = term.wait_for("the summary", |s| s.contains("┌ Session finished "));
    for shown in [format!("Steps:   {total} done (of {total})"), "Backups:".into(), "finished after".into()] {
        assert!(summary.contains(&shown), "the summary shows `{shown}`:\n{summary}");
    }
    term.press(&["Enter"]);
    let status = term.wait_for_exit();
    assert_eq!(status, 0, "stepwise exited with {status}:\n{}", term.screen());
    // tmux redraws the main screen a moment after the full screen is left; the
    // summary is read with the pane's history, where an operator scrolls to it.
    term.wait_for_scrollback("the summary in the scrollback", |s| s.contains("Session finished after"))
}

/// Answers each variable form in turn: the namespaces of the meshed workloads by
/// typing (a wrong value first, to see it refused), every other by accepting its
/// default. Returns the names asked, in order.
fn answer_variables(term: &Terminal) -> Vec<String> {
    let mut asked: Vec<String> = Vec::new();
    loop {
        let screen = term.wait_for("a variable form or the plan", |s| {
            let name = variable_asked(s);
            // The plan with no form over it means the questions are over; between
            // two forms the screen may show neither for a moment.
            (name.is_some() && name.as_ref() != asked.last()) || (name.is_none() && s.contains(" REAL: "))
        });
        let Some(name) = variable_asked(&screen) else { return asked };
        if name == "mtls_mode" {
            assert!(screen.contains("Found on the cluster"), "the setting was read from the mesh:\n{screen}");
        }
        if name == "meshed_namespaces" {
            assert!(screen.contains("> _"), "no default, so the field starts empty:\n{screen}");
            term.type_text("Tui App A");
            term.press(&["Enter"]);
            term.wait_for("the refusal of a bad value", |s| s.contains("! `Tui App A`"));
            term.type_text(&MESHED.join(","));
        }
        term.press(&["Enter"]);
        asked.push(name);
    }
}

/// The variable whose form is on the screen.
fn variable_asked(screen: &str) -> Option<String> {
    let rest = &screen[screen.find("A value for `")? + "A value for `".len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// The number the plan gives the step titled `title`, read off its row in the
/// left pane (`│ [ ]   3 Remove the mesh      ││`).
fn step_number(plan: &str, title: &str) -> usize {
    plan.lines()
        .filter_map(|line| line.split("││").next())
        .find_map(|left| {
            let (before, after) = left.split_once(&format!(" {title}"))?;
            if !(after.starts_with(' ') || after.starts_with('│')) {
                return None;
            }
            before.rsplit(']').next()?.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no step `{title}` in the plan:\n{plan}"))
}

/// How many steps the plan has, from its pane's title (` Plan 0/15 `).
fn plan_size(plan: &str) -> usize {
    let rest = plan.split_once(" Plan ").and_then(|(_, r)| r.split_once('/')).map(|(_, r)| r);
    rest.and_then(|r| r.split(' ').next()?.parse().ok()).unwrap_or_else(|| panic!("no plan size:\n{plan}"))
}

/// Whether the dialog headed `heading` names `title` on its first line.
fn dialog_names(screen: &str, heading: &str, title: &str) -> bool {
    let mut lines = screen.lines().skip_while(|l| !l.contains(heading));
    lines.next().is_some() && lines.next().is_some_and(|l| l.contains(&format!("│ {title} ")))
}
