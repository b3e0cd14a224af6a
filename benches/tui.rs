//! The full-screen front end must feel instant: a key press redrawn within a
//! frame at 60 Hz (under 16 ms) and the first frame within 150 ms, on a large
//! session: a 200-step plan over 4 hops with 5,000 lines of log. Measured as
//! `update` plus `view` into a test backend of a common terminal size.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::path::PathBuf;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use stepwise::engine::{ActionKind, Event, Msg, StepInfo};
use stepwise::journal::StepState;
use stepwise::ui::tui::{App, Message, Theme, update, view};

const STEPS: usize = 200;
const LOG_LINES: usize = 5_000;

fn session_started() -> Message {
    let steps = (0..STEPS)
        .map(|index| StepInfo {
            index,
            hop: index / 50,
            id: format!("step-{index}"),
            title: format!("Step number {index} of the upgrade, with a longish title"),
            kind: ActionKind::Command,
            destructive: index % 17 == 0,
            item: (index % 5 == 0).then(|| format!("namespace-{index}")),
            state: if index < 120 { StepState::Done } else { StepState::Pending },
        })
        .collect();
    Message::Engine(Msg::Event(Event::SessionStarted {
        id: "20250301-0915-a1b2".into(),
        dir: PathBuf::from("/var/lib/stepwise/sessions/20250301-0915-a1b2"),
        rehearsal: false,
        product: "kong-gateway".into(),
        from: "2.0.0".into(),
        to: "3.4.0".into(),
        hops: ["2.8.0", "3.0.0", "3.3.0", "3.4.0"].map(String::from).to_vec(),
        context: "prod-eu".into(),
        server: "https://10.0.0.1:6443".into(),
        steps,
    }))
}

fn busy_app() -> App {
    let mut app = App::new(Instant::now(), Theme::coloured());
    update(&mut app, Message::Resize(160, 48));
    update(&mut app, session_started());
    update(
        &mut app,
        Message::Engine(Msg::Event(Event::StepStarted {
            index: 120,
            title: "Step number 120".into(),
            kind: ActionKind::Backup,
            explain: "Saves every custom resource so it can be restored.".into(),
            does: vec!["save all objects of 12 kinds".into(); 6],
        })),
    );
    for i in 0..LOG_LINES {
        let text = format!("{i:05} applied configuration kongplugins.configuration.konghq.com/plugin-{i} unchanged");
        update(&mut app, Message::Engine(Msg::Event(Event::Line { index: 120, text })));
    }
    let progress =
        Event::Progress { index: 120, done: 2_500, total: Some(5_000), bytes: 1 << 20, what: "backup".into() };
    update(&mut app, Message::Engine(Msg::Event(progress)));
    app
}

fn key_press(c: &mut Criterion) {
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap_or_else(|e| match e {});
    let mut app = busy_app();
    let mut down = true;
    c.bench_function("tui key press to redrawn frame (200 steps, 5000 log lines)", |b| {
        b.iter(|| {
            // Down then Up, so the selection keeps moving through the middle of the plan.
            let code = if down { KeyCode::Down } else { KeyCode::Up };
            down = !down;
            update(&mut app, Message::Key(KeyEvent::new(code, KeyModifiers::NONE)));
            terminal.draw(|f| view(&app, f)).unwrap_or_else(|e| match e {});
        })
    });
}

fn first_frame(c: &mut Criterion) {
    c.bench_function("tui first frame from SessionStarted (200 steps)", |b| {
        b.iter_batched(
            || (session_started(), Terminal::new(TestBackend::new(160, 48)).unwrap_or_else(|e| match e {})),
            |(started, mut terminal)| {
                let mut app = App::new(Instant::now(), Theme::coloured());
                update(&mut app, Message::Resize(160, 48));
                update(&mut app, started);
                terminal.draw(|f| view(&app, f)).unwrap_or_else(|e| match e {});
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, key_press, first_frame);
criterion_main!(benches);
