//! Styles. Only accents are coloured: text keeps the terminal's own foreground
//! and background, so the screen reads on dark and light themes alike. Every
//! accent comes with a word, a mark or a modifier, so nothing is said by colour
//! alone, and with `NO_COLOR` set no colour is used at all.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    colour: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set to anything non-empty (no-color.org).
    pub fn from_env() -> Self {
        Theme { colour: !crate::ui::colour::refused() }
    }

    pub fn coloured() -> Self {
        Theme { colour: true }
    }

    pub fn monochrome() -> Self {
        Theme { colour: false }
    }

    fn accent(self, colour: Color) -> Style {
        if self.colour { Style::new().fg(colour) } else { Style::new() }
    }

    /// The REAL badge: reversed, so it stands out in any palette.
    pub fn real(self) -> Style {
        self.accent(Color::Red).add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    pub fn rehearsal(self) -> Style {
        self.accent(Color::Cyan).add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn running(self) -> Style {
        self.accent(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn done(self) -> Style {
        self.accent(Color::Green)
    }

    pub fn warning(self) -> Style {
        self.accent(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.accent(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn key(self) -> Style {
        self.accent(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(self) -> Style {
        Style::new()
    }

    /// The border of a modal: bold so it separates from the screen behind.
    pub fn modal(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
}
