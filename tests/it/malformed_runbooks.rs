//! Every file under `tests/fixtures/malformed/cases/` holds one kind of mistake and
//! ends with the problems it must produce, as comments of the form
//! `# expect: LINE:COLUMN: text the message (or its help) contains`. Each case is checked with
//! the small valid product in `base/`; the problems reported for the case file must
//! be exactly the expected ones, at exactly those positions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::path::Path;

use stepwise::catalog_files::files_at;
use stepwise::runbook::load::{RawFile, build, merge};
use stepwise::runbook::{Problem, RunbookError};

const DIR: &str = "tests/fixtures/malformed";

struct Expect {
    line: u32,
    column: u32,
    text: String,
}

fn expectations(text: &str) -> Vec<Expect> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| {
            let mut parts = e.splitn(3, ':');
            let line = parts.next().and_then(|n| n.trim().parse().ok()).expect("expect line");
            let column = parts.next().and_then(|n| n.trim().parse().ok()).expect("expect column");
            Expect { line, column, text: parts.next().unwrap_or("").trim().to_string() }
        })
        .collect()
}

/// Files as if they sat in the `nginx-service-mesh` product directory.
fn in_product_dir(path: &Path) -> Vec<RawFile> {
    let mut files = files_at(path).expect("fixture files");
    for f in &mut files {
        f.dir = "nginx-service-mesh".into();
        // Product cases are named `NN-what.product.yaml` so they can sit beside the others.
        f.is_product |= f.file.name.ends_with(".product.yaml");
    }
    files
}

fn problems_for(case: &Path) -> Vec<Problem> {
    let base = in_product_dir(&Path::new(DIR).join("base"));
    let files: Vec<RawFile> = merge(base, in_product_dir(case));
    match build(files) {
        Ok(catalog) => catalog.warnings,
        Err(RunbookError::Invalid(problems)) => problems,
        Err(e) => panic!("{}: {e}", case.display()),
    }
}

#[test]
fn the_base_fixtures_are_valid() {
    if let Err(e) = build(in_product_dir(&Path::new(DIR).join("base"))) {
        panic!("base fixtures must be valid: {e:?}");
    }
}

#[test]
fn every_malformed_case_reports_its_problems_at_their_positions() {
    let mut cases: Vec<_> =
        std::fs::read_dir(Path::new(DIR).join("cases")).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(cases.len() >= 40, "the corpus should hold at least 40 cases, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).unwrap();
        let expected = expectations(&text);
        let name = case.display().to_string();
        if expected.is_empty() {
            failures.push(format!("{name}: has no `# expect:` line"));
            continue;
        }
        // The expected text may quote the message or its help.
        let said = |p: &Problem| format!("{} (help: {})", p.message, p.help.as_deref().unwrap_or(""));
        let found: Vec<Problem> = problems_for(case).into_iter().filter(|p| p.file.name == name).collect();
        let listing: Vec<String> =
            found.iter().map(|p| format!("    {}:{}: {}", p.pos.line, p.pos.column, said(p))).collect();
        let missing: Vec<&Expect> = expected
            .iter()
            .filter(|e| {
                !found.iter().any(|p| p.pos.line == e.line && p.pos.column == e.column && said(p).contains(&e.text))
            })
            .collect();
        if !missing.is_empty() || found.len() != expected.len() {
            let wanted: Vec<String> =
                expected.iter().map(|e| format!("    {}:{}: {}", e.line, e.column, e.text)).collect();
            failures.push(format!("{name}\n  expected:\n{}\n  found:\n{}", wanted.join("\n"), listing.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A product file that cannot be read is one problem: its procedures are not
/// also reported as naming a product without a product.yaml.
#[test]
fn a_broken_product_file_hides_nothing_and_adds_no_noise() {
    let case = Path::new(DIR).join("cases/54-bad-release.product.yaml");
    let problems = problems_for(&case);
    let listing: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 1, "{}", listing.join("\n"));
    assert!(problems[0].file.name.ends_with("54-bad-release.product.yaml"), "{}", listing.join("\n"));
}

#[test]
fn a_procedure_with_warnings_only_is_kept_in_the_catalog() {
    let case = Path::new(DIR).join("cases/67-sh-c-pipeline.yaml");
    let files = merge(in_product_dir(&Path::new(DIR).join("base")), in_product_dir(&case));
    let catalog = build(files).expect("warnings never refuse the runbooks");
    assert!(!catalog.warnings.is_empty(), "the shell is a warning");
    let product = catalog.product("nginx-service-mesh").expect("the base product");
    assert!(
        product.procedures.iter().any(|p| p.file.name.ends_with("67-sh-c-pipeline.yaml")),
        "the procedure with the warning can still be planned and run"
    );
}
