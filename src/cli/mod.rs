//! The command line: parses arguments, runs the command, and turns failures into
//! reports and exit codes. This is the only layer that knows about miette.

pub mod args;
mod backup;
mod catalog;
pub mod complete;
pub mod exit;
pub mod logging;
mod manual;
pub mod output;
pub mod plugin;
mod report;
mod scaffold;
mod session;

use args::{Cli, Command};

use crate::runbook::schema::SchemaKind;

/// A command that did not succeed: what to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub reports: Vec<miette::Report>,
    /// What goes to standard output all the same: the `-o json` document
    /// that lists a failed lint's problems, say.
    pub output: Option<String>,
}

impl Failure {
    pub fn one(code: u8, report: miette::Report) -> Self {
        Failure { code, reports: vec![report], output: None }
    }

    pub fn with_output(mut self, output: String) -> Self {
        self.output = Some(output);
        self
    }
}

/// Runs a parsed command and returns what it prints on success. Failures are
/// also logged, so the log file tells the whole story of a run.
pub fn run(cli: Cli) -> Result<String, Failure> {
    logging::init(&session::state_dir(&cli.global), cli.global.verbose, uses_full_screen(&cli.command));
    let command = values_hidden(&format!("{:?}", cli.command));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), revision = env!("STEPWISE_GIT_REVISION"), %command, "stepwise started");
    tracing::debug!(
        state_dir = %session::state_dir(&cli.global).display(),
        kubeconfig = ?cli.global.kubeconfig,
        context = ?cli.global.context,
        runbooks = ?cli.global.runbooks,
        "settings"
    );
    let result = dispatch(&cli);
    match &result {
        Ok(_) => tracing::info!("stepwise finished"),
        Err(failure) => {
            for report in &failure.reports {
                tracing::error!(exit_code = failure.code, "{report}");
            }
        }
    }
    result
}

fn uses_full_screen(command: &Command) -> bool {
    match command {
        Command::Run(args) => session::full_screen(&args.answers),
        Command::Rehearse(args) => session::full_screen(&args.run.answers),
        Command::Resume(args) => session::full_screen(&args.answers),
        _ => false,
    }
}

fn dispatch(cli: &Cli) -> Result<String, Failure> {
    let extra = &cli.global.runbooks;
    match &cli.command {
        Command::List(output) => catalog::list(&catalog::load_catalog(extra)?, output.format),
        Command::Plan(args) => catalog::plan_command(&catalog::load_catalog(extra)?, args, &cli.global),
        Command::Show { product, procedure, output } => {
            catalog::show(&catalog::load_catalog(extra)?, product, procedure.as_deref(), output.format)
        }
        Command::Lint { paths, output } => catalog::lint(paths, extra, output.format),
        Command::Run(args) => session::run(&cli.global, args, false),
        Command::Rehearse(args) if args.shadow.shadow_context.is_some() => session::shadow(&cli.global, args),
        Command::Rehearse(args) => session::run(&cli.global, &args.run, true),
        Command::Resume(args) => session::resume(&cli.global, args),
        Command::Sessions(output) => session::sessions(&cli.global, output.format),
        Command::Backup(args) => backup::backup(&cli.global, args),
        Command::Restore(args) => backup::restore(&cli.global, args),
        Command::NewRunbook(args) => scaffold::new_runbook(extra, args),
        Command::Completions { shell } => Ok(complete::script(*shell)),
        Command::Man { out } => manual::man(out.as_deref()),
        Command::Schema { kind } => Ok(schema(*kind)),
    }
}

fn schema(kind: args::SchemaArg) -> String {
    use args::SchemaArg;
    use output::DocumentKind;
    match kind {
        SchemaArg::Product => crate::runbook::schema::json(SchemaKind::Product),
        SchemaArg::Procedure => crate::runbook::schema::json(SchemaKind::Procedure),
        SchemaArg::OutputList => output::schema(DocumentKind::List),
        SchemaArg::OutputShow => output::schema(DocumentKind::Show),
        SchemaArg::OutputPlan => output::schema(DocumentKind::Plan),
        SchemaArg::OutputLint => output::schema(DocumentKind::Lint),
        SchemaArg::OutputSessions => output::schema(DocumentKind::Sessions),
        SchemaArg::OutputRun => output::schema(DocumentKind::Run),
    }
}

/// The parsed command as the log records it: `--set NAME=VALUE` pairs keep
/// their names and lose their values, since any of them may be a secret the
/// runbooks (not yet read at this point) mark as one.
#[expect(clippy::expect_used, reason = "a constant pattern, compiled by every run of the CLI tests")]
fn values_hidden(command: &str) -> String {
    static PAIR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"\("((?:[^"\\]|\\.)*)", "(?:[^"\\]|\\.)*"\)"#).expect("a valid pattern")
    });
    PAIR.replace_all(command, r#"("$1", "…")"#).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn set_values_are_left_out_of_the_log() {
        let logged = super::values_hidden(r#"Run(RunArgs { values: [("token", "s3cr\"et"), ("namespace", "mesh")] })"#);
        assert_eq!(logged, r#"Run(RunArgs { values: [("token", "…"), ("namespace", "…")] })"#);
    }
}
