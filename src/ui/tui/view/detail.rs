//! The selected step on the right: what it is, what it will do (once the engine
//! has said), and how it ended.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::ui::tui::app::App;
use crate::ui::tui::steps::{Marks, Status, StepView};

use super::modal::para;
use super::plan::mark_style;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let Some(step) = app.steps.get(app.selected) else {
        let block = Block::bordered().border_style(app.theme.border()).title(" Step ");
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let title = format!(" Step {} of {} ", app.selected + 1, app.steps.len());
    let block = Block::bordered().border_style(app.theme.border()).title(title);
    let text = lines(app, step, usize::from(block.inner(area).width));
    frame.render_widget(Paragraph::new(text).block(block).wrap(Wrap { trim: false }), area);
}

/// `width` is the pane's inside, so the list of actions can hang its wrapped lines.
fn lines(app: &App, step: &StepView, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme;
    let info = &step.info;
    let mut facts = format!("{} · hop {}", info.kind, info.hop + 1);
    if let Some((from, to)) = app.session.as_ref().and_then(|s| s.hop_span(info.hop)) {
        facts.push_str(&format!(" ({from} -> {to})"));
    }
    if info.destructive {
        facts.push_str(" · DESTRUCTIVE");
    }
    if let Some(item) = &info.item {
        facts.push_str(&format!(" · item {item}"));
    }
    let mut out = vec![
        Line::styled(info.title.clone(), theme.title()),
        Line::styled(facts, if info.destructive { theme.warning() } else { theme.dim() }),
        Line::from(vec![
            Span::raw("Status: "),
            Span::styled(step.status.mark(), mark_style(theme, step.status)),
            Span::raw(format!(" {}", status_word(app, step))),
        ]),
        Line::default(),
    ];
    match &step.explain {
        Some(explain) => {
            out.push(Line::raw(explain.clone()));
            if !step.does.is_empty() {
                out.push(Line::default());
                out.push(Line::styled("It will:", theme.title()));
                out.extend(step.does.iter().flat_map(|d| para(d, width, "  - ", Style::new())));
            }
        }
        None => out.push(Line::styled("What it does in detail is shown when the step starts.", theme.dim())),
    }
    if let Some(outcome) = &step.outcome {
        out.push(Line::default());
        out.push(Line::from(vec![Span::styled("Result: ", theme.title()), Span::raw(outcome.clone())]));
    }
    if let Some(failure) = &step.failure {
        out.push(Line::default());
        out.push(Line::from(vec![Span::styled("Error: ", theme.error()), Span::raw(failure.error.clone())]));
        out.push(Line::from(vec![Span::styled("Cluster: ", theme.title()), Span::raw(failure.cluster_state.clone())]));
    }
    out
}

/// A step the engine has started but asks about first is waiting, not running.
fn status_word(app: &App, step: &StepView) -> &'static str {
    match &app.dialog {
        Some(d) if d.step() == Some(step.info.index) && step.status == Status::Running => "waiting for your answer",
        _ => step.status.word(),
    }
}
