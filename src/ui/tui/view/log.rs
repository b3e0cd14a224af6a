//! The log at the bottom, newest last, with the running step's progress under it.
//! Lines are wrapped here, and only as many entries as fill the box are looked
//! at, however long the log has grown.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::ui::tui::app::App;
use crate::ui::tui::format::{duration, wrap};
use crate::ui::tui::log::{Entry, Kind};
use crate::ui::tui::progress::Progress;
use crate::ui::tui::theme::Theme;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let mut title = String::from(" Log ");
    if app.log.scroll() > 0 {
        title = format!(" Log ({} newer below; PgDn or l) ", app.log.scroll());
    }
    let block = Block::bordered().border_style(app.theme.border()).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let gauge = u16::from(app.progress.is_some());
    let [lines_area, gauge_area] = Layout::vertical([Constraint::Fill(1), Constraint::Length(gauge)]).areas(inner);
    frame.render_widget(Paragraph::new(tail(app, lines_area)), lines_area);
    if let Some(p) = &app.progress {
        frame.render_widget(Paragraph::new(progress_line(app, p, usize::from(gauge_area.width))), gauge_area);
    }
}

/// The newest rows that fit, oldest first.
fn tail(app: &App, area: Rect) -> Vec<Line<'static>> {
    let height = usize::from(area.height);
    let width = usize::from(area.width);
    let mut rows: Vec<Line<'static>> = Vec::with_capacity(height);
    for entry in app.log.visible_backwards() {
        if rows.len() >= height {
            break;
        }
        let (prefix, style) = look(app.theme, entry);
        let wrapped = wrap(&format!("{prefix}{}", entry.text), width);
        for text in wrapped.into_iter().rev() {
            rows.push(Line::styled(text, style));
        }
    }
    rows.truncate(height);
    rows.reverse();
    rows
}

fn look(theme: Theme, entry: &Entry) -> (&'static str, Style) {
    match entry.kind {
        Kind::Output => ("  ", Style::new()),
        Kind::Notice => ("note: ", theme.dim()),
        Kind::Warning => ("WARNING: ", theme.warning()),
        Kind::Step => ("", theme.title()),
        Kind::Failure => ("", theme.error()),
    }
}

/// `[█████░░░░░]  50%  backup: 10/20 objects · 4s · 2.5/s`: a bar drawn in
/// characters, so it reads without colour, then the numbers.
fn progress_line(app: &App, p: &Progress, width: usize) -> Line<'static> {
    let mut numbers = format!("{} · {}", p.text(), duration(app.now.saturating_duration_since(p.since)));
    if let Some(rate) = p.rate(app.now) {
        numbers.push_str(&format!(" · {rate:.1} objects/s"));
    }
    let Some(ratio) = p.ratio() else {
        return Line::from(vec![Span::styled(format!("{} ", app.spinner()), app.theme.running()), Span::raw(numbers)]);
    };
    let bar_width = (width / 3).clamp(5, 30);
    let filled = ((ratio * bar_width as f64).round() as usize).min(bar_width);
    let bar = format!("[{}{}]", "█".repeat(filled), "░".repeat(bar_width - filled));
    Line::from(vec![Span::styled(bar, app.theme.running()), Span::raw(format!(" {:>3.0}%  {numbers}", ratio * 100.0))])
}
