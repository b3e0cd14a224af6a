//! The top two lines: what is being upgraded, where, and whether it is real.
//! The mode is a word in a reversed badge, so it shows without colour too.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::tui::app::App;
use crate::ui::tui::format::duration;
use crate::ui::tui::steps::Status;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let Some(s) = &app.session else {
        let what = if app.engine_gone {
            "the session did not start".to_string()
        } else {
            format!("{} preparing the session", app.spinner())
        };
        let line = Line::from(vec![Span::styled(" stepwise ", theme.title()), Span::raw(what)]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    };
    let badge = if s.rehearsal {
        Span::styled(" REHEARSAL: nothing will change ", theme.rehearsal())
    } else {
        Span::styled(" REAL: this changes the cluster ", theme.real())
    };
    let hops = if s.hops == 1 { "1 hop".to_string() } else { format!("{} hops", s.hops) };
    let first = Line::from(vec![
        badge,
        Span::raw(" "),
        Span::styled(format!("{} {} -> {}", s.product, s.from, s.to), theme.title()),
        Span::raw(format!(" ({hops})  ")),
        Span::styled(state(app), theme.dim()),
    ]);
    let second = Line::raw(format!(" context {}  server {}  session {}", s.context, s.server, s.id));
    frame.render_widget(Paragraph::new(vec![first, second]), area);
}

/// Where the session stands, with the time it has taken.
fn state(app: &App) -> String {
    let Some(s) = &app.session else { return String::new() };
    if let Some(summary) = &app.summary {
        return format!("{} after {}", summary.status, duration(summary.elapsed));
    }
    let elapsed = duration(app.now.saturating_duration_since(s.started));
    let done = app.steps.iter().filter(|s| matches!(s.status, Status::Done | Status::Skipped)).count();
    let mut text = format!("{done}/{} steps settled  {elapsed}", app.steps.len());
    if app.stopping {
        text.push_str("  STOPPING");
    } else if app.current.is_some() {
        text.push_str(&format!("  {}", app.spinner()));
    }
    text
}
