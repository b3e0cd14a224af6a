//! The step kinds: the one action key each step carries, and what it says.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;
use crate::runbook::arg::Arg;
use crate::runbook::duration::Timeout;
use crate::runbook::located::Located;
use crate::runbook::template::Template;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteAction {
    pub severity: Severity,
    pub text: Template,
}

/// A check that must pass before the procedure goes on.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckAction {
    /// These custom-resource kinds (`plural.group`) are served by the cluster.
    CrdsExist(Vec<Template>),
    /// A Deployment exists and is available.
    DeploymentAvailable(ObjectRef),
    /// A Deployment runs at least `min` replicas; otherwise warn (or fail).
    MinReplicas(MinReplicas),
    /// A command exits with status 0.
    CommandSucceeds(CommandSpec),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    pub namespace: Template,
    pub name: Template,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinReplicas {
    pub namespace: Template,
    pub name: Template,
    pub min: u32,
    /// Fail instead of warning when the count is lower.
    #[serde(default)]
    pub required: bool,
}

/// Saves custom resources to the session's backup folder.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupAction {
    /// Resource kinds as `plural.group`, e.g. `trafficsplits.split.smi-spec.io`.
    pub resources: Vec<Template>,
    /// Namespaces to back up; all namespaces when absent.
    pub namespaces: Option<Vec<Template>>,
}

/// A child process, from an argument vector (never a shell string).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The program and its arguments, one element per argument (see [`Arg`]).
    pub argv: Vec<Arg>,
    #[serde(default)]
    pub env: BTreeMap<String, Template>,
    pub timeout: Option<Timeout>,
    /// The command changes nothing: it only reads, or prints manifests for
    /// stepwise to apply. A rehearsal runs it; without this, a rehearsal shows
    /// it and runs nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandAction {
    /// The program and its arguments, one element per argument: a template, or
    /// `{flag, value}` passed as `FLAG=VALUE` and left out when the value is empty.
    pub argv: Vec<Arg>,
    /// The same command in a form that changes nothing; run in rehearsal. Without
    /// it, rehearsal shows the command but does not run it.
    pub dry_run_argv: Option<Vec<Arg>>,
    #[serde(default)]
    pub env: BTreeMap<String, Template>,
    pub timeout: Option<Timeout>,
    /// The command changes nothing (it only reads): a rehearsal runs it as it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// A command that exits 0 when this step's work is already done; offered when
    /// resuming after the step was cut short.
    pub verify: Option<CommandSpec>,
}

/// Server-side apply of manifests, from a file or from a command's standard output.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ApplyAction {
    /// A YAML file, relative to the runbook file's directory unless absolute.
    File(Template),
    /// A command that prints manifests (it must change nothing itself).
    Command(CommandSpec),
}

/// Re-creates what a backup step saved.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreAction {
    /// The id of the backup step to restore from.
    pub from: Located<String>,
    /// How many objects are created at once.
    pub concurrency: Option<usize>,
}

pub use crate::base::WorkloadKind;

/// Restarts workloads the way `kubectl rollout restart` does, then waits for them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutRestartAction {
    /// Namespaces to look in; all namespaces when absent.
    pub namespaces: Option<Vec<Template>>,
    /// A label selector the workloads must match.
    pub selector: Option<Template>,
    /// A pod-template annotation (`key` or `key=value`) the workloads must carry.
    pub annotation: Option<Template>,
    /// Workload kinds; all three when absent.
    pub kinds: Option<Vec<WorkloadKind>>,
    /// Also delete matching pods that no controller owns.
    #[serde(default)]
    pub delete_unowned_pods: bool,
    pub timeout: Option<Timeout>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitAction {
    #[serde(rename = "for")]
    pub condition: WaitFor,
    pub timeout: Option<Timeout>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WaitFor {
    /// An object no longer exists.
    Gone(GoneRef),
    /// A Deployment is available with all replicas updated.
    DeploymentAvailable(ObjectRef),
    /// A CustomResourceDefinition (`plural.group`) is Established.
    CrdEstablished(Template),
    /// A namespace has been deleted completely.
    NamespaceGone(Template),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoneRef {
    /// `plural.group` (or a core plural such as `pods`), e.g. `jobs.batch`.
    pub resource: Template,
    pub namespace: Option<Template>,
    pub name: Template,
}

/// Deletes objects through the API, by name or by label selector, and waits
/// until they are gone. A delete step is destructive: it needs
/// `destructive: true` and `confirm: {typed: ...}`. A rehearsal deletes as a
/// server-side dry run, which lists what would be deleted.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAction {
    /// `plural.group` (or a core plural such as `configmaps`), e.g. `jobs.batch`;
    /// a template.
    pub resource: Template,
    /// The objects' namespace (a template); for a namespaced kind without it,
    /// a selector looks in every namespace.
    pub namespace: Option<Template>,
    /// The objects' names (templates). Exactly one of `names` and `selector`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<Template>,
    /// A label selector (a template) such as `app=acme-migrations`.
    pub selector: Option<Template>,
    /// Wait until every deleted object is gone (finalizers done).
    #[serde(default = "yes")]
    pub wait: bool,
    pub timeout: Option<Timeout>,
}

fn yes() -> bool {
    true
}

/// Something only the operator can do; the run waits until they say it is done.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualAction {
    pub instructions: Template,
    pub verify: Option<CommandSpec>,
}

/// The keys of a step that name its action.
pub const ACTION_KEYS: [&str; 10] =
    ["note", "check", "backup", "command", "apply", "restore", "rollout_restart", "wait", "delete", "manual"];

/// A step's action, once the loader has checked that exactly one key is set.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Note(&'a NoteAction),
    Check(&'a CheckAction),
    Backup(&'a BackupAction),
    Command(&'a CommandAction),
    Apply(&'a ApplyAction),
    Restore(&'a RestoreAction),
    RolloutRestart(&'a RolloutRestartAction),
    Wait(&'a WaitAction),
    Delete(&'a DeleteAction),
    Manual(&'a ManualAction),
}

impl Action<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Note(_) => "note",
            Action::Check(_) => "check",
            Action::Backup(_) => "backup",
            Action::Command(_) => "command",
            Action::Apply(_) => "apply",
            Action::Restore(_) => "restore",
            Action::RolloutRestart(_) => "rollout_restart",
            Action::Wait(_) => "wait",
            Action::Delete(_) => "delete",
            Action::Manual(_) => "manual",
        }
    }
}

impl CommandSpec {
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.argv.iter().map(Arg::template).chain(self.env.values())
    }
}
