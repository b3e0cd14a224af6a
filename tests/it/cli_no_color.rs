//! `NO_COLOR` as no-color.org says, through the real binary at a terminal:
//! present and not empty (`0` too) turns colour off everywhere; empty or
//! absent leaves it on. Help (clap), error reports (miette) and the `-v` log
//! lines on standard error (tracing) are each checked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::process::Command;

/// Everything the binary showed in a pseudo-terminal, run with `NO_COLOR`
/// set to `no_color` (or unset).
fn at_terminal(args: &[&str], no_color: Option<&str>) -> String {
    use std::io::Read;
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    cmd.args(args).arg("--state-dir").arg(state.path()).env("TERM", "xterm").env_remove("NO_COLOR");
    for name in ["CLICOLOR", "CLICOLOR_FORCE", "NO_GRAPHICS"] {
        cmd.env_remove(name);
    }
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    let mut session = expectrl::Session::spawn(cmd).expect("spawn in a pty");
    let mut seen = Vec::new();
    // A pty reports the end of its program as an error (EIO) once everything is read.
    let _ = session.read_to_end(&mut seen);
    String::from_utf8_lossy(&seen).into_owned()
}

fn coloured(text: &str) -> bool {
    text.contains("\x1b[")
}

/// The cases: help, an error report, and a `-v` log line.
const COMMANDS: [&[&str]; 3] = [&["plan", "--help"], &["show", "no-such-product"], &["-v", "list"]];

#[test]
fn colour_is_on_at_a_terminal_when_no_color_is_absent_or_empty() {
    for args in COMMANDS {
        for value in [None, Some("")] {
            let seen = at_terminal(args, value);
            assert!(coloured(&seen), "{args:?} with NO_COLOR={value:?} should be coloured:\n{seen}");
        }
    }
}

#[test]
fn any_value_of_no_color_turns_colour_off() {
    for args in COMMANDS {
        for value in ["1", "0", "false"] {
            let seen = at_terminal(args, Some(value));
            assert!(!coloured(&seen), "{args:?} with NO_COLOR={value} has colour:\n{seen:?}");
        }
    }
}
