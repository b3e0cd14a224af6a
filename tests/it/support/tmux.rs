//! A terminal of its own, for the tests that read a full screen: a tmux server
//! on a private socket with one pane running the program. Keys go in with
//! `send-keys` and the screen comes back as text with `capture-pane`, exactly
//! as a person would see it. The pane stays after the program exits so its
//! last words can be read; its exit status goes to a file
//! ([`super::recording_exit`]), which tests read rather than tmux's own.
//! Dropping the terminal stops the server (and whatever still runs in it: a
//! hang-up); after a failure it first prints the last screen read.

use std::cell::RefCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long [`Terminal::wait_for`] waits for anything to show.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// The pane's session name.
const SESSION: &str = "pane";

pub struct Terminal {
    dir: tempfile::TempDir,
    last: RefCell<String>,
}

impl Terminal {
    /// A `width` x `height` pane running `program args`, with `env` added to
    /// the program's environment. `prepare` may change the `tmux new-session`
    /// command first: its environment becomes the tmux server's (and so the
    /// program's), its directory the program's.
    pub fn open(
        (width, height): (u16, u16),
        program: &Path,
        args: &[OsString],
        env: &[(&str, OsString)],
        prepare: impl FnOnce(&mut Command),
    ) -> Terminal {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tmux.conf"), "set -g status off\nset -g remain-on-exit on\n").unwrap();
        let term = Terminal { dir, last: RefCell::default() };
        let mut cmd = term.tmux();
        prepare(&mut cmd);
        cmd.args(["new-session", "-d", "-s", SESSION, "-x", &width.to_string(), "-y", &height.to_string()]);
        for (name, value) in env {
            let mut pair = OsString::from(format!("{name}="));
            pair.push(value);
            cmd.arg("-e").arg(pair);
        }
        cmd.arg("--").args(super::recording_exit(&term.status_file())).arg(program).args(args);
        super::run_ok(cmd);
        term
    }

    fn status_file(&self) -> PathBuf {
        self.dir.path().join("exit-status")
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env_remove("TMUX").arg("-u").arg("-S").arg(self.dir.path().join("socket"));
        cmd.arg("-f").arg(self.dir.path().join("tmux.conf"));
        cmd
    }

    /// The screen as it is now.
    pub fn screen(&self) -> String {
        self.capture(&[])
    }

    /// The screen with the lines scrolled off above it.
    pub fn scrollback(&self) -> String {
        self.capture(&["-S", "-"])
    }

    fn capture(&self, range: &[&str]) -> String {
        let mut cmd = self.tmux();
        cmd.args(["capture-pane", "-p", "-t", SESSION]).args(range);
        let screen = super::run_ok(cmd);
        self.last.replace(screen.clone());
        screen
    }

    /// Named keys (`Enter`, `BSpace`) or single characters.
    pub fn press(&self, keys: &[&str]) {
        let mut cmd = self.tmux();
        cmd.args(["send-keys", "-t", SESSION]).args(keys);
        super::run_ok(cmd);
    }

    /// `text` typed as it is.
    pub fn type_text(&self, text: &str) {
        let mut cmd = self.tmux();
        cmd.args(["send-keys", "-t", SESSION, "-l", text]);
        super::run_ok(cmd);
    }

    /// Reads the screen until `done` holds for it, and returns that screen; fails
    /// after [`PATIENCE`] naming `what` and showing the screen as it was.
    pub fn wait_for(&self, what: &str, done: impl FnMut(&str) -> bool) -> String {
        self.wait_until(what, Self::screen, done)
    }

    /// As [`Terminal::wait_for`], reading the history above the screen too.
    pub fn wait_for_scrollback(&self, what: &str, done: impl FnMut(&str) -> bool) -> String {
        self.wait_until(what, Self::scrollback, done)
    }

    fn wait_until(&self, what: &str, read: fn(&Self) -> String, mut done: impl FnMut(&str) -> bool) -> String {
        let start = Instant::now();
        let deadline = start + PATIENCE;
        loop {
            let screen = read(self);
            if done(&screen) {
                eprintln!("{:>7.2}s {what}", start.elapsed().as_secs_f64());
                return screen;
            }
            assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The program's exit status once it has exited (128 + the signal's number
    /// when a signal ended it).
    pub fn exited(&self) -> Option<i32> {
        super::recorded_exit(&self.status_file())
    }

    /// Waits for the program to exit and returns its exit status.
    pub fn wait_for_exit(&self) -> i32 {
        let mut status = None;
        self.wait_for("the program to exit", |_| {
            status = self.exited();
            status.is_some()
        });
        status.unwrap_or(-1)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the last screen read:\n{}", self.last.borrow());
        }
        let _ = self.tmux().arg("kill-server").output();
    }
}
