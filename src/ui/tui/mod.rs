//! The full-screen front end: the plan, the selected step, a live log and the
//! engine's questions as dialogs, on one screen.
//!
//! It follows the usual ratatui application shape: one state ([`App`]),
//! messages in ([`Message`]: the engine's events and questions, keys, resizes,
//! ticks), a pure [`update`] that returns at most one [`Effect`] (an answer for
//! the engine, cancelling the running step, leaving), and a [`view`] that only
//! draws. [`drive`] owns the terminal and the loop between them.

mod app;
mod dialog;
mod format;
mod ingest;
mod keys;
mod layout;
mod log;
mod message;
mod progress;
mod sources;
mod steps;
mod terminal;
mod theme;
mod update;
mod view;

use std::io;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::base::Canceller;
use crate::engine::Inbox;

pub use app::App;
pub use message::{Effect, Message, Reply, from_terminal};
pub use theme::Theme;
pub use update::update;
pub use view::view;

/// At most this many waiting messages are taken in before the screen is drawn
/// again, so a flood of output is drawn once and keys still show promptly.
const BATCH: usize = 512;

/// Runs the screen until the engine hangs up and the operator has seen the end
/// (or chose to leave), then restores the terminal and prints the summary so it
/// stays in the scrollback. `canceller` interrupts a running step when the
/// operator confirms leaving; without it, leaving waits for the next question.
/// A cancel from elsewhere (the command line's SIGTERM handler, sharing the
/// canceller) also ends the screen once the engine has recorded the stop,
/// without waiting for a key.
pub async fn drive(inbox: Inbox, canceller: Option<Canceller>) -> io::Result<()> {
    let mut screen = terminal::Screen::enter()?;
    let mut app = App::new(Instant::now(), Theme::from_env());
    let size = screen.terminal.size()?;
    update(&mut app, Message::Resize(size.width, size.height));
    let (tx, rx) = mpsc::unbounded_channel();
    let sources = sources::spawn(inbox, canceller.as_ref().map(Canceller::signal), tx);
    let result = run(&mut screen.terminal, &mut app, rx, canceller.as_ref()).await;
    drop(sources);
    if let Some(reply) = app.abandon() {
        reply.send();
    }
    let restored = screen.leave();
    for line in app.farewell() {
        println!("{line}");
    }
    result.and(restored)
}

async fn run(
    terminal: &mut terminal::Term,
    app: &mut App,
    mut rx: mpsc::UnboundedReceiver<Message>,
    canceller: Option<&Canceller>,
) -> io::Result<()> {
    terminal.draw(|f| view(app, f))?;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(message) = next.take() {
            match update(app, message) {
                Some(Effect::Reply(reply)) => reply.send(),
                Some(Effect::Cancel) => canceller.iter().for_each(|c| c.cancel()),
                Some(Effect::Quit) => return Ok(()),
                None => {}
            }
            taken += 1;
            if taken < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if terminal::panicked() {
            return Err(io::Error::other("stepwise hit an internal error (reported above); the screen was closed"));
        }
        terminal.draw(|f| view(app, f))?;
    }
    Ok(())
}
