//! Whether to colour, decided once for every library that draws: `NO_COLOR`
//! present and not empty means no colour anywhere (no-color.org), and an empty
//! one means nothing. The libraries disagree on the empty and the `0` case, so
//! each is told this answer rather than left to read the variable itself.

use std::io::IsTerminal;

/// Whether `NO_COLOR` asks for no colour: present and not empty.
pub fn refused() -> bool {
    refused_by(std::env::var_os("NO_COLOR").as_deref())
}

fn refused_by(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// Whether `NO_COLOR` is present but empty, which some libraries wrongly take as a refusal.
fn present_but_empty() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| v.is_empty())
}

/// Whether text written to standard error is coloured: a terminal that is not
/// `TERM=dumb`, unless `NO_COLOR` refuses it.
pub fn stderr() -> bool {
    !refused() && std::io::stderr().is_terminal() && !dumb_terminal()
}

fn dumb_terminal() -> bool {
    std::env::var_os("TERM").is_some_and(|t| t == "dumb")
}

/// What the error reports (miette) are told: `Some(false)` to draw without
/// colour, `Some(true)` where its own reading of `NO_COLOR` would wrongly
/// refuse, `None` to let it decide as usual.
pub fn for_reports() -> Option<bool> {
    if refused() {
        Some(false)
    } else if present_but_empty() {
        Some(stderr())
    } else {
        None
    }
}

/// Tells the prompt and progress-bar libraries (dialoguer and indicatif draw
/// through console) the same answer; call it before they draw anything.
pub fn configure_prompts() {
    if refused() {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    } else if present_but_empty() {
        let usable = !dumb_terminal();
        console::set_colors_enabled(usable && std::io::stdout().is_terminal());
        console::set_colors_enabled_stderr(stderr());
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::refused_by;

    #[test]
    fn only_a_value_that_is_not_empty_refuses_colour() {
        assert!(!refused_by(None));
        assert!(!refused_by(Some(OsStr::new(""))));
        assert!(refused_by(Some(OsStr::new("1"))));
        assert!(refused_by(Some(OsStr::new("0"))), "any value counts, 0 too");
    }
}
