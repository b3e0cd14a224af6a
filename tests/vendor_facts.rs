//! The runbooks name only what the vendor's releases have: every Deployment,
//! CRD and nginx-meshctl command and flag in the NGINX Service Mesh runbooks is
//! checked against the vendor facts in tests/fixtures/vendor/ (the same facts
//! the stand-ins act on). A runbook that waits for a Deployment the releases do
//! not have, or passes a flag the CLI refuses, fails here before any journey.
//! So is the chart each Helm hop installs: the product's per-release
//! `chart_version` must be the chart the vendor published for that release.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stepwise::runbook::{Version, VersionRange};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn facts(product: &str) -> Value {
    let path = repo().join("tests/fixtures/vendor").join(format!("{product}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// Every runbook file of a product, parsed.
fn runbooks(product: &str) -> Vec<(PathBuf, Value)> {
    let dir = repo().join("runbooks").join(product);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let value: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, value)
        })
        .collect()
}

/// Every map inside `v`, depth first.
fn maps(v: &Value, out: &mut Vec<serde_json::Map<String, Value>>) {
    match v {
        Value::Object(m) => {
            out.push(m.clone());
            m.values().for_each(|c| maps(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| maps(c, out)),
        _ => {}
    }
}

/// The Deployment names a runbook checks, waits for or detects by.
fn deployment_names(file: &Value) -> Vec<String> {
    let mut all = Vec::new();
    maps(file, &mut all);
    let mut names = Vec::new();
    for m in &all {
        for key in ["deployment_available", "deployment_image", "min_replicas"] {
            if let Some(name) = m.get(key).and_then(|o| o.get("name")).and_then(Value::as_str) {
                names.push(name.to_string());
            }
        }
        if let Some(gone) = m.get("gone")
            && gone.get("resource").and_then(Value::as_str) == Some("deployments.apps")
        {
            names.push(gone["name"].as_str().unwrap().to_string());
        }
    }
    names
}

/// Every argument vector of a runbook that runs nginx-meshctl.
fn meshctl_argvs(file: &Value) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    maps(file, &mut all);
    all.iter()
        .filter_map(|m| m.get("argv").or_else(|| m.get("dry_run_argv")).map(|_| m))
        .flat_map(|m| ["argv", "dry_run_argv"].into_iter().filter_map(|k| m.get(k)))
        .map(strings)
        .filter(|argv| {
            argv.first()
                .is_some_and(|a| a == "nginx-meshctl" || a == "{{current_meshctl}}" || a == "{{target_meshctl}}")
        })
        .collect()
}

/// What is wrong with one nginx-meshctl argument vector by the vendor's facts.
fn meshctl_problems(argv: &[String], facts: &Value) -> Vec<String> {
    let globals = strings(&facts["meshctl"]["global_flags"]);
    let mut args = argv[1..].iter();
    let command = loop {
        match args.next() {
            Some(a) if a.starts_with('-') => {
                if !globals.contains(a) {
                    return vec![format!("`{a}` is not a global flag of nginx-meshctl")];
                }
                args.next();
            }
            Some(a) => break a.clone(),
            None => return vec!["no command".into()],
        }
    };
    let Some(flags) = facts["meshctl"]["commands"].get(&command) else {
        return vec![format!("nginx-meshctl has no command `{command}`")];
    };
    let flags = strings(flags);
    args.filter(|a| a.starts_with('-'))
        .map(|a| a.split('=').next().unwrap().to_string())
        .filter(|a| !flags.contains(a))
        .map(|a| format!("nginx-meshctl {command} has no flag `{a}`"))
        .collect()
}

fn at(path: &Path) -> String {
    path.strip_prefix(repo()).unwrap_or(path).display().to_string()
}

#[test]
fn nginx_service_mesh_runbooks_name_only_what_the_vendor_releases_have() {
    let facts = facts("nginx-service-mesh");
    let control_plane = facts["control_plane"]["deployment"].as_str().unwrap();
    let crds = strings(&facts["crds"]);
    let mut problems = Vec::new();
    let mut seen = (0, 0);
    for (path, file) in runbooks("nginx-service-mesh") {
        for name in deployment_names(&file) {
            seen.0 += 1;
            if name != control_plane {
                problems.push(format!("{}: Deployment `{name}`: the releases name it `{control_plane}`", at(&path)));
            }
        }
        for argv in meshctl_argvs(&file) {
            seen.1 += 1;
            problems.extend(meshctl_problems(&argv, &facts).into_iter().map(|p| format!("{}: {p}", at(&path))));
        }
        let mut all = Vec::new();
        maps(&file, &mut all);
        let named = all.iter().filter_map(|m| m.get("backup")).flat_map(|b| strings(&b["resources"]));
        let defaults = all
            .iter()
            .filter(|m| m.get("name").and_then(Value::as_str) == Some("mesh_crds"))
            .filter_map(|m| m.get("default").and_then(Value::as_str))
            .flat_map(|d| d.split(',').map(str::to_string).collect::<Vec<_>>());
        for crd in named.chain(defaults) {
            if !crds.contains(&crd) {
                problems.push(format!("{}: CRD `{crd}` is not one the releases install", at(&path)));
            }
        }
    }
    assert!(seen.0 >= 8 && seen.1 >= 8, "the walk found too little to check: {seen:?}");
    assert!(problems.is_empty(), "the runbooks disagree with the vendor's releases:\n{}", problems.join("\n"));
}

#[test]
fn the_check_finds_a_wrong_name_and_an_unknown_flag() {
    let facts = facts("nginx-service-mesh");
    let file: Value = serde_saphyr::from_str(
        "steps:\n  - wait: {for: {deployment_available: {namespace: x, name: nginx-mesh-controller}}}\n  \
         - command: {argv: [nginx-meshctl, --namespace, x, upgrade, --registry-server, r]}\n",
    )
    .unwrap();
    assert_eq!(deployment_names(&file), ["nginx-mesh-controller"]);
    let argvs = meshctl_argvs(&file);
    assert_eq!(meshctl_problems(&argvs[0], &facts), ["nginx-meshctl upgrade has no flag `--registry-server`"]);
    let deploy: Vec<String> = ["nginx-meshctl", "--context", "a", "deploy"].map(String::from).to_vec();
    assert_eq!(meshctl_problems(&deploy, &facts), ["`--context` is not a global flag of nginx-meshctl"]);
}

/// What is wrong with the chart versions a product gives its releases
/// (`release_values.*.chart_version` in its product.yaml) by the vendor's facts
/// (`charts`, release to chart version): a value that is not the vendor's chart
/// for that release, a release the facts give a chart and the product lists but
/// gives none, and a Helm procedure (one that installs `{{chart_version}}`) that
/// may go to a listed release without one.
fn chart_problems(product: &Value, procedures: &[(String, Value)], facts: &Value) -> Vec<String> {
    let charts = facts["charts"].as_object().expect("the facts list charts");
    let listed = strings(&product["releases"]);
    let given = |release: &str| product["release_values"].get(release).and_then(|v| v.get("chart_version"));
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut problems = Vec::new();
    if let Some(values) = product["release_values"].as_object() {
        for (release, values) in values {
            let Some(value) = values.get("chart_version") else { continue };
            let value = text(value);
            match charts.get(release) {
                Some(chart) if text(chart) == value => {}
                Some(chart) => problems
                    .push(format!("release {release}: chart_version {value}, the vendor's chart is {}", text(chart))),
                None => problems
                    .push(format!("release {release}: chart_version {value}, the vendor facts know no chart for it")),
            }
        }
    }
    for release in charts.keys().filter(|r| listed.contains(r)) {
        if given(release).is_none() {
            problems
                .push(format!("release {release}: no chart_version, the vendor's chart is {}", text(&charts[release])));
        }
    }
    for (name, procedure) in procedures {
        let mut all = Vec::new();
        maps(procedure, &mut all);
        let installs_chart = all
            .iter()
            .filter_map(|m| m.get("argv"))
            .any(|argv| strings(argv).iter().any(|a| a.contains("{{chart_version}}")));
        if !installs_chart {
            continue;
        }
        let to = VersionRange::parse(procedure["applies"]["to"].as_str().unwrap_or("*")).unwrap();
        for release in listed.iter().filter(|r| to.matches(&Version::parse(r).unwrap())) {
            if given(release).is_none() {
                problems.push(format!("{name}: goes to {release}, which has no chart_version"));
            }
        }
    }
    problems
}

/// The product file and the other runbook files of a product.
fn product_and_procedures(product: &str) -> (Value, Vec<(String, Value)>) {
    let mut files = runbooks(product);
    let at_product = files.iter().position(|(p, _)| p.ends_with("product.yaml")).unwrap();
    let (_, product) = files.remove(at_product);
    (product, files.into_iter().map(|(p, v)| (at(&p), v)).collect())
}

#[test]
fn every_helm_hop_installs_the_chart_the_vendor_published_for_its_release() {
    let mut checked = 0;
    for product in ["kuma", "kong-mesh", "nginx-service-mesh"] {
        let facts = facts(product);
        let (file, procedures) = product_and_procedures(product);
        let problems = chart_problems(&file, &procedures, &facts);
        assert!(
            problems.is_empty(),
            "runbooks/{product}: the charts disagree with the vendor's:\n{}",
            problems.join("\n")
        );
        checked += file["release_values"].as_object().map_or(0, |v| v.len());
    }
    assert!(checked >= 45, "too few chart versions were checked: {checked}");
}

#[test]
fn the_chart_check_finds_a_wrong_a_missing_and_an_unreachable_chart() {
    let facts: Value =
        serde_json::from_str(r#"{"charts": {"1.0.0": "0.4.0", "1.1.0": "0.5.0", "1.2.0": "1.2.0"}}"#).unwrap();
    let product: Value = serde_saphyr::from_str(
        "releases: [1.0.0, 1.1.0, 1.2.0, 1.3.0]\nrelease_values:\n  1.0.0: {chart_version: 0.4.0}\n  \
         1.1.0: {chart_version: 1.1.0}\n",
    )
    .unwrap();
    let helm: Value = serde_saphyr::from_str(
        "applies: {from: '>=1.0.0', to: '>=1.1.0'}\nsteps:\n  - command: {argv: [helm, upgrade, r, c, --version, '{{chart_version}}']}\n",
    )
    .unwrap();
    let problems = chart_problems(&product, &[("helm.yaml".into(), helm)], &facts);
    assert_eq!(
        problems,
        [
            "release 1.1.0: chart_version 1.1.0, the vendor's chart is 0.5.0",
            "release 1.2.0: no chart_version, the vendor's chart is 1.2.0",
            "helm.yaml: goes to 1.2.0, which has no chart_version",
            "helm.yaml: goes to 1.3.0, which has no chart_version",
        ]
    );
}
