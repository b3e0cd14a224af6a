//! The `stepwise` binary: the only place errors become miette reports.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use stepwise::cli::{self, args::Cli, exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli::run(cli) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`stepwise list | head`) is not an error worth reporting.
            let _ = stdout.write_all(output.as_bytes());
            ExitCode::from(exit::OK)
        }
        Err(failure) => {
            for report in &failure.reports {
                eprintln!("{report:?}");
            }
            ExitCode::from(failure.code)
        }
    }
}
