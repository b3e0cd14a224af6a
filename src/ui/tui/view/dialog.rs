//! A question from the engine, drawn as a modal: what is asked about, then the
//! ways to answer it.

use ratatui::Frame;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::engine::{Answer, Question};
use crate::runbook::model::Severity;
use crate::ui::tui::app::App;
use crate::ui::tui::dialog::{Dialog, Form};
use crate::ui::tui::theme::Theme;

use super::modal::{para, show, text_width};

pub fn draw(app: &App, dialog: &Dialog, frame: &mut Frame) {
    let width = text_width(frame.area());
    let theme = app.theme;
    let (title, body) = body(theme, &dialog.question, width);
    let actions = form(theme, &dialog.form, width);
    show(frame, theme, &title, body, actions);
}

/// The lines above the answers, wrapped to the modal.
struct Body {
    theme: Theme,
    width: usize,
    lines: Vec<Line<'static>>,
}

impl Body {
    fn add(&mut self, text: &str, style: Style) {
        self.hang("", text, style);
    }

    fn hang(&mut self, first: &str, text: &str, style: Style) {
        self.lines.extend(para(text, self.width, first, style));
    }
}

fn body(theme: Theme, question: &Question, width: usize) -> (String, Vec<Line<'static>>) {
    let mut b = Body { theme, width, lines: Vec::new() };
    let title = match question {
        Question::Confirm { index, title, does, destructive, unlocked_by, .. } => {
            confirm(&mut b, title, does, *destructive, unlocked_by.as_deref());
            format!("Run step {}?", index + 1)
        }
        Question::Acknowledge { title, text, severity } => acknowledge(&mut b, title, text, *severity),
        Question::Manual { index, title, instructions, .. } => {
            b.add(title, theme.title());
            b.add("Do this by hand, then say when it is done:", Style::new());
            b.hang("  ", instructions, Style::new());
            format!("Manual step {}", index + 1)
        }
        Question::AfterFailure { index, title, error, cluster_state, .. } => {
            b.add(title, theme.title());
            b.hang("Error: ", error, theme.error());
            b.hang("Cluster: ", cluster_state, Style::new());
            b.add("What now?", Style::new());
            format!("Step {} failed", index + 1)
        }
        Question::StillRunning { index, title, argv, pid, pgid } => {
            let text = format!(
                "\"{title}\" started `{argv}` before stepwise was killed, and it is still running (process {pid}, \
                 group {pgid}). Nothing runs beside it."
            );
            b.add(&text, Style::new());
            format!("Step {} is still running", index + 1)
        }
        Question::CommandFinished { index, title, argv, output, .. } => {
            let text = format!("\"{title}\" was running `{argv}` when stepwise stopped. Its last output:");
            b.add(&text, Style::new());
            for line in output.iter().rev().take(8).rev() {
                b.hang("  | ", line, theme.dim());
            }
            b.add("Did it finish?", Style::new());
            format!("Step {} was cut short", index + 1)
        }
        Question::PickProcedure { hop, .. } => {
            b.add(&format!("More than one procedure fits {hop}; which one?"), theme.title());
            b.add("The first is the planner's choice, the least disruptive. Nothing has been done yet.", theme.dim());
            "Choose a procedure".to_string()
        }
        Question::Variable { name, description, pattern, problem, .. } => {
            b.add(description, Style::new());
            if let Some(p) = pattern {
                b.add(&format!("It must match {p}"), theme.dim());
            }
            if let Some(p) = problem {
                b.hang("! ", p, theme.error());
            }
            format!("A value for `{name}`")
        }
    };
    (title, b.lines)
}

fn confirm(b: &mut Body, title: &str, does: &[String], destructive: bool, unlocked_by: Option<&str>) {
    b.add(title, b.theme.title());
    if destructive {
        b.add("DESTRUCTIVE: this step cannot simply be undone.", b.theme.error());
    }
    if !does.is_empty() {
        b.add("It will:", Style::new());
        for d in does {
            b.hang("  - ", d, Style::new());
        }
    }
    if let Some(proof) = unlocked_by {
        b.hang("Unlocked: ", proof, b.theme.dim());
    }
}

/// Notes and warnings say how serious they are in words, not only in colour.
fn acknowledge(b: &mut Body, title: &str, text: &str, severity: Severity) -> String {
    let (word, style) = match severity {
        Severity::Info => ("NOTE", b.theme.title()),
        Severity::Warning => ("WARNING", b.theme.warning()),
        Severity::Breaking => ("BREAKING CHANGE", b.theme.error()),
    };
    b.add(&format!("{word}: {title}"), style);
    b.add(text, Style::new());
    format!("{} to acknowledge", capitalised(word))
}

fn capitalised(word: &str) -> String {
    let lower = word.to_lowercase();
    let mut chars = lower.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn form(theme: Theme, form: &Form, width: usize) -> Vec<Line<'static>> {
    match form {
        Form::Choices { choices, highlighted } => {
            let mut out: Vec<Line<'static>> = choices
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let key = c.key.map(|k| format!("[{k}]")).unwrap_or_else(|| "   ".into());
                    let selected = i == *highlighted;
                    let (pointer, style) = if selected { ("> ", theme.selected()) } else { ("  ", Style::new()) };
                    Line::from(vec![
                        Span::raw(pointer),
                        Span::styled(key, theme.key()),
                        Span::styled(format!(" {}", c.label), style),
                    ])
                })
                .collect();
            // Esc always stops; say so where no listed answer does.
            if !choices.iter().any(|c| c.answer == Answer::Stop) {
                out.push(Line::styled("  [Esc] stop", theme.dim()));
            }
            out
        }
        Form::Word { word, skippable, input, problem } => {
            let skip = if *skippable { ", or `skip` to skip it" } else { "" };
            let mut out =
                para(&format!("Type `{word}` and press Enter to run it{skip}. Esc stops."), width, "", theme.title());
            out.push(input_line(input));
            if let Some(p) = problem {
                out.extend(para(p, width, "! ", theme.error()));
            }
            out
        }
        Form::Text { input, hidden } => {
            let shown = if *hidden { "•".repeat(input.chars().count()) } else { input.clone() };
            vec![input_line(&shown), Line::styled("Enter accepts, Esc stops (nothing has been done yet)", theme.dim())]
        }
    }
}

/// What has been typed, with a cursor drawn as a character.
fn input_line(input: &str) -> Line<'static> {
    Line::from(vec![Span::raw("> "), Span::raw(input.to_string()), Span::raw("_")])
}
