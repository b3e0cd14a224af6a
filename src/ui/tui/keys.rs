//! Which keys work, in words: the footer shows those that work right now, the
//! help lists them all. Kept beside each other so the two cannot drift apart.

use super::app::{App, Overlay};
use super::dialog::Form;

pub type Hint = (&'static str, &'static str);

/// Every key, for the help screen, grouped under headings.
pub const HELP: &[(&str, &[Hint])] = &[
    (
        "Moving around",
        &[
            ("Up/Down j/k", "select the previous or next step"),
            ("Home/End g/G", "select the first or last step"),
            ("c", "back to the running step; the selection follows it"),
            ("PgUp/PgDn", "scroll the log"),
            ("l", "jump to the newest log line"),
        ],
    ),
    (
        "Answering a question",
        &[
            ("letter in [ ]", "pick that answer"),
            ("Up/Down Enter", "pick the highlighted answer"),
            ("typing, Enter", "type a word or a value and submit it"),
            ("Backspace Ctrl-U", "delete a character, or all of it"),
            ("Esc", "stop here; the session can be resumed"),
            ("Tab", "put the question aside to read the screen, and back"),
        ],
    ),
    (
        "Anywhere",
        &[
            ("? F1", "this help (F1 while typing)"),
            ("q Ctrl-C", "leave; asks first, and the session can be resumed"),
            ("q Ctrl-C again", "while stopping: leave at once, without waiting"),
        ],
    ),
];

/// The keys that do something in the screen's present state.
pub fn footer(app: &App) -> Vec<Hint> {
    if app.is_over() {
        return vec![("any key", "leave")];
    }
    match app.overlay {
        Overlay::Quit => return vec![("y", "leave"), ("n Esc", "stay")],
        Overlay::Help => return vec![("Esc ?", "close help")],
        Overlay::None => {}
    }
    if app.stopping {
        return vec![("PgUp/PgDn", "log"), ("Ctrl-C", "leave now")];
    }
    match &app.dialog {
        Some(_) if app.dialog_hidden => {
            vec![("Tab", "back to the question"), ("j/k", "steps"), ("PgUp/PgDn", "log"), ("q", "quit")]
        }
        Some(d) => match &d.form {
            Form::Choices { .. } => vec![
                ("letter/Enter", "answer"),
                ("Esc", "stop"),
                ("Tab", "look behind"),
                ("PgUp/PgDn", "log"),
                ("?", "help"),
                ("q", "quit"),
            ],
            Form::Word { .. } | Form::Text { .. } => vec![
                ("Enter", "submit"),
                ("Esc", "stop"),
                ("Tab", "look behind"),
                ("PgUp/PgDn", "log"),
                ("F1", "help"),
                ("Ctrl-C", "quit"),
            ],
        },
        None => {
            let mut hints = vec![("j/k", "steps"), ("PgUp/PgDn", "log")];
            if app.current.is_some() && !app.follow {
                hints.push(("c", "current step"));
            }
            hints.extend([("?", "help"), ("q", "quit")]);
            hints
        }
    }
}
