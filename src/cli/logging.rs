//! Diagnostic logs (`-v`, `-vv`): always to `<state dir>/logs/stepwise.log`, and
//! to standard error as well when `-v` is given and no full screen owns the
//! terminal. Without `-v` only warnings and errors are written, so a failure
//! leaves a trace even when nobody asked for one.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Overrides the level chosen by `-v` with a tracing filter, e.g. `stepwise=debug,kube=info`.
pub const FILTER_VAR: &str = "STEPWISE_LOG";

/// The log file under a state directory.
pub fn log_file(state_dir: &Path) -> PathBuf {
    state_dir.join("logs").join("stepwise.log")
}

/// The filter for a number of `-v`: our own events get more detailed first;
/// the libraries' (kube, hyper) only at `-vvv`, where they say a lot.
pub fn directives(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "warn",
        1 => "warn,stepwise=info",
        2 => "info,stepwise=debug",
        _ => "debug,stepwise=trace",
    }
}

/// Installs the global subscriber. `full_screen` keeps everything off standard
/// error, where it would tear the screen apart.
pub fn init(state_dir: &Path, verbosity: u8, full_screen: bool) {
    let filter = std::env::var(FILTER_VAR)
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(directives(verbosity)));
    let file = LogFile::new(log_file(state_dir), !full_screen);
    let file_layer = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file);
    let to_stderr = verbosity > 0 && !full_screen;
    let stderr_layer = to_stderr.then(|| {
        tracing_subscriber::fmt::layer().with_ansi(crate::ui::colour::stderr()).with_writer(|| Redacted(io::stderr()))
    });
    // A second initialisation (only possible in tests of this crate) keeps the first.
    let _ = tracing_subscriber::registry().with(filter).with(file_layer).with(stderr_layer).try_init();
}

/// Opened on the first event, so that commands that log nothing leave no file
/// (and create no state directory) behind.
#[derive(Clone)]
struct LogFile {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    file: OnceLock<Option<Mutex<File>>>,
    may_complain: bool,
}

impl LogFile {
    fn new(path: PathBuf, may_complain: bool) -> Self {
        LogFile { inner: Arc::new(Inner { path, file: OnceLock::new(), may_complain }) }
    }
}

impl Inner {
    fn file(&self) -> Option<&Mutex<File>> {
        self.file
            .get_or_init(|| match open_append(&self.path) {
                Ok(f) => Some(Mutex::new(f)),
                Err(e) => {
                    // Said once; the command itself carries on without its log.
                    if self.may_complain {
                        eprintln!(
                            "stepwise: cannot write the log file {}: {e}; pass --state-dir DIR to put it elsewhere",
                            self.path.display()
                        );
                    }
                    None
                }
            })
            .as_ref()
    }
}

/// The log directory is private like the sessions: logs name clusters and paths.
fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter { inner: &self.inner }
    }
}

pub struct LogWriter<'a> {
    inner: &'a Inner,
}

impl Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    // Each event arrives as one buffer; holding the lock for all of it keeps lines whole.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let Some(file) = self.inner.file() else { return Ok(()) };
        let mut file = file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let text = String::from_utf8_lossy(buf);
        file.write_all(crate::redact::text(&text).as_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Standard error with secrets masked ([`crate::redact`]).
struct Redacted<W>(W);

impl<W: Write> Write for Redacted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(crate::redact::text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
