//! What every step kind runs with: the [`StepCtx`] (the session's context, the
//! journal, the step, its values, where its events go and its cancellation),
//! the [`StepError`] it can end with, and the small helpers all kinds share.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::events::{Event, Msg, Tee};
use super::execute::Context;
use super::runner::Runner;
use crate::base::{CancelSignal, OpEvent, Reporter};
use crate::cluster::{ClusterError, Connection};
use crate::commands::CommandError;
use crate::journal::{Journal, JournalError};
use crate::runbook::model::Step;
use crate::runbook::template::{Template, TemplateError};

/// One step about to run: everything its kind's `run` needs.
pub struct StepCtx<'a> {
    pub ctx: &'a Context,
    pub journal: &'a mut Journal,
    pub step: &'a Step,
    /// The values its templates see: the session's, the hop's and the item's.
    pub values: &'a BTreeMap<String, String>,
    /// Its place in the session's work list.
    pub index: usize,
    pub out: &'a Tee,
    pub cancel: CancelSignal,
}

impl StepCtx<'_> {
    /// The `for_each` item this step runs for, if it runs for each of a list.
    pub fn item(&self) -> Option<&str> {
        self.values.get("item").map(String::as_str).filter(|_| self.step.for_each.is_some())
    }

    /// The connection the step acts on: its own kube context, or the session's.
    pub async fn connection(&self) -> Result<Connection, StepError> {
        self.ctx.connection(self.step, self.values).await
    }

    /// Turns cluster-operation events into this step's engine events.
    pub fn reporter(&self) -> Reporter {
        reporter(self.out, self.index)
    }

    /// Sends an event to the front end.
    pub fn send(&self, event: Event) {
        let _ = self.out.send(Msg::Event(event));
    }

    /// Renders every template with the step's values.
    pub fn render_all(&self, templates: &[Template]) -> Result<Vec<String>, StepError> {
        render_all(templates, self.values)
    }

    /// Runs a future unless the session is interrupted first.
    pub async fn interruptible<T>(&mut self, work: impl Future<Output = T>) -> Result<T, StepError> {
        interruptible(&mut self.cancel, work).await
    }
}

impl Runner<'_> {
    /// The context step `index` of the session runs in.
    pub(super) fn step_ctx<'a>(
        &'a mut self,
        step: &'a Step,
        values: &'a BTreeMap<String, String>,
        index: usize,
    ) -> StepCtx<'a> {
        StepCtx {
            ctx: &self.ctx,
            journal: &mut self.journal,
            step,
            values,
            index,
            out: &self.out,
            cancel: self.cancel.clone(),
        }
    }
}

/// Why a step did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Ctrl-C or SIGTERM, not a failure of the step.
    #[error("interrupted; the step was cut short")]
    Interrupted,
    /// The step did its work, but these objects were already in the cluster
    /// with other content and were left as they are: not a success until the
    /// operator has read the list.
    #[error("{message}")]
    Differences { message: String, objects: Vec<String> },
    /// A restore that could not bring these objects back (each with why): the
    /// operator may retry, or go on without them, listed in the outcome.
    #[error("{message}")]
    Unrestored { message: String, objects: Vec<String> },
    /// The backups before a destructive step that has not started cannot
    /// unlock it (damaged, incomplete): taking them again is a way forward.
    #[error("{0}")]
    BackupsUnusable(String),
    /// A cluster operation failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A command could not be run.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A command's argument vector or environment could not be rendered.
    #[error("cannot build the command: {0}")]
    CommandTemplate(#[source] TemplateError),
    /// The journal could not record what the step did.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A template of the step could not be rendered.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A manifest file to apply could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadManifest {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The step ran and did not succeed; the text says what happened.
    #[error("{0}")]
    Failed(String),
}

impl StepError {
    /// A failure the engine words itself.
    pub fn failed(message: impl Into<String>) -> Self {
        StepError::Failed(message.into())
    }

    /// Ctrl-C or SIGTERM cut the step short.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, StepError::Interrupted)
    }

    /// The objects left as they were because they already differed.
    pub fn differences(&self) -> &[String] {
        match self {
            StepError::Differences { objects, .. } => objects,
            _ => &[],
        }
    }

    /// The objects a restore could not bring back, each with why.
    pub fn unrestored(&self) -> &[String] {
        match self {
            StepError::Unrestored { objects, .. } => objects,
            _ => &[],
        }
    }

    /// Taking the backups again is a way forward.
    pub fn backup_again(&self) -> bool {
        matches!(self, StepError::BackupsUnusable(_))
    }
}

/// Turns cluster-operation events into engine events for step `index`.
pub fn reporter(out: &Tee, index: usize) -> Reporter {
    let out = out.clone();
    Arc::new(move |e| {
        let event = match e {
            OpEvent::Progress { done, total, bytes, what } => Event::Progress { index, done, total, bytes, what },
            OpEvent::Line(text) => Event::Line { index, text },
            OpEvent::Warning(text) => Event::Warning { index: Some(index), text },
        };
        let _ = out.send(Msg::Event(event));
    })
}

/// Runs a future unless the session is interrupted first.
pub async fn interruptible<T>(cancel: &mut CancelSignal, work: impl Future<Output = T>) -> Result<T, StepError> {
    tokio::select! {
        value = work => Ok(value),
        () = cancel.cancelled() => Err(StepError::Interrupted),
    }
}

/// Renders every template with `values`.
pub fn render_all(templates: &[Template], values: &BTreeMap<String, String>) -> Result<Vec<String>, StepError> {
    templates.iter().map(|t| t.render(values).map_err(StepError::from)).collect()
}

/// Where a backup step keeps its files.
pub fn backup_dir(journal: &Journal, step: &Step, item: Option<&str>) -> PathBuf {
    let name = match item {
        Some(item) => format!("{}-{}", step.id.value, item.replace(['/', '\\'], "_")),
        None => step.id.value.clone(),
    };
    journal.backups_dir().join(name)
}

/// The backup folder of the backup step `id` in the same session.
pub fn backup_dir_of(journal: &Journal, id: &str, item: Option<&str>) -> Result<PathBuf, StepError> {
    let with_item = item.map(|i| journal.backups_dir().join(format!("{id}-{}", i.replace(['/', '\\'], "_"))));
    let plain = journal.backups_dir().join(id);
    match with_item {
        Some(dir) if dir.exists() => Ok(dir),
        _ if plain.exists() => Ok(plain),
        _ => Err(StepError::failed(format!(
            "there is no backup from step `{id}` in {}",
            journal.backups_dir().display()
        ))),
    }
}
