//! Checks made before a run: is a vendor CLI there, and which version is it.

use std::time::Duration;

use super::error::CommandError;
use super::output::Stream;
use super::request::CommandRequest;
use super::run::run;
use crate::base::cancel::CancelSignal;

/// How long a version query may take.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `program args...` (such as `helm version --short`) and returns the first
/// non-empty line it printed on stdout, or on stderr when stdout was empty.
pub async fn version_of(program: &str, args: &[&str]) -> Result<String, CommandError> {
    let mut argv = vec![program.to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let request = CommandRequest::new(argv)
        .with_timeout(VERSION_TIMEOUT)
        .with_grace(Duration::from_secs(1))
        .with_drain(Duration::from_millis(500))
        .with_capture_limit(16 * 1024);
    let (mut first_out, mut first_err) = (None, None);
    let outcome = run(
        &request,
        |line| {
            let first = match line.stream {
                Stream::Stdout => &mut first_out,
                Stream::Stderr => &mut first_err,
            };
            if first.is_none() && !line.text.trim().is_empty() {
                *first = Some(line.text.trim().to_string());
            }
        },
        CancelSignal::never(),
    )
    .await?;
    let no_version = |detail: String| CommandError::NoVersion { program: program.to_string(), detail };
    if outcome.timed_out {
        return Err(no_version(format!("it did not answer within {}s", VERSION_TIMEOUT.as_secs())));
    }
    if !outcome.exit.success() {
        let said = outcome.stderr.last_line().or(outcome.stdout.last_line()).unwrap_or("");
        return Err(no_version(format!(
            "it ended with {}{}{said}",
            outcome.exit,
            if said.is_empty() { "" } else { ": " }
        )));
    }
    first_out.or(first_err).ok_or_else(|| no_version("it printed nothing".to_string()))
}
