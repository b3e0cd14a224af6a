//! Plain-language lines saying exactly what a step will do, with the values known
//! so far filled in. Front ends show these before asking for confirmation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::runbook::arg::{Arg, render_args_partial};
use crate::runbook::model::{
    Action, ApplyAction, CheckAction, Confirm, DeleteAction, Step, StepCondition, WaitFor, WorkloadKind,
};
use crate::runbook::template::Template;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepSummary {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub explain: String,
    pub destructive: bool,
    /// `none`, `yes`, or `type "<word>"`.
    pub confirm: String,
    /// What the step will do, one action per line.
    pub does: Vec<String>,
    /// The list variable a step runs once per item of; the session has one
    /// step per item, so it counts more steps than the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
}

pub fn describe_step(step: &Step, values: &BTreeMap<String, String>) -> StepSummary {
    let r = |t: &Template| t.render_partial(values);
    let list = |ts: &[Template]| ts.iter().map(&r).collect::<Vec<_>>().join(", ");
    let namespaces = |ns: &Option<Vec<Template>>| match ns {
        None => "in all namespaces".to_string(),
        Some(ns) => format!("in namespaces {}", list(ns)),
    };
    let mut does = match step.action() {
        Action::Note(n) => vec![format!("show a {:?} note and wait for acknowledgement", n.severity).to_lowercase()],
        Action::Check(c) => vec![match c {
            CheckAction::CrdsExist(kinds) => format!("check these resource kinds are served: {}", list(kinds)),
            CheckAction::DeploymentAvailable(o) => {
                format!("check Deployment {}/{} is available", r(&o.namespace), r(&o.name))
            }
            CheckAction::MinReplicas(m) => format!(
                "check Deployment {}/{} runs at least {} replicas ({} otherwise)",
                r(&m.namespace),
                r(&m.name),
                m.min,
                if m.required { "stop" } else { "warn" }
            ),
            CheckAction::CommandSucceeds(c) => {
                format!("run `{}` and expect exit status 0{}", display_argv(&c.argv, values), in_rehearsal(c.read_only))
            }
        }],
        Action::Backup(b) => b
            .resources
            .iter()
            .map(|kind| {
                format!("list {} {} and save them to the session's backup folder", r(kind), namespaces(&b.namespaces))
            })
            .collect(),
        Action::Command(c) => {
            let mut lines = vec![format!("run `{}`", display_argv(&c.argv, values))];
            match &c.dry_run_argv {
                Some(dry) => lines.push(format!("in rehearsal run `{}` instead", display_argv(dry, values))),
                None if c.read_only => lines.push("in rehearsal: runs as it is (it is read-only)".into()),
                None => lines.push("in rehearsal: shown, not run (it has no dry-run form)".into()),
            }
            lines
        }
        Action::Apply(ApplyAction::File(f)) => vec![format!("server-side apply the manifests in {}", r(f))],
        Action::Apply(ApplyAction::Command(c)) => {
            vec![format!(
                "run `{}` and server-side apply the manifests it prints{}",
                display_argv(&c.argv, values),
                in_rehearsal(c.read_only)
            )]
        }
        Action::Restore(rs) => vec![format!(
            "re-create every object saved by step `{}`{}",
            rs.from.value,
            rs.concurrency.map(|c| format!(", {c} at a time")).unwrap_or_default()
        )],
        Action::RolloutRestart(rr) => {
            let kinds = rr
                .kinds
                .clone()
                .unwrap_or_else(|| vec![WorkloadKind::Deployment, WorkloadKind::StatefulSet, WorkloadKind::DaemonSet]);
            let kinds: Vec<String> = kinds.iter().map(|k| format!("{k:?}s")).collect();
            let mut filter = Vec::new();
            if let Some(sel) = &rr.selector {
                filter.push(format!("labelled {}", r(sel)));
            }
            if let Some(a) = &rr.annotation {
                filter.push(format!("whose pods carry annotation {}", r(a)));
            }
            let mut lines = vec![format!(
                "restart {} {}{} and wait for each rollout",
                kinds.join(", "),
                namespaces(&rr.namespaces),
                if filter.is_empty() { String::new() } else { format!(" {}", filter.join(" and ")) }
            )];
            if rr.delete_unowned_pods {
                lines.push("delete matching pods that no controller owns".into());
            }
            lines
        }
        Action::Wait(w) => vec![match &w.condition {
            WaitFor::Gone(g) => format!(
                "wait until {} {}{} is gone",
                r(&g.resource),
                g.namespace.as_ref().map(|n| format!("{}/", r(n))).unwrap_or_default(),
                r(&g.name)
            ),
            WaitFor::DeploymentAvailable(o) => {
                format!("wait until Deployment {}/{} is available", r(&o.namespace), r(&o.name))
            }
            WaitFor::CrdEstablished(t) => format!("wait until CRD {} is established", r(t)),
            WaitFor::NamespaceGone(t) => format!("wait until namespace {} is deleted", r(t)),
        }],
        Action::Delete(d) => describe_delete(d, values),
        Action::Manual(m) => vec![format!("you do: {}", r(&m.instructions).trim())],
    };
    if let Some(ctx) = &step.context {
        does.push(format!("on kube context {}", r(ctx)));
    }
    if let Some(list) = &step.for_each {
        does.push(format!("once for each item of {{{{{}}}}}", list.value));
    }
    does.extend(step.when.as_ref().map(describe_condition));
    StepSummary {
        id: step.id.value.clone(),
        title: r(&step.title),
        kind: step.action().kind().to_string(),
        explain: r(&step.explain).trim().to_string(),
        destructive: step.destructive,
        confirm: match step.confirmation() {
            Confirm::None => "none".into(),
            Confirm::Yes => "yes".into(),
            Confirm::Typed(word) => format!("type \"{}\"", r(&word)),
        },
        does,
        for_each: step.for_each.as_ref().map(|l| l.value.clone()),
    }
}

/// What a delete step removes, and what a rehearsal does instead.
fn describe_delete(d: &DeleteAction, values: &BTreeMap<String, String>) -> Vec<String> {
    let r = |t: &Template| t.render_partial(values);
    let at = d.namespace.as_ref().map(|n| format!(" in namespace {}", r(n))).unwrap_or_default();
    let which = match &d.selector {
        Some(sel) => format!("every {} labelled {}{at}", r(&d.resource), r(sel)),
        None => format!("{} {}{at}", r(&d.resource), d.names.iter().map(r).collect::<Vec<_>>().join(", ")),
    };
    let wait = if d.wait { " and wait until they are gone" } else { "" };
    vec![
        format!("delete {which} through the API{wait}"),
        "in rehearsal: a server-side dry-run delete that lists what would be deleted".into(),
    ]
}

/// A step's `when`, as the line that says which hops take the step.
fn describe_condition(when: &StepCondition) -> String {
    let mut parts = Vec::new();
    parts.extend(when.from.as_ref().map(|r| format!("from {}", r.value)));
    parts.extend(when.to.as_ref().map(|r| format!("to {}", r.value)));
    let facts = when.facts.iter().map(|(fact, values)| {
        let values: Vec<&str> = values.iter().map(|v| v.value.as_str()).collect();
        format!("{}={}", fact.value, values.join("|"))
    });
    let facts: Vec<String> = facts.collect();
    if !facts.is_empty() {
        parts.push(format!("where {}", facts.join(", ")));
    }
    format!("only on hops {}", parts.join(", "))
}

/// `1 step`, `3 steps`: a count with its noun, for lines people read.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// An argument vector shown the way a shell user would read it; for display only,
/// never executed.
pub fn display_argv(argv: &[Arg], values: &BTreeMap<String, String>) -> String {
    render_args_partial(argv, values).iter().map(|a| quote_for_display(a)).collect::<Vec<_>>().join(" ")
}

fn quote_for_display(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:{}@,+%".contains(c));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', "'\\''")) }
}

/// What a rehearsal does with a check's or an apply's command.
fn in_rehearsal(read_only: bool) -> &'static str {
    if read_only { "" } else { " (in rehearsal: shown, not run; it is not declared read-only)" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_with_spaces_or_quotes_are_quoted_for_display() {
        let argv: Vec<Arg> = ["helm", "install", "{{r}}"].iter().map(|s| Template::parse(s).unwrap().into()).collect();
        let values = BTreeMap::from([("r".to_string(), "it's a b".to_string())]);
        assert_eq!(display_argv(&argv, &values), "helm install 'it'\\''s a b'");
    }

    #[test]
    fn a_flag_element_shows_as_one_argument_or_not_at_all() {
        let flag = |value: &str| {
            let flag = crate::runbook::located::Located::new("--values".to_string());
            Arg::Flag(crate::runbook::arg::FlagArg { flag, value: Template::parse(value).unwrap() })
        };
        let argv = vec![Template::parse("acmectl").unwrap().into(), flag("{{file}}")];
        let with = |v: &str| BTreeMap::from([("file".to_string(), v.to_string())]);
        assert_eq!(display_argv(&argv, &with("a b.yaml")), "acmectl '--values=a b.yaml'");
        assert_eq!(display_argv(&argv, &with("")), "acmectl");
        assert_eq!(display_argv(&argv, &BTreeMap::new()), "acmectl --values={{file}}");
    }
}
