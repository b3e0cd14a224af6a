//! The read-only commands through the real binary: what an operator types and sees.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::process::{Command, Output};

use crate::support::stepwise_plain as stepwise;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_shipped_runbook_passes_lint() {
    let out = stepwise(&["lint"]);
    assert!(out.status.success(), "lint failed:\n{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: "), "{}", text(&out.stdout));
}

#[test]
fn a_folder_reached_twice_is_read_once_and_one_file_is_read_with_its_product() {
    // The directory and a file inside it: each file once, so nothing is defined twice.
    let out = stepwise(&["lint", "--runbooks", "runbooks", "runbooks/kuma/single-zone-helm.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: 25 files"), "{}", text(&out.stdout));

    // One procedure file alone is checked against the product.yaml beside it.
    let out = stepwise(&["lint", "runbooks/kuma/single-zone-helm.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A broken product file is reported once, without its procedures adding noise.
    let dir = tempfile::tempdir().unwrap();
    let product = dir.path().join("nginx-service-mesh");
    std::fs::create_dir(&product).unwrap();
    std::fs::copy("tests/fixtures/malformed/cases/54-bad-release.product.yaml", product.join("product.yaml")).unwrap();
    std::fs::copy("tests/fixtures/malformed/base/in-place.yaml", product.join("in-place.yaml")).unwrap();
    let out = stepwise(&["lint", product.join("in-place.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("product.yaml:3:19: `1.six` is not a version"), "{err}");
    assert!(err.contains("1 problem in runbooks"), "{err}");
}

#[test]
fn an_empty_runbooks_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for args in [vec!["lint", dir.path().to_str().unwrap()], vec!["--runbooks", dir.path().to_str().unwrap(), "list"]] {
        let out = stepwise(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{} holds no runbook files", dir.path().display())), "{err}");
        assert!(err.contains("stepwise new-runbook PRODUCT --out"), "and what to do: {err}");
    }
}

#[test]
fn lint_points_at_file_line_and_column_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let product = dir.path().join("nginx-service-mesh");
    std::fs::create_dir(&product).unwrap();
    std::fs::copy("tests/fixtures/malformed/cases/03-bad-disruption.yaml", product.join("bad.yaml")).unwrap();
    let out = stepwise(&["lint", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("bad.yaml:5:13: unknown variant `lowish`"), "{err}");
    assert!(err.contains("disruption: lowish"), "the offending line is shown: {err}");
}

#[test]
fn list_names_every_shipped_product() {
    let out = stepwise(&["list"]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    for product in ["nginx-service-mesh", "kong-mesh", "kuma", "kong-gateway"] {
        assert!(listing.contains(&format!("({product})")), "{product} missing from:\n{listing}");
    }
}

#[test]
fn plan_shows_hops_notes_and_steps() {
    let out = stepwise(&["plan", "nginx-service-mesh", "--from", "v1.6.0", "--to", "1.7"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(plan.starts_with("NGINX Service Mesh 1.6.0 -> 1.7.0 (1 hop"), "{plan}");
    assert!(plan.contains("[in-place]"), "the least disruptive procedure is chosen:\n{plan}");
    assert!(plan.contains("WARNING"), "the tracing note applies:\n{plan}");
    assert!(plan.contains("run `nginx-meshctl --namespace nginx-mesh upgrade --yes`"), "{plan}");
}

#[test]
fn plan_json_is_machine_readable() {
    let out = stepwise(&["plan", "nginx-service-mesh", "--from", "1.6.0", "--to", "1.7.0", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(plan["to"], "1.7.0");
    assert_eq!(plan["hops"][0]["from"], "1.6.0");
    assert!(plan["hops"][0]["steps"].as_array().is_some_and(|s| !s.is_empty()));
}

#[test]
fn impossible_requests_exit_with_documented_codes() {
    let out = stepwise(&["plan", "istio", "--from", "1.0", "--to", "1.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("known products"), "{}", text(&out.stderr));

    let out = stepwise(&["plan", "nginx-service-mesh", "--from", "1.7.0", "--to", "1.6.0"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("does not downgrade"));

    let out =
        stepwise(&["plan", "nginx-service-mesh", "--from", "1.6.0", "--to", "1.7.0", "--fact", "platform=windows"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("kubernetes"), "{}", text(&out.stderr));
}

#[test]
fn set_names_and_values_are_checked_before_planning() {
    let plan = ["plan", "kuma", "--from", "2.6.0", "--to", "2.7"];
    let out = stepwise(&[&plan[..], &["--set", "meshed_namespace=shop"]].concat());
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(said.contains("kuma has no variable `meshed_namespace`"), "{said}");
    assert!(said.contains("did you mean `meshed_namespaces`?"), "{said}");

    let out = stepwise(&[&plan[..], &["--set", "namespace=Kuma_NS"]].concat());
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(said.contains("--set namespace: `Kuma_NS` does not match the pattern"), "{said}");

    let out = stepwise(&[&plan[..], &["--set", "namespace=kuma-ns"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn show_prints_a_procedure_in_full() {
    let out = stepwise(&["show", "nginx-service-mesh", "in-place"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("Steps:") && shown.contains("nginx-meshctl upgrade"), "{shown}");
    let out = stepwise(&["show", "nginx-service-mesh", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("in-place"), "valid ids are listed");
}

#[test]
fn completions_man_page_and_version_are_generated() {
    let out = stepwise(&["completions", "bash"]);
    assert!(out.status.success());
    // The script asks stepwise what to offer (see the test below for what it offers).
    assert!(text(&out.stdout).contains("_clap_complete_stepwise stepwise"), "{}", text(&out.stdout));
    let out = stepwise(&["man"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with(".ie"), "roff output");
    let out = stepwise(&["--version"]);
    let version = text(&out.stdout);
    assert!(version.starts_with(&format!("stepwise {}", env!("CARGO_PKG_VERSION"))), "{version}");
    assert!(version.contains('('), "the git revision is shown: {version}");
}

/// What bash offers after `line` when Tab is pressed, with the script
/// `stepwise completions bash` prints loaded as a completions file would be.
fn bash_completes(line: &[&str], state_dir: &std::path::Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("stepwise.bash");
    std::fs::write(&script, stepwise(&["completions", "bash"]).stdout).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_stepwise")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let words = line.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
    let body = format!(
        "source \"$1\"; COMP_WORDS=({words}); COMP_CWORD={}; COMP_TYPE=9; \
         _clap_complete_stepwise stepwise '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        line.len() - 1,
        line[line.len() - 1],
        line[line.len() - 2]
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &body, "completion-test"])
        .arg(&script)
        .env("PATH", path)
        .env("STEPWISE_STATE_DIR", state_dir)
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

#[test]
fn completions_offer_product_names_procedure_ids_and_session_ids() {
    let state = tempfile::tempdir().unwrap();
    let id = "20261202-010203-kuma-2.6.0-to-2.7.0";
    std::fs::create_dir_all(state.path().join("sessions").join(id)).unwrap();
    let offered = bash_completes(&["stepwise", "show", ""], state.path());
    assert!(offered.contains(&"nginx-service-mesh".to_string()), "{offered:?}");
    assert!(offered.contains(&"kong-mesh".to_string()), "{offered:?}");
    let offered = bash_completes(&["stepwise", "plan", "ku"], state.path());
    assert_eq!(offered, ["kuma"]);
    let offered = bash_completes(&["stepwise", "show", "nginx-service-mesh", "in-"], state.path());
    assert!(offered.contains(&"in-place".to_string()), "{offered:?}");
    let offered = bash_completes(&["stepwise", "resume", ""], state.path());
    assert!(offered.contains(&id.to_string()), "{offered:?}");
    let offered = bash_completes(&["stepwise", "reh"], state.path());
    assert_eq!(offered, ["rehearse"]);
}

/// The binary with a kubeconfig that cannot be read, named as `how` says.
fn without_kubeconfig(how: &str, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    cmd.args(args).arg("--state-dir").arg(home.path().join("state")).env("NO_COLOR", "1").env("HOME", home.path());
    match how {
        "env" => cmd.env("KUBECONFIG", "/nonexistent/kubeconfig"),
        _ => cmd.env_remove("KUBECONFIG"),
    };
    cmd.output().expect("the stepwise binary runs")
}

#[test]
fn a_missing_kubeconfig_is_named_once_before_any_plan_is_shown() {
    let run = ["run", "kong-gateway", "--from", "2.7.0", "--to", "2.8.0", "--yes"];
    let out = without_kubeconfig("env", &run);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(text(&out.stdout).is_empty(), "no plan is printed first: {}", text(&out.stdout));
    assert_eq!(err.matches("/nonexistent/kubeconfig").count(), 1, "the path is quoted once: {err}");
    assert!(err.contains("named by KUBECONFIG"), "{err}");
    assert!(!err.contains("set KUBECONFIG"), "KUBECONFIG is already set: {err}");

    let out = without_kubeconfig("default", &run);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains(".kube/config") && err.contains("KUBECONFIG is not set"), "{err}");
}

#[test]
fn plan_without_from_asks_the_cluster_and_says_how_to_do_without() {
    let out = without_kubeconfig("env", &["plan", "nginx-service-mesh", "--to", "1.7.0"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("cannot read the kubeconfig /nonexistent/kubeconfig"), "{err}");
    assert!(err.contains("pass --from VERSION"), "{err}");
}

#[test]
fn cluster_flags_belong_to_the_commands_that_use_a_cluster() {
    let out = stepwise(&["list", "--context", "prod"]);
    assert_eq!(out.status.code(), Some(2), "list uses no cluster");
    let help = text(&stepwise(&["lint", "--help"]).stdout);
    assert!(!help.contains("--kubeconfig"), "{help}");
    for command in ["plan", "run", "rehearse", "resume", "backup", "restore"] {
        let help = text(&stepwise(&[command, "--help"]).stdout);
        assert!(help.contains("--kubeconfig") && help.contains("--context"), "{command}: {help}");
    }
}

#[test]
fn man_writes_a_page_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let out = stepwise(&["man", "--out", pages.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let top = std::fs::read_to_string(pages.join("stepwise.1")).expect("stepwise.1 is written");
    for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "NO_COLOR"] {
        assert!(top.contains(section), "stepwise.1 has no {section}");
    }
    for command in ["list", "plan", "show", "lint", "run", "rehearse", "resume", "sessions", "backup", "restore"] {
        let page = std::fs::read_to_string(pages.join(format!("stepwise-{command}.1")))
            .unwrap_or_else(|e| panic!("stepwise-{command}.1: {e}"));
        assert!(page.contains(&format!("stepwise-{command}")), "stepwise-{command}.1 names its command");
    }
}

#[test]
fn the_worked_example_in_the_authoring_guide_passes_lint_and_plans() {
    let guide = std::fs::read_to_string("docs/runbooks.md").unwrap();
    let blocks: Vec<&str> = guide.split("```yaml\n").skip(1).map(|b| b.split("```").next().unwrap_or("")).collect();
    assert!(blocks.len() >= 2, "the guide shows a product file and a procedure");
    let dir = tempfile::tempdir().unwrap();
    let product = dir.path().join("acme-mesh");
    std::fs::create_dir(&product).unwrap();
    std::fs::write(product.join("product.yaml"), blocks[0]).unwrap();
    std::fs::write(product.join("manual.yaml"), blocks[1]).unwrap();
    let out = stepwise(&["lint", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out =
        stepwise(&["--runbooks", dir.path().to_str().unwrap(), "plan", "acme-mesh", "--from", "1.0", "--to", "1.3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(2 hops"), "{}", text(&out.stdout));
}

/// The guide's blocks that start with `# acme-gateway/FILE`, as (file, text).
fn acme_gateway_files(guide: &str) -> Vec<(String, String)> {
    let blocks = guide.split("```yaml\n").skip(1).map(|b| b.split("```").next().unwrap_or(""));
    blocks
        .filter_map(|b| {
            let name = b.lines().next()?.strip_prefix("# acme-gateway/")?;
            Some((name.trim().to_string(), b.to_string()))
        })
        .collect()
}

#[test]
fn the_second_example_in_the_authoring_guide_lints_and_plans_per_hop() {
    let guide = std::fs::read_to_string("docs/runbooks.md").unwrap();
    let files = acme_gateway_files(&guide);
    assert_eq!(files.len(), 3, "the guide shows acme-gateway's product and two procedures");
    let dir = tempfile::tempdir().unwrap();
    let product = dir.path().join("acme-gateway");
    std::fs::create_dir(&product).unwrap();
    for (name, body) in &files {
        std::fs::write(product.join(name), body).unwrap();
    }
    let root = dir.path().to_str().unwrap();
    let out = stepwise(&["lint", root]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = |facts: &[&str]| -> serde_json::Value {
        let mut args =
            vec!["--runbooks", root, "plan", "acme-gateway", "--from", "3.1", "--to", "stable-3.4", "-o", "json"];
        for f in facts {
            args.extend(["--fact", f]);
        }
        let out = stepwise(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("plan JSON")
    };
    let hops = |plan: &serde_json::Value| -> Vec<(String, Vec<String>, String, Vec<String>)> {
        plan["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let steps: Vec<String> =
                    h["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
                let upgrade = h["steps"].as_array().unwrap().iter().find(|s| s["id"] == "upgrade").unwrap();
                let notes = h["notes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string());
                (h["to"].as_str().unwrap().to_string(), steps, upgrade["does"][0].to_string(), notes.collect())
            })
            .collect()
    };
    let with_db = hops(&plan(&[]));
    let to: Vec<&str> = with_db.iter().map(|h| h.0.as_str()).collect();
    // The product writes its versions `stable-3.4.0`, and the plan does too.
    assert_eq!(to, ["stable-3.2.0", "stable-3.3.0", "stable-3.4.0"]);
    let steps: Vec<Vec<String>> = with_db.iter().map(|h| h.1.clone()).collect();
    let ids = |s: &[&str]| s.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(steps[0], ids(&["healthy", "upgrade", "old-migrations", "ready"]));
    assert_eq!(steps[1], ids(&["healthy", "crds", "upgrade", "old-migrations", "ready"]));
    assert_eq!(steps[2], steps[1]);
    for (hop, chart) in with_db.iter().zip(["2.33.1", "2.35.0", "2.38.0"]) {
        assert!(hop.2.contains(&format!("--version {chart} ")), "{}", hop.2);
        // The values file is empty by default, so its flag is left out.
        assert!(!hop.2.contains("--values"), "{}", hop.2);
    }
    assert_eq!(with_db.iter().map(|h| h.3.len()).collect::<Vec<_>>(), [0, 1, 0]);

    let without_db = hops(&plan(&["database=off"]));
    assert_eq!(without_db[1].1, ids(&["healthy", "crds", "upgrade", "ready"]));
    assert!(without_db.iter().all(|h| h.3.is_empty()), "the note is for gateways with a database");

    let manifests = plan(&["install_method=manifests"]);
    let last = &manifests["hops"][2]["steps"][0]["does"][0];
    assert!(last.to_string().contains("--version stable-3.4.0 "), "{last}");
    // A version the vendor writes with another label is not one of its releases.
    let out = stepwise(&["--runbooks", root, "plan", "acme-gateway", "--from", "3.1", "--to", "edge-3.4.0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("written like `stable-1.2.3`"), "{}", text(&out.stderr));
}
