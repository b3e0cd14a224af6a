//! Journal writes sit between two steps of every upgrade and reach the disk before
//! the engine moves on, so each must stay cheap (target: under 5 ms, fsync included).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stepwise::base::{ClusterIdentity, Mode, Target};
use stepwise::journal::{Journal, SessionMeta, SessionStatus, StepRecord, StepState};

const STEPS: usize = 60;

fn meta() -> SessionMeta {
    let hops: Vec<serde_json::Value> = (0..3)
        .map(|h| serde_json::json!({"from": format!("2.{h}.0"), "to": format!("2.{}.0", h + 1), "steps": STEPS / 3}))
        .collect();
    SessionMeta {
        id: String::new(),
        product: "kong-gateway".into(),
        from: "2.0.0".into(),
        to: "2.3.0".into(),
        mode: Mode::Real,
        created_at: String::new(),
        target: Target::default(),
        cluster: ClusterIdentity {
            server: "https://10.0.0.1:6443".into(),
            context: "prod".into(),
            kube_system_uid: "6f1c2a9e-0000-4000-8000-000000000000".into(),
        },
        runbooks: (0..6).map(|i| (format!("kong-gateway/procedure-{i}.yaml"), "ab".repeat(32))).collect(),
        facts: BTreeMap::from([("platform".into(), "kubernetes".into())]),
        variables: (0..10).map(|i| (format!("var{i}"), format!("value-{i}"))).collect(),
        plan: serde_json::json!({ "hops": hops }),
        status: SessionStatus::Running,
        shadow_of: None,
    }
}

fn steps() -> Vec<StepRecord> {
    (0..STEPS)
        .map(|i| {
            let mut step = StepRecord::pending(
                i / 20,
                format!("step-{i}"),
                (i % 4 == 0).then(|| format!("deployment/app-{i}")),
                format!("Restart the data plane workloads, part {i}"),
                "rollout_restart",
                i % 7 == 0,
            );
            if i < STEPS / 2 {
                step.state = StepState::Done;
                step.attempts = 1;
                step.started_at = Some("2026-01-01T10:00:00.000000Z".into());
                step.ended_at = Some("2026-01-01T10:00:05.000000Z".into());
                step.outcome = Some("restarted 4 deployments; all ready".into());
            }
            step
        })
        .collect()
}

fn journal_writes(c: &mut Criterion) {
    // Beside the build output rather than in /tmp: on a tmpfs /tmp fsync costs
    // nothing and the numbers would say nothing about a real disk.
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary state directory");
    let mut journal = Journal::create(root.path(), meta(), steps()).expect("create a session");

    let mut n = 0;
    c.bench_function("journal finish_step (60 steps, fsync)", |b| {
        b.iter(|| {
            let index = STEPS / 2 + n % (STEPS / 2);
            n += 1;
            journal
                .finish_step(index, StepState::Done, Some("restarted 4 deployments; all ready".into()), None)
                .expect("finish a step")
        })
    });

    let payload = serde_json::json!({
        "step": "step-31",
        "event": "rollout",
        "message": "deployment/app-31: 3 of 4 replicas updated",
    });
    c.bench_function("journal append_transcript (fsync)", |b| {
        b.iter(|| journal.append_transcript("event", &payload).expect("append to the transcript"))
    });
}

criterion_group! {
    name = benches;
    // Fewer samples than the default keep a slow disk within the measurement time.
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = journal_writes
}
criterion_main!(benches);
