//! Taking the terminal over and always giving it back: raw mode and the
//! alternate screen on the way in; on the way out, whether the screen ends
//! normally, with an error (the guard's drop) or in a panic (the hook restores
//! the terminal before the panic message prints, so it can be read).

use std::io::{self, Stdout, stdout};
use std::panic::{self, PanicHookInfo};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Set by the panic hook: the terminal is restored, so the screen must stop
/// drawing (a panic in another task leaves this one running).
static PANICKED: AtomicBool = AtomicBool::new(false);

pub fn panicked() -> bool {
    PANICKED.load(Ordering::Relaxed)
}

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// The terminal while the screen owns it. Dropping it restores the terminal.
pub struct Screen {
    pub terminal: Term,
    previous_hook: Option<Hook>,
}

impl Screen {
    pub fn enter() -> io::Result<Self> {
        let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        let previous: Hook = Arc::from(panic::take_hook());
        let chained = Arc::clone(&previous);
        panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::Relaxed);
            let _ = restore();
            chained(info);
        }));
        // From here on, an early return drops the guard, which restores.
        let screen = Screen { terminal, previous_hook: Some(previous) };
        enable_raw_mode()?;
        // The alternate screen starts blank, so there is nothing to clear (and
        // ratatui's clear would ask the terminal where its cursor is and wait).
        execute!(stdout(), EnterAlternateScreen)?;
        Ok(screen)
    }

    /// Restores the terminal and says whether that worked.
    pub fn leave(mut self) -> io::Result<()> {
        self.put_back()
    }

    fn put_back(&mut self) -> io::Result<()> {
        let Some(previous) = self.previous_hook.take() else { return Ok(()) };
        let restored = restore();
        panic::set_hook(Box::new(move |info| previous(info)));
        restored
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.put_back();
    }
}

/// Raw mode off first (it matters most: without it the shell is unusable), then
/// the main screen and the cursor back; the first error is reported.
fn restore() -> io::Result<()> {
    let raw = disable_raw_mode();
    let screen = execute!(stdout(), LeaveAlternateScreen, Show);
    raw.and(screen)
}
