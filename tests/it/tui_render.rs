//! The full-screen front end, drawn into a test backend: each screen state built
//! by feeding `update` what the engine would send, then snapshotted as text.
//! The same messages check the answers each key gives.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use tokio::sync::oneshot;

use stepwise::engine::{ActionKind, Answer, Detection, Event, Msg, ProcedureChoice, Question, StepInfo};
use stepwise::journal::StepState;
use stepwise::runbook::model::Severity;
use stepwise::ui::tui::{App, Effect, Message, Theme, update, view};

const W: u16 = 100;
const H: u16 = 30;

fn step(index: usize, hop: usize, title: &str, kind: ActionKind, destructive: bool, state: StepState) -> StepInfo {
    StepInfo {
        index,
        hop,
        id: title.to_lowercase().replace(' ', "-"),
        title: title.into(),
        kind,
        destructive,
        item: None,
        state,
    }
}

fn plan() -> Vec<StepInfo> {
    vec![
        step(0, 0, "Check the CRDs are served", ActionKind::Check, false, StepState::Pending),
        step(1, 0, "Back up the custom resources", ActionKind::Backup, false, StepState::Pending),
        step(2, 0, "Remove the old CRDs", ActionKind::Command, true, StepState::Pending),
        step(3, 0, "Install the 1.7 control plane", ActionKind::Command, false, StepState::Pending),
        step(4, 0, "Restart the sidecars", ActionKind::Manual, false, StepState::Pending),
        step(5, 1, "Read the 1.8 breaking changes", ActionKind::Note, false, StepState::Pending),
        step(6, 1, "Upgrade to 1.8", ActionKind::Command, false, StepState::Pending),
        step(7, 1, "Wait for the control plane", ActionKind::Wait, false, StepState::Pending),
    ]
}

fn session_started(rehearsal: bool) -> Message {
    Message::Engine(Msg::Event(Event::SessionStarted {
        id: "20250301-0915-a1b2".into(),
        dir: PathBuf::from("/home/op/.local/state/stepwise/sessions/20250301-0915-a1b2"),
        rehearsal,
        product: "nginx-service-mesh".into(),
        from: "1.6.0".into(),
        to: "1.8.0".into(),
        hops: vec!["1.7.0".into(), "1.8.0".into()],
        context: "prod-eu".into(),
        server: "https://10.0.0.1:6443".into(),
        steps: plan(),
    }))
}

fn event(e: Event) -> Message {
    Message::Engine(Msg::Event(e))
}

/// `StepStarted` for a step of [`plan`], as the engine would describe it.
fn started(index: usize) -> Message {
    let info = &plan()[index];
    let (explain, does): (&str, &[&str]) = match index {
        1 => (
            "Saves every custom resource of the mesh so it can be restored if the upgrade goes wrong.",
            &[
                "save all objects of meshconfigs.nsm.nginx.com",
                "write a SHA-256 manifest of every saved object next to the files, in the session folder",
            ],
        ),
        2 => (
            "Deletes the CRDs of 1.6; the custom resources go with them, which is why the backup came first.",
            &["run `kubectl delete crd -l app=nsm`"],
        ),
        3 => ("Runs the vendor's upgrade command.", &["run `nginx-meshctl upgrade --yes`"]),
        4 => ("Something to do by hand.", &[]),
        _ => ("Checks the cluster serves the mesh's CRDs.", &[]),
    };
    event(Event::StepStarted {
        index,
        title: info.title.clone(),
        kind: info.kind,
        explain: explain.into(),
        does: does.iter().map(ToString::to_string).collect(),
    })
}

fn finished(index: usize, outcome: &str) -> Message {
    event(Event::StepFinished { index, state: StepState::Done, outcome: outcome.into() })
}

/// An app after the session started, and the first step done.
fn app() -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new(t0, Theme::monochrome());
    feed(&mut app, Message::Resize(W, H));
    feed(&mut app, session_started(false));
    feed(&mut app, started(0));
    feed(&mut app, finished(0, "3 kinds served"));
    (app, t0)
}

fn feed(app: &mut App, message: Message) -> Option<Effect> {
    update(app, message)
}

fn key(code: KeyCode) -> Message {
    Message::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Message {
    key(KeyCode::Char(c))
}

fn ctrl_c() -> Message {
    Message::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(feed(app, ch(c)).is_none(), "typing `{c}` answers nothing");
    }
}

/// Asks `question` and returns where its answer arrives.
fn ask(app: &mut App, question: Question) -> oneshot::Receiver<Answer> {
    let (tx, rx) = oneshot::channel();
    assert!(feed(app, Message::Engine(Msg::Ask(question, tx))).is_none());
    rx
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view(app, f)).unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer as lines of symbols, trailing spaces kept off.
fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let line: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(app: &App) -> String {
    text(&draw(app, W, H))
}

fn answer_of(effect: Option<Effect>) -> Option<Answer> {
    effect.and_then(|e| e.answer().cloned())
}

fn confirm(word: Option<&str>, skippable: bool) -> Question {
    Question::Confirm {
        index: 2,
        title: "Remove the old CRDs".into(),
        does: vec!["run `kubectl delete crd -l app=nsm`".into()],
        destructive: word.is_some(),
        word: word.map(Into::into),
        skippable,
        unlocked_by: word.map(|_| "backup `backup-crs` verified: 412 objects, SHA-256 sums match".into()),
    }
}

fn acknowledge() -> Question {
    Question::Acknowledge {
        title: "1.8 drops the v1alpha1 API".into(),
        text: "Resources stored as v1alpha1 must be converted before the upgrade; stepwise converts them in the next step.".into(),
        severity: Severity::Breaking,
    }
}

fn manual(skippable: bool) -> Question {
    Question::Manual {
        index: 4,
        title: "Restart the sidecars".into(),
        instructions: "Restart every meshed workload (kubectl rollout restart) so the sidecars run 1.7.".into(),
        skippable,
    }
}

fn after_failure(choices: Vec<Answer>) -> Question {
    Question::AfterFailure {
        index: 3,
        title: "Install the 1.7 control plane".into(),
        error: "`nginx-meshctl upgrade` exited with status 1: timed out waiting for nsm-controller".into(),
        cluster_state: "the 1.6 CRDs are removed; the control plane is not running".into(),
        choices,
    }
}

fn command_finished(can_verify: bool) -> Question {
    Question::CommandFinished {
        index: 3,
        title: "Install the 1.7 control plane".into(),
        argv: "nginx-meshctl upgrade --yes".into(),
        output: vec!["Upgrading NGINX Service Mesh...".into(), "Waiting for nsm-controller...".into()],
        can_verify,
        interrupted: false,
    }
}

fn variable(choices: Vec<String>, problem: Option<&str>) -> Question {
    Question::Variable {
        name: "meshed_namespaces".into(),
        description: "Namespaces whose workloads carry the sidecar".into(),
        default: Some("default".into()),
        pattern: Some("^[a-z0-9,-]+$".into()),
        choices,
        problem: problem.map(Into::into),
        secret: false,
        discovered: None,
    }
}

fn running_with_log(app: &mut App, t0: Instant, lines: usize) {
    feed(app, started(1));
    for i in 0..lines {
        feed(app, event(Event::Line { index: 1, text: format!("saved meshconfigs/object-{i:04}") }));
    }
    feed(app, event(Event::Warning { index: Some(1), text: "2 objects carry finalizers".into() }));
    feed(app, event(Event::Progress { index: 1, done: 0, total: Some(400), bytes: 0, what: "backup".into() }));
    feed(app, Message::Tick(t0 + Duration::from_secs(8)));
    feed(app, event(Event::Progress { index: 1, done: 160, total: Some(400), bytes: 655_360, what: "backup".into() }));
}

#[test]
fn plan_view() {
    let t0 = Instant::now();
    let mut app = App::new(t0, Theme::monochrome());
    feed(&mut app, Message::Resize(W, H));
    feed(&mut app, session_started(true));
    insta::assert_snapshot!("plan_view", screen(&app));
}

#[test]
fn before_the_session_starts() {
    let app = App::new(Instant::now(), Theme::monochrome());
    insta::assert_snapshot!("before_session", screen(&app));
}

#[test]
fn running_step_with_log_and_gauge() {
    let (mut app, t0) = app();
    running_with_log(&mut app, t0, 30);
    insta::assert_snapshot!("running_step", screen(&app));
}

#[test]
fn the_log_scrolls_and_says_what_is_below() {
    let (mut app, t0) = app();
    running_with_log(&mut app, t0, 30);
    feed(&mut app, key(KeyCode::PageUp));
    insta::assert_snapshot!("log_scrolled", screen(&app));
    feed(&mut app, ch('l'));
    assert!(!screen(&app).contains("newer below"));
}

#[test]
fn confirm_dialog() {
    let (mut app, _) = app();
    feed(&mut app, started(2));
    let _rx = ask(&mut app, confirm(None, true));
    insta::assert_snapshot!("confirm", screen(&app));
}

#[test]
fn typed_word_with_a_mismatch() {
    let (mut app, _) = app();
    feed(&mut app, started(2));
    let mut rx = ask(&mut app, confirm(Some("delete-crds"), true));
    typed(&mut app, "delete-crd");
    assert!(feed(&mut app, key(KeyCode::Enter)).is_none(), "a wrong word answers nothing");
    assert!(rx.try_recv().is_err());
    typed(&mut app, "dele");
    insta::assert_snapshot!("typed_word_mismatch", screen(&app));
}

#[test]
fn acknowledge_dialog() {
    let (mut app, _) = app();
    let _rx = ask(&mut app, acknowledge());
    insta::assert_snapshot!("acknowledge", screen(&app));
}

#[test]
fn manual_dialog() {
    let (mut app, _) = app();
    feed(&mut app, started(4));
    let _rx = ask(&mut app, manual(true));
    insta::assert_snapshot!("manual", screen(&app));
}

#[test]
fn after_failure_dialog() {
    let (mut app, _) = app();
    feed(&mut app, started(1));
    feed(&mut app, finished(1, "saved 412 objects"));
    feed(&mut app, started(3));
    let q = after_failure(vec![Answer::Retry, Answer::Skip, Answer::Restore, Answer::Stop]);
    let Question::AfterFailure { error, cluster_state, .. } = &q else { unreachable!() };
    feed(&mut app, event(Event::StepFailed { index: 3, error: error.clone(), cluster_state: cluster_state.clone() }));
    let _rx = ask(&mut app, q);
    insta::assert_snapshot!("after_failure", screen(&app));
}

#[test]
fn command_finished_dialog() {
    let (mut app, _) = app();
    let _rx = ask(&mut app, command_finished(true));
    insta::assert_snapshot!("command_finished", screen(&app));
}

#[test]
fn variable_dialogs() {
    let mut app = App::new(Instant::now(), Theme::monochrome());
    feed(&mut app, Message::Resize(W, H));
    let _rx = ask(&mut app, variable(vec![], Some("`prod eu` does not match ^[a-z0-9,-]+$")));
    insta::assert_snapshot!("variable_text", screen(&app));
    let mut app = App::new(Instant::now(), Theme::monochrome());
    feed(&mut app, Message::Resize(W, H));
    let _rx = ask(&mut app, variable(vec!["default".into(), "apps".into(), "payments".into()], None));
    insta::assert_snapshot!("variable_choices", screen(&app));
}

/// The procedure choice comes before any session, inside the screen: what
/// was detected is in the log behind it, and a digit picks a procedure.
#[test]
fn the_procedure_choice_is_asked_inside_the_screen() {
    let mut app = App::new(Instant::now(), Theme::monochrome());
    feed(&mut app, Message::Resize(W, H));
    let detection = Detection::Version {
        product: "NGINX Service Mesh".into(),
        version: "1.6.0".into(),
        source: "deployment nginx-mesh/nsm-controller image tag".into(),
    };
    feed(&mut app, event(Event::Detected { detection }));
    let choices = vec![
        ProcedureChoice {
            id: "in-place".into(),
            label: "in-place (In-place upgrade with nginx-meshctl, recommended)".into(),
            recommended: true,
        },
        ProcedureChoice {
            id: "manual-meshctl".into(),
            label: "manual-meshctl (medium disruption)".into(),
            recommended: false,
        },
    ];
    let _rx = ask(&mut app, Question::PickProcedure { hop: "1.6.0 -> 1.7.0".into(), choices });
    insta::assert_snapshot!("pick_procedure", screen(&app));
    assert_eq!(answer_of(feed(&mut app, ch('2'))), Some(Answer::Text("manual-meshctl".into())));
}

#[test]
fn a_failed_step_after_stopping() {
    let (mut app, _) = app();
    feed(&mut app, started(3));
    let q = after_failure(vec![Answer::Retry, Answer::Stop]);
    let Question::AfterFailure { error, cluster_state, .. } = &q else { unreachable!() };
    feed(&mut app, event(Event::StepFailed { index: 3, error: error.clone(), cluster_state: cluster_state.clone() }));
    let _rx = ask(&mut app, q);
    assert_eq!(answer_of(feed(&mut app, ch('x'))), Some(Answer::Stop));
    insta::assert_snapshot!("failure", screen(&app));
}

/// A rehearsal that ran to its end with step `skipped` skipped.
fn rehearsed_to_the_end(skipped: usize) -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new(t0, Theme::monochrome());
    feed(&mut app, Message::Resize(W, H));
    feed(&mut app, session_started(true));
    for index in 0..plan().len() {
        feed(&mut app, started(index));
        let state = if index == skipped { StepState::Skipped } else { StepState::Done };
        feed(&mut app, event(Event::StepFinished { index, state, outcome: "rehearsed".into() }));
    }
    (app, t0)
}

#[test]
fn summary_then_any_key_leaves() {
    let (mut app, t0) = rehearsed_to_the_end(4);
    feed(&mut app, Message::Tick(t0 + Duration::from_secs(754)));
    feed(
        &mut app,
        event(Event::SessionFinished {
            status: "finished".into(),
            elapsed_secs: 754,
            backups: PathBuf::from("/home/op/.local/state/stepwise/sessions/20250301-0915-a1b2/backups"),
            report: Some(PathBuf::from("/home/op/.local/state/stepwise/sessions/20250301-0915-a1b2/report.md")),
            resume_hint: None,
        }),
    );
    assert!(feed(&mut app, Message::EngineGone).is_none(), "the operator reads the summary first");
    let s = screen(&app);
    assert!(s.contains("Steps:   7 done, 1 skipped (of 8)"), "{s}");
    insta::assert_snapshot!("summary", s);
    assert!(matches!(feed(&mut app, ch('z')), Some(Effect::Quit)));
}

#[test]
fn summary_of_an_interrupted_session_says_how_to_resume() {
    let (mut app, _) = app();
    feed(&mut app, started(1));
    feed(&mut app, event(Event::StepFinished { index: 1, state: StepState::Interrupted, outcome: "stopped".into() }));
    feed(
        &mut app,
        event(Event::SessionFinished {
            status: "interrupted".into(),
            elapsed_secs: 95,
            backups: PathBuf::from("/home/op/.local/state/stepwise/sessions/20250301-0915-a1b2/backups"),
            report: None,
            resume_hint: Some("stepwise resume 20250301-0915-a1b2".into()),
        }),
    );
    let s = screen(&app);
    assert!(s.contains("1 done, 1 interrupted, 6 not run (of 8)"), "{s}");
    insta::assert_snapshot!("summary_interrupted", s);
}

#[test]
fn the_header_shows_every_hop_or_both_ends_when_narrow() {
    let (app, _) = app();
    let wide = screen(&app);
    assert!(wide.contains("nginx-service-mesh 1.6.0 -> 1.7.0 -> 1.8.0"), "{wide}");
    assert!(wide.contains("Hop 2: 1.7.0 -> 1.8.0"), "{wide}");
    let narrow = text(&draw(&app, 72, 20));
    let header: String = narrow.lines().take(2).collect::<Vec<_>>().join("\n");
    assert!(header.contains("1.6.0 -> 1.8.0 (2 hops)"), "{narrow}");
    assert!(header.trim_end().lines().next().is_some_and(|l| l.ends_with("0s")), "the elapsed time stays: {narrow}");
    insta::assert_snapshot!("header_narrow", header);
}

#[test]
fn a_key_before_the_engine_hangs_up_leaves_when_it_does() {
    let (mut app, _) = app();
    let finished = Event::SessionFinished {
        status: "interrupted".into(),
        elapsed_secs: 3,
        backups: PathBuf::from("/b"),
        report: None,
        resume_hint: Some("stepwise resume 20250301-0915-a1b2".into()),
    };
    feed(&mut app, event(finished));
    assert!(feed(&mut app, key(KeyCode::Enter)).is_none());
    assert!(matches!(feed(&mut app, Message::EngineGone), Some(Effect::Quit)));
    assert!(app.farewell().iter().any(|l| l.contains("stepwise resume 20250301-0915-a1b2")));
}

#[test]
fn the_engine_stopping_early_is_explained() {
    let mut app = App::new(Instant::now(), Theme::monochrome());
    feed(&mut app, Message::Resize(W, H));
    feed(&mut app, event(Event::Notice { text: "preflight: kubectl 1.25 is older than 1.27".into() }));
    feed(&mut app, Message::EngineGone);
    insta::assert_snapshot!("engine_gone", screen(&app));
    assert_eq!(app.farewell(), vec!["preflight: kubectl 1.25 is older than 1.27".to_string()]);
}

#[test]
fn help_screen() {
    let (mut app, _) = app();
    feed(&mut app, ch('?'));
    insta::assert_snapshot!("help", screen(&app));
    feed(&mut app, key(KeyCode::Esc));
    assert!(!screen(&app).contains("Keys"));
}

#[test]
fn too_small_terminal() {
    let (mut app, _) = app();
    feed(&mut app, Message::Resize(50, 12));
    insta::assert_snapshot!("too_small", text(&draw(&app, 50, 12)));
}

#[test]
fn keys_are_ignored_while_the_window_is_too_small() {
    let (mut app, _) = app();
    let mut rx = ask(&mut app, confirm(None, false));
    feed(&mut app, Message::Resize(50, 12));
    assert!(feed(&mut app, ch('y')).is_none());
    assert!(rx.try_recv().is_err());
    feed(&mut app, Message::Resize(W, H));
    assert_eq!(answer_of(feed(&mut app, ch('y'))), Some(Answer::Yes));
}

#[test]
fn quitting_asks_first() {
    let (mut app, _) = app();
    feed(&mut app, started(1));
    assert!(feed(&mut app, ch('q')).is_none(), "q only asks");
    insta::assert_snapshot!("quit", screen(&app));
    assert!(feed(&mut app, ch('n')).is_none());
    assert!(!screen(&app).contains("Leave stepwise?"));
    assert!(feed(&mut app, ctrl_c()).is_none(), "Ctrl-C only asks too");
    assert!(matches!(feed(&mut app, ch('y')), Some(Effect::Cancel)), "a running step is interrupted");
    assert!(screen(&app).contains("stepwise resume 20250301-0915-a1b2"));
    // While stopping, questions are answered "stop" and the engine hanging up ends the screen.
    let (tx, mut rx) = oneshot::channel();
    let effect = feed(&mut app, Message::Engine(Msg::Ask(confirm(None, false), tx)));
    let Some(Effect::Reply(reply)) = effect else { panic!("answered at once") };
    reply.send();
    assert_eq!(rx.try_recv().ok(), Some(Answer::Stop));
    assert!(matches!(feed(&mut app, Message::EngineGone), Some(Effect::Quit)));
}

#[test]
fn quitting_during_a_question_answers_stop() {
    let (mut app, _) = app();
    let _rx = ask(&mut app, confirm(Some("delete-crds"), false));
    // In a text field q is a letter; Ctrl-C asks.
    assert!(feed(&mut app, ch('q')).is_none());
    assert!(!screen(&app).contains("Leave stepwise?"));
    assert!(feed(&mut app, ctrl_c()).is_none());
    assert!(screen(&app).contains("Leave stepwise?"));
    assert_eq!(answer_of(feed(&mut app, ch('y'))), Some(Answer::Stop));
}

#[test]
fn ctrl_c_while_stopping_leaves_at_once() {
    let (mut app, _) = app();
    feed(&mut app, started(1));
    feed(&mut app, ctrl_c());
    assert!(matches!(feed(&mut app, ctrl_c()), Some(Effect::Cancel)), "a second Ctrl-C confirms");
    assert!(matches!(feed(&mut app, ctrl_c()), Some(Effect::Quit)));
}

/// Each question, each key, the answer it gives; `None`: no answer.
#[test]
fn each_key_gives_the_right_answer() {
    let cases: Vec<(Question, Message, Option<Answer>)> = vec![
        (confirm(None, true), ch('y'), Some(Answer::Yes)),
        (confirm(None, true), ch('s'), Some(Answer::Skip)),
        (confirm(None, false), ch('s'), None),
        (confirm(None, true), ch('x'), Some(Answer::Stop)),
        (confirm(None, true), key(KeyCode::Esc), Some(Answer::Stop)),
        (confirm(None, true), key(KeyCode::Enter), Some(Answer::Yes)),
        (acknowledge(), ch('y'), Some(Answer::Yes)),
        (acknowledge(), ch('x'), Some(Answer::Stop)),
        (manual(true), ch('y'), Some(Answer::Yes)),
        (manual(true), ch('s'), Some(Answer::Skip)),
        (manual(false), ch('s'), None),
        (manual(false), key(KeyCode::Esc), Some(Answer::Stop)),
        (after_failure(vec![Answer::Retry, Answer::Skip, Answer::Restore, Answer::Stop]), ch('r'), Some(Answer::Retry)),
        (after_failure(vec![Answer::Retry, Answer::Skip, Answer::Restore, Answer::Stop]), ch('s'), Some(Answer::Skip)),
        (after_failure(vec![Answer::Retry, Answer::Restore, Answer::Stop]), ch('b'), Some(Answer::Restore)),
        (after_failure(vec![Answer::Retry, Answer::Stop]), ch('b'), None),
        (after_failure(vec![Answer::Retry, Answer::Stop]), ch('x'), Some(Answer::Stop)),
        (command_finished(true), ch('v'), Some(Answer::Verify)),
        (command_finished(false), ch('v'), None),
        (command_finished(true), ch('y'), Some(Answer::Yes)),
        (command_finished(true), ch('r'), Some(Answer::No)),
        (command_finished(true), ch('x'), Some(Answer::Stop)),
        (variable(vec![], None), key(KeyCode::Enter), Some(Answer::Text("default".into()))),
        (variable(vec![], None), key(KeyCode::Esc), Some(Answer::Stop)),
        (variable(vec!["default".into(), "apps".into()], None), ch('2'), Some(Answer::Text("apps".into()))),
        (
            variable(vec!["default".into(), "apps".into()], None),
            key(KeyCode::Enter),
            Some(Answer::Text("default".into())),
        ),
    ];
    for (question, k, expected) in cases {
        let (mut app, _) = app();
        let label = format!("{question:?} with {k:?}");
        let mut rx = ask(&mut app, question);
        let effect = feed(&mut app, k);
        let got = match effect {
            Some(Effect::Reply(reply)) => {
                reply.send();
                rx.try_recv().ok()
            }
            Some(other) => panic!("{label}: {other:?}"),
            None => None,
        };
        assert_eq!(got, expected, "{label}");
    }
}

#[test]
fn arrows_pick_an_answer_too() {
    let (mut app, _) = app();
    let _rx = ask(&mut app, confirm(None, true));
    feed(&mut app, key(KeyCode::Down));
    assert_eq!(answer_of(feed(&mut app, key(KeyCode::Enter))), Some(Answer::Skip));
}

#[test]
fn typed_words_and_values() {
    let (mut app, _) = app();
    let _rx = ask(&mut app, confirm(Some("delete-crds"), true));
    typed(&mut app, "skip");
    assert_eq!(answer_of(feed(&mut app, key(KeyCode::Enter))), Some(Answer::Skip));

    let _rx = ask(&mut app, confirm(Some("delete-crds"), false));
    assert!(feed(&mut app, key(KeyCode::Enter)).is_none(), "an empty word answers nothing");
    typed(&mut app, "skip");
    assert!(feed(&mut app, key(KeyCode::Enter)).is_none(), "`skip` only where the step is skippable");
    typed(&mut app, "delete-crds");
    assert_eq!(answer_of(feed(&mut app, key(KeyCode::Enter))), Some(Answer::Yes));

    let _rx = ask(&mut app, variable(vec![], None));
    for _ in 0.."default".len() {
        feed(&mut app, key(KeyCode::Backspace));
    }
    typed(&mut app, "apps,payments");
    assert_eq!(answer_of(feed(&mut app, key(KeyCode::Enter))), Some(Answer::Text("apps,payments".into())));
}

#[test]
fn tab_puts_a_question_aside_to_browse() {
    let (mut app, _) = app();
    let _rx = ask(&mut app, manual(false));
    assert_eq!(app.selected(), 4, "the selection follows the question's step");
    feed(&mut app, key(KeyCode::Tab));
    assert!(feed(&mut app, ch('k')).is_none());
    assert_eq!(app.selected(), 3);
    feed(&mut app, key(KeyCode::Tab));
    assert_eq!(answer_of(feed(&mut app, ch('y'))), Some(Answer::Yes));
}

#[test]
fn browsing_the_plan() {
    let (mut app, _) = app();
    feed(&mut app, started(1));
    assert_eq!(app.selected(), 1);
    feed(&mut app, ch('j'));
    feed(&mut app, key(KeyCode::Down));
    assert_eq!(app.selected(), 3);
    feed(&mut app, finished(1, "saved 412 objects"));
    feed(&mut app, started(2));
    assert_eq!(app.selected(), 3, "a moved selection stays where the operator put it");
    feed(&mut app, ch('c'));
    assert_eq!(app.selected(), 2);
    feed(&mut app, ch('G'));
    assert_eq!(app.selected(), 7);
    insta::assert_snapshot!("browsing", screen(&app));
}

#[test]
fn no_colour_means_no_colour() {
    let (mut app, t0) = app();
    running_with_log(&mut app, t0, 5);
    let _rx = ask(&mut app, confirm(Some("delete-crds"), true));
    let buffer = draw(&app, W, H);
    for cell in buffer.content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
    }
    let mut coloured = App::new(t0, Theme::coloured());
    feed(&mut coloured, session_started(false));
    assert!(draw(&coloured, W, H).content().iter().any(|c| c.fg != Color::Reset), "accents when allowed");
}

#[test]
fn command_output_cannot_drive_the_terminal() {
    let (mut app, _) = app();
    feed(&mut app, started(1));
    feed(&mut app, event(Event::Line { index: 1, text: "\u{1b}[2J\u{1b}[31mred\u{1b}[0m\tdone".into() }));
    let s = screen(&app);
    assert!(s.contains("red    done"), "{s}");
    assert!(!s.contains('\u{1b}'));
}

#[test]
fn a_cancel_from_elsewhere_closes_without_a_key() {
    let (mut app, _) = app();
    let mut rx = ask(&mut app, confirm(None, false));
    let Some(Effect::Reply(reply)) = feed(&mut app, Message::Cancelled) else { panic!("the question is answered") };
    reply.send();
    assert_eq!(rx.try_recv().ok(), Some(Answer::Stop));
    let finished = Event::SessionFinished {
        status: "interrupted".into(),
        elapsed_secs: 3,
        backups: PathBuf::from("/b"),
        report: None,
        resume_hint: Some("stepwise resume 20250301-0915-a1b2".into()),
    };
    assert!(feed(&mut app, event(finished)).is_none());
    assert!(matches!(feed(&mut app, Message::EngineGone), Some(Effect::Quit)), "nobody need press a key");
}
