//! What to run: an argument vector with its environment and limits, rendered
//! already by the engine; and the kube settings every command inherits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::error::CommandError;

/// How long a command may run when the runbook gives no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How long a command has between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// How long processes a command left behind may keep its output open after it exits.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(2);
/// How much of each stream is kept in memory (the most recent bytes); everything is
/// still streamed line by line to the caller, which keeps the full transcript.
pub const DEFAULT_CAPTURE_LIMIT: usize = 256 * 1024;

/// One child process to run. The program is `argv[0]`, found on PATH; each element
/// reaches the program as exactly one argument, and no shell is ever involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    pub argv: Vec<String>,
    /// Added to (or replacing entries of) the environment stepwise runs in; a PATH
    /// here is also the one the program is looked up on.
    pub env: Vec<(String, String)>,
    /// From the start until SIGTERM is sent.
    pub timeout: Duration,
    pub cwd: Option<PathBuf>,
    /// From SIGTERM until SIGKILL, on timeout or cancellation.
    pub grace: Duration,
    /// After the program exits, how long processes it started may keep its output
    /// open before they are stopped as well.
    pub drain: Duration,
    /// Bytes of each stream kept in the outcome (the tail).
    pub capture_limit: usize,
}

impl CommandRequest {
    pub fn new(argv: Vec<String>) -> Self {
        CommandRequest {
            argv,
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            cwd: None,
            grace: DEFAULT_GRACE,
            drain: DEFAULT_DRAIN,
            capture_limit: DEFAULT_CAPTURE_LIMIT,
        }
    }

    /// A request for an argument vector rendered already; an empty program is an error.
    pub fn checked(argv: Vec<String>) -> Result<Self, CommandError> {
        if argv.first().is_none_or(String::is_empty) {
            return Err(CommandError::EmptyArgv);
        }
        Ok(CommandRequest::new(argv))
    }

    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    pub fn with_drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    pub fn with_capture_limit(mut self, bytes: usize) -> Self {
        self.capture_limit = bytes;
        self
    }

    /// The program name as the runbook wrote it.
    pub fn program(&self) -> Option<&str> {
        self.argv.first().map(String::as_str)
    }
}

/// The variable a runbook uses to pass the kube context to a CLI, as in
/// `argv: [kubectl, --context, "{{kube_context}}", ...]`.
pub const KUBE_CONTEXT_VARIABLE: &str = "kube_context";

/// The cluster the operator chose, passed on to every command.
///
/// The kubeconfig travels as `KUBECONFIG` in the environment, which every Kubernetes
/// CLI honours. The context cannot: each CLI names its flag differently (`--context`,
/// `--kube-context`, ...) and some have none, so it is only offered to the runbook as
/// the `{{kube_context}}` variable, and the runbook author puts it in argv.
/// When neither is set, the commands see whatever KUBECONFIG stepwise inherited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeEnv {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

impl KubeEnv {
    /// The environment entries these settings add.
    pub fn env(&self) -> Result<Vec<(String, String)>, CommandError> {
        let Some(path) = &self.kubeconfig else { return Ok(Vec::new()) };
        let value = path.to_str().ok_or_else(|| CommandError::NonUtf8Kubeconfig { path: path.clone() })?;
        Ok(vec![("KUBECONFIG".to_string(), value.to_string())])
    }

    /// Adds these settings to a request. Entries the request already has win, so a
    /// runbook that sets KUBECONFIG itself (say, one file per zone cluster) keeps it.
    pub fn apply(&self, mut request: CommandRequest) -> Result<CommandRequest, CommandError> {
        let mut env = self.env()?;
        env.retain(|(name, _)| !request.env.iter().any(|(n, _)| n == name));
        env.append(&mut request.env);
        request.env = env;
        Ok(request)
    }

    /// Offers the context as `{{kube_context}}` unless the values already hold one.
    pub fn add_values(&self, values: &mut BTreeMap<String, String>) {
        if let Some(context) = &self.context {
            values.entry(KUBE_CONTEXT_VARIABLE.to_string()).or_insert_with(|| context.clone());
        }
    }
}
