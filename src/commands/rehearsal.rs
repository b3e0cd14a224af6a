//! The rehearsal rule: in rehearsal a command runs only in the dry-run form its
//! runbook declares, or as it is when the runbook declares it read-only; else
//! it is shown, not run. Outside rehearsal the real command runs.

/// What to do with a command step's argv (templates or rendered strings alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned<T> {
    /// Run this argument vector.
    Run(T),
    /// Show this argument vector to the operator; do not run anything.
    ShowOnly(T),
}

pub fn plan_for_mode<T>(argv: T, dry_run_argv: Option<T>, read_only: bool, rehearsal: bool) -> Planned<T> {
    match (rehearsal, dry_run_argv) {
        (false, _) => Planned::Run(argv),
        (true, Some(dry_run)) => Planned::Run(dry_run),
        (true, None) if read_only => Planned::Run(argv),
        (true, None) => Planned::ShowOnly(argv),
    }
}

impl<T> Planned<T> {
    pub fn argv(&self) -> &T {
        match self {
            Planned::Run(argv) | Planned::ShowOnly(argv) => argv,
        }
    }

    pub fn runs(&self) -> bool {
        matches!(self, Planned::Run(_))
    }

    /// Keeps the decision while turning the argv into something else, such as
    /// rendering templates into strings.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Planned<U>, E> {
        Ok(match self {
            Planned::Run(argv) => Planned::Run(f(argv)?),
            Planned::ShowOnly(argv) => Planned::ShowOnly(f(argv)?),
        })
    }
}
