//! Checks that need more than one field or more than one file: ids, references,
//! variables, facts, and whether the procedures of a product cover their cases
//! without two of them competing for the same hop.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::arg::Arg;
use super::catalog::{BUILTIN_VARIABLES, Catalog, ProcedureEntry, ProductEntry};
use super::error::{Problem, SourceFile};
use super::hints;
use super::located::{Located, Pos};
use super::model::{ACTION_KEYS, Action, ApplyAction, Confirm, DeleteAction, FactValues, Product, Step, Variable};
use super::suggest;
use super::template::Template;
use super::version::{Version, VersionRange};

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

fn check_product(entry: &ProductEntry, problems: &mut Vec<Problem>) {
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

fn check_variables(file: &Arc<SourceFile>, vars: &[Variable], problems: &mut Vec<Problem>) {
    check_unique(file, vars.iter().map(|v| &v.name), "variable", problems);
    for v in vars {
        if !super::template::is_variable_name(&v.name.value) {
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
fn check_discover(file: &Arc<SourceFile>, v: &Variable, d: &super::model::Discover, problems: &mut Vec<Problem>) {
    let pos = v.name.pos;
    if d.namespaces_running.is_some() == d.config_map.is_some() {
        let msg =
            format!("`discover` of `{}` must have exactly one of `namespaces_running`, `config_map`", v.name.value);
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

fn known_variables(product: &Product, own: &[Variable]) -> BTreeSet<String> {
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
fn check_release_values(file: &Arc<SourceFile>, p: &Product, problems: &mut Vec<Problem>) {
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

fn check_templates<'a>(
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

fn check_procedure(product: &Product, entry: &ProcedureEntry, problems: &mut Vec<Problem>) {
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
fn check_facts(file: &Arc<SourceFile>, product: &Product, wanted: &FactValues, problems: &mut Vec<Problem>) {
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
fn check_step_condition(file: &Arc<SourceFile>, product: &Product, step: &Step, problems: &mut Vec<Problem>) {
    let Some(when) = &step.when else { return };
    for (side, range) in [("from", &when.from), ("to", &when.to)] {
        if let Some(r) = range {
            let what = format!("`when.{side}` of step `{}`", step.id.value);
            check_range(file, r, &what, &product.releases, problems);
        }
    }
    check_facts(file, product, &when.facts, problems);
}

fn check_action(
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
fn check_restore_condition(
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
fn check_delete(file: &Arc<SourceFile>, step: &Step, d: &DeleteAction, problems: &mut Vec<Problem>) {
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

/// Every procedure must fit at least one hop the policy allows, and no two
/// procedures of the same disruption may fit the same hop and facts.
fn check_coverage(product: &ProductEntry, problems: &mut Vec<Problem>) {
    let releases = &product.product.releases;
    let combos = product.fact_combinations();
    let mut used = BTreeSet::new();
    let mut reported = BTreeSet::new();
    for (i, from) in releases.iter().enumerate() {
        for to in &releases[i + 1..] {
            if product.hop_rule(from, to).is_none() {
                continue;
            }
            for facts in &combos {
                let fitting = product.fitting(from, to, facts);
                used.extend(fitting.iter().map(|p| p.id()));
                for (a, b) in fitting
                    .iter()
                    .zip(fitting.iter().skip(1))
                    .filter(|(a, b)| a.procedure.disruption == b.procedure.disruption)
                {
                    if reported.insert((a.id(), b.id())) {
                        for (this, other) in [(a, b), (b, a)] {
                            let msg = format!(
                                "procedures `{}` and `{}` both fit {from} -> {to} ({}) with the same disruption, so the choice is ambiguous",
                                this.id(),
                                other.id(),
                                describe(facts)
                            );
                            let help = "narrow `applies.from`/`to` or `when`, or give them different `disruption`";
                            problems.push(Problem::new(&this.file, this.procedure.applies.to.pos, msg).help(help));
                        }
                    }
                }
            }
        }
    }
    for entry in product.procedures.iter().filter(|p| !used.contains(p.id())) {
        let msg =
            format!("procedure `{}` fits no hop between known releases that the product's path allows", entry.id());
        let help = "check `applies` against the product's `releases` and `path.rules`";
        problems.push(Problem::new(&entry.file, entry.procedure.id.pos, msg).help(help));
    }
}

fn describe(facts: &super::catalog::Facts) -> String {
    if facts.is_empty() {
        return "any installation".into();
    }
    facts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

const APPLY_HELP: &str =
    "give it a source: `apply: {file: manifests/crds.yaml}` or `apply: {command: {argv: [linkerd, upgrade]}}`";

/// A step with no action because its action key was written with nothing under
/// it (`apply:` alone): said at that key.
fn empty_action(file: &Arc<SourceFile>, step: &Step) -> Option<Problem> {
    let (line, column, key) =
        hints::empty_keys(&file.text, step.id.pos.line).into_iter().find(|(_, _, key)| ACTION_KEYS.contains(key))?;
    let msg = format!("step `{}` has `{key}:` with nothing under it, so it does nothing", step.id.value);
    let help = if key == "apply" {
        APPLY_HELP.to_string()
    } else {
        format!("give `{key}` its fields; `stepwise schema procedure` lists them")
    };
    Some(Problem::new(file, Pos { line, column, offset: 0 }, msg).help(help))
}

/// Programs that run their argument as a shell script with `-c`.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash"];

/// An argument vector runs one program without a shell: a shell started to run a
/// script (a warning), or a `|` element (an error: it is never a pipeline),
/// defeats that, and the typed arguments with it.
fn check_no_shell(file: &Arc<SourceFile>, step: &str, argv: &[Arg], problems: &mut Vec<Problem>) {
    const HELP: &str = "write the program and its arguments as argv elements, one per argument; \
        to apply what a command prints use `apply: {command: {argv: [...]}}`, and use the step kinds \
        (delete, wait, rollout_restart, check, backup) for the rest";
    if let Some((program, flag, script)) = shell_script(argv) {
        let what = if script.is_some_and(has_pipe) { "a shell pipeline" } else { "a shell script" };
        let msg = format!("step `{step}` runs {what} through `{} {flag}`; argv is never a shell string", program.raw());
        // A warning, not an error: a shell is sometimes the honest tool (a
        // drill's stand-in, a vendor's own script), but never by accident.
        problems.push(Problem::new(file, program.pos(), msg).help(HELP).warning());
    } else if let Some(pipe) = argv.iter().find(|a| a.raw().trim() == "|") {
        let msg = format!(
            "step `{step}` has `|` as an argument: argv runs without a shell, so this is no pipeline but a literal `|`"
        );
        problems.push(Problem::new(file, pipe.pos(), msg).help(HELP));
    }
}

/// `{flag, value}` elements: never the program, and the flag is a flag alone
/// (stepwise adds `=VALUE`).
fn check_flags(file: &Arc<SourceFile>, step: &str, argv: &[Arg], problems: &mut Vec<Problem>) {
    let flags = argv.iter().enumerate().filter_map(|(i, a)| match a {
        Arg::Flag(f) => Some((i, &f.flag)),
        Arg::Plain(_) => None,
    });
    for (i, flag) in flags {
        if i == 0 {
            let msg = format!("the program of an `argv` in step `{step}` is a `{{flag, value}}` element");
            problems.push(Problem::new(file, flag.pos, msg).help("the first element is the program: a plain string"));
        } else if !flag.starts_with('-') || flag.contains(['=', ' ']) {
            let msg = format!("`{}` in step `{step}` is not a flag such as `--values`", flag.value);
            let help = "write the flag alone; stepwise passes `FLAG=VALUE` as one argument, or nothing when the value is empty";
            problems.push(Problem::new(file, flag.pos, msg).help(help));
        }
    }
}

/// The shell and its script, when `argv` starts a shell with `-c` (or `-ec`, ...).
fn shell_script(argv: &[Arg]) -> Option<(&Arg, &str, Option<&str>)> {
    let program = argv.first()?;
    let name = program.raw().rsplit('/').next().unwrap_or_default();
    if !SHELLS.contains(&name) {
        return None;
    }
    let flag = argv.iter().skip(1).position(|a| {
        let a = a.raw();
        a.starts_with('-') && !a.starts_with("--") && a.contains('c')
    })?;
    Some((program, argv[flag + 1].raw(), argv.get(flag + 2).map(Arg::raw)))
}

/// A `|` that is a pipe rather than part of `||`.
fn has_pipe(script: &str) -> bool {
    script.replace("||", "").contains('|')
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
