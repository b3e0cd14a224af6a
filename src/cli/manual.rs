//! `stepwise man`: the manual pages, rendered from the command definition so
//! they always match `--help`. One page per command: `stepwise(1)` and
//! `stepwise-COMMAND(1)`; the first also lists exit codes, the environment and files.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::args::Cli;
use super::{Failure, exit};

/// The environment variables stepwise reads, for `stepwise(1)`.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("KUBECONFIG", "The kubeconfig, as for kubectl; --kubeconfig wins."),
    (
        "STEPWISE_STATE_DIR",
        "Where sessions and logs go, as --state-dir (default $XDG_STATE_HOME/stepwise, else ~/.local/state/stepwise).",
    ),
    ("STEPWISE_LOG", "A tracing filter for the logs that replaces the -v level, such as stepwise=debug,kube=info."),
    ("NO_COLOR", "Present and not empty: no colour anywhere."),
    (
        "STEPWISE_ALLOW_UNTESTED_KUBERNETES",
        "Present and not empty: go on with an API server older than the Kubernetes releases stepwise is tested with.",
    ),
    ("PATH", "Where the vendor CLIs a runbook runs (nginx-meshctl, helm, kumactl, kong) are found."),
];

/// The files stepwise writes, for `stepwise(1)`.
const FILES: &[(&str, &str)] = &[
    (
        "<state dir>/sessions/ID/",
        "A session: its journal (session.json, steps.json), transcript and report; what stepwise resume continues.",
    ),
    ("<state dir>/logs/stepwise.log", "The log: warnings and errors always, more with -v."),
];

/// The page of `stepwise` on standard output, or with `out` every command's page written there.
pub fn man(out: Option<&Path>) -> Result<String, Failure> {
    let failed = |e: std::io::Error| Failure::one(exit::FAILURE, miette::miette!("cannot write the man pages: {e}"));
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = out else {
        return top_page(&cmd).map(|page| String::from_utf8_lossy(&page).into_owned()).map_err(failed);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::one(exit::FAILURE, miette::miette!("cannot create {}: {e}", dir.display())))?;
    let mut written = vec![write_page(dir, "stepwise.1", &top_page(&cmd).map_err(failed)?).map_err(failed)?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = clap_mangen::Man::new(sub.clone());
        let mut text = Vec::new();
        page.render(&mut text).map_err(failed)?;
        written.push(write_page(dir, &page.get_filename(), &text).map_err(failed)?);
    }
    let list: Vec<String> = written.iter().map(|p| format!("{}\n", p.display())).collect();
    Ok(list.concat())
}

fn write_page(dir: &Path, name: &str, text: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// `stepwise(1)`: clap's sections, then EXIT STATUS, ENVIRONMENT and FILES before the version.
fn top_page(cmd: &clap::Command) -> std::io::Result<Vec<u8>> {
    let page = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    page.render_title(&mut out)?;
    page.render_name_section(&mut out)?;
    page.render_synopsis_section(&mut out)?;
    page.render_description_section(&mut out)?;
    page.render_options_section(&mut out)?;
    page.render_subcommands_section(&mut out)?;
    let codes: Vec<(String, &str)> = exit::MEANINGS.iter().map(|(code, what)| (code.to_string(), *what)).collect();
    section(&mut out, "EXIT STATUS", codes.iter().map(|(c, w)| (c.as_str(), *w)))?;
    section(&mut out, "ENVIRONMENT", ENVIRONMENT.iter().copied())?;
    section(&mut out, "FILES", FILES.iter().copied())?;
    page.render_version_section(&mut out)?;
    Ok(out)
}

/// A section of tagged paragraphs.
fn section<'a>(out: &mut Vec<u8>, title: &str, items: impl Iterator<Item = (&'a str, &'a str)>) -> std::io::Result<()> {
    writeln!(out, ".SH \"{title}\"")?;
    for (tag, text) in items {
        writeln!(out, ".TP\n\\fB{}\\fR\n{}", escape(tag), escape(text))?;
    }
    Ok(())
}

/// Text safe in roff: backslashes and hyphens escaped, no line starting with a control character.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) { format!("\\&{escaped}") } else { escaped }
}

#[cfg(test)]
mod tests {
    #[test]
    fn roff_text_is_escaped() {
        assert_eq!(super::escape("--kubeconfig"), "\\-\\-kubeconfig");
        assert_eq!(super::escape(".hidden"), "\\&.hidden");
    }
}
