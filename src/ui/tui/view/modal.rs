//! A box over the screen for questions, help and the end of the session. Its
//! height fits its text; when the screen is short the body is cut, never the
//! answers, which are what the operator must see.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph};

use crate::ui::tui::format::wrap;
use crate::ui::tui::theme::Theme;

const MAX_WIDTH: u16 = 80;

/// Columns available for text inside a modal on a screen this wide.
pub fn text_width(screen: Rect) -> usize {
    usize::from(box_width(screen).saturating_sub(4))
}

fn box_width(screen: Rect) -> u16 {
    screen.width.saturating_sub(4).min(MAX_WIDTH)
}

/// `text` wrapped to `width`, `first` before its first line and as many spaces
/// before the others, so bullets and labels hang.
pub fn para(text: &str, width: usize, first: &str, style: Style) -> Vec<Line<'static>> {
    let indent = first.chars().count();
    let hang = " ".repeat(indent);
    wrap(text, width.saturating_sub(indent).max(1))
        .into_iter()
        .enumerate()
        .map(|(i, l)| Line::from(Span::styled(format!("{}{l}", if i == 0 { first } else { &hang }), style)))
        .collect()
}

pub fn show(frame: &mut Frame, theme: Theme, title: &str, mut body: Vec<Line<'static>>, actions: Vec<Line<'static>>) {
    let screen = frame.area();
    let room = usize::from(screen.height.saturating_sub(4));
    let gap = usize::from(!body.is_empty() && !actions.is_empty());
    let fits = room.saturating_sub(actions.len() + gap);
    if body.len() > fits {
        body.truncate(fits.saturating_sub(1));
        body.push(Line::styled("... (more than fits; make the window taller)", theme.dim()));
    }
    if gap == 1 {
        body.push(Line::default());
    }
    body.extend(actions);
    let height = u16::try_from(body.len() + 2).unwrap_or(u16::MAX).min(screen.height);
    let area = screen.centered(Constraint::Length(box_width(screen)), Constraint::Length(height));
    let block = Block::bordered()
        .border_style(theme.modal())
        .title(Span::styled(format!(" {title} "), theme.title()))
        .padding(Padding::horizontal(1));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(body).block(block), area);
}
