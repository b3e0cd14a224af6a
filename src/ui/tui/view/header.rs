//! The top two lines: what is being upgraded, through which releases, where, and
//! whether it is real. The mode is a word in a reversed badge, so it shows
//! without colour too.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::tui::app::{App, Session};
use crate::ui::tui::format::duration;

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
    // The state is drawn on its own at the right so a long path can never push
    // the elapsed time (or the final status) off the screen.
    let state = Line::styled(state(app), theme.dim());
    let state_width = u16::try_from(state.width()).unwrap_or(area.width);
    let first_row = area.rows().next().unwrap_or(area);
    let [first, state_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(state_width + 2)]).areas(first_row);
    frame.render_widget(Paragraph::new(what(app, s, usize::from(first.width))), first);
    frame.render_widget(Paragraph::new(state).right_aligned(), state_area);
    let second = Line::raw(format!(" context {}  server {}  session {}", s.context, s.server, s.id));
    frame.render_widget(Paragraph::new(second), Rect { y: area.y + 1, height: area.height.saturating_sub(1), ..area });
}

/// The mode and the upgrade, as much of it as fits in `room` columns: every
/// release it passes through, else just its ends, else with a shorter badge.
/// The mode stays a word in every form.
fn what(app: &App, s: &Session, room: usize) -> Line<'static> {
    let theme = app.theme;
    let (long, short, style) = if s.rehearsal {
        (" REHEARSAL: nothing will change ", " REHEARSAL ", theme.rehearsal())
    } else {
        (" REAL: this changes the cluster ", " REAL ", theme.real())
    };
    let full = s.path();
    let ends = if s.hops.len() < 2 { full.clone() } else { format!("{} -> {} ({} hops)", s.from, s.to, s.hops.len()) };
    let forms = [(long, &full), (long, &ends), (short, &ends)];
    let fits = |(badge, route): &(&str, &String)| badge.len() + s.product.len() + route.len() + 2 <= room;
    let (badge, route) = forms.iter().find(|f| fits(f)).unwrap_or(&forms[2]);
    Line::from(vec![
        Span::styled(*badge, style),
        Span::raw(" "),
        Span::styled(format!("{} {route}", s.product), theme.title()),
    ])
}

/// How long the session has taken, with a spinner while a step runs, or how it ended.
fn state(app: &App) -> String {
    let Some(s) = &app.session else { return String::new() };
    if let Some(summary) = &app.summary {
        return format!("{} after {}", summary.status, duration(summary.elapsed));
    }
    let mut text = duration(app.now.saturating_duration_since(s.started));
    if app.stopping {
        text.push_str("  STOPPING");
    } else if app.current.is_some() {
        text.push_str(&format!("  {}", app.spinner()));
    }
    text
}
