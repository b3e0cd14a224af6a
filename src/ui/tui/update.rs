//! The pure heart of the screen: one message in, the state changed, at most one
//! effect out. Nothing here touches the terminal or waits.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

use crate::engine::{Answer, Msg};

use super::app::{App, Overlay};
use super::ingest;
use super::layout::{Areas, too_small};
use super::log::Kind;
use super::message::{Effect, Message};

pub fn update(app: &mut App, message: Message) -> Option<Effect> {
    match message {
        Message::Engine(Msg::Event(event)) => {
            ingest::event(app, event);
            None
        }
        Message::Engine(Msg::Ask(question, reply)) => ingest::question(app, question, reply),
        Message::EngineGone => {
            app.engine_gone = true;
            app.current = None;
            app.progress = None;
            (app.stopping || app.dismissed).then_some(Effect::Quit)
        }
        Message::Key(key) => on_key(app, key),
        Message::Resize(w, h) => {
            app.size = (w, h);
            None
        }
        Message::Tick(at) => {
            app.now = at;
            app.ticks += 1;
            None
        }
        Message::InputGone => Some(Effect::Quit),
        Message::Cancelled => cancelled(app),
    }
}

/// Whoever cancelled, the screen now only waits for the engine to record the
/// stop, answering any question "stop", and then closes by itself.
fn cancelled(app: &mut App) -> Option<Effect> {
    if !app.stopping {
        app.stopping = true;
        app.log.push(Kind::Notice, format!("interrupted; `{}` continues the session later", app.resume_command()));
    }
    if app.overlay == Overlay::Quit {
        app.overlay = Overlay::None;
    }
    if app.engine_gone {
        return Some(Effect::Quit);
    }
    app.dialog.take().map(|d| Effect::Reply(d.into_reply(Answer::Stop)))
}

fn is_ctrl_c(key: KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

fn on_key(app: &mut App, key: KeyEvent) -> Option<Effect> {
    let (w, h) = app.size;
    if too_small(Rect::new(0, 0, w, h)) {
        // Nothing can be read, so nothing may be answered blind.
        return None;
    }
    if app.is_over() {
        app.dismissed = true;
        return app.engine_gone.then_some(Effect::Quit);
    }
    match app.overlay {
        Overlay::Quit => return on_quit_key(app, key),
        Overlay::Help => {
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('?' | 'q') | KeyCode::F(1) | KeyCode::Enter) {
                app.overlay = Overlay::None;
            }
            return None;
        }
        Overlay::None => {}
    }
    let typing = app.dialog.as_ref().is_some_and(|d| d.takes_text() && !app.dialog_hidden);
    match key.code {
        _ if is_ctrl_c(key) && app.stopping => return Some(Effect::Quit),
        _ if is_ctrl_c(key) => app.overlay = Overlay::Quit,
        KeyCode::Char('q') if !typing && app.stopping => return Some(Effect::Quit),
        KeyCode::Char('q') if !typing => app.overlay = Overlay::Quit,
        KeyCode::F(1) => app.overlay = Overlay::Help,
        KeyCode::Char('?') if !typing => app.overlay = Overlay::Help,
        KeyCode::PageUp => app.log.scroll_up(page(app)),
        KeyCode::PageDown => app.log.scroll_down(page(app)),
        KeyCode::Tab if app.dialog.is_some() => app.dialog_hidden = !app.dialog_hidden,
        _ if app.dialog.is_some() && !app.dialog_hidden => return on_dialog_key(app, key),
        _ => browse(app, key),
    }
    None
}

fn on_dialog_key(app: &mut App, key: KeyEvent) -> Option<Effect> {
    let answer = app.dialog.as_mut()?.on_key(key)?;
    let dialog = app.dialog.take()?;
    Some(Effect::Reply(dialog.into_reply(answer)))
}

fn on_quit_key(app: &mut App, key: KeyEvent) -> Option<Effect> {
    match key.code {
        KeyCode::Char('y' | 'Y') => confirm_quit(app),
        _ if is_ctrl_c(key) => confirm_quit(app),
        KeyCode::Char('n' | 'N') | KeyCode::Esc => {
            app.overlay = Overlay::None;
            None
        }
        _ => None,
    }
}

/// The operator wants out: answer a waiting question "stop", or interrupt the
/// running step. Either way the engine records the stop before it hangs up.
fn confirm_quit(app: &mut App) -> Option<Effect> {
    app.overlay = Overlay::None;
    app.stopping = true;
    app.log.push(Kind::Notice, format!("stopping; `{}` continues the session later", app.resume_command()));
    match app.dialog.take() {
        Some(dialog) => Some(Effect::Reply(dialog.into_reply(Answer::Stop))),
        None => Some(Effect::Cancel),
    }
}

fn page(app: &App) -> usize {
    let (w, h) = app.size;
    Areas::new(Rect::new(0, 0, w, h)).log_page()
}

/// Moving through the plan to read any step.
fn browse(app: &mut App, key: KeyEvent) {
    let last = app.steps.len().saturating_sub(1);
    let selected = match key.code {
        KeyCode::Up | KeyCode::Char('k') => app.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (app.selected + 1).min(last),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => last,
        KeyCode::Char('c') => match app.current {
            Some(current) => current,
            None => return,
        },
        KeyCode::Char('l') => {
            app.log.jump_to_newest();
            return;
        }
        _ => return,
    };
    app.selected = selected;
    // Back on the engine's step, the selection follows it again.
    app.follow = app.current == Some(selected);
}
