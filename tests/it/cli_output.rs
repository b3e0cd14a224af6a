//! `-o json` and `-o yaml` through the real binary: each command's document is
//! valid against its shipped schema, and the shipped schemas are what the binary
//! generates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::journal_fixture;

use std::path::Path;

use crate::support::stepwise_plain as stepwise;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const DOCUMENTS: [&str; 5] = ["list", "show", "plan", "lint", "sessions"];

/// The shipped schema of a command's document.
fn schema(command: &str) -> serde_json::Value {
    let path = format!("assets/schema/output-{command}.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs a command with `-o json` and checks its output against the command's schema.
fn checked(command: &str, args: &[&str], exit: i32) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = stepwise(&all);
    assert_eq!(out.status.code(), Some(exit), "{all:?}: {}", text(&out.stderr));
    let document: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{all:?} prints JSON: {e}\n{}", text(&out.stdout)));
    let validator = jsonschema::validator_for(&schema(command)).expect("the schema is valid");
    let errors: Vec<String> =
        validator.iter_errors(&document).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{all:?} does not match its schema:\n{}", errors.join("\n"));
    assert_eq!(document["apiVersion"], "stepwise/v1", "{all:?}");
    document
}

#[test]
fn shipped_schemas_match_the_binary() {
    // The runbook formats, and every output document: `run` (and `rehearse`,
    // `resume`) print theirs after a session, so the cluster suite checks their
    // documents (e2e_rehearsal).
    let outputs = DOCUMENTS.iter().chain(&["run"]).map(|command| format!("output-{command}"));
    for kind in ["product".to_string(), "procedure".to_string()].into_iter().chain(outputs) {
        let out = stepwise(&["schema", &kind]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let path = format!("assets/schema/{kind}.schema.json");
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == text(&out.stdout),
            "{path} is out of date; regenerate it with `cargo run -- schema {kind} > {path}`"
        );
    }
}

#[test]
fn list_json_names_every_product_and_procedure() {
    let list = checked("list", &["list"], 0);
    assert_eq!(list["kind"], "ProductList");
    let products = list["products"].as_array().expect("products");
    let nsm = products.iter().find(|p| p["id"] == "nginx-service-mesh").expect("nginx-service-mesh is listed");
    assert!(nsm["procedures"].as_array().is_some_and(|p| p.iter().any(|q| q["id"] == "in-place")), "{nsm}");
}

#[test]
fn show_json_describes_a_product_and_a_procedure() {
    let product = checked("show", &["show", "kuma"], 0);
    assert_eq!(product["kind"], "Product");
    assert!(product["facts"].as_array().is_some_and(|f| !f.is_empty()), "facts are shown: {product}");
    let procedure = checked("show", &["show", "nginx-service-mesh", "in-place"], 0);
    assert_eq!(procedure["kind"], "Procedure");
    assert!(procedure["steps"].as_array().is_some_and(|s| !s.is_empty()));
}

#[test]
fn plan_json_keeps_its_fields_under_a_version() {
    let plan = checked("plan", &["plan", "nginx-service-mesh", "--from", "1.6.0", "--to", "1.7.0"], 0);
    assert_eq!(plan["kind"], "Plan");
    assert_eq!(plan["to"], "1.7.0");
    assert_eq!(plan["hops"][0]["from"], "1.6.0");
}

#[test]
fn lint_json_lists_each_problem_with_its_place() {
    let report = checked("lint", &["lint"], 0);
    assert_eq!(report["ok"], true);
    let dir = tempfile::tempdir().unwrap();
    let product = dir.path().join("nginx-service-mesh");
    std::fs::create_dir(&product).unwrap();
    std::fs::copy("tests/fixtures/malformed/cases/03-bad-disruption.yaml", product.join("bad.yaml")).unwrap();
    let report = checked("lint", &["lint", dir.path().to_str().unwrap()], 3);
    assert_eq!(report["ok"], false);
    let problem = &report["problems"][0];
    assert!(problem["file"].as_str().is_some_and(|f| f.ends_with("bad.yaml")), "{problem}");
    assert_eq!((problem["line"].as_u64(), problem["column"].as_u64()), (Some(5), Some(13)), "{problem}");
    assert!(problem["message"].as_str().is_some_and(|m| m.contains("lowish")), "{problem}");
}

#[test]
fn sessions_json_lists_each_session() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let empty = checked("sessions", &["--state-dir", dir, "sessions"], 0);
    assert_eq!(empty["sessions"], serde_json::json!([]));
    drop(journal_fixture::create(state.path(), "nginx-service-mesh", 3));
    let list = checked("sessions", &["--state-dir", dir, "sessions"], 0);
    let session = &list["sessions"][0];
    assert_eq!(session["product"], "nginx-service-mesh");
    assert_eq!(session["status"], "ended_unrecorded", "running, but no stepwise holds it: {session}");
    assert!(Path::new(session["dir"].as_str().unwrap_or_default()).is_dir(), "{session}");
}

#[test]
fn yaml_is_the_same_document() {
    for args in [&["list"][..], &["show", "kuma"], &["plan", "kuma", "--from", "2.6.0", "--to", "2.7.0"], &["lint"]] {
        let json = stepwise(&[args, &["-o", "json"]].concat());
        let yaml = stepwise(&[args, &["-o", "yaml"]].concat());
        assert!(yaml.status.success(), "{args:?}: {}", text(&yaml.stderr));
        let from_json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
        let from_yaml: serde_json::Value = serde_saphyr::from_str(&text(&yaml.stdout)).expect("YAML");
        assert_eq!(from_json, from_yaml, "{args:?}");
    }
}

#[test]
fn a_session_summary_is_for_automation_and_needs_yes() {
    for command in ["run", "rehearse"] {
        let out = stepwise(&[command, "nginx-service-mesh", "--to", "1.7.0", "-o", "json"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    }
    let out = stepwise(&["resume", "-o", "yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
