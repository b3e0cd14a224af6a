//! Checks that need more than one field or more than one file: ids, references,
//! variables, facts, and whether the procedures of a product cover their cases
//! without two of them competing for the same hop.

mod argv;
mod coverage;
mod procedure;
mod product;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::catalog::{Catalog, ProcedureEntry, ProductEntry};
use super::error::{Problem, SourceFile};
use super::located::{Located, Pos};
use super::model::{Action, ApplyAction, Product, Step};
use super::suggest;
use super::version::{Version, VersionRange};

use argv::{APPLY_HELP, empty_action};
use coverage::check_coverage;
use procedure::check_procedure;
use product::check_product;

/// Joins products and procedures into a catalog, recording every problem found.
/// Procedures with errors are left out of the catalog but still reported; a
/// procedure with warnings only is kept.
/// Procedures of a product in `unreadable` (its file could not be read, which
/// is reported already) are left out without a word.
pub fn assemble(
    products: Vec<ProductEntry>,
    procedures: Vec<ProcedureEntry>,
    unreadable: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Catalog {
    let mut catalog = Catalog::default();
    for entry in products {
        check_product(&entry, problems);
        if let Some(first) = catalog.product(entry.id()) {
            let msg =
                format!("product `{}` is defined twice; the other definition is in {}", entry.id(), first.file.name);
            problems.push(Problem::new(&entry.file, entry.product.id.pos, msg));
            continue;
        }
        catalog.products.push(entry);
    }
    for product in &catalog.products {
        for included in &product.product.includes_notes_of {
            if catalog.product(included).is_none() {
                let msg = format!("`includes_notes_of` names `{included}`, which is not a known product");
                problems.push(Problem::new(&product.file, product.product.id.pos, msg));
            }
        }
        for base in &product.product.built_on {
            if !product.product.includes_notes_of.contains(&base.product.value) {
                let msg = format!("`built_on` names `{}`, which `includes_notes_of` does not list", base.product.value);
                problems.push(Problem::new(&product.file, base.product.pos, msg).help("add it to `includes_notes_of`"));
            }
        }
    }
    for entry in procedures {
        let Some(product) = catalog.products.iter_mut().find(|p| p.id() == entry.procedure.product.value) else {
            if unreadable.contains(&entry.dir) || unreadable.contains(&entry.procedure.product.value) {
                continue;
            }
            let known = catalog.product_ids().join(", ");
            let msg = format!("procedure names product `{}`, which has no product.yaml", entry.procedure.product.value);
            problems.push(Problem::new(&entry.file, entry.procedure.product.pos, msg).help(guessed(
                &entry.procedure.product.value,
                catalog.product_ids(),
                format!("known products: {known}"),
            )));
            continue;
        };
        let before = problems.len();
        check_procedure(&product.product, &entry, problems);
        if let Some(other) = product.procedure(entry.id()) {
            let msg = format!("procedure id `{}` is already used by {}", entry.id(), other.file.name);
            problems.push(Problem::new(&entry.file, entry.procedure.id.pos, msg));
        }
        // Warnings leave a procedure in; only errors keep it out.
        if problems[before..].iter().all(|p| p.warning) {
            product.procedures.push(entry);
        }
    }
    for product in &mut catalog.products {
        product.procedures.sort_by(|a, b| a.id().cmp(b.id()));
        check_coverage(product, problems);
        product::check_shadow(product, problems);
    }
    catalog.products.sort_by(|a, b| a.id().cmp(b.id()));
    catalog
}

fn is_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check_id(file: &Arc<SourceFile>, id: &Located<String>, what: &str, problems: &mut Vec<Problem>) {
    if !is_id(&id.value) {
        let msg = format!("{what} id `{}` is not valid", id.value);
        problems.push(
            Problem::new(file, id.pos, msg).help("use lowercase letters, digits and `-`, starting with a letter"),
        );
    }
}

/// Reports the second and later uses of each name.
fn check_unique<'a>(
    file: &Arc<SourceFile>,
    names: impl IntoIterator<Item = &'a Located<String>>,
    what: &str,
    problems: &mut Vec<Problem>,
) {
    let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
    for name in names {
        if let Some(first) = seen.get(name.value.as_str()) {
            let msg = format!("{what} `{}` is used twice; the first is on line {}", name.value, first.line);
            problems.push(Problem::new(file, name.pos, msg));
        } else {
            seen.insert(&name.value, name.pos);
        }
    }
}

/// The ranges of version notes and path rules.
fn check_product_ranges(file: &Arc<SourceFile>, p: &Product, problems: &mut Vec<Problem>) {
    let notes = p.notes.iter().map(|n| (format!("note `{}`", n.id.value), &n.from, &n.to));
    let rules = p.path.rules.iter().enumerate().map(|(i, r)| (format!("path rule {}", i + 1), &r.from, &r.to));
    for (what, from, to) in notes.chain(rules) {
        for (side, range) in [("from", from), ("to", to)] {
            if let Some(r) = range {
                check_range(file, r, &format!("`{side}` of {what}"), &p.releases, problems);
            }
        }
    }
    for (i, base) in p.built_on.iter().enumerate() {
        check_range(file, &base.versions, &format!("`versions` of `built_on` entry {}", i + 1), &p.releases, problems);
    }
}

/// A range that matches none of the product's releases can never apply.
fn check_range(
    file: &Arc<SourceFile>,
    range: &Located<VersionRange>,
    what: &str,
    releases: &[Version],
    problems: &mut Vec<Problem>,
) {
    let (Some(first), Some(last)) = (releases.first(), releases.last()) else { return };
    if releases.iter().any(|r| range.matches(r)) {
        return;
    }
    let msg =
        format!("{what} `{}` matches none of the product's releases, which go from {first} to {last}", range.value);
    let help = "change the range, or add the release to `releases` in product.yaml";
    problems.push(Problem::new(file, range.pos, msg).help(help));
}

/// `stepwise new-runbook` marks each guess it writes with `EDIT`; one left in a
/// file is a guess nobody has checked yet.
pub fn check_markers(file: &Arc<SourceFile>, problems: &mut Vec<Problem>) {
    for (i, line) in file.text.lines().enumerate() {
        let Some(column) = marker_column(line) else { continue };
        let pos = Pos { line: u32::try_from(i + 1).unwrap_or(0), column, offset: 0 };
        let msg = "`EDIT` marks a guess written by `stepwise new-runbook` that is still to be replaced";
        problems.push(Problem::new(file, pos, msg).help("write the real value, then remove the marker").warning());
    }
}

/// The 1-based character column of an `EDIT` that begins a value or a comment
/// (prose that mentions the marker is not one).
fn marker_column(line: &str) -> Option<u32> {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    line.match_indices("EDIT").find_map(|(at, _)| {
        let before = line[..at].trim_end().chars().next_back();
        let starts = before.is_none_or(|c| "#:-\"'>|".contains(c));
        let alone = starts && !word(line[at + 4..].chars().next());
        alone.then(|| u32::try_from(line[..at].chars().count() + 1).unwrap_or(0))
    })
}

/// `help`, after a did-you-mean when one of `candidates` is close to `written`.
fn guessed<'a>(written: &str, candidates: impl IntoIterator<Item = &'a str>, help: String) -> String {
    match suggest::did_you_mean(written, candidates) {
        Some(guess) => format!("{guess} {help}"),
        None => help,
    }
}

/// A step with no action, or with more than one.
fn action_count_problem(file: &Arc<SourceFile>, step: &Step, actions: &[Action<'_>]) -> Problem {
    let found: Vec<_> = actions.iter().map(Action::kind).collect();
    if found.is_empty()
        && let Some(problem) = empty_action(file, step)
    {
        return problem;
    }
    let msg = if found.is_empty() {
        format!("step `{}` has no action", step.id.value)
    } else {
        format!("step `{}` has {} actions ({}); a step does one thing", step.id.value, found.len(), found.join(", "))
    };
    let help =
        "give it exactly one of: note, check, backup, command, apply, restore, rollout_restart, wait, delete, manual";
    Problem::new(file, step.id.pos, msg).help(help)
}

/// An action must say what it acts on: an apply its manifests, a restart its
/// workloads (or it reaches every namespace).
fn check_reach(file: &Arc<SourceFile>, step_def: &Step, action: Action<'_>, problems: &mut Vec<Problem>) {
    let step = step_def.id.value.as_str();
    match action {
        Action::Apply(ApplyAction::File(f)) if f.raw().trim().is_empty() => {
            let msg = format!("apply step `{step}` names no file");
            problems.push(Problem::new(file, f.pos, msg).help(APPLY_HELP));
        }
        Action::RolloutRestart(r)
            if r.namespaces.as_ref().is_none_or(Vec::is_empty) && r.selector.is_none() && r.annotation.is_none() =>
        {
            let msg = format!(
                "rollout_restart step `{step}` names no namespaces, so the plan would restart every Deployment, \
                 StatefulSet and DaemonSet in all namespaces, kube-system included"
            );
            let help = "list them, such as `namespaces: [\"{{meshed_namespaces}}\"]`, or narrow it with `selector` or `annotation`";
            problems.push(Problem::new(file, step_def.id.pos, msg).help(help));
        }
        _ => {}
    }
}
