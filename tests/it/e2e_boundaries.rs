//! The NGINX Service Mesh 1.6 -> 1.7 manual upgrade killed with SIGKILL at
//! every step boundary, through the real binary on the test bed, headless with
//! --yes: before the first step, between every two steps (each CRD wait and
//! each re-rolled namespace included) and after the last; and inside the steps
//! that are safe to run again, just after each is recorded as started. Each
//! round resumes the session and is killed at the next point; in the end every
//! custom resource is back once, the steps killed inside ran twice, and no
//! other step ran more than once.
//!
//! The engine holds at a point when STEPWISE_DRILL_HOLD_BEFORE_STEP or
//! STEPWISE_DRILL_HOLD_IN_STEP asks it to (src/engine/drill.rs): a kill racing
//! steps that take microseconds could not promise to land there. The kill
//! itself is a real SIGKILL from outside.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::journey;
use crate::seed;
use crate::support;

use std::time::{Duration, Instant};

use journey::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use stepwise::engine::drill::Point;
use stepwise::journal::{StepRecord, StepState};

const JOURNEY: &str = "kill at every step boundary";

/// Steps killed inside as well: every kind that is safe to run again.
const KILLED_INSIDE: [&str; 5] =
    ["backup-resources", "wait-crds-gone", "wait-namespace-gone", "restore-resources", "reroll"];

/// Runs stepwise told to hold at `point` and kills it once it holds there.
async fn kill_at(up: &mut Upgrade<'_>, args: &[impl AsRef<str>], point: Point) -> Ended {
    let index = match point {
        Point::Before(i) | Point::Inside(i) => i,
    };
    let hold = [(point.variable(), index.to_string())];
    let running = up.spawn_with_env(args, &hold);
    let err = running.err.clone();
    let line = point.holding_line();
    let moment = format!("{point:?}");
    up.kill_when(running, &moment, Duration::from_secs(180), || {
        let held = std::fs::read_to_string(&err).is_ok_and(|e| e.lines().any(|l| l == line));
        async move { held }
    })
    .await
}

fn name(s: &StepRecord) -> String {
    match &s.item {
        Some(item) => format!("`{}` [{item}]", s.step),
        None => format!("`{}`", s.step),
    }
}

/// How many times a finished step ran: twice when the drill killed it inside.
fn runs(s: &StepRecord) -> u32 {
    if KILLED_INSIDE.contains(&s.step.as_str()) { 2 } else { 1 }
}

/// After a kill at `point`: everything before it done (and run as often as the
/// drill made it), the step killed inside recorded as started once, nothing after started.
fn assert_cut_at(steps: &[StepRecord], point: Point, ended: &Ended) {
    for (i, s) in steps.iter().enumerate() {
        let (state, attempts) = match point {
            Point::Before(at) | Point::Inside(at) if i < at => (StepState::Done, runs(s)),
            Point::Inside(at) if i == at => (StepState::Running, 1),
            _ => (StepState::Pending, 0),
        };
        assert_eq!(s.state, state, "{JOURNEY}, killed {point:?}: step {i} {}; {}", name(s), ended.show());
        assert_eq!(s.attempts, attempts, "{JOURNEY}, killed {point:?}: step {i} {} attempts", name(s));
    }
}

fn position(steps: &[StepRecord], id: &str) -> usize {
    steps.iter().position(|s| s.step == id).unwrap_or_else(|| panic!("{JOURNEY}: no step `{id}` in the journal"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_each_step_boundary_and_inside_each_rerunnable_step_the_upgrade_resumes_to_the_end() {
    let started = Instant::now();
    let tb = support::cluster();
    let meshed = ["kb-app-a", "kb-app-b"];
    let per_kind = 60;
    let scene = Scene::set_up(JOURNEY, tb, "kb", 4, per_kind, &meshed).await;
    let (client, total) = (&scene.client, seed::KINDS.len() * per_kind);

    let mut up = Upgrade::new(JOURNEY, tb);
    let run_args = Upgrade::run_args(&scene.old, &scene.new, &meshed);
    let ended = kill_at(&mut up, &run_args, Point::Before(0)).await;
    let count = up.steps().len();
    assert_cut_at(&up.steps(), Point::Before(0), &ended);
    let (remove, deploy, restore) = {
        let steps = up.steps();
        (position(&steps, "remove-mesh"), position(&steps, "deploy"), position(&steps, "restore-resources"))
    };
    let mut moments = 1;
    for index in 1..=count {
        let previous = &up.steps()[index - 1];
        if KILLED_INSIDE.contains(&previous.step.as_str()) {
            let ended = kill_at(&mut up, RESUME, Point::Inside(index - 1)).await;
            assert_cut_at(&up.steps(), Point::Inside(index - 1), &ended);
            moments += 1;
        }
        let ended = kill_at(&mut up, RESUME, Point::Before(index)).await;
        moments += 1;
        let steps = up.steps();
        assert_cut_at(&steps, Point::Before(index), &ended);
        let actions = up.standin_actions();
        for (verb, at) in [(" remove", remove), (" deploy", deploy)] {
            let runs = actions.iter().filter(|a| a.contains(verb)).count();
            assert_eq!(runs, usize::from(at < index), "{JOURNEY}, killed before step {index}: nginx-meshctl{verb} ran");
        }
        if index <= remove || index > restore {
            let live = scene.live().await;
            assert_eq!(live.len(), total, "{JOURNEY}, killed before step {index}: custom resources in the cluster");
        }
    }

    // The last round has nothing left to run but to close the session.
    let ended = up.run(RESUME);
    assert!(ended.status.success(), "{JOURNEY}, the last resume: {}", ended.show());
    assert!(ended.stdout.contains("Session finished"), "{JOURNEY}, the last resume: {}", ended.show());
    assert_eq!(up.rounds, moments + 1, "{JOURNEY}: stepwise processes started");

    assert_all_back(JOURNEY, &scene.before, &scene.live().await);
    let image = control_plane_image(client).await;
    assert!(image.as_deref().is_some_and(|i| i.ends_with(":1.7.0")), "{JOURNEY}, step `deploy`: runs {image:?}");
    for ns in meshed {
        let d = Api::<Deployment>::namespaced(client.clone(), ns).get("web").await.unwrap();
        assert!(restarted_at(&d).is_some(), "{JOURNEY}, step `reroll` [{ns}]: not re-rolled");
    }
    for s in up.steps() {
        assert_eq!((s.state, s.attempts), (StepState::Done, runs(&s)), "{JOURNEY}, step {}: {:?}", name(&s), s.error);
    }
    eprintln!("{JOURNEY}: killed at {moments} points, done in {:?}", started.elapsed());
}
