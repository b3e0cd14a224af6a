//! Shell completion. `stepwise completions SHELL` prints a script that asks
//! stepwise itself what to offer each time the operator presses Tab, so besides
//! commands and flags it completes product names, procedure ids and session ids
//! as they are at that moment. Products and procedures are the built-in
//! runbooks' (a `--runbooks` directory on the line being typed is not read);
//! sessions are those in `$STEPWISE_STATE_DIR`, else the default state folder.

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{CompleteEnv, Shells};

use super::args::Cli;
use crate::journal::{self, Journal};

/// The variable the completion scripts set when they call stepwise.
const COMPLETE_VAR: &str = "COMPLETE";

/// Answers a completion request and exits when the shell's script is asking
/// (it sets `COMPLETE`); otherwise returns and stepwise runs as usual.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(Cli::command).var(COMPLETE_VAR).complete();
}

/// The script that registers stepwise's completions with `shell`.
pub fn script(shell: clap_complete::Shell) -> String {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        return format!("# stepwise cannot complete in {name}\n");
    };
    let mut out = Vec::new();
    match completer.write_registration(COMPLETE_VAR, "stepwise", "stepwise", "stepwise", &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("# stepwise could not write the {name} completion script: {e}\n"),
    }
}

pub fn products() -> ArgValueCandidates {
    ArgValueCandidates::new(product_candidates)
}

pub fn procedures() -> ArgValueCandidates {
    ArgValueCandidates::new(procedure_candidates)
}

pub fn sessions() -> ArgValueCandidates {
    ArgValueCandidates::new(session_candidates)
}

fn product_candidates() -> Vec<CompletionCandidate> {
    let Ok(catalog) = crate::catalog_files::load(&[]) else { return Vec::new() };
    catalog
        .products
        .iter()
        .map(|p| CompletionCandidate::new(p.id()).help(Some(p.product.name.clone().into())))
        .collect()
}

/// Every product's procedure ids: a completer does not see the product typed
/// before it, so each says whose it is.
fn procedure_candidates() -> Vec<CompletionCandidate> {
    let Ok(catalog) = crate::catalog_files::load(&[]) else { return Vec::new() };
    catalog
        .products
        .iter()
        .flat_map(|p| {
            p.procedures.iter().map(move |proc| {
                let help = format!("{}: {}", p.id(), proc.procedure.title);
                CompletionCandidate::new(proc.id()).help(Some(help.into()))
            })
        })
        .collect()
}

/// Sessions newest first, each with what it upgrades and how it stands.
fn session_candidates() -> Vec<CompletionCandidate> {
    let state_dir = std::env::var_os("STEPWISE_STATE_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(journal::default_state_dir, std::path::PathBuf::from);
    let Ok(sessions) = Journal::list(&state_dir) else { return Vec::new() };
    sessions
        .into_iter()
        .map(|s| {
            let status = format!("{:?}", s.status).to_lowercase();
            let help = format!("{} {} → {}, {status}", s.product, s.from, s.to);
            CompletionCandidate::new(s.id).help(Some(help.into()))
        })
        .collect()
}
