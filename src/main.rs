//! The `stepwise` binary: the only place errors become miette reports.

use std::io::Write;
use std::process::ExitCode;

use stepwise::cli::{self, exit, plugin};

fn main() -> ExitCode {
    cli::complete::answer_if_asked();
    install_report_style();
    stepwise::ui::colour::configure_prompts();
    let cli = plugin::parse();
    match cli::run(cli) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`stepwise list | head`) is not an error worth reporting.
            let _ = stdout.write_all(output.as_bytes());
            ExitCode::from(exit::OK)
        }
        Err(failure) => {
            if let Some(output) = &failure.output {
                let _ = std::io::stdout().lock().write_all(output.as_bytes());
            }
            for report in &failure.reports {
                eprintln!("{report:?}");
            }
            ExitCode::from(failure.code)
        }
    }
}

/// Reports wrap to the terminal; in logs and pipes each message stays on one line
/// so it can be searched for. Colour follows `NO_COLOR` as everything else does.
fn install_report_style() {
    use std::io::IsTerminal;
    let wrap = std::io::stderr().is_terminal();
    let colour = stepwise::ui::colour::for_reports();
    let _ = miette::set_hook(Box::new(move |_| {
        let mut opts = miette::MietteHandlerOpts::new().wrap_lines(wrap);
        if let Some(colour) = colour {
            opts = opts.color(colour);
        }
        Box::new(opts.build())
    }));
}
