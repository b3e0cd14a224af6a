//! The line-by-line front end: events printed as they come, progress as a bar,
//! questions asked with dialoguer prompts. Prompts block, so they run on a
//! blocking thread while the engine waits for the answer.

use std::io::Write;

use dialoguer::{Confirm, Input, Password, Select};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{Answer, Event, Inbox, Msg, ProcedureChoice, Question};

use super::text::{describe_event, progress_text};

pub async fn drive(mut inbox: Inbox) {
    let mut bar: Option<ProgressBar> = None;
    while let Some(msg) = inbox.recv().await {
        match msg {
            Msg::Event(Event::Progress { done, total, bytes, what, .. }) => {
                let b = bar.get_or_insert_with(new_bar);
                if let Some(t) = total {
                    b.set_length(t);
                }
                b.set_position(done);
                b.set_message(progress_text(done, total, bytes, &what));
            }
            Msg::Event(event) => {
                if matches!(event, Event::StepFinished { .. } | Event::StepFailed { .. } | Event::StepStarted { .. })
                    && let Some(b) = bar.take()
                {
                    b.finish_and_clear();
                }
                if let Some(text) = describe_event(&event) {
                    match &bar {
                        Some(b) => b.println(text),
                        None => println!("{text}"),
                    }
                }
            }
            Msg::Ask(question, reply) => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                let answer = tokio::task::spawn_blocking(move || ask(&question)).await.unwrap_or(Answer::Stop);
                let _ = reply.send(answer);
            }
        }
    }
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("    {bar:30} {msg} [{elapsed}, {per_sec}]")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Asks one question on the terminal. Any terminal error reads as "stop", which
/// leaves the session resumable.
fn ask(question: &Question) -> Answer {
    let _ = std::io::stdout().flush();
    match question {
        Question::PickProcedure { hop, choices } => pick_procedure(hop, choices),
        Question::Variable { name, description, default, choices, problem, secret, .. } => {
            if let Some(p) = problem {
                println!("  {p}");
            }
            if !choices.is_empty() {
                let start = default.as_ref().and_then(|d| choices.iter().position(|c| c == d)).unwrap_or(0);
                return Select::new()
                    .with_prompt(format!("{name}: {description}"))
                    .items(choices)
                    .default(start)
                    .interact_opt()
                    .ok()
                    .flatten()
                    .map_or(Answer::Stop, |i| Answer::Text(choices[i].clone()));
            }
            if *secret {
                return Password::new()
                    .with_prompt(format!("{name} ({description}; not echoed)"))
                    .allow_empty_password(true)
                    .interact()
                    .map_or(Answer::Stop, Answer::Text);
            }
            let mut input = Input::<String>::new().with_prompt(format!("{name} ({description})")).allow_empty(true);
            if let Some(d) = default {
                input = input.default(d.clone());
            }
            input.interact_text().map_or(Answer::Stop, Answer::Text)
        }
        Question::Confirm { title, word: Some(word), unlocked_by, skippable, .. } => {
            if let Some(proof) = unlocked_by {
                println!("  Unlocked: {proof}");
            }
            loop {
                let typed: String = match Input::new()
                    .with_prompt(format!(
                        "\"{title}\" is destructive. Type `{word}` to run it{}, or leave empty to stop",
                        if *skippable { ", `skip` to skip" } else { "" }
                    ))
                    .allow_empty(true)
                    .interact_text()
                {
                    Ok(t) => t,
                    Err(_) => return Answer::Stop,
                };
                match typed.trim() {
                    t if t == word => return Answer::Yes,
                    "" => return Answer::Stop,
                    "skip" if *skippable => return Answer::Skip,
                    other => println!("  `{other}` is not `{word}`; nothing was run"),
                }
            }
        }
        Question::Confirm { title, skippable, .. } => {
            let mut items = vec!["run it", "stop (resume later)"];
            if *skippable {
                items.insert(1, "skip it");
            }
            choose(&format!("Run \"{title}\"?"), &items, |i| match items[i] {
                "run it" => Answer::Yes,
                "skip it" => Answer::Skip,
                _ => Answer::Stop,
            })
        }
        Question::Acknowledge { title, text, severity } => {
            println!("\n  {severity:?}: {title}\n  {text}");
            yes_no("I have read this; continue?")
        }
        Question::Manual { title, instructions, skippable, .. } => {
            println!("\n  Manual step \"{title}\":\n  {instructions}");
            let mut items = vec!["done", "stop (resume later)"];
            if *skippable {
                items.insert(1, "skip it");
            }
            choose("When you have done it:", &items, |i| match items[i] {
                "done" => Answer::Yes,
                "skip it" => Answer::Skip,
                _ => Answer::Stop,
            })
        }
        Question::AfterFailure { choices, .. } => {
            let labels: Vec<&str> = choices.iter().map(choice_label).collect();
            choose("What now?", &labels, |i| choices[i].clone())
        }
        Question::StillRunning { title, argv, pid, pgid, .. } => {
            println!("\n  \"{title}\": `{argv}` (process {pid}) from the interrupted run is still running.");
            let kill = format!("stop it (its process group {pgid}: SIGTERM, then SIGKILL)");
            let items = ["wait for it to end", kill.as_str(), "stop (resume later)"];
            choose("Nothing runs beside it. What now?", &items, |i| match i {
                0 => Answer::Yes,
                1 => Answer::No,
                _ => Answer::Stop,
            })
        }
        Question::CommandFinished { title, argv, output, can_verify, .. } => {
            println!("\n  \"{title}\" was running `{argv}` when stepwise stopped. Its last output:");
            for line in output {
                println!("    | {line}");
            }
            let mut items = vec!["it finished: mark the step done", "run it again", "stop"];
            if *can_verify {
                items.insert(0, "run the runbook's verify command");
            }
            choose("Did it finish?", &items, |i| match items[i] {
                "it finished: mark the step done" => Answer::Yes,
                "run it again" => Answer::No,
                "run the runbook's verify command" => Answer::Verify,
                _ => Answer::Stop,
            })
        }
    }
}

/// Offers the procedures that fit a hop, the planner's choice first. Backing
/// out answers "stop": nothing has been done yet.
fn pick_procedure(hop: &str, choices: &[ProcedureChoice]) -> Answer {
    let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
    choose(&format!("More than one procedure fits {hop}; which one?"), &labels, |i| {
        choices.get(i).map_or(Answer::Stop, |c| Answer::Text(c.id.clone()))
    })
}

fn choice_label(answer: &Answer) -> &'static str {
    match answer {
        Answer::Retry => "retry the step",
        Answer::Skip => "skip the step",
        Answer::Restore => "restore the custom resources from the backup",
        Answer::Verify => "check whether it worked after all (the runbook's verify)",
        Answer::MarkDone => "I finished it by hand: mark it done",
        Answer::BackupAgain => "take the backup again (the earlier one is kept)",
        Answer::GoOnWithout => "go on without the objects that could not be restored (they stay listed)",
        _ => "stop (resume later)",
    }
}

fn choose(prompt: &str, items: &[&str], pick: impl Fn(usize) -> Answer) -> Answer {
    Select::new().with_prompt(prompt).items(items).default(0).interact_opt().ok().flatten().map_or(Answer::Stop, pick)
}

fn yes_no(prompt: &str) -> Answer {
    match Confirm::new().with_prompt(prompt).default(false).interact_opt() {
        Ok(Some(true)) => Answer::Yes,
        _ => Answer::Stop,
    }
}

/// Shows the progress of an operation run outside a session (`stepwise
/// backup`, `stepwise restore`) as a bar, with its lines and warnings above it,
/// until the engine hangs up; then clears the bar.
pub async fn progress(mut inbox: Inbox) {
    let bar = new_bar();
    while let Some(msg) = inbox.recv().await {
        match msg {
            Msg::Event(Event::Progress { done, total, bytes, what, .. }) => {
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(done);
                bar.set_message(progress_text(done, total, bytes, &what));
            }
            Msg::Event(Event::Line { text, .. }) => bar.println(format!("    {text}")),
            Msg::Event(Event::Warning { text, .. }) => bar.println(format!("WARNING: {text}")),
            Msg::Event(other) => {
                if let Some(text) = describe_event(&other) {
                    bar.println(text);
                }
            }
            // Nothing outside a session asks; a question would find nobody to answer it.
            Msg::Ask(_, reply) => {
                let _ = reply.send(Answer::Stop);
            }
        }
    }
    bar.finish_and_clear();
}
