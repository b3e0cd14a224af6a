//! A question from the engine as a modal: how it is answered (a choice, a typed
//! word, a value), and which keys give which [`Answer`]. Esc always answers
//! "stop", which leaves the session resumable.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::oneshot;

use crate::engine::{Answer, Question};

use super::message::Reply;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub key: Option<char>,
    pub label: String,
    pub answer: Answer,
}

impl Choice {
    fn new(key: char, label: impl Into<String>, answer: Answer) -> Self {
        Choice { key: Some(key), label: label.into(), answer }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// Pick one; hotkeys or arrows and Enter.
    Choices { choices: Vec<Choice>, highlighted: usize },
    /// A destructive step's word, typed out. `problem` says why the last try was refused.
    Word { word: String, skippable: bool, input: String, problem: Option<String> },
    /// A variable's value, the default filled in; `hidden` draws a dot for
    /// each character typed (a secret).
    Text { input: String, hidden: bool },
}

#[derive(Debug)]
pub struct Dialog {
    pub question: Question,
    pub form: Form,
    reply: oneshot::Sender<Answer>,
}

impl Dialog {
    pub fn new(question: Question, reply: oneshot::Sender<Answer>) -> Self {
        let form = form_for(&question);
        Dialog { question, form, reply }
    }

    /// The step the question is about, if any.
    pub fn step(&self) -> Option<usize> {
        match &self.question {
            Question::Confirm { index, .. }
            | Question::Manual { index, .. }
            | Question::AfterFailure { index, .. }
            | Question::CommandFinished { index, .. }
            | Question::StillRunning { index, .. } => Some(*index),
            Question::Variable { .. } | Question::Acknowledge { .. } | Question::PickProcedure { .. } => None,
        }
    }

    /// Whether typed characters go into a field (so `q` and `?` are just letters).
    pub fn takes_text(&self) -> bool {
        matches!(self.form, Form::Word { .. } | Form::Text { .. })
    }

    /// The answer a key gives, if it gives one; other keys edit or move.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Answer> {
        if key.code == KeyCode::Esc {
            return Some(Answer::Stop);
        }
        match &mut self.form {
            Form::Choices { choices, highlighted } => pick(choices, highlighted, key),
            Form::Word { word, skippable, input, problem } => {
                if key.code != KeyCode::Enter {
                    edit(input, key);
                    return None;
                }
                let typed = std::mem::take(input);
                let answer = check_word(typed.trim(), word, *skippable);
                if let Err(why) = &answer {
                    *problem = Some(why.clone());
                }
                answer.ok()
            }
            Form::Text { input, .. } => {
                if key.code == KeyCode::Enter {
                    return Some(Answer::Text(input.trim().to_string()));
                }
                edit(input, key);
                None
            }
        }
    }

    pub fn into_reply(self, answer: Answer) -> Reply {
        Reply::new(answer, self.reply)
    }
}

fn form_for(question: &Question) -> Form {
    let choices = match question {
        Question::Confirm { word: Some(word), skippable, .. } => {
            return Form::Word { word: word.clone(), skippable: *skippable, input: String::new(), problem: None };
        }
        Question::Variable { default, choices, secret, .. } if choices.is_empty() => {
            return Form::Text { input: default.clone().unwrap_or_default(), hidden: *secret };
        }
        Question::PickProcedure { choices, .. } => {
            let labels = choices.iter().map(|c| (c.label.clone(), Answer::Text(c.id.clone())));
            let mut list = numbered(labels);
            list.push(Choice::new('x', "stop (nothing has been done yet)", Answer::Stop));
            return Form::Choices { choices: list, highlighted: 0 };
        }
        Question::Variable { default, choices, .. } => {
            let highlighted = default.as_ref().and_then(|d| choices.iter().position(|c| c == d)).unwrap_or(0);
            let choices = numbered(choices.iter().map(|c| (c.clone(), Answer::Text(c.clone()))));
            return Form::Choices { choices, highlighted };
        }
        Question::Confirm { skippable, .. } => {
            with_skip(vec![Choice::new('y', "run it", Answer::Yes)], *skippable, "skip it")
        }
        Question::Acknowledge { .. } => vec![Choice::new('y', "I have read this; continue", Answer::Yes), stop()],
        Question::Manual { skippable, .. } => {
            with_skip(vec![Choice::new('y', "done: I have done it", Answer::Yes)], *skippable, "skip it")
        }
        Question::AfterFailure { choices, .. } => choices.iter().map(failure_choice).collect(),
        Question::StillRunning { .. } => vec![
            Choice::new('w', "wait for it to end", Answer::Yes),
            Choice::new('k', "stop it: SIGTERM to its process group, then SIGKILL", Answer::No),
            stop(),
        ],
        Question::CommandFinished { can_verify, .. } => {
            let mut list = Vec::new();
            if *can_verify {
                list.push(Choice::new('v', "run the runbook's verify command", Answer::Verify));
            }
            list.push(Choice::new('y', "it finished: mark the step done", Answer::Yes));
            list.push(Choice::new('r', "run it again", Answer::No));
            list.push(stop());
            list
        }
    };
    Form::Choices { choices, highlighted: 0 }
}

/// Choices keyed 1 to 9 in order (later ones by arrows only).
fn numbered(items: impl Iterator<Item = (String, Answer)>) -> Vec<Choice> {
    items
        .enumerate()
        .map(|(i, (label, answer))| Choice { key: char::from_digit(i as u32 + 1, 10).filter(|_| i < 9), label, answer })
        .collect()
}

fn with_skip(mut list: Vec<Choice>, skippable: bool, label: &str) -> Vec<Choice> {
    if skippable {
        list.push(Choice::new('s', label, Answer::Skip));
    }
    list.push(stop());
    list
}

fn stop() -> Choice {
    Choice::new('x', "stop (resume later)", Answer::Stop)
}

fn failure_choice(answer: &Answer) -> Choice {
    match answer {
        Answer::Retry => Choice::new('r', "retry the step", Answer::Retry),
        Answer::Skip => Choice::new('s', "skip the step", Answer::Skip),
        Answer::Restore => Choice::new('b', "restore the custom resources from the backup", Answer::Restore),
        Answer::Verify => Choice::new('v', "check whether it worked after all (the runbook's verify)", Answer::Verify),
        Answer::MarkDone => Choice::new('d', "I finished it by hand: mark it done", Answer::MarkDone),
        Answer::BackupAgain => Choice::new('a', "take the backup again (the earlier one is kept)", Answer::BackupAgain),
        Answer::GoOnWithout => Choice::new(
            'g',
            "go on without the objects that could not be restored (they stay listed)",
            Answer::GoOnWithout,
        ),
        Answer::Stop => stop(),
        // The engine offers only the ones above; anything else still gets a line.
        other => Choice { key: None, label: format!("{other:?}").to_lowercase(), answer: other.clone() },
    }
}

fn pick(choices: &[Choice], highlighted: &mut usize, key: KeyEvent) -> Option<Answer> {
    match key.code {
        KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => *highlighted = highlighted.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => *highlighted = (*highlighted + 1).min(choices.len().saturating_sub(1)),
        KeyCode::Enter => return choices.get(*highlighted).map(|c| c.answer.clone()),
        KeyCode::Char(c) => {
            let c = c.to_ascii_lowercase();
            return choices.iter().find(|choice| choice.key == Some(c)).map(|choice| choice.answer.clone());
        }
        _ => {}
    }
    None
}

/// The typed word decides; anything else is refused with the reason, and nothing runs.
fn check_word(typed: &str, word: &str, skippable: bool) -> Result<Answer, String> {
    match typed {
        t if t == word => Ok(Answer::Yes),
        "skip" if skippable => Ok(Answer::Skip),
        "" => Err(format!("Type `{word}` and press Enter to run the step, or Esc to stop.")),
        other => Err(format!("`{other}` is not `{word}`: nothing was run. Type it again, or Esc to stop.")),
    }
}

fn edit(input: &mut String, key: KeyEvent) {
    match key.code {
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
        KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => input.push(c),
        _ => {}
    }
}
