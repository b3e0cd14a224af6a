//! What covers the screen besides questions: help, "leave?", the end of the
//! session, and the note that the window is too small.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::ui::tui::app::App;
use crate::ui::tui::format::duration;
use crate::ui::tui::keys::HELP;
use crate::ui::tui::layout::{MIN_HEIGHT, MIN_WIDTH};
use crate::ui::tui::steps::{Marks, Status};

use super::modal::{para, show, text_width};

pub fn help(app: &App, frame: &mut Frame) {
    let theme = app.theme;
    let key_width = HELP.iter().flat_map(|(_, keys)| keys.iter()).map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut body = Vec::new();
    for (heading, keys) in HELP {
        if !body.is_empty() {
            body.push(Line::default());
        }
        body.push(Line::styled(*heading, theme.title()));
        for (key, what) in *keys {
            body.push(Line::from(vec![Span::styled(format!("  {key:<key_width$}  "), theme.key()), Span::raw(*what)]));
        }
    }
    body.push(Line::default());
    body.push(Line::styled("Step marks", theme.title()));
    let marks = [Status::Pending, Status::Running, Status::Done, Status::Skipped, Status::Failed, Status::Interrupted];
    for row in marks.chunks(3) {
        let row: Vec<String> = row.iter().map(|s| format!("{} {:<12}", s.mark(), s.word())).collect();
        body.push(Line::raw(format!("  {}", row.join(" "))));
    }
    show(frame, theme, "Keys", body, vec![Line::styled("Esc or ? closes this help", theme.dim())]);
}

pub fn quit(app: &App, frame: &mut Frame) {
    let theme = app.theme;
    let width = text_width(frame.area());
    let what = if app.dialog.is_some() {
        "The question waiting now is answered \"stop\".".to_string()
    } else if let Some(i) = app.current {
        format!("Step {} is running: it is interrupted, and stepwise records where it stopped.", i + 1)
    } else {
        "stepwise stops before the next step.".to_string()
    };
    let mut body = para(&what, width, "", Style::new());
    let resume = format!("The session can be resumed later with `{}`.", app.resume_command());
    body.extend(para(&resume, width, "", theme.title()));
    let actions = vec![Line::from(vec![
        Span::styled("[y]", theme.key()),
        Span::raw(" leave   "),
        Span::styled("[n]", theme.key()),
        Span::raw(" stay"),
    ])];
    show(frame, theme, "Leave stepwise?", body, actions);
}

/// The end: the summary when the engine sent one, otherwise why there is none.
pub fn end(app: &App, frame: &mut Frame) {
    let theme = app.theme;
    let width = text_width(frame.area());
    let leave = if app.dismissed && !app.engine_gone { "Closing..." } else { "Press any key to leave." };
    let actions = vec![Line::styled(leave, theme.dim())];
    let Some(s) = &app.summary else {
        let text = "The session ended before it finished. The reason is printed when this screen closes.";
        show(frame, theme, "stepwise stopped", para(text, width, "", Style::new()), actions);
        return;
    };
    let status_style = if s.status == "finished" { theme.done() } else { theme.warning() };
    let mut body = vec![Line::from(vec![Span::raw("Status:  "), Span::styled(s.status.clone(), status_style)])];
    body.push(Line::raw(format!("Steps:   {}", tally(app))));
    body.push(Line::raw(format!("Took:    {}", duration(s.elapsed))));
    body.extend(para(&s.backups.display().to_string(), width, "Backups: ", Style::new()));
    if let Some(r) = &s.report {
        body.extend(para(&r.display().to_string(), width, "Report:  ", Style::new()));
    }
    if let Some(h) = &s.resume_hint {
        body.extend(para(&format!("To continue later: {h}"), width, "", theme.title()));
    }
    let title = if s.status == "finished" { "Session finished" } else { "Session ended" };
    show(frame, theme, title, body, actions);
}

/// What ran: how many steps ended each way, in the order a session goes through them.
fn tally(app: &App) -> String {
    let order = [Status::Done, Status::Skipped, Status::Failed, Status::Interrupted, Status::Running, Status::Pending];
    let counts: Vec<String> = order
        .iter()
        .map(|status| (status, app.steps.iter().filter(|s| s.status == *status).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(status, n)| {
            let word = if *status == Status::Pending { "not run" } else { status.word() };
            format!("{n} {word}")
        })
        .collect();
    if counts.is_empty() { "none".into() } else { format!("{} (of {})", counts.join(", "), app.steps.len()) }
}

pub fn too_small(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let text = format!(
        "Make the window larger: stepwise needs at least {MIN_WIDTH}x{MIN_HEIGHT} and has {}x{}. Keys are ignored until then.",
        area.width, area.height
    );
    let rows = u16::try_from(crate::ui::tui::format::wrap(&text, usize::from(area.width)).len()).unwrap_or(area.height);
    let at: Rect = area.centered(Constraint::Percentage(100), Constraint::Length(rows));
    let para = Paragraph::new(Line::styled(text, app.theme.title())).wrap(Wrap { trim: true }).centered();
    frame.render_widget(para, at);
}
