//! The bottom line: the keys that work right now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::tui::app::App;
use crate::ui::tui::keys;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    for (key, what) in keys::footer(app) {
        spans.push(Span::styled(key, app.theme.key()));
        spans.push(Span::raw(format!(" {what}   ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
