//! The README's table of what the acceptance suite covers is built from the test
//! files' names and their test functions' names, so it cannot drift from the
//! suite: this test fails when the table between the markers differs, and
//! prints the table it expects. `STEPWISE_WRITE_README=1` writes it and fails, so
//! the next run checks what was written.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::path::Path;

const BEGIN: &str = "<!-- suite-coverage:begin -->";
const END: &str = "<!-- suite-coverage:end -->";

/// Which test files belong to the acceptance suite, as what, and (for a file
/// that holds other tests too) which of its test functions.
const SUITE: &[(&str, &str, Option<&str>)] = &[
    ("journey", "e2e_", None),
    ("journey", "tui_journey", None),
    ("drill", "drills_", None),
    ("drill", "apiserver_restart", None),
    ("drill", "malformed_runbooks", None),
    ("drill", "cluster_ops", Some("restricted")),
];

/// Names of the test functions in `source`, in file order.
fn test_functions(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut after_attribute = false;
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            after_attribute = true;
            continue;
        }
        if !after_attribute {
            continue;
        }
        if let Some(rest) = line.strip_prefix("async fn ").or_else(|| line.strip_prefix("fn ")) {
            names.push(rest.split(['(', '<']).next().unwrap_or(rest).trim().to_string());
            after_attribute = false;
        }
    }
    names
}

/// The table as the README must hold it.
fn expected_table(tests_dir: &Path) -> String {
    let mut files: Vec<String> = std::fs::read_dir(tests_dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for kind in ["journey", "drill"] {
        for stem in &files {
            let Some((_, _, only)) = SUITE.iter().find(|(k, prefix, _)| *k == kind && stem.starts_with(prefix)) else {
                continue;
            };
            let source = std::fs::read_to_string(tests_dir.join(format!("{stem}.rs"))).unwrap();
            for name in test_functions(&source) {
                if only.is_some_and(|word| !name.contains(word)) {
                    continue;
                }
                rows.push(format!("| {kind} | {} | `{stem}::{name}` |", name.replace('_', " ")));
            }
        }
    }
    let mut table = String::from("| | what it proves | test |\n|---|---|---|\n");
    for row in rows {
        table.push_str(&row);
        table.push('\n');
    }
    table
}

#[test]
fn the_readme_table_lists_every_journey_and_drill_of_the_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let expected = expected_table(&root.join("tests/it"));
    assert!(expected.contains("| journey |") && expected.contains("| drill |"), "the suite has no tests?\n{expected}");
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md lacks the markers {BEGIN} and {END} around the suite table");
    };
    let current = readme[begin + BEGIN.len()..end].trim_matches('\n');
    if current == expected.trim_end() {
        return;
    }
    if std::env::var_os("STEPWISE_WRITE_README").is_some() {
        let updated = format!("{}{BEGIN}\n{expected}{}", &readme[..begin], &readme[end..]);
        std::fs::write(&readme_path, updated).unwrap();
        // Rewriting never passes: the next run compares what was written.
        panic!("rewrote the suite table in README.md; run again without STEPWISE_WRITE_README to check it");
    }
    panic!(
        "README.md's suite table (between {BEGIN} and {END}) differs from the tests; \
         rewrite it with `STEPWISE_WRITE_README=1 cargo test --test it suite_coverage::`. Expected:\n{expected}"
    );
}

#[test]
fn test_functions_are_found_after_their_attributes() {
    let source = "#[test]\nfn plain() {}\n\n#[tokio::test(flavor = \"multi_thread\")]\nasync fn spawned() {}\nfn helper() {}\n\
                  #[test]\n#[should_panic]\nfn generic<T>() {}\n";
    assert_eq!(test_functions(source), ["plain", "spawned", "generic"]);
}
