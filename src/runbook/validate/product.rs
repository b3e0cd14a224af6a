//! Checks of a product file on its own: its id, variables and their discovery,
//! and the release values its procedures and facts may name.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::procedure::{check_facts, check_templates};
use super::{check_id, check_product_ranges, check_unique};
use crate::runbook::catalog::{BUILTIN_VARIABLES, ProductEntry};
use crate::runbook::error::{Problem, SourceFile};
use crate::runbook::model::{PRIMARY_VALUES, Product, Variable};

pub(super) fn check_product(entry: &ProductEntry, problems: &mut Vec<Problem>) {
    let (p, file) = (&entry.product, &entry.file);
    check_id(file, &p.id, "product", problems);
    if p.id.value != entry.dir {
        let msg = format!("product id `{}` differs from its directory `{}`", p.id.value, entry.dir);
        problems.push(Problem::new(file, p.id.pos, msg).help("the directory name is the product id"));
    }
    if p.releases.is_empty() {
        problems.push(
            Problem::new(file, p.id.pos, "`releases` is empty").help("list the product's known releases, oldest first"),
        );
    }
    if let Some(w) = p.releases.windows(2).find(|w| w[0] >= w[1]) {
        let msg = format!("`releases` must be in ascending order without repeats, but {} comes before {}", w[0], w[1]);
        problems.push(Problem::new(file, p.id.pos, msg));
    }
    let prefix = p.version_prefix.as_deref().unwrap_or_default();
    for release in p.releases.iter().filter(|r| r.label() != prefix) {
        let msg = format!("release `{release}` is not written the way this product writes versions");
        let help = match prefix {
            "" => "write releases as plain numbers, or declare the label with `version_prefix`".to_string(),
            _ => format!("`version_prefix` is `{prefix}`: write it as `{prefix}{}`", release.number()),
        };
        problems.push(Problem::new(file, p.id.pos, msg).help(help));
    }
    if p.path.rules.is_empty() {
        problems.push(Problem::new(file, p.id.pos, "`path.rules` is empty, so no upgrade is possible"));
    }
    check_unique(file, p.facts.iter().map(|f| &f.name), "fact", problems);
    for fact in &p.facts {
        if !fact.values.contains(&fact.default.value) {
            let msg =
                format!("default `{}` of fact `{}` is not one of its values", fact.default.value, fact.name.value);
            problems
                .push(Problem::new(file, fact.default.pos, msg).help(format!("values: {}", fact.values.join(", "))));
        }
        if let Some(d) = fact.detect.as_ref().filter(|d| !fact.values.contains(&d.value)) {
            let msg = format!("detect value `{}` of fact `{}` is not one of its values", d.value, fact.name.value);
            problems.push(Problem::new(file, fact.name.pos, msg).help(format!("values: {}", fact.values.join(", "))));
        }
    }
    check_release_values(file, p, problems);
    check_unique(file, p.notes.iter().map(|n| &n.id), "note id", problems);
    for note in &p.notes {
        check_facts(file, p, &note.when, problems);
    }
    check_product_ranges(file, p, problems);
    check_variables(file, &p.variables, problems);
    let known = known_variables(p, &[]);
    for detect in &p.detect {
        let set = usize::from(detect.deployment_image.is_some()) + usize::from(detect.helm_release.is_some());
        if set != 1 {
            let msg = "each `detect` entry needs exactly one of `deployment_image` or `helm_release`";
            problems.push(Problem::new(file, p.id.pos, msg));
        }
        for (fact, value) in &detect.sets {
            if !p.facts.iter().any(|f| &f.name.value == fact && f.values.contains(value)) {
                let msg = format!(
                    "`detect.sets` gives fact `{fact}` the value `{value}`, which the product does not declare"
                );
                problems.push(Problem::new(file, p.id.pos, msg));
            }
        }
        check_templates(file, detect.templates(), &known, problems);
    }
}

/// A shadow recipe is keyed by a value of the `install_method` fact (or
/// `default` without that fact), and its templates name variables the product
/// or one of its procedures declares (so it runs once its procedures are in).
pub(super) fn check_shadow(entry: &ProductEntry, problems: &mut Vec<Problem>) {
    let (p, file) = (&entry.product, &entry.file);
    let methods: Vec<String> = p
        .facts
        .iter()
        .find(|f| f.name.value == "install_method")
        .map_or_else(|| vec!["default".to_string()], |f| f.values.clone());
    let own: Vec<Variable> = entry.procedures.iter().flat_map(|e| e.procedure.variables.iter().cloned()).collect();
    for (method, recipe) in &p.shadow {
        let mut known = known_variables(p, &own);
        if let Some(h) = &recipe.helm_values {
            known.insert(PRIMARY_VALUES.to_string());
            check_templates(file, [&h.namespace, &h.release], &known, problems);
        }
        if !methods.contains(method) {
            let msg = format!("`shadow` has a recipe for `{method}`, which is not an install method of this product");
            problems.push(Problem::new(file, p.id.pos, msg).help(format!("install methods: {}", methods.join(", "))));
        }
        let templates = recipe.install.templates().chain(recipe.remove.templates()).chain(recipe.workloads.iter());
        check_templates(file, templates, &known, problems);
    }
}

pub(super) fn check_variables(file: &Arc<SourceFile>, vars: &[Variable], problems: &mut Vec<Problem>) {
    check_unique(file, vars.iter().map(|v| &v.name), "variable", problems);
    for v in vars {
        if !crate::runbook::template::is_variable_name(&v.name.value) {
            problems.push(Problem::new(file, v.name.pos, format!("`{}` is not a valid variable name", v.name.value)));
        }
        if BUILTIN_VARIABLES.iter().any(|(b, _)| *b == v.name.value) {
            let msg = format!("`{}` is a built-in variable and cannot be redeclared", v.name.value);
            problems.push(Problem::new(file, v.name.pos, msg));
        }
        let pattern = match &v.pattern {
            Some(p) => match regex::Regex::new(&format!("^(?:{})$", p.value)) {
                Ok(re) => Some(re),
                Err(e) => {
                    problems.push(Problem::new(
                        file,
                        p.pos,
                        format!("`pattern` is not a valid regular expression: {e}"),
                    ));
                    None
                }
            },
            None => None,
        };
        if let Some(discover) = &v.discover {
            check_discover(file, v, discover, problems);
        }
        let Some(default) = &v.default else { continue };
        if default.variables().next().is_some() {
            continue;
        }
        // A value may be empty only where a pattern says so; an empty default
        // without one would be refused at every run.
        if default.raw().is_empty() && pattern.is_none() && v.choices.is_empty() {
            let msg = format!(
                "default of `{}` is empty, but a variable without a `pattern` cannot be empty; add a pattern \
                 that accepts an empty value, such as \"([a-z0-9.-]+)?\"",
                v.name.value
            );
            problems.push(Problem::new(file, default.pos, msg));
        }
        if pattern.as_ref().is_some_and(|re| !re.is_match(default.raw())) {
            let msg = format!("default `{}` of `{}` does not match its own pattern", default.raw(), v.name.value);
            problems.push(Problem::new(file, default.pos, msg));
        }
        if !v.choices.is_empty() && !v.choices.iter().any(|c| c == default.raw()) {
            let msg = format!("default `{}` of `{}` is not one of its choices", default.raw(), v.name.value);
            problems.push(Problem::new(file, default.pos, msg));
        }
    }
}

/// A discovered default comes from one place, and a ConfigMap field's pointer
/// and capture can be used.
pub(super) fn check_discover(
    file: &Arc<SourceFile>,
    v: &Variable,
    d: &crate::runbook::model::Discover,
    problems: &mut Vec<Problem>,
) {
    let pos = v.name.pos;
    let set = [d.namespaces_running.is_some(), d.config_map.is_some(), d.helm_chart_version.is_some()];
    if set.iter().filter(|s| **s).count() != 1 {
        let msg = format!(
            "`discover` of `{}` must have exactly one of `namespaces_running`, `config_map`, `helm_chart_version`",
            v.name.value
        );
        problems.push(Problem::new(file, pos, msg));
    }
    let Some(field) = &d.config_map else { return };
    if !field.pointer.is_empty() && !field.pointer.starts_with('/') {
        let msg = format!("`discover.config_map.pointer` of `{}` must start with `/` (a JSON Pointer)", v.name.value);
        problems.push(Problem::new(file, pos, msg).help("for example `/mtls/mode`"));
    }
    if let Some(Err(e)) = field.capture.as_deref().map(regex::Regex::new) {
        let msg = format!("`discover.config_map.capture` of `{}` is not a valid regular expression: {e}", v.name.value);
        problems.push(Problem::new(file, pos, msg));
    }
}

pub(super) fn known_variables(product: &Product, own: &[Variable]) -> BTreeSet<String> {
    BUILTIN_VARIABLES
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(product.facts.iter().map(|f| f.name.value.clone()))
        .chain(product.variables.iter().chain(own).map(|v| v.name.value.clone()))
        .chain(product.release_values.values().flat_map(|values| values.keys().cloned()))
        .collect()
}

/// Release values name a listed release, and no variable or fact of the same
/// name (which one would a template mean?).
pub(super) fn check_release_values(file: &Arc<SourceFile>, p: &Product, problems: &mut Vec<Problem>) {
    let declared: BTreeSet<&str> = p
        .variables
        .iter()
        .map(|v| v.name.value.as_str())
        .chain(p.facts.iter().map(|f| f.name.value.as_str()))
        .collect();
    for (release, values) in &p.release_values {
        let listed = super::Version::parse(release).ok().is_some_and(|v| p.releases.contains(&v));
        if !listed {
            let msg = format!("`release_values` names `{release}`, which is not one of the product's releases");
            problems.push(Problem::new(file, p.id.pos, msg));
        }
        for name in values.keys().filter(|n| declared.contains(n.as_str())) {
            let msg = format!("release value `{name}` has the name of a variable or fact");
            problems.push(Problem::new(file, p.id.pos, msg).help("rename one of them"));
        }
    }
}
