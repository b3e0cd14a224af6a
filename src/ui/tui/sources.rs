//! What the screen waits on, each in its own task feeding one channel: the
//! terminal's input, the engine's messages, the session being cancelled, and a
//! clock tick.
//! The render loop waits on that channel alone, so it never blocks on any one
//! source and never spins.

use std::time::{Duration, Instant};

use crossterm::event::EventStream;
use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::base::CancelSignal;
use crate::engine::Inbox;

use super::message::{Message, from_terminal};

/// Often enough for a spinner and an elapsed time, rarely enough to cost nothing.
pub const TICK: Duration = Duration::from_millis(250);

/// The running tasks; dropping this stops them (and drops the engine's inbox).
pub struct Sources {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Sources {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub fn spawn(inbox: Inbox, cancel: Option<CancelSignal>, tx: UnboundedSender<Message>) -> Sources {
    let mut tasks = vec![tokio::spawn(terminal(tx.clone())), tokio::spawn(engine(inbox, tx.clone()))];
    if let Some(cancel) = cancel {
        tasks.push(tokio::spawn(cancelled(cancel, tx.clone())));
    }
    tasks.push(tokio::spawn(clock(tx)));
    Sources { tasks }
}

async fn terminal(tx: UnboundedSender<Message>) {
    let mut events = EventStream::new();
    while let Some(event) = events.next().await {
        let Ok(event) = event else { break };
        if let Some(message) = from_terminal(event)
            && tx.send(message).is_err()
        {
            return;
        }
    }
    let _ = tx.send(Message::InputGone);
}

async fn engine(mut inbox: Inbox, tx: UnboundedSender<Message>) {
    while let Some(msg) = inbox.recv().await {
        if tx.send(Message::Engine(msg)).is_err() {
            return;
        }
    }
    let _ = tx.send(Message::EngineGone);
}

async fn cancelled(mut cancel: CancelSignal, tx: UnboundedSender<Message>) {
    cancel.cancelled().await;
    let _ = tx.send(Message::Cancelled);
}

async fn clock(tx: UnboundedSender<Message>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if tx.send(Message::Tick(Instant::now())).is_err() {
            return;
        }
    }
}
