//! Running as a kubectl plugin: installed (or linked) as `kubectl-stepwise`,
//! kubectl finds it on PATH and `kubectl stepwise ...` runs it. Help and usage
//! then show the command the operator actually typed.

use std::ffi::OsStr;
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};

use super::args::Cli;

/// The file name kubectl looks for on PATH.
pub const PLUGIN_FILE: &str = "kubectl-stepwise";

/// Whether argv[0] names the plugin (kubectl passes the full path).
pub fn invoked_as_plugin(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name().is_some_and(|name| name == PLUGIN_FILE)
}

/// The command definition, spelled `kubectl stepwise` when run as the plugin.
pub fn command(as_plugin: bool) -> clap::Command {
    let cmd = Cli::command();
    if !as_plugin {
        return cmd;
    }
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let mut cmd = cmd.bin_name("kubectl stepwise");
    for name in names {
        cmd = cmd.mut_subcommand(name, |sub| {
            let examples = sub.get_after_help().map(|h| h.to_string().replace("  stepwise ", "  kubectl stepwise "));
            match examples {
                Some(text) => sub.after_help(text),
                None => sub,
            }
        });
    }
    cmd
}

/// Parses the process's arguments; on a usage error or --help clap prints and exits.
pub fn parse() -> Cli {
    let as_plugin = std::env::args_os().next().is_some_and(|a| invoked_as_plugin(&a));
    let matches = command(as_plugin).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}
