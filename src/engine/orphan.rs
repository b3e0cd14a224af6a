//! On resume, before a step that was cut short goes any further: the command it
//! had started (recorded in the journal as it started) may still be running, if
//! stepwise itself was killed rather than stopped. Nothing else runs beside it:
//! the operator waits for it to end, stops it, or stops the session.

use std::time::Duration;

use super::error::EngineError;
use super::events::{Answer, Event, Question};
use super::runner::{RunOutcome, Runner};
use crate::process::{Liveness, ProcessMark};

/// How often a recorded command is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(500);
/// Between SIGTERM and SIGKILL when the operator stops it.
const GRACE: Duration = Duration::from_secs(10);

/// `Ok(None)` when nothing of the step's command runs (any more) and the step
/// may go on; `Ok(Some(outcome))` when the session ends here.
pub async fn settle(runner: &mut Runner<'_>, index: usize, argv: &str) -> Result<Option<RunOutcome>, EngineError> {
    let Some(child) = runner.journal.steps()[index].child.clone() else { return Ok(None) };
    match child.liveness() {
        Liveness::Gone => return Ok(None),
        Liveness::Elsewhere => {
            runner.send(Event::Warning {
                index: Some(index),
                text: format!(
                    "`{argv}` was started on {} (process {}) in another boot or on another machine; stepwise cannot \
                     tell from here whether it still runs. Make sure it does not before going on",
                    child.host, child.pid
                ),
            });
            return Ok(None);
        }
        Liveness::Running => {}
    }
    let title = runner.journal.steps()[index].title.clone();
    let question = Question::StillRunning { index, title, argv: argv.to_string(), pid: child.pid, pgid: child.pgid };
    match runner.ask(question).await? {
        Answer::Yes => wait_until_gone(runner, &child, argv).await,
        Answer::No => {
            stop(runner, &child, argv).await;
            Ok(None)
        }
        _ => Ok(Some(RunOutcome::Stopped)),
    }
}

async fn wait_until_gone(
    runner: &mut Runner<'_>,
    child: &ProcessMark,
    argv: &str,
) -> Result<Option<RunOutcome>, EngineError> {
    runner.send(Event::Notice { text: format!("waiting for `{argv}` (process {}) to end", child.pid) });
    let mut cancel = runner.cancel.clone();
    while child.liveness() == Liveness::Running {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = cancel.cancelled() => return Ok(Some(RunOutcome::Interrupted)),
        }
    }
    runner.send(Event::Notice { text: format!("`{argv}` (process {}) has ended", child.pid) });
    Ok(None)
}

/// SIGTERM to the command's group, SIGKILL after [`GRACE`].
async fn stop(runner: &Runner<'_>, child: &ProcessMark, argv: &str) {
    runner.send(Event::Notice { text: format!("stopping `{argv}` (process group {})", child.pgid) });
    crate::commands::stop_group(child.pgid, GRACE, POLL, || child.liveness() == Liveness::Running).await;
    runner.send(Event::Notice { text: format!("`{argv}` (process {}) was stopped", child.pid) });
}
