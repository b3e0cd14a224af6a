//! The procedure file: when it fits a hop, and its steps with their
//! conditions and confirmations.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;
use crate::runbook::arg::Arg;
use crate::runbook::located::Located;
use crate::runbook::template::Template;
use crate::runbook::version::{Version, VersionRange};

/// A procedure file: how to perform one kind of hop.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    pub id: Located<String>,
    /// The product id this procedure belongs to.
    pub product: Located<String>,
    pub title: String,
    pub description: String,
    /// How much the procedure disturbs the running system; when several procedures
    /// fit a hop the planner picks the least disruptive.
    pub disruption: Disruption,
    pub applies: Applies,
    #[serde(default)]
    pub variables: Vec<Variable>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disruption {
    Low,
    Medium,
    High,
}

/// When a procedure fits a hop.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Applies {
    pub from: Located<VersionRange>,
    pub to: Located<VersionRange>,
    /// Only when `from` is the release immediately before `to`: on the minor line
    /// right before `to`'s in the product's list (any patch of it), or an earlier
    /// patch of `to`'s own line.
    #[serde(default)]
    pub previous_release_only: bool,
    /// Facts the installation must have: fact name to the values that fit.
    #[serde(default)]
    pub when: FactValues,
}

/// When a step belongs to a hop: the hop's versions and the installation's
/// facts. A step whose condition does not hold is left out of that hop's plan,
/// and so out of its rehearsal and run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepCondition {
    /// Versions the hop starts from (any when absent).
    pub from: Option<Located<VersionRange>>,
    /// Versions the hop goes to (any when absent).
    pub to: Option<Located<VersionRange>>,
    /// Facts the installation must have: fact name to the values that fit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: FactValues,
}

impl StepCondition {
    pub fn holds(&self, from: &Version, to: &Version, facts: &BTreeMap<String, String>) -> bool {
        self.from.as_ref().is_none_or(|r| r.matches(from))
            && self.to.as_ref().is_none_or(|r| r.matches(to))
            && facts_fit(&self.facts, facts, false)
    }
}

/// One step of a procedure. Exactly one action key (`note`, `check`, `backup`,
/// `command`, `apply`, `restore`, `rollout_restart`, `wait`, `delete`, `manual`) is set.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: Located<String>,
    /// A template: shown with the session's values (`Restart {{meshed_namespaces}}`).
    pub title: Template,
    /// What the step does and why, in the operator's terms. A template, shown
    /// with the session's values.
    pub explain: Template,
    /// Whether the step removes or replaces something that only a backup can bring back.
    #[serde(default)]
    pub destructive: bool,
    /// How the operator confirms the step; see [`Step::confirmation`] for the default.
    pub confirm: Option<Confirm>,
    /// Whether the operator may skip the step.
    #[serde(default)]
    pub skippable: bool,
    /// The kube context to act on, usually a variable (for procedures spanning clusters).
    pub context: Option<Template>,
    /// Repeat the step for each comma-separated item of this variable, with the
    /// item available as `{{item}}` (for example once per zone cluster).
    pub for_each: Option<Located<String>>,
    /// Only for some hops or installations: a step whose condition does not
    /// hold is not part of the hop's plan.
    pub when: Option<StepCondition>,
    pub note: Option<NoteAction>,
    pub check: Option<CheckAction>,
    pub backup: Option<BackupAction>,
    pub command: Option<CommandAction>,
    pub apply: Option<ApplyAction>,
    pub restore: Option<RestoreAction>,
    pub rollout_restart: Option<RolloutRestartAction>,
    pub wait: Option<WaitAction>,
    pub delete: Option<DeleteAction>,
    pub manual: Option<ManualAction>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Confirm {
    /// Runs without asking.
    None,
    /// Asks yes or no.
    Yes,
    /// The operator types this word (a template, such as the namespace).
    Typed(Template),
}

impl Step {
    /// Every action key that is set, so the loader can insist on exactly one.
    pub fn actions(&self) -> Vec<Action<'_>> {
        let candidates = [
            self.note.as_ref().map(Action::Note),
            self.check.as_ref().map(Action::Check),
            self.backup.as_ref().map(Action::Backup),
            self.command.as_ref().map(Action::Command),
            self.apply.as_ref().map(Action::Apply),
            self.restore.as_ref().map(Action::Restore),
            self.rollout_restart.as_ref().map(Action::RolloutRestart),
            self.wait.as_ref().map(Action::Wait),
            self.delete.as_ref().map(Action::Delete),
            self.manual.as_ref().map(Action::Manual),
        ];
        candidates.into_iter().flatten().collect()
    }

    /// The step's action. Steps in a loaded catalog always have exactly one.
    #[expect(clippy::expect_used, reason = "validation refuses a step without exactly one action before any is built")]
    pub fn action(&self) -> Action<'_> {
        self.actions().into_iter().next().expect("the loader guarantees every step has one action")
    }

    /// How the step is confirmed: as written, or by default `none` for steps that
    /// only read or inform, and `yes` for the rest.
    pub fn confirmation(&self) -> Confirm {
        if let Some(c) = &self.confirm {
            return c.clone();
        }
        match self.action() {
            Action::Note(n) if n.severity == Severity::Info => Confirm::None,
            Action::Check(_) | Action::Backup(_) | Action::Wait(_) => Confirm::None,
            _ => Confirm::Yes,
        }
    }

    /// Every template the step uses, for checking that variables are defined.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out: Vec<&Template> = vec![&self.title, &self.explain];
        out.extend(self.context.iter());
        if let Some(Confirm::Typed(t)) = &self.confirm {
            out.push(t);
        }
        match self.actions().first() {
            None => {}
            Some(Action::Note(n)) => out.push(&n.text),
            Some(Action::Check(c)) => match c {
                CheckAction::CrdsExist(v) => out.extend(v),
                CheckAction::DeploymentAvailable(o) => out.extend([&o.namespace, &o.name]),
                CheckAction::MinReplicas(m) => out.extend([&m.namespace, &m.name]),
                CheckAction::CommandSucceeds(c) => out.extend(c.templates()),
            },
            Some(Action::Backup(b)) => {
                out.extend(&b.resources);
                out.extend(b.namespaces.iter().flatten());
            }
            Some(Action::Command(c)) => {
                out.extend(c.argv.iter().map(Arg::template));
                out.extend(c.dry_run_argv.iter().flatten().map(Arg::template));
                out.extend(c.env.values());
                out.extend(c.verify.iter().flat_map(CommandSpec::templates));
            }
            Some(Action::Apply(ApplyAction::File(f))) => out.push(f),
            Some(Action::Apply(ApplyAction::Command(c))) => out.extend(c.templates()),
            Some(Action::Restore(_)) => {}
            Some(Action::RolloutRestart(r)) => {
                out.extend(r.namespaces.iter().flatten());
                out.extend(r.selector.iter().chain(r.annotation.iter()));
            }
            Some(Action::Wait(w)) => match &w.condition {
                WaitFor::Gone(g) => out.extend([&g.resource, &g.name].into_iter().chain(g.namespace.iter())),
                WaitFor::DeploymentAvailable(o) => out.extend([&o.namespace, &o.name]),
                WaitFor::CrdEstablished(t) | WaitFor::NamespaceGone(t) => out.push(t),
            },
            Some(Action::Delete(d)) => {
                out.push(&d.resource);
                out.extend(d.namespace.iter().chain(&d.names).chain(d.selector.iter()));
            }
            Some(Action::Manual(m)) => {
                out.push(&m.instructions);
                out.extend(m.verify.iter().flat_map(CommandSpec::templates));
            }
        }
        out
    }
}

impl Step {
    /// Whether the step belongs to a hop from `from` to `to` with these facts.
    pub fn applies_to(&self, from: &Version, to: &Version, facts: &BTreeMap<String, String>) -> bool {
        self.when.as_ref().is_none_or(|c| c.holds(from, to, facts))
    }

    /// Every argument vector the step runs, its checks and verifications included.
    pub fn argvs(&self) -> Vec<&[Arg]> {
        let specs: Vec<&CommandSpec> = match self.actions().first() {
            Some(Action::Check(CheckAction::CommandSucceeds(c))) => vec![c],
            Some(Action::Command(c)) => {
                let mut out: Vec<&[Arg]> = vec![&c.argv];
                out.extend(c.dry_run_argv.as_deref());
                out.extend(c.verify.iter().map(|v| v.argv.as_slice()));
                return out;
            }
            Some(Action::Apply(ApplyAction::Command(c))) => vec![c],
            Some(Action::Manual(m)) => m.verify.iter().collect(),
            _ => Vec::new(),
        };
        specs.into_iter().map(|c| c.argv.as_slice()).collect()
    }
}
