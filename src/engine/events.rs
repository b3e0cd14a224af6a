//! What the engine tells a front end, and what it asks. The engine knows no
//! terminal: it sends plain values over one channel, in order, and each question
//! carries a one-shot reply the front end answers its own way.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::journal::{JournalError, StepState, TranscriptSink};
use crate::plan::Plan;
use crate::runbook::model::{Action, Severity};

/// One message from the engine; events and questions share a channel so a front
/// end sees them in the order they happened.
#[derive(Debug)]
pub enum Msg {
    Event(Event),
    Ask(Question, oneshot::Sender<Answer>),
}

pub type Outbox = mpsc::UnboundedSender<Msg>;
pub type Inbox = mpsc::UnboundedReceiver<Msg>;

pub fn channel() -> (Outbox, Inbox) {
    mpsc::unbounded_channel()
}

/// The engine's side of the channel. It keeps a copy of every event but progress
/// ticks until the runner writes them to the session's transcript, so the
/// transcript holds what the operator saw, whichever task reported it.
#[derive(Clone)]
pub struct Tee {
    out: Outbox,
    log: std::sync::Arc<std::sync::Mutex<Vec<Event>>>,
}

impl Tee {
    pub fn new(out: Outbox) -> Self {
        Self::with_log(out, Vec::new())
    }

    /// A tee that already holds `earlier`: what was said before the session
    /// existed (detection, the plan), so the transcript starts with it.
    pub fn with_log(out: Outbox, earlier: Vec<Event>) -> Self {
        Tee { out, log: std::sync::Arc::new(std::sync::Mutex::new(earlier)) }
    }

    pub fn send(&self, msg: Msg) -> Result<(), mpsc::error::SendError<Msg>> {
        let msg = match msg {
            Msg::Event(event) => Msg::Event(masked(event)),
            Msg::Ask(question, reply) => Msg::Ask(masked(question), reply),
        };
        if let Msg::Event(event) = &msg
            && !matches!(event, Event::Progress { .. })
        {
            self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(event.clone());
        }
        self.out.send(msg)
    }

    /// Sends without keeping a copy for the transcript: for what the caller has
    /// already written there itself.
    pub fn send_unrecorded(&self, msg: Msg) -> Result<(), mpsc::error::SendError<Msg>> {
        let msg = match msg {
            Msg::Event(event) => Msg::Event(masked(event)),
            Msg::Ask(question, reply) => Msg::Ask(masked(question), reply),
        };
        self.out.send(msg)
    }

    /// The events kept since the last call, oldest first.
    pub fn take_log(&self) -> Vec<Event> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Writes the events kept so far to the transcript in one batch. They are
    /// taken while the transcript is held, so they land in the order they were
    /// sent, before anything appended after this call. Events that could not be
    /// written are kept for the next call, which reports the same error.
    pub fn flush_to(&self, sink: &TranscriptSink) -> Result<(), JournalError> {
        sink.with(|w| {
            let events = self.take_log();
            let written = w.append_all("event", &events);
            if written.is_err() {
                let mut log = self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let later = std::mem::replace(&mut *log, events);
                log.extend(later);
            }
            written
        })?
    }
}

/// The events among a session's transcript entries, oldest first; entries
/// that are not events, or that this version cannot read, are passed over.
pub fn recorded_events(entries: &[crate::journal::TranscriptEntry]) -> impl Iterator<Item = Event> + '_ {
    entries.iter().filter(|e| e.kind == "event").filter_map(|e| Event::deserialize(&e.payload).ok())
}

/// `value` with every secret in its text masked ([`crate::redact`]): what
/// front ends draw never holds one.
pub fn masked<T: Serialize + serde::de::DeserializeOwned>(value: T) -> T {
    let Ok(json) = serde_json::to_string(&value) else { return value };
    match crate::redact::text(&json) {
        std::borrow::Cow::Borrowed(_) => value,
        std::borrow::Cow::Owned(clean) => serde_json::from_str(&clean).unwrap_or(value),
    }
}

/// A step as front ends list it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepInfo {
    pub index: usize,
    pub hop: usize,
    pub id: String,
    pub title: String,
    pub kind: ActionKind,
    pub destructive: bool,
    pub item: Option<String>,
    pub state: StepState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Something read on the cluster before planning: the installed version,
    /// or a fact about the installation.
    Detected {
        detection: Detection,
    },
    /// The plan the session will follow, once the procedure is settled.
    PlanReady {
        plan: Box<Plan>,
    },
    SessionStarted {
        id: String,
        dir: PathBuf,
        rehearsal: bool,
        product: String,
        from: String,
        to: String,
        /// The version each hop reaches, in order; more than one means the
        /// upgrade stops at intermediate releases on its way to `to`.
        hops: Vec<String>,
        context: String,
        server: String,
        steps: Vec<StepInfo>,
    },
    /// A note for the operator outside any step (resume findings, preflight results).
    Notice {
        text: String,
    },
    StepStarted {
        index: usize,
        title: String,
        kind: ActionKind,
        explain: String,
        does: Vec<String>,
    },
    /// A line of command output or operation log.
    Line {
        index: usize,
        text: String,
    },
    Progress {
        index: usize,
        done: u64,
        total: Option<u64>,
        bytes: u64,
        what: String,
    },
    Warning {
        index: Option<usize>,
        text: String,
    },
    StepFinished {
        index: usize,
        state: StepState,
        outcome: String,
    },
    StepFailed {
        index: usize,
        error: String,
        cluster_state: String,
    },
    SessionFinished {
        status: String,
        elapsed_secs: u64,
        backups: PathBuf,
        report: Option<PathBuf>,
        resume_hint: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "question", rename_all = "snake_case")]
pub enum Question {
    /// More than one procedure fits the hop `hop` (`from -> to`): which one?
    /// Answered with `Text(id)`; `Stop` backs out before anything is done.
    /// The first choice is the planner's, the least disruptive.
    PickProcedure { hop: String, choices: Vec<ProcedureChoice> },
    /// A variable's value. `problem` says why the previous answer was refused.
    Variable {
        name: String,
        description: String,
        default: Option<String>,
        pattern: Option<String>,
        choices: Vec<String>,
        problem: Option<String>,
        /// Typed without echo: the runbook marks the variable secret.
        #[serde(default)]
        secret: bool,
        /// What was looked for on the cluster for the default (`discover:`);
        /// also the description's last line.
        #[serde(default)]
        discovered: Option<Discovery>,
    },
    /// Whether to run a step. With `word`, the operator must type it.
    Confirm {
        index: usize,
        title: String,
        does: Vec<String>,
        destructive: bool,
        word: Option<String>,
        skippable: bool,
        /// Why a destructive step is allowed to run (the backup proof).
        unlocked_by: Option<String>,
    },
    /// A version note or warning that needs acknowledgement.
    Acknowledge { title: String, text: String, severity: Severity },
    /// Something the operator does by hand; answered when done.
    Manual { index: usize, title: String, instructions: String, skippable: bool },
    /// A step failed; what now.
    AfterFailure { index: usize, title: String, error: String, cluster_state: String, choices: Vec<Answer> },
    /// On resume: the command a step started before stepwise was killed still
    /// runs. `Yes` waits for it to end, `No` stops it (its whole process group),
    /// `Stop` ends the session and leaves it running.
    StillRunning { index: usize, title: String, argv: String, pid: u32, pgid: u32 },
    /// On resume: a command was running when stepwise stopped (killed, or
    /// `interrupted` by Ctrl-C, SIGTERM or SIGHUP, which stopped the command
    /// too). Did it finish? `Yes` marks it done (behind the step's typed word
    /// for a destructive step), `No` runs it again, `Verify` runs the
    /// runbook's verify command.
    CommandFinished {
        index: usize,
        title: String,
        argv: String,
        output: Vec<String>,
        can_verify: bool,
        interrupted: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Text(String),
    Yes,
    No,
    Skip,
    Retry,
    Restore,
    Verify,
    /// The operator finished the failed step by hand.
    MarkDone,
    /// Go on after a restore without the objects it could not bring back
    /// (listed in the step's outcome and the transcript).
    GoOnWithout,
    /// Take the backups before a locked destructive step again (new folders;
    /// the earlier ones are kept).
    BackupAgain,
    Stop,
}

/// A variable's default looked for on the cluster: whether it was found (the
/// question's default is then what was found), and a sentence saying what was
/// found where, or why nothing was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub found: bool,
    pub said: String,
}

/// What was read on the cluster to plan a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "found", rename_all = "snake_case")]
pub enum Detection {
    /// The installed version of the product, and where it was read.
    Version { product: String, version: String, source: String },
    /// A fact about the installation (`platform=openshift`), and why.
    Fact { name: String, value: String, why: String },
}

impl std::fmt::Display for Detection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detection::Version { product, version, source } => write!(f, "Detected {product} {version} ({source})"),
            Detection::Fact { name, value, why } => {
                write!(f, "Detected {name}={value} ({why}; --fact {name}=... says otherwise)")
            }
        }
    }
}

/// One procedure offered by [`Question::PickProcedure`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedureChoice {
    /// The procedure's id, the answer that picks it.
    pub id: String,
    /// The id with its title or disruption, as the operator reads it.
    pub label: String,
    /// The planner's own choice.
    pub recommended: bool,
}

/// What a step does, by the runbook key that sets its action. Written as the
/// runbook writes it (`rollout_restart`), in events and the transcript alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Note,
    Check,
    Backup,
    Command,
    Apply,
    Restore,
    RolloutRestart,
    Wait,
    Delete,
    Manual,
}

impl ActionKind {
    /// The kind of a runbook step's action.
    pub fn of(action: &Action<'_>) -> Self {
        match action {
            Action::Note(_) => ActionKind::Note,
            Action::Check(_) => ActionKind::Check,
            Action::Backup(_) => ActionKind::Backup,
            Action::Command(_) => ActionKind::Command,
            Action::Apply(_) => ActionKind::Apply,
            Action::Restore(_) => ActionKind::Restore,
            Action::RolloutRestart(_) => ActionKind::RolloutRestart,
            Action::Wait(_) => ActionKind::Wait,
            Action::Delete(_) => ActionKind::Delete,
            Action::Manual(_) => ActionKind::Manual,
        }
    }

    /// The runbook's own word for it.
    pub fn word(self) -> &'static str {
        match self {
            ActionKind::Note => "note",
            ActionKind::Check => "check",
            ActionKind::Backup => "backup",
            ActionKind::Command => "command",
            ActionKind::Apply => "apply",
            ActionKind::Restore => "restore",
            ActionKind::RolloutRestart => "rollout_restart",
            ActionKind::Wait => "wait",
            ActionKind::Delete => "delete",
            ActionKind::Manual => "manual",
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}
