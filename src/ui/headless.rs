//! The front end for automation (`--yes`): every confirmation is yes, typed
//! confirmations must match a `--confirm` word, variables take their defaults,
//! and anything needing judgement (a failure, an unknown command result) stops
//! the session so it can be resumed by a person. It never waits for input.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::engine::{Answer, Event, Inbox, Msg, Question};

use super::text::{describe_event, progress_text};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Words accepted for typed confirmations.
    pub confirm_words: Vec<String>,
}

/// Shows events on `out` and answers questions until the engine hangs up.
pub async fn drive(mut inbox: Inbox, options: Options, mut out: impl Write) {
    let mut last_progress = Instant::now() - Duration::from_secs(10);
    let mut asked_after_crash = BTreeSet::new();
    while let Some(msg) = inbox.recv().await {
        match msg {
            Msg::Event(Event::Progress { done, total, bytes, what, .. }) => {
                // Throttled: a line every two seconds, and the last one.
                if last_progress.elapsed() >= Duration::from_secs(2) || total == Some(done) {
                    let _ = writeln!(out, "    {}", progress_text(done, total, bytes, &what));
                    last_progress = Instant::now();
                }
            }
            Msg::Event(event) => {
                if let Some(text) = describe_event(&event) {
                    let _ = writeln!(out, "{text}");
                }
            }
            Msg::Ask(question, reply) => {
                let answer = answer(&question, &options, &mut asked_after_crash, &mut out);
                let _ = reply.send(answer);
            }
        }
    }
}

fn answer(question: &Question, options: &Options, asked: &mut BTreeSet<usize>, out: &mut impl Write) -> Answer {
    if let Question::Confirm { unlocked_by: Some(proof), .. } = question {
        let _ = writeln!(out, "unlocked: {proof}");
    }
    match question {
        // The planner's choice, as --procedure would have named it.
        Question::PickProcedure { choices, .. } => choices.first().map_or(Answer::Stop, |c| Answer::Text(c.id.clone())),
        Question::Variable { name, default: Some(d), discovered, .. } => {
            let from = match discovered {
                Some(d) if d.found => d.said.as_str(),
                _ => "default",
            };
            let _ = writeln!(out, "{name} = {d} ({from})");
            Answer::Text(d.clone())
        }
        Question::Variable { name, discovered: Some(d), .. } => {
            let _ = writeln!(out, "{name} has no value: {}", d.said);
            Answer::Stop
        }
        Question::Variable { .. } => Answer::Stop,
        Question::Confirm { word: Some(word), title, .. } => {
            if options.confirm_words.iter().any(|w| w == word) {
                let _ = writeln!(out, "confirmed \"{title}\" with --confirm {word}");
                Answer::Yes
            } else {
                let _ = writeln!(
                    out,
                    "\"{title}\" is destructive and needs the typed word `{word}`; pass --confirm {word} to allow it"
                );
                Answer::Stop
            }
        }
        Question::Confirm { .. } => Answer::Yes,
        Question::Acknowledge { title, text, severity } => {
            let _ = writeln!(out, "{severity:?} acknowledged with --yes: {title}\n    {text}");
            Answer::Yes
        }
        Question::Manual { title, instructions, .. } => {
            let _ = writeln!(out, "manual step \"{title}\" taken as done with --yes:\n    {instructions}");
            Answer::Yes
        }
        Question::AfterFailure { title, .. } => {
            let _ = writeln!(out, "stopping after the failure of \"{title}\"; a person should decide what comes next");
            Answer::Stop
        }
        Question::StillRunning { title, argv, pid, .. } => {
            let _ = writeln!(
                out,
                "\"{title}\": `{argv}` (process {pid}) from the interrupted run is still running; nothing was \
                 started beside it. Wait for it to end or stop it, then resume again"
            );
            Answer::Stop
        }
        Question::CommandFinished { title, interrupted: true, .. } => {
            // stepwise stopped it itself: the runbook's commands are made to
            // be run again, as the headless resume always has.
            let _ = writeln!(out, "\"{title}\" was interrupted last time; running it again");
            Answer::No
        }
        Question::CommandFinished { index, can_verify, title, .. } => {
            if *can_verify && asked.insert(*index) {
                let _ = writeln!(out, "\"{title}\" was cut short; running its verify command");
                Answer::Verify
            } else {
                let _ = writeln!(
                    out,
                    "\"{title}\" was cut short and stepwise cannot tell whether it finished; resume interactively"
                );
                Answer::Stop
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ProcedureChoice;

    #[test]
    fn the_planner_choice_of_procedure_stands_without_a_word() {
        let choice = |id: &str| ProcedureChoice { id: id.into(), label: id.into(), recommended: id == "rolling" };
        let question = Question::PickProcedure {
            hop: "1.5.0 -> 1.6.0".into(),
            choices: vec![choice("rolling"), choice("reinstall")],
        };
        let mut out = Vec::new();
        let answer = answer(&question, &Options::default(), &mut BTreeSet::new(), &mut out);
        assert_eq!(answer, Answer::Text("rolling".into()));
        assert!(out.is_empty(), "the plan printed next names it");
    }
}
