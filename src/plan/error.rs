//! Why a plan could not be made, each with what is possible instead.

use crate::runbook::version::VersionError;
use crate::runbook::{Facts, Version};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("unknown product `{name}`; known products: {}", known.join(", "))]
    UnknownProduct { name: String, known: Vec<String> },
    #[error("the installed version is needed: pass --from VERSION (or let stepwise detect it from the cluster)")]
    FromRequired,
    #[error(transparent)]
    BadVersion(VersionError),
    #[error("{product} has no release `{version}`; known releases: {}", known.join(", "))]
    UnknownVersion { product: String, version: String, known: Vec<String> },
    #[error("{to} is older than the installed {from}; stepwise does not downgrade")]
    Downgrade { from: Version, to: Version },
    #[error("{version} is already installed; nothing to do")]
    AlreadyThere { version: Version },
    #[error("no upgrade path from {from} to {to}: {explanation}")]
    NoPath { from: Version, to: Version, explanation: String },
    #[error("no procedure fits the hop {from} -> {to} for {}", describe_facts(facts))]
    NoProcedure { from: Version, to: Version, facts: Facts },
    #[error("procedure `{id}` does not fit the hop {from} -> {to}; {}", valid_list(valid))]
    ProcedureDoesNotFit { id: String, from: Version, to: Version, valid: Vec<String> },
}

fn describe_facts(facts: &Facts) -> String {
    if facts.is_empty() {
        return "this installation".into();
    }
    facts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

fn valid_list(valid: &[String]) -> String {
    if valid.is_empty() { "no procedure fits it".into() } else { format!("procedures that fit: {}", valid.join(", ")) }
}
