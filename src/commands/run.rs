//! Running one command: spawn from argv, stream its output line by line, enforce
//! the timeout and cancellation, and stop its whole process group when needed.

use std::ffi::OsString;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::{Instant, sleep, sleep_until};

use super::error::CommandError;
use super::group::{Group, KillOnDrop};
use super::outcome::{CommandOutcome, Exit, Stopped};
use super::output::{Captured, LineSplitter, MAX_LINE, OutputLine, Stream};
use super::path::resolve;
use super::request::CommandRequest;
use crate::base::cancel::CancelSignal;

/// How often to look whether processes a command left behind have gone.
const POLL: Duration = Duration::from_millis(20);
const READ_CHUNK: usize = 16 * 1024;

/// Runs `request` and returns once the program has exited and its output is read.
///
/// Each line of stdout and stderr goes to `on_line` as soon as it is complete (in
/// order within each stream); the outcome keeps only the tail of each stream. The
/// program gets the argv as it is (no shell), a null stdin, the inherited environment
/// plus `request.env`, and its own process group, so the terminal's Ctrl-C does not
/// reach it directly: the caller cancels through `cancel` instead.
///
/// On timeout or cancellation the group gets SIGTERM, then SIGKILL once
/// `request.grace` has passed. If the program exits while processes it started keep
/// running, they get `request.drain` to finish, then the same treatment. A non-zero
/// exit is reported in the outcome, not as an error.
pub async fn run(
    request: &CommandRequest,
    on_line: impl FnMut(OutputLine),
    cancel: CancelSignal,
) -> Result<CommandOutcome, CommandError> {
    run_recorded(request, |_| Ok(()), on_line, cancel).await
}

/// [`run`], calling `on_start` with the process id (which is also its process
/// group's) as soon as the program has started and before any of its output is
/// read, so a caller can record what runs. If `on_start` fails, the group is
/// stopped at once and that is the error.
pub async fn run_recorded(
    request: &CommandRequest,
    on_start: impl FnOnce(u32) -> Result<(), String>,
    mut on_line: impl FnMut(OutputLine),
    mut cancel: CancelSignal,
) -> Result<CommandOutcome, CommandError> {
    let program = request.argv.first().filter(|p| !p.is_empty()).ok_or(CommandError::EmptyArgv)?;
    let path_var: Option<OsString> = match request.env.iter().rev().find(|(name, _)| name == "PATH") {
        Some((_, value)) => Some(value.into()),
        None => std::env::var_os("PATH"),
    };
    let resolved = resolve(program, path_var.as_deref(), request.cwd.as_deref())?;

    let mut command = Command::new(&resolved);
    command
        .arg0(program)
        .args(&request.argv[1..])
        .envs(request.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(dir) = &request.cwd {
        command.current_dir(dir);
    }
    tracing::debug!(argv = ?request.argv, path = %resolved.display(), "starting command");
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| match source.kind() {
        io::ErrorKind::PermissionDenied => {
            CommandError::PermissionDenied { program: program.clone(), path: resolved.clone() }
        }
        _ => CommandError::Spawn { program: program.clone(), source },
    })?;
    let lost = |source: io::Error| CommandError::Wait { program: program.clone(), source };
    let group = child.id().and_then(Group::led_by).ok_or_else(|| lost(io::Error::other("the child has no pid")))?;

    let mut guard = KillOnDrop::new(group);
    if let Err(message) = on_start(group.id()) {
        // The guard stops the group on the way out.
        return Err(CommandError::NotRecorded { program: program.clone(), message });
    }

    let mut out = Pipe::new(child.stdout.take(), Stream::Stdout, request.capture_limit);
    let mut err = Pipe::new(child.stderr.take(), Stream::Stderr, request.capture_limit);
    let mut status: Option<ExitStatus> = None;
    let mut phase = Phase::Running { until: later(started, request.timeout) };
    let (mut timed_out, mut cancelled, mut lingering, mut stopped) = (false, false, false, None);

    loop {
        let pipes_open = out.is_open() || err.is_open();
        if status.is_some() && !pipes_open {
            if matches!(phase, Phase::Killed { .. }) {
                break;
            }
            if !group.alive() {
                if matches!(phase, Phase::Stopping { .. }) {
                    stopped = Some(Stopped::Terminated);
                }
                break;
            }
        }
        let polling = status.is_some() && !pipes_open;
        tokio::select! {
            read = out.read(), if out.is_open() => out.deliver(read, &mut on_line),
            read = err.read(), if err.is_open() => err.deliver(read, &mut on_line),
            waited = child.wait(), if status.is_none() => {
                match waited {
                    Ok(s) => status = Some(s),
                    // The guard kills the group on the way out.
                    Err(source) => return Err(lost(source)),
                }
                if matches!(phase, Phase::Running { .. }) {
                    phase = Phase::Draining { until: later(Instant::now(), request.drain) };
                }
            }
            () = cancel.cancelled(), if phase.may_stop() => {
                if status.is_none() { cancelled = true } else { lingering = true }
                phase = Phase::stop(&group, request.grace);
            }
            () = sleep_until(phase.until()) => match phase {
                Phase::Running { .. } => {
                    timed_out = true;
                    phase = Phase::stop(&group, request.grace);
                }
                Phase::Draining { .. } => {
                    lingering = true;
                    phase = Phase::stop(&group, request.grace);
                }
                Phase::Stopping { .. } => {
                    group.signal(Signal::SIGKILL);
                    stopped = Some(Stopped::Killed);
                    phase = Phase::Killed { until: later(Instant::now(), request.drain) };
                }
                Phase::Killed { .. } => {
                    // Whatever still holds the pipes escaped the group: stop reading.
                    // The program itself got SIGKILL, so it is waited for.
                    if status.is_some() {
                        break;
                    }
                    phase = Phase::Killed { until: later(Instant::now(), request.drain) };
                }
            },
            () = sleep(POLL), if polling => {}
        }
    }
    guard.disarm();
    out.finish(&mut on_line);
    err.finish(&mut on_line);
    let status = status.ok_or_else(|| lost(io::Error::other("the program was never seen to exit")))?;
    let exit = Exit::from_status(status);
    tracing::debug!(argv = ?request.argv, %exit, timed_out, cancelled, lingering, ?stopped, "command ended");
    Ok(CommandOutcome {
        argv: request.argv.clone(),
        exit,
        stdout: out.captured,
        stderr: err.captured,
        duration: started.elapsed(),
        timed_out,
        cancelled,
        lingering,
        stopped,
    })
}

/// Where a run is, each with the moment its next step is due.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The program runs; at `until` it has timed out.
    Running { until: Instant },
    /// The program exited; what it started may hold the output open until `until`.
    Draining { until: Instant },
    /// SIGTERM was sent; SIGKILL follows at `until`.
    Stopping { until: Instant },
    /// SIGKILL was sent; output still open at `until` is abandoned.
    Killed { until: Instant },
}

impl Phase {
    fn until(&self) -> Instant {
        match *self {
            Phase::Running { until }
            | Phase::Draining { until }
            | Phase::Stopping { until }
            | Phase::Killed { until } => until,
        }
    }

    fn may_stop(&self) -> bool {
        matches!(self, Phase::Running { .. } | Phase::Draining { .. })
    }

    fn stop(group: &Group, grace: Duration) -> Phase {
        group.signal(Signal::SIGTERM);
        Phase::Stopping { until: later(Instant::now(), grace) }
    }
}

/// `start + wait`, saturating far in the future instead of overflowing.
fn later(start: Instant, wait: Duration) -> Instant {
    start.checked_add(wait).unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// One output pipe with its line splitter and captured tail.
struct Pipe<R> {
    reader: Option<R>,
    buf: Vec<u8>,
    splitter: LineSplitter,
    captured: Captured,
    stream: Stream,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    fn new(reader: Option<R>, stream: Stream, capture_limit: usize) -> Self {
        Pipe {
            reader,
            buf: vec![0; READ_CHUNK],
            // A line is cut only where it could not be kept whole anyway.
            splitter: LineSplitter::new(capture_limit.max(MAX_LINE)),
            captured: Captured::new(capture_limit),
            stream,
        }
    }

    fn is_open(&self) -> bool {
        self.reader.is_some()
    }

    /// Reads what is available; cancel-safe, as `select!` needs.
    async fn read(&mut self) -> io::Result<usize> {
        match &mut self.reader {
            Some(reader) => reader.read(&mut self.buf).await,
            None => Ok(0),
        }
    }

    fn deliver(&mut self, read: io::Result<usize>, on_line: &mut impl FnMut(OutputLine)) {
        match read {
            Ok(n) if n > 0 => {
                let Pipe { buf, splitter, captured, stream, .. } = self;
                splitter.push(&buf[..n], &mut |text| emit(captured, *stream, text, on_line));
            }
            Ok(_) => self.finish(on_line),
            Err(err) => {
                tracing::warn!(stream = %self.stream, %err, "could not read a command's output");
                self.finish(on_line);
            }
        }
    }

    /// Closes the pipe, passing on a last line that had no newline.
    fn finish(&mut self, on_line: &mut impl FnMut(OutputLine)) {
        self.reader = None;
        let Pipe { splitter, captured, stream, .. } = self;
        splitter.finish(&mut |text| emit(captured, *stream, text, on_line));
    }
}

fn emit(captured: &mut Captured, stream: Stream, text: String, on_line: &mut impl FnMut(OutputLine)) {
    captured.push(&text);
    on_line(OutputLine { stream, text });
}
