//! `stepwise new-runbook`: writes a commented procedure file (and, for a product
//! stepwise does not know yet, a product file beside it) that passes `lint` as
//! written, so an author starts from something that works and edits it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::args::NewRunbookArgs;
use super::catalog::load_catalog;
use super::{Failure, exit};
use crate::runbook::catalog::ProductEntry;
use crate::runbook::model::{Action, Disruption};

/// The hop and disruption a new procedure can claim without making the
/// planner's choice ambiguous.
struct Slot {
    from: String,
    to: String,
    disruption: &'static str,
}

pub fn new_runbook(extra: &[PathBuf], args: &NewRunbookArgs) -> Result<String, Failure> {
    check_id(&args.product, "product")?;
    check_id(&args.id, "--id")?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(&args.product).join(format!("{}.yaml", args.id)));
    refuse_overwrite(&out, args.force)?;
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    // A product begun earlier in the same directory counts as known, so that the
    // new procedure is fitted around the ones already there.
    let mut runbooks = extra.to_vec();
    if dir.join("product.yaml").is_file() && !runbooks.contains(&dir) {
        runbooks.push(dir.clone());
    }
    let catalog = load_catalog(&runbooks)?;
    let mut report = String::new();
    let text = match catalog.product(&args.product) {
        Some(product) => {
            if product.procedure(&args.id).is_some() {
                let ids: Vec<&str> = product.procedures.iter().map(|p| p.id()).collect();
                return Err(usage(format!(
                    "{} already has a procedure `{}` (its procedures: {}); pick another with --id",
                    args.product,
                    args.id,
                    ids.join(", ")
                )));
            }
            let slot = free_slot(product).ok_or_else(|| {
                usage(format!(
                    "every hop of {} already has a procedure of every disruption, so a new one would make the choice ambiguous",
                    args.product
                ))
            })?;
            procedure_text(&args.id, &args.product, &slot, &backed_up(product))
        }
        None => {
            let product_file = dir.join("product.yaml");
            if !product_file.exists() {
                write(&product_file, &product_text(&args.product))?;
                let _ = writeln!(
                    report,
                    "{} is a product stepwise does not know yet, so {} was written too: say there which \
                     releases exist, how to find the installed one and which hops are allowed.",
                    args.product,
                    product_file.display()
                );
            }
            let slot = Slot { from: "1.0.0".into(), to: "1.1.0".into(), disruption: "medium" };
            procedure_text(&args.id, &args.product, &slot, &[])
        }
    };
    write(&out, &text)?;
    let _ = writeln!(
        report,
        "Wrote {}. Every line to change is marked EDIT, and lint warns about each one left. Then check it:",
        out.display()
    );
    let _ = writeln!(report, "  stepwise lint --runbooks {}", dir.display());
    let _ = writeln!(report, "  stepwise show {} {} --runbooks {}", args.product, args.id, dir.display());
    if dir.file_name().is_some_and(|n| n != args.product.as_str()) {
        let _ = writeln!(
            report,
            "Note: stepwise reads a procedure as part of the product its directory is named after; \
             move it into a directory named {}.",
            args.product
        );
    }
    Ok(report)
}

fn usage(message: String) -> Failure {
    Failure::one(exit::USAGE, miette::miette!("{message}"))
}

/// Ids are what `lint` accepts: lowercase letters, digits and `-`, starting with a letter.
fn check_id(value: &str, what: &str) -> Result<(), Failure> {
    let mut chars = value.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        return Ok(());
    }
    Err(usage(format!(
        "{what} `{value}` is not a valid id: use lowercase letters, digits and `-`, starting with a letter"
    )))
}

fn refuse_overwrite(out: &Path, force: bool) -> Result<(), Failure> {
    if force || !out.exists() {
        return Ok(());
    }
    Err(Failure::one(
        exit::REFUSED,
        miette::miette!(
            help = "pass --force to replace it, or --out FILE to write elsewhere",
            "{} already exists; nothing was written",
            out.display()
        ),
    ))
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| {
        Failure::one(
            exit::FAILURE,
            miette::miette!(help = "pick a writable place with --out FILE", "cannot write {}: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

/// The newest allowed hop between neighbouring releases with a disruption that no
/// procedure fitting it already has, under any combination of facts.
fn free_slot(product: &ProductEntry) -> Option<Slot> {
    let releases = &product.product.releases;
    let combos = product.fact_combinations();
    for pair in releases.windows(2).rev() {
        let (from, to) = (&pair[0], &pair[1]);
        if product.hop_rule(from, to).is_none() {
            continue;
        }
        let taken: Vec<Disruption> =
            combos.iter().flat_map(|facts| product.fitting(from, to, facts)).map(|p| p.procedure.disruption).collect();
        let free = [(Disruption::Medium, "medium"), (Disruption::Low, "low"), (Disruption::High, "high")]
            .into_iter()
            .find(|(d, _)| !taken.contains(d));
        if let Some((_, word)) = free {
            return Some(Slot { from: from.to_string(), to: to.to_string(), disruption: word });
        }
    }
    None
}

/// The kinds the product's procedures already back up: a good first guess.
fn backed_up(product: &ProductEntry) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    for step in product.procedures.iter().flat_map(|p| &p.procedure.steps) {
        if let Action::Backup(b) = step.action() {
            for r in &b.resources {
                if !kinds.iter().any(|k| k == r.raw()) {
                    kinds.push(r.raw().to_string());
                }
            }
        }
    }
    kinds
}

fn procedure_text(id: &str, product: &str, slot: &Slot, kinds: &[String]) -> String {
    let backup = if kinds.is_empty() {
        String::new()
    } else {
        format!(
            r#"  - id: backup
    title: Save the custom resources
    explain: >-
      Saves every object of these kinds, with a manifest of counts and SHA-256
      sums, so that a destructive step after it can only run once they are proven.
    backup:
      # EDIT: plural.group of each kind the upgrade may lose.
      resources:
{kinds}
"#,
            kinds = kinds.iter().map(|k| format!("        - {k}")).collect::<Vec<_>>().join("\n")
        )
    };
    format!(
        r#"# A procedure for {product}, scaffolded by `stepwise new-runbook`. It passes
# `stepwise lint` as written; every line marked EDIT is a guess to replace (lint
# warns about each one left).
# The format, every step kind and field: docs/runbooks.md. Editors can check
# this file against `stepwise schema procedure`.
# The id is unique within the product, and what --procedure takes. The
# directory this file is in must be named after the product.
id: {id}
product: {product}
title: EDIT Upgrade {product} another way
description: >-
  EDIT: what this procedure does, when to choose it, and what it disrupts
  while it runs.
# low | medium | high: the planner prefers the least disruptive procedure that
# fits, and no two procedures of one disruption may fit the same upgrade.
disruption: {disruption}
applies:
  # EDIT: the installed versions it upgrades from, and the targets it reaches
  # (semver ranges; a bare version means exactly that one).
  from: "{from}"
  to: "{to}"
  # previous_release_only: true       # only from the release just before the target
  # when:                             # facts the installation must have (the product's `facts`)
  #   install_method: [helm]
variables:                            # values the steps use as {{{{name}}}}; asked for when not given with --set
  - name: upgrade_cli
    description: EDIT Path of the program that performs the upgrade.
steps:
  - id: before-you-start
    title: Read this first
    explain: Tells the operator what is about to happen.
    note:
      severity: info                  # info | warning | breaking; warning and breaking need acknowledgement
      text: >-
        EDIT: This upgrades {product} from {{{{from_version}}}} to {{{{to_version}}}}.
        Say what stops working, for how long, and what to have at hand.
{backup}  - id: upgrade
    title: Upgrade the control plane
    explain: EDIT Runs the vendor's upgrade command.
    confirm: yes                      # none | yes | {{typed: WORD}}; destructive steps need typed
    # when: {{to: ">=1.1.0", facts: {{install_method: [helm]}}}}   # only in hops (and installations) it names
    command:
      argv: ["{{{{upgrade_cli}}}}", upgrade, --version, "{{{{to_version}}}}"]   # an argument vector, never a shell string
      # an element {{flag: --values, value: "{{{{values_file}}}}"}} is left out when the value is empty
      # dry_run_argv: ["{{{{upgrade_cli}}}}", upgrade, --dry-run]        # runs in rehearsal; without it the command is only shown
      timeout: 10m
  - id: confirm-healthy
    title: Check that it works
    explain: The operator looks before the upgrade is called done.
    manual:
      instructions: >-
        EDIT: Check that {product} reports {{{{to_version}}}} and serves traffic.
      # verify: {{argv: ["{{{{upgrade_cli}}}}", version]}}   # exits 0 when the work is done
# More step kinds (see docs/runbooks.md for every field):
#  - id: wait-ready
#    title: Wait for the control plane
#    explain: The next steps need it serving.
#    wait: {{for: {{deployment_available: {{namespace: my-namespace, name: my-controller}}}}, timeout: 5m}}
#  - id: reroll
#    title: Re-roll the workloads
#    explain: Pods pick up the new data plane when they restart.
#    rollout_restart: {{namespaces: [my-apps]}}
#  - id: restore
#    title: Restore the custom resources
#    explain: Re-creates what the backup step saved; never overwrites.
#    restore: {{from: backup}}
#  - id: old-jobs
#    title: Delete the finished migration jobs
#    explain: A finished job of the old release would block the new one.
#    destructive: true
#    confirm: {{typed: my-namespace}}
#    delete: {{resource: jobs.batch, namespace: my-namespace, selector: app=migrations}}   # plural.group, not a Kind
"#,
        from = slot.from,
        to = slot.to,
        disruption = slot.disruption,
    )
}

fn product_text(product: &str) -> String {
    format!(
        r#"# The product {product}, scaffolded by `stepwise new-runbook`: which releases
# exist, how to find the installed one, and which upgrades are allowed.
# Every line marked EDIT is a guess to replace; docs/runbooks.md has the rest.
# The id must equal the directory name.
id: {product}
name: EDIT {product}
description: EDIT What the product is and where its control plane runs.
releases: [1.0.0, 1.1.0]              # EDIT: ascending; upgrades stop only at these
# version_prefix: stable-             # what the vendor writes before the number (stable-1.1.0, v1.1.0)
# release_values:                     # values per release, seen by the templates of hops to it
#   1.1.0: {{chart_version: 0.4.2}}
facts: []                             # properties that decide which procedure fits, e.g. install_method
variables: []                         # values every procedure of the product may use
detect:                               # how stepwise finds the installed version (tried in order)
  - deployment_image: {{namespace: {product}-system, name: {product}-controller}}   # EDIT
path:
  rules:
    - reason: EDIT One minor version at a time.
      to: ">=1.0.0"
      max_minor: 1
notes: []                             # version notes shown for every hop they match
"#
    )
}
