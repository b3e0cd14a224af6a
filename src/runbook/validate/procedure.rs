//! Checks of a procedure file against its product: templates name known
//! variables, step ids and conditions, and each step kind's own rules.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::argv::{check_flags, check_no_shell};
use super::product::{check_variables, known_variables};
use super::{action_count_problem, check_id, check_range, check_reach, check_unique, guessed};
use crate::runbook::arg::Arg;
use crate::runbook::catalog::ProcedureEntry;
use crate::runbook::error::{Problem, SourceFile};
use crate::runbook::model::{Action, Applies, Confirm, DeleteAction, FactValues, Product, Step};
use crate::runbook::suggest;
use crate::runbook::template::Template;

pub(super) fn check_templates<'a>(
    file: &Arc<SourceFile>,
    templates: impl IntoIterator<Item = &'a Template>,
    known: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) {
    for t in templates {
        for name in t.variables().filter(|n| !known.contains(*n)) {
            let msg = format!("`{{{{{name}}}}}` names a variable that is not declared");
            let help = match suggest::did_you_mean(name, known.iter().map(String::as_str)) {
                Some(guess) => guess,
                None => "declare it under `variables:` in the procedure or product file".to_string(),
            };
            problems.push(Problem::new(file, t.pos, msg).help(help));
        }
    }
}

pub(super) fn check_procedure(product: &Product, entry: &ProcedureEntry, problems: &mut Vec<Problem>) {
    let (p, file) = (&entry.procedure, &entry.file);
    check_id(file, &p.id, "procedure", problems);
    check_variables(file, &p.variables, problems);
    for v in &p.variables {
        if product.variables.iter().any(|pv| pv.name.value == v.name.value) {
            let msg = format!("variable `{}` is already declared by the product", v.name.value);
            problems.push(Problem::new(file, v.name.pos, msg));
        }
    }
    check_facts(file, product, &p.applies.when, problems);
    check_range(file, &p.applies.from, "`applies.from`", &product.releases, problems);
    check_range(file, &p.applies.to, "`applies.to`", &product.releases, problems);
    if p.steps.is_empty() {
        problems.push(Problem::new(file, p.id.pos, "the procedure has no steps"));
    }
    check_unique(file, p.steps.iter().map(|s| &s.id), "step id", problems);
    let known = known_variables(product, &p.variables);
    let mut backups_so_far: BTreeSet<&str> = BTreeSet::new();
    for step in &p.steps {
        check_id(file, &step.id, "step", problems);
        let actions = step.actions();
        if actions.len() != 1 {
            problems.push(action_count_problem(file, step, &actions));
            continue;
        }
        if step.destructive && !matches!(step.confirm, Some(Confirm::Typed(_))) {
            let msg = format!("step `{}` is destructive but is not confirmed with a typed word", step.id.value);
            problems.push(
                Problem::new(file, step.id.pos, msg).help("add `confirm: {typed: \"{{namespace}}\"}` or similar"),
            );
        }
        let mut step_known = known.clone();
        if let Some(list) = &step.for_each {
            if !known.contains(&list.value) {
                let msg = format!("`for_each` names `{}`, which is not a declared variable", list.value);
                let help =
                    guessed(&list.value, known.iter().map(String::as_str), "declare it under `variables:`".into());
                problems.push(Problem::new(file, list.pos, msg).help(help));
            }
            step_known.insert("item".into());
        }
        check_step_condition(file, product, step, problems);
        check_step_reachable(file, product, &p.applies, step, problems);
        check_templates(file, step.templates(), &step_known, problems);
        for argv in step.argvs() {
            check_no_shell(file, &step.id.value, argv, problems);
            check_flags(file, &step.id.value, argv, problems);
        }
        check_action(file, step, actions[0], &backups_so_far, problems);
        check_restore_condition(file, &p.steps, step, actions[0], problems);
        check_reach(file, step, actions[0], problems);
        if let Action::Backup(_) = actions[0] {
            backups_so_far.insert(&step.id.value);
        }
    }
}

/// Facts named in a `when` are declared, and the values given are theirs.
pub(super) fn check_facts(file: &Arc<SourceFile>, product: &Product, wanted: &FactValues, problems: &mut Vec<Problem>) {
    for (fact, values) in wanted {
        let Some(declared) = product.facts.iter().find(|f| f.name.value == fact.value) else {
            let names: Vec<_> = product.facts.iter().map(|f| f.name.value.as_str()).collect();
            let msg = format!("`when` names fact `{}`, which the product does not declare", fact.value);
            problems.push(Problem::new(file, fact.pos, msg).help(guessed(
                &fact.value,
                names.iter().copied(),
                format!("declared facts: {}", names.join(", ")),
            )));
            continue;
        };
        for v in values.iter().filter(|v| !declared.values.contains(&v.value)) {
            let msg = format!("`{}` is not a value of fact `{}`", v.value, fact.value);
            problems.push(Problem::new(file, v.pos, msg).help(guessed(
                &v.value,
                declared.values.iter().map(String::as_str),
                format!("values: {}", declared.values.join(", ")),
            )));
        }
    }
}

/// A step's `when`: its ranges match listed releases, its facts are declared.
pub(super) fn check_step_condition(
    file: &Arc<SourceFile>,
    product: &Product,
    step: &Step,
    problems: &mut Vec<Problem>,
) {
    let Some(when) = &step.when else { return };
    for (side, range) in [("from", &when.from), ("to", &when.to)] {
        if let Some(r) = range {
            let what = format!("`when.{side}` of step `{}`", step.id.value);
            check_range(file, r, &what, &product.releases, problems);
        }
    }
    check_facts(file, product, &when.facts, problems);
}

/// A step whose `when` no hop of its procedure can meet would never run: a
/// range that matches only releases outside the procedure's `applies`, or
/// facts the procedure's own `applies.when` rules out.
fn check_step_reachable(
    file: &Arc<SourceFile>,
    product: &Product,
    applies: &Applies,
    step: &Step,
    problems: &mut Vec<Problem>,
) {
    let Some(when) = &step.when else { return };
    let id = &step.id.value;
    for (side, range, bound) in [("from", &when.from, &applies.from), ("to", &when.to, &applies.to)] {
        let Some(range) = range else { continue };
        let releases = || product.releases.iter().filter(|v| range.matches(v));
        if releases().next().is_none() || releases().any(|v| bound.matches(v)) {
            continue; // matching no release at all is reported on its own
        }
        let msg = format!(
            "step `{id}` never runs: its `when.{side}` `{}` matches none of the releases `applies.{side}` `{}` allows",
            range.value, bound.value
        );
        problems.push(Problem::new(file, range.pos, msg).help("widen the step's range, or remove the step"));
    }
    for (fact, values) in &when.facts {
        let Some((_, allowed)) = applies.when.iter().find(|(name, _)| name.value == fact.value) else { continue };
        let declared = product.facts.iter().find(|f| f.name.value == fact.value).map(|f| &f.values);
        let misspelt = values.iter().any(|v| declared.is_none_or(|d| !d.contains(&v.value)));
        if misspelt || values.iter().any(|v| allowed.iter().any(|a| a.value == v.value)) {
            continue; // a value the product does not declare is reported on its own
        }
        let allowed: Vec<&str> = allowed.iter().map(|a| a.value.as_str()).collect();
        let msg = format!(
            "step `{id}` never runs: its `when` wants fact `{}` to be one of values the procedure does not apply to",
            fact.value
        );
        let help = format!("`applies.when` allows only: {}", allowed.join(", "));
        problems.push(Problem::new(file, fact.pos, msg).help(help));
    }
}

pub(super) fn check_action(
    file: &Arc<SourceFile>,
    step_def: &Step,
    action: Action<'_>,
    backups: &BTreeSet<&str>,
    problems: &mut Vec<Problem>,
) {
    let (step, at) = (step_def.id.value.as_str(), step_def.id.pos);
    let argv_problem = |argv: &[Arg], problems: &mut Vec<Problem>| match argv.first() {
        None => problems.push(Problem::new(file, at, format!("step `{step}` has an empty `argv`"))),
        Some(first) if argv.len() == 1 && first.raw().contains(' ') => {
            let msg =
                format!("`argv` of step `{step}` is one string with spaces; it would run as a single program name");
            problems.push(Problem::new(file, first.pos(), msg).help("split it into a list: [helm, uninstall, nsm]"));
        }
        Some(_) => {}
    };
    match action {
        Action::Command(c) => {
            argv_problem(&c.argv, problems);
            if let Some(dry) = &c.dry_run_argv {
                argv_problem(dry, problems);
            }
        }
        Action::Restore(r) if !backups.contains(r.from.value.as_str()) => {
            let msg = format!("restore step `{step}` names `{}`, which is not a backup step before it", r.from.value);
            let known: Vec<_> = backups.iter().copied().collect();
            let help = if known.is_empty() {
                "add a backup step earlier in the procedure".to_string()
            } else {
                guessed(&r.from.value, known.iter().copied(), format!("earlier backup steps: {}", known.join(", ")))
            };
            problems.push(Problem::new(file, r.from.pos, msg).help(help));
        }
        Action::Restore(r) if r.concurrency == Some(0) => {
            problems.push(Problem::new(
                file,
                r.from.pos,
                format!("restore step `{step}` has `concurrency: 0`; use 1 or more"),
            ));
        }
        Action::Delete(d) => check_delete(file, step_def, d, problems),
        Action::Backup(b) if b.resources.is_empty() => {
            problems.push(Problem::new(file, at, format!("backup step `{step}` lists no resources")));
        }
        Action::Backup(b) => {
            for r in b.resources.iter().filter(|r| r.variables().next().is_none() && !r.raw().contains('.')) {
                let msg = format!("`{}` is not written as `plural.group`", r.raw());
                problems.push(Problem::new(file, r.pos, msg).help("for example `trafficsplits.split.smi-spec.io`"));
            }
        }
        _ => {}
    }
}

/// A restore from a backup step that only some hops take must be limited to
/// those hops too: elsewhere there would be nothing to restore.
pub(super) fn check_restore_condition(
    file: &Arc<SourceFile>,
    steps: &[Step],
    step: &Step,
    action: Action<'_>,
    problems: &mut Vec<Problem>,
) {
    let Action::Restore(r) = action else { return };
    let Some(backup) = steps.iter().find(|s| s.id.value == r.from.value) else { return };
    if backup.when.is_none() || backup.when == step.when {
        return;
    }
    let msg = format!(
        "restore step `{}` restores from `{}`, which has a `when` this step does not share, \
         so on some hops there would be nothing to restore",
        step.id.value, r.from.value
    );
    problems.push(Problem::new(file, r.from.pos, msg).help(format!("give it the same `when` as `{}`", r.from.value)));
}

/// A delete is destructive and typed-confirmed, chooses its objects one way,
/// and names a resource as the API does.
pub(super) fn check_delete(file: &Arc<SourceFile>, step: &Step, d: &DeleteAction, problems: &mut Vec<Problem>) {
    let id = &step.id.value;
    if !step.destructive {
        let msg = format!("delete step `{id}` is not marked `destructive: true`");
        let help = "a delete removes what only a backup brings back: add `destructive: true` and `confirm: {typed: \"{{namespace}}\"}`";
        problems.push(Problem::new(file, step.id.pos, msg).help(help));
    }
    if d.names.is_empty() == d.selector.is_none() {
        let msg = format!("delete step `{id}` needs exactly one of `names` or `selector`");
        problems
            .push(Problem::new(file, d.resource.pos, msg).help("`names: [a, b]`, or `selector: app=acme-migrations`"));
    }
    let kind = d.resource.raw();
    if d.resource.variables().next().is_none() && kind.starts_with(|c: char| c.is_ascii_uppercase()) {
        let msg = format!("`{kind}` is a kind; `resource` is written as the API names it");
        let help = "use `plural.group`, such as `jobs.batch`, or a core plural, such as `configmaps`";
        problems.push(Problem::new(file, d.resource.pos, msg).help(help));
    }
}
