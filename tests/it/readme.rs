//! The README's generated parts cannot drift: the products and procedures table
//! is what the shipped runbooks say, and the screenshot is docs/screenshot.txt
//! (which tests/it/sandbox.rs keeps equal to the real screen). Each lives between
//! marker comments; `STEPWISE_WRITE_README=1` rewrites them from the source and
//! fails, so a rewrite is checked by the next run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::collections::BTreeSet;
use std::path::PathBuf;

use stepwise::runbook::model::{Action, CheckAction};
use stepwise::runbook::{Catalog, ProcedureEntry, ProductEntry};

fn readme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

/// The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
fn section<'a>(readme: &'a str, name: &str) -> (usize, usize, &'a str) {
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let start =
        readme.find(&begin).unwrap_or_else(|| panic!("README.md has no `{}` marker", begin.trim())) + begin.len();
    let stop = start + readme[start..].find(&end).unwrap_or_else(|| panic!("README.md has no `{end}` marker"));
    (start, stop, &readme[start..stop])
}

/// Compares one generated section with the README, or rewrites it when asked.
fn check_section(name: &str, expected: &str) {
    let path = readme_path();
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, stop, actual) = section(&readme, name);
    if actual == expected {
        return;
    }
    if std::env::var_os("STEPWISE_WRITE_README").is_some() {
        // Read again just before writing: others may edit other sections meanwhile.
        let fresh = std::fs::read_to_string(&path).unwrap();
        let (start, stop, _) = section(&fresh, name);
        std::fs::write(&path, format!("{}{expected}{}", &fresh[..start], &fresh[stop..])).unwrap();
        // Rewriting never passes: the next run compares what was written.
        panic!("rewrote the `{name}` section of README.md; run again without STEPWISE_WRITE_README to check it");
    }
    let _ = (start, stop);
    panic!(
        "the `{name}` section of README.md differs from its source; \
         `STEPWISE_WRITE_README=1 cargo test --test it readme::` rewrites it. Expected:\n{expected}"
    );
}

fn catalog() -> Catalog {
    stepwise::catalog_files::load(&[]).expect("the shipped runbooks load")
}

/// The programs a procedure runs: literal names, a variable's default, or
/// the variable itself when the operator gives the path.
fn programs(product: &ProductEntry, entry: &ProcedureEntry) -> Vec<String> {
    let mut found = BTreeSet::new();
    for step in &entry.procedure.steps {
        let first = match step.action() {
            Action::Command(c) => c.argv.first(),
            Action::Check(CheckAction::CommandSucceeds(c)) => c.argv.first(),
            Action::Manual(m) => m.verify.as_ref().and_then(|v| v.argv.first()),
            _ => None,
        };
        let Some(first) = first else { continue };
        let raw = first.raw();
        let name = match raw.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
            Some(var) => entry
                .variables(&product.product)
                .find(|v| v.name.value == var.trim())
                .and_then(|v| v.default.as_ref().map(|d| d.raw().to_string()))
                .unwrap_or_else(|| format!("{{{{{}}}}}", var.trim())),
            None => raw.to_string(),
        };
        found.insert(format!("`{name}`"));
    }
    found.into_iter().collect()
}

fn conditions(entry: &ProcedureEntry) -> String {
    let a = &entry.procedure.applies;
    let mut parts: Vec<String> = Vec::new();
    if a.previous_release_only {
        parts.push("from the previous release only".into());
    }
    for (fact, values) in &a.when {
        let values: Vec<&str> = values.iter().map(|v| v.value.as_str()).collect();
        parts.push(format!("{}={}", fact.value, values.join(" or ")));
    }
    parts.join("; ")
}

fn products_table() -> String {
    let mut out = String::from("| product | procedure | from | to | only when | disruption | runs |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for product in &catalog().products {
        for entry in &product.procedures {
            let p = &entry.procedure;
            out.push_str(&format!(
                "| {} | `{}`: {} | `{}` | `{}` | {} | {} | {} |\n",
                product.product.name,
                entry.id(),
                p.title,
                p.applies.from.value,
                p.applies.to.value,
                conditions(entry),
                stepwise::plan::disruption_word(p.disruption),
                programs(product, entry).join(", ")
            ));
        }
    }
    out
}

#[test]
fn the_products_table_is_what_the_runbooks_say() {
    check_section("products", &products_table());
}

#[test]
fn the_screenshot_is_docs_screenshot_txt() {
    let capture = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshot.txt"))
        .expect("docs/screenshot.txt (tests/it/sandbox.rs writes it with STEPWISE_WRITE_README=1)");
    check_section("screenshot", &format!("```text\n{capture}```\n"));
}
