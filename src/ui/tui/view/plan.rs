//! The plan on the left: each hop's steps with a status mark. Only the rows in
//! view are built, keeping the selected step near the middle, so a long plan
//! costs no more to draw than a short one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::ui::tui::app::App;
use crate::ui::tui::steps::{Marks, Row, Status};
use crate::ui::tui::theme::Theme;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let settled = app.steps.iter().filter(|s| matches!(s.status, Status::Done | Status::Skipped)).count();
    let block =
        Block::bordered().border_style(app.theme.border()).title(format!(" Plan {settled}/{} ", app.steps.len()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.steps.is_empty() {
        frame.render_widget(Paragraph::new(Line::styled("waiting for the plan", app.theme.dim())), inner);
        return;
    }
    let height = usize::from(inner.height);
    let at = app.rows.iter().position(|r| *r == Row::Step(app.selected)).unwrap_or(0);
    let first = at.saturating_sub(height / 2).min(app.rows.len().saturating_sub(height));
    let width = usize::from(inner.width);
    let lines: Vec<Line> = app.rows.iter().skip(first).take(height).map(|row| line(app, *row, width)).collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn line(app: &App, row: Row, width: usize) -> Line<'static> {
    let theme = app.theme;
    let i = match row {
        Row::Hop(hop) => return Line::styled(hop_heading(app, hop), theme.title()),
        Row::Step(i) => i,
    };
    let step = &app.steps[i];
    let pointer = if i == app.selected { ">" } else { " " };
    let mark = step.status.mark();
    let number = format!(" {:>3} ", i + 1);
    let room = width.saturating_sub(pointer.len() + mark.chars().count() + number.len());
    let text = format!("{number}{}", step.label_within(room));
    let row_style = if i == app.selected { theme.selected() } else { Style::new() };
    Line::from(vec![
        Span::raw(pointer),
        Span::styled(mark, mark_style(theme, step.status)),
        Span::styled(text, row_style),
    ])
}

fn hop_heading(app: &App, hop: usize) -> String {
    match app.session.as_ref().and_then(|s| s.hop_span(hop)) {
        Some((from, to)) => format!("Hop {}: {from} -> {to}", hop + 1),
        None => format!("Hop {}", hop + 1),
    }
}

pub fn mark_style(theme: Theme, status: Status) -> Style {
    match status {
        Status::Pending => Style::new(),
        Status::Running => theme.running(),
        Status::Done => theme.done(),
        Status::Skipped => theme.dim(),
        Status::Failed | Status::Interrupted => theme.error(),
    }
}
