//! `stepwise new-runbook` through the real binary: what it writes passes
//! `stepwise lint` and can be planned, for every shipped product and for a new
//! one, and it never overwrites an author's file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::path::Path;
use std::process::{Command, Output};

fn stepwise(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .current_dir(cwd)
        .args(["--state-dir", cwd.join("state").to_str().unwrap()])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the stepwise binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The value of `key: "..."` in the scaffold's `applies`.
fn applies(file: &Path, key: &str) -> String {
    let yaml = std::fs::read_to_string(file).unwrap();
    let line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key}: \"")))
        .unwrap_or_else(|| panic!("no {key} in {}", file.display()));
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn a_scaffold_for_every_shipped_product_passes_lint_and_plans() {
    for product in ["nginx-service-mesh", "kong-mesh", "kuma", "kong-gateway"] {
        let dir = tempfile::tempdir().unwrap();
        let out = stepwise(dir.path(), &["new-runbook", product, "--id", "canary"]);
        assert!(out.status.success(), "{product}: {}", text(&out.stderr));
        let file = dir.path().join(product).join("canary.yaml");
        assert!(text(&out.stdout).contains(&format!("Wrote {product}/canary.yaml")), "{}", text(&out.stdout));
        let yaml = std::fs::read_to_string(&file).unwrap();
        assert!(yaml.contains("EDIT"), "the author is told what to change");

        let lint = stepwise(dir.path(), &["lint", "--runbooks", product]);
        assert!(lint.status.success(), "{product}: the scaffold fails lint:\n{}\n{yaml}", text(&lint.stderr));
        assert!(text(&lint.stdout).starts_with("ok: "), "{}", text(&lint.stdout));

        let (from, to) = (applies(&file, "from"), applies(&file, "to"));
        let plan = stepwise(
            dir.path(),
            &["plan", product, "--from", &from, "--to", &to, "--procedure", "canary", "--runbooks", product],
        );
        assert!(plan.status.success(), "{product} {from} -> {to}: {}", text(&plan.stderr));
        assert!(text(&plan.stdout).contains("[canary]"), "{}", text(&plan.stdout));
    }
}

#[test]
fn a_new_product_gets_a_product_file_and_an_explanation() {
    let dir = tempfile::tempdir().unwrap();
    let out = stepwise(dir.path(), &["new-runbook", "acme-mesh"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("does not know yet"), "it says the product is new: {said}");
    assert!(said.contains("acme-mesh/product.yaml"), "and where the product file went: {said}");
    assert!(said.contains("stepwise lint --runbooks acme-mesh"), "and how to check it: {said}");
    assert!(dir.path().join("acme-mesh/product.yaml").is_file());

    // A second procedure for the same new product fits beside the first.
    let out = stepwise(dir.path(), &["new-runbook", "acme-mesh", "--id", "second"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("does not know yet"), "the product file is reused");
    let lint = stepwise(dir.path(), &["lint", "--runbooks", "acme-mesh"]);
    assert!(lint.status.success(), "{}", text(&lint.stderr));
    assert!(text(&lint.stdout).contains("5 products"), "{}", text(&lint.stdout));
    // Passing is not being finished: each guess left is named, where it is.
    let marker = "acme-mesh/second.yaml:10:8: warning: `EDIT` marks a guess";
    assert!(text(&lint.stdout).contains(marker), "{}", text(&lint.stdout));
    // The JSON document lists the same warnings, marked as such, and still says ok.
    let json = stepwise(dir.path(), &["lint", "--runbooks", "acme-mesh", "-o", "json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["ok"], true, "{doc}");
    let listed = doc["problems"].as_array().unwrap();
    let warning = listed.iter().find(|p| p["file"] == "acme-mesh/second.yaml" && p["line"] == 10).expect("listed");
    assert_eq!(warning["severity"], "warning", "{warning}");
    assert_eq!(warning["column"], 8, "{warning}");
}

#[test]
fn a_procedure_can_be_written_into_a_runbooks_directory_named_with_runbooks() {
    let dir = tempfile::tempdir().unwrap();
    let out = stepwise(dir.path(), &["new-runbook", "acme-mesh", "--out", "rb/acme-mesh/first.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The product directory arrives twice: through --runbooks and as --out's directory.
    let out = stepwise(
        dir.path(),
        &["new-runbook", "acme-mesh", "--id", "second", "--runbooks", "rb", "--out", "rb/acme-mesh/second.yaml"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let absolute = dir.path().join("rb");
    let args = ["new-runbook", "acme-mesh", "--id", "third", "--runbooks", absolute.to_str().unwrap()];
    let out = stepwise(dir.path(), &[&args[..], &["--out", "rb/acme-mesh/third.yaml"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lint = stepwise(dir.path(), &["lint", "--runbooks", "rb", "rb/acme-mesh/third.yaml"]);
    assert!(lint.status.success(), "{}", text(&lint.stderr));
    assert!(text(&lint.stdout).contains("5 products, 24 procedures"), "{}", text(&lint.stdout));
}

#[test]
fn it_refuses_to_overwrite_or_to_reuse_an_id() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine/nginx-service-mesh/upgrade.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "my work\n").unwrap();
    let out = stepwise(dir.path(), &["new-runbook", "nginx-service-mesh", "--out", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("already exists"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--force"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "my work\n");

    let out = stepwise(dir.path(), &["new-runbook", "nginx-service-mesh", "--id", "in-place"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already has a procedure `in-place`"), "{}", text(&out.stderr));

    let out = stepwise(dir.path(), &["new-runbook", "Acme Mesh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a valid id"), "{}", text(&out.stderr));
}
