//! What the screen reacts to ([`Message`]) and what it asks its loop to do
//! ([`Effect`]): the only ways in and out of [`super::update`].

use std::time::Instant;

use crossterm::event::{Event as TermEvent, KeyEvent, KeyEventKind};
use tokio::sync::oneshot;

use crate::engine::{Answer, Msg};

#[derive(Debug)]
pub enum Message {
    /// An event or a question from the engine.
    Engine(Msg),
    /// The engine hung up: the session is over, one way or another.
    EngineGone,
    Key(KeyEvent),
    Resize(u16, u16),
    /// The clock, for spinners and elapsed times.
    Tick(Instant),
    /// The terminal's input ended; nobody can answer any more.
    InputGone,
    /// The session is being cancelled: by the operator leaving, or by a signal
    /// (SIGTERM) the command line caught. Nobody may be there to press a key.
    Cancelled,
}

/// An answer on its way to the engine.
#[derive(Debug)]
pub struct Reply {
    answer: Answer,
    to: oneshot::Sender<Answer>,
}

impl Reply {
    pub(super) fn new(answer: Answer, to: oneshot::Sender<Answer>) -> Self {
        Reply { answer, to }
    }

    pub fn answer(&self) -> &Answer {
        &self.answer
    }

    /// Hands the answer over. An engine that stopped waiting has nothing to hear.
    pub fn send(self) {
        let _ = self.to.send(self.answer);
    }
}

#[derive(Debug)]
pub enum Effect {
    Reply(Reply),
    /// Interrupt the running step; the engine records it and ends the session.
    Cancel,
    /// Leave the screen now.
    Quit,
}

impl Effect {
    /// The answer this effect carries, if it is one.
    pub fn answer(&self) -> Option<&Answer> {
        match self {
            Effect::Reply(r) => Some(r.answer()),
            _ => None,
        }
    }
}

/// The message for a terminal event; `None` for events the screen ignores
/// (key releases, mouse, focus, paste).
pub fn from_terminal(event: TermEvent) -> Option<Message> {
    match event {
        TermEvent::Key(key) if key.kind != KeyEventKind::Release => Some(Message::Key(key)),
        TermEvent::Resize(w, h) => Some(Message::Resize(w, h)),
        _ => None,
    }
}
