//! `list`, `plan`, `show` and `lint`: the commands that read runbooks only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::args::{Global, Output, PlanArgs};
use super::{Failure, exit, output, session};
use crate::base::Target;
use crate::engine::prepare::{self, PlanRequest, Prepared};
use crate::plan::{self, PlanError};
use crate::runbook::catalog::BUILTIN_VARIABLES;
use crate::runbook::load::{self, RawFile};
use crate::runbook::model::Variable;
use crate::runbook::suggest;
use crate::runbook::{Catalog, ProcedureEntry, ProductEntry, RunbookError};
use crate::ui::plan_text::{indent, render_plan};

pub fn load_catalog(extra: &[PathBuf]) -> Result<Catalog, Failure> {
    crate::catalog_files::load(extra).map_err(runbook_failure)
}

pub fn runbook_failure(e: RunbookError) -> Failure {
    match e {
        RunbookError::Invalid(problems) => {
            let mut reports: Vec<miette::Report> = problems.iter().map(super::report::problem).collect();
            let n = problems.iter().filter(|p| !p.warning).count();
            let warnings = match problems.len() - n {
                0 => String::new(),
                w => format!(" and {}", crate::plan::counted(w, "warning")),
            };
            reports.push(miette::miette!(
                help = "fix the runbooks, then run `stepwise lint` to check them",
                "{n} problem{} in runbooks{warnings}",
                if n == 1 { "" } else { "s" }
            ));
            Failure { code: exit::RUNBOOK, reports, output: None }
        }
        RunbookError::Empty { path } => Failure::one(
            exit::RUNBOOK,
            miette::miette!(
                help = format!(
                    "name a product directory (its product.yaml and procedure files), a directory of those, or one \
                     file; `stepwise new-runbook PRODUCT --out {path}/PRODUCT/ID.yaml` starts one"
                ),
                "{}",
                RunbookError::Empty { path: path.clone() }
            ),
        ),
        other => Failure::one(exit::RUNBOOK, miette::miette!("{other}")),
    }
}

pub fn list(catalog: &Catalog, format: Output) -> Result<String, Failure> {
    output::render(format, &output::product_list(catalog), || list_text(catalog))
}

fn list_text(catalog: &Catalog) -> String {
    let mut out = String::new();
    for product in &catalog.products {
        let p = &product.product;
        let first = p.releases.first().map(ToString::to_string).unwrap_or_default();
        let last = p.releases.last().map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(out, "{} ({}) — releases {first} to {last}", p.name, product.id());
        for proc_ in &product.procedures {
            let a = &proc_.procedure.applies;
            let mut when: Vec<String> = a
                .when
                .iter()
                .map(|(k, v)| {
                    format!("{}={}", k.value, v.iter().map(|x| x.value.as_str()).collect::<Vec<_>>().join("|"))
                })
                .collect();
            if a.previous_release_only {
                when.insert(0, "previous release only".into());
            }
            let when = if when.is_empty() { String::new() } else { format!("; {}", when.join(", ")) };
            let _ = writeln!(
                out,
                "  {:<28} from {} to {} ({}{when})",
                proc_.id(),
                a.from.value,
                a.to.value,
                plan::disruption_word(proc_.procedure.disruption)
            );
        }
    }
    out
}

/// Plans from --from without touching a cluster; without it, detects the
/// installed version (and facts) on the cluster as `run` does, and says so.
pub fn plan_command(catalog: &Catalog, args: &PlanArgs, global: &Global) -> Result<String, Failure> {
    let request = session::plan_request(args);
    check_facts(catalog, &request)?;
    check_set_values(catalog, &args.product, &args.values)?;
    let prepared = match prepare::plan_offline(catalog, &request) {
        Some(plan) => Prepared { plan: plan.map_err(session::prepare_failure)?, detected: Vec::new() },
        None => detected_plan(catalog, &request, &session::target(global, &args.cluster))?,
    };
    let detected: Vec<String> = prepared.detected.iter().map(ToString::to_string).collect();
    let format = args.output.format;
    if format != Output::Text {
        for line in &detected {
            eprintln!("{line}");
        }
    }
    let plan = prepared.plan;
    output::render(format, &output::plan_shown(&plan, &detected), || {
        detected.iter().map(|l| format!("{l}\n")).collect::<String>() + &render_plan(&plan)
    })
}

/// The plan from the version found on the cluster; a cluster that cannot be
/// used is an error that also says --from plans without one.
fn detected_plan(catalog: &Catalog, request: &PlanRequest, target: &Target) -> Result<Prepared, Failure> {
    let prepared = session::runtime()?.block_on(prepare::plan(catalog, target, request));
    prepared.map_err(session::prepare_failure).map_err(|mut failure| {
        if failure.code == exit::CLUSTER {
            failure.reports.push(miette::miette!(
                help = "pass --from VERSION to plan without a cluster",
                "plan detects the installed version on the cluster when --from is not given"
            ));
        }
        failure
    })
}

/// Facts given on the command line must be declared by the product, with a declared value.
fn check_facts(catalog: &Catalog, request: &PlanRequest) -> Result<(), Failure> {
    let Some(product) = catalog.product(&request.product) else { return Ok(()) };
    for (name, value) in &request.facts {
        let Some(fact) = product.product.facts.iter().find(|f| &f.name.value == name) else {
            let known: Vec<&str> = product.product.facts.iter().map(|f| f.name.value.as_str()).collect();
            return Err(Failure::one(
                exit::USAGE,
                miette::miette!("{} has no fact `{name}`; its facts are: {}", product.id(), known.join(", ")),
            ));
        };
        if !fact.values.contains(value) {
            return Err(Failure::one(
                exit::USAGE,
                miette::miette!("fact `{name}` cannot be `{value}`; it is one of: {}", fact.values.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Each `--set` names a variable of the product or of one of its procedures
/// (or a value of its releases), with a value the variable allows.
/// The product named on the command line, or the usage error that lists the
/// known ones.
pub fn known_product<'c>(catalog: &'c Catalog, id: &str) -> Result<&'c ProductEntry, Failure> {
    catalog.product(id).ok_or_else(|| {
        plan_failure(PlanError::UnknownProduct {
            name: id.into(),
            known: catalog.product_ids().iter().map(ToString::to_string).collect(),
        })
    })
}

pub fn check_set_values(catalog: &Catalog, product_id: &str, values: &[(String, String)]) -> Result<(), Failure> {
    let Some(product) = catalog.product(product_id) else { return Ok(()) };
    let variables: Vec<&Variable> = product
        .product
        .variables
        .iter()
        .chain(product.procedures.iter().flat_map(|p| &p.procedure.variables))
        .collect();
    for (name, value) in values {
        match variables.iter().find(|v| &v.name.value == name) {
            Some(var) => var.check(value).map_err(|e| refused_value(product, var, value, &e))?,
            None if is_known_value(product, name) => {}
            None => return Err(unknown_variable(product, &variables, name)),
        }
    }
    Ok(())
}

fn is_known_value(product: &ProductEntry, name: &str) -> bool {
    BUILTIN_VARIABLES.iter().any(|(b, _)| *b == name)
        || product.product.release_values.values().any(|values| values.contains_key(name))
}

fn unknown_variable(product: &ProductEntry, variables: &[&Variable], name: &str) -> Failure {
    let mut names: Vec<&str> = variables.iter().map(|v| v.name.value.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let guess = suggest::did_you_mean(name, names.iter().copied()).map(|g| format!("{g} ")).unwrap_or_default();
    Failure::one(
        exit::USAGE,
        miette::miette!(
            help = format!("{guess}{}'s variables: {}", product.id(), names.join(", ")),
            "--set {name}: {} has no variable `{name}`",
            product.id()
        ),
    )
}

fn refused_value(product: &ProductEntry, var: &Variable, value: &str, why: &str) -> Failure {
    let why = if product.is_secret(&var.name.value) {
        why.replace(&format!("`{value}`"), "the value")
    } else {
        why.to_string()
    };
    Failure::one(
        exit::USAGE,
        miette::miette!(
            help = format!("`{}`: {}", var.name.value, var.description.trim()),
            "--set {}: {why}",
            var.name.value
        ),
    )
}

pub fn plan_failure(e: PlanError) -> Failure {
    let code = match e {
        PlanError::UnknownProduct { .. } | PlanError::FromRequired | PlanError::BadVersion(_) => exit::USAGE,
        _ => exit::REFUSED,
    };
    Failure::one(code, miette::miette!("{e}"))
}

pub fn show(
    catalog: &Catalog,
    product_id: &str,
    procedure_id: Option<&str>,
    format: Output,
) -> Result<String, Failure> {
    let product = known_product(catalog, product_id)?;
    let Some(procedure_id) = procedure_id else {
        return output::render(format, &output::product_shown(product), || show_product(product));
    };
    let entry = product.procedure(procedure_id).ok_or_else(|| {
        let ids: Vec<&str> = product.procedures.iter().map(|p| p.id()).collect();
        Failure::one(
            exit::USAGE,
            miette::miette!("{} has no procedure `{procedure_id}`; its procedures: {}", product.id(), ids.join(", ")),
        )
    })?;
    output::render(format, &output::procedure_shown(product, entry), || show_procedure(product, entry))
}

fn show_product(product: &ProductEntry) -> String {
    let mut out = String::new();
    let p = &product.product;
    let _ = writeln!(out, "{} ({})\n{}\n", p.name, product.id(), indent(&p.description, ""));
    let releases: Vec<String> = p.releases.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "Known releases: {}", releases.join(", "));
    let _ = writeln!(out, "\nPath rules:");
    for rule in &p.path.rules {
        let _ = writeln!(out, "  - {}", rule.reason.trim());
    }
    let _ = writeln!(out, "\nProcedures:");
    for q in &product.procedures {
        let _ = writeln!(out, "  {:<28} {}", q.id(), q.procedure.title);
    }
    let _ = writeln!(out, "\nVersion notes: {}", p.notes.len());
    out
}

fn show_procedure(product: &ProductEntry, entry: &ProcedureEntry) -> String {
    let mut out = String::new();
    let p = &entry.procedure;
    let _ = writeln!(out, "{} [{}] — {}", p.title, entry.id(), plan::disruption_word(p.disruption));
    let _ = writeln!(out, "{}\n", indent(&p.description, ""));
    let _ = writeln!(out, "Applies from {} to {}", p.applies.from.value, p.applies.to.value);
    let vars: Vec<_> = entry.variables(&product.product).collect();
    if !vars.is_empty() {
        let _ = writeln!(out, "\nVariables:");
        for v in vars {
            let default = v.default.as_ref().map(|d| format!(" (default: {})", d.raw())).unwrap_or_default();
            let _ = writeln!(out, "  {}{default} — {}", v.name.value, v.description.trim());
        }
    }
    let _ = writeln!(out, "\nSteps:");
    for (i, step) in p.steps.iter().enumerate() {
        let summary = plan::describe_step(step, &BTreeMap::new());
        let flag = if summary.destructive { "  [DESTRUCTIVE]" } else { "" };
        let _ = writeln!(out, "  {:>2}. {} ({}, {}){flag}", i + 1, summary.title, summary.id, summary.kind);
        let _ = writeln!(out, "{}", indent(&summary.explain, "      "));
        for line in &summary.does {
            let _ = writeln!(out, "      - {line}");
        }
    }
    out
}

/// Lints the given paths together with the built-in runbooks (a product directory
/// among the paths replaces the built-in one), or the built-in set and `--runbooks`.
/// With `-o json` or `-o yaml` the problems are listed on standard output as
/// well, so a CI system can read them; the exit code is 3 all the same.
pub fn lint(paths: &[PathBuf], extra: &[PathBuf], format: Output) -> Result<String, Failure> {
    let failed = |count: usize, e: RunbookError| match (&e, format) {
        (_, Output::Text) | (RunbookError::Io { .. }, _) => runbook_failure(e),
        (RunbookError::Invalid(problems), _) => {
            let report = output::render(format, &output::lint_report(count, None, problems), String::new);
            let failure = runbook_failure(e);
            match report {
                Ok(document) => failure.with_output(document),
                Err(other) => other,
            }
        }
        _ => runbook_failure(e),
    };
    let all: Vec<PathBuf> = paths.iter().chain(extra).cloned().collect();
    let added: Vec<RawFile> = crate::catalog_files::files_at_all(&all).map_err(|e| failed(0, e))?;
    let files = load::merge(load::embedded_files(), added);
    let count = files.len();
    let catalog = load::build(files).map_err(|e| failed(count, e))?;
    output::render(format, &output::lint_report(count, Some(&catalog), &[]), || {
        let procedures: usize = catalog.products.iter().map(|p| p.procedures.len()).sum();
        let mut out =
            format!("ok: {count} files, {} products, {procedures} procedures, no problems", catalog.products.len());
        if !catalog.warnings.is_empty() {
            let _ = write!(out, "; {}:", crate::plan::counted(catalog.warnings.len(), "warning"));
        }
        out.push('\n');
        for warning in &catalog.warnings {
            let _ = writeln!(out, "  {warning}");
        }
        out
    })
}
