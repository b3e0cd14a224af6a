//! The runbooks name only what the vendor's releases have: every Deployment,
//! CRD and nginx-meshctl command and flag in the NGINX Service Mesh runbooks is
//! checked against the vendor facts in tests/fixtures/vendor/ (the same facts
//! the stand-ins act on). A runbook that waits for a Deployment the releases do
//! not have, or passes a flag the CLI refuses, fails here before any journey.
//! So is the chart each Helm hop installs: the product's per-release
//! `chart_version` must be the chart the vendor published for that release.
//! Every kumactl call of the Kuma and Kong Mesh runbooks is checked against the
//! kumactl of each release it may run with (its flags and modes), the kumactl
//! stand-in is held to the same facts, and Kuma's version notes must lint clean
//! and show in the plan of a hop they apply to.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

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

/// An argument vector as written in a runbook: a flag element
/// (`{flag: --image-tag, value: "{{image_tag}}"}`) counts as `FLAG=VALUE`.
fn argv_strings(v: &Value) -> Vec<String> {
    let element = |e: &Value| match (e.as_str(), e.get("flag").and_then(Value::as_str)) {
        (Some(s), _) => s.to_string(),
        (None, Some(flag)) => format!("{flag}={}", e["value"].as_str().unwrap_or_default()),
        _ => panic!("not an argv element: {e}"),
    };
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(element).collect()
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
        .map(argv_strings)
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
         - command: {argv: [nginx-meshctl, --namespace, x, upgrade, --registry-server, r]}\n  \
         - command: {argv: [nginx-meshctl, upgrade, {flag: --image-tag, value: \"{{image_tag}}\"}]}\n",
    )
    .unwrap();
    assert_eq!(deployment_names(&file), ["nginx-mesh-controller"]);
    let argvs = meshctl_argvs(&file);
    assert_eq!(meshctl_problems(&argvs[0], &facts), ["nginx-meshctl upgrade has no flag `--registry-server`"]);
    assert_eq!(meshctl_problems(&argvs[1], &facts), ["nginx-meshctl upgrade has no flag `--image-tag`"]);
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
            .any(|argv| argv_strings(argv).iter().any(|a| a.contains("{{chart_version}}")));
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

/// Whether `release` lies in a since/until span of the vendor facts (since: the
/// first release that has it; until: the first that no longer has it).
fn within(release: &Version, span: &Value) -> bool {
    let at = |key: &str| span.get(key).and_then(Value::as_str).map(|v| Version::parse(v).unwrap());
    at("since").is_none_or(|since| since <= *release) && at("until").is_none_or(|until| *release < until)
}

/// The names in a since/until table of the facts that `release` has.
fn names_at(table: &Value, release: &Version) -> Vec<String> {
    let table = table.as_object().unwrap_or_else(|| panic!("not a since/until table: {table}"));
    table.iter().filter(|(_, span)| within(release, span)).map(|(name, _)| name.clone()).collect()
}

/// What one kumactl release accepts, by the vendor facts: the Kuma release it
/// is built on, its `install control-plane` flags, its modes and its `version`
/// flags. Kong Mesh's kumactl is Kuma's of its base release plus its own extra
/// flags; `None` when the facts do not say which Kuma release that is.
struct Kumactl {
    base: Version,
    install_flags: Vec<String>,
    modes: Vec<String>,
    version_flags: Vec<String>,
}

fn kumactl_of(product: &str, release: &Version, kuma: &Value, kong_mesh: &Value) -> Option<Kumactl> {
    let base = match product {
        "kuma" => release.clone(),
        "kong-mesh" => {
            let facts = &kong_mesh["kumactl"];
            let same_since = Version::parse(facts["same_as_kuma_since"].as_str().unwrap()).unwrap();
            if *release >= same_since {
                release.clone()
            } else {
                let line = format!("{}.{}.0", release.major(), release.minor());
                Version::parse(facts["kuma_base"].get(&line)?.as_str().unwrap()).unwrap()
            }
        }
        other => panic!("no kumactl facts for {other}"),
    };
    let install = &kuma["kumactl"]["install_control_plane"];
    let mut install_flags = names_at(&install["flags"], &base);
    if product == "kong-mesh" {
        install_flags.extend(names_at(&kong_mesh["kumactl"]["extra_install_flags"], release));
    }
    Some(Kumactl {
        modes: names_at(&install["modes"], &base),
        version_flags: names_at(&kuma["kumactl"]["version"]["flags"], &base),
        install_flags,
        base,
    })
}

/// What is wrong with one kumactl argument vector for one kumactl release.
fn kumactl_problems(argv: &[String], kumactl: &Kumactl) -> Vec<String> {
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let (command, flags, rest) = match args.as_slice() {
        ["install", "control-plane", rest @ ..] => ("install control-plane", &kumactl.install_flags, rest),
        ["version", rest @ ..] => ("version", &kumactl.version_flags, rest),
        _ => return vec![format!("`{}` is not a kumactl command these checks know", args.join(" "))],
    };
    let mut problems = Vec::new();
    let mut rest = rest.iter().peekable();
    while let Some(arg) = rest.next() {
        let Some(flag) = arg.starts_with('-').then(|| arg.split('=').next().unwrap()) else {
            problems.push(format!("kumactl {command} takes no argument `{arg}`"));
            continue;
        };
        if !flags.iter().any(|f| f == flag) {
            problems.push(format!("kumactl {command} (Kuma {}) has no flag `{flag}`", kumactl.base));
            // What follows is taken for its value, not reported again.
            if !arg.contains('=') && rest.peek().is_some_and(|v| !v.starts_with('-')) {
                rest.next();
            }
            continue;
        }
        let value = if arg.contains('=') {
            Some(arg.split_once('=').unwrap().1)
        } else if rest.peek().is_some_and(|v| !v.starts_with('-')) {
            rest.next().copied()
        } else {
            None
        };
        if flag == "--mode"
            && let Some(mode) = value
            && !mode.contains("{{")
            && !kumactl.modes.iter().any(|m| m == mode)
        {
            problems.push(format!(
                "kumactl (Kuma {}) has no mode `{mode}`: {}",
                kumactl.base,
                kumactl.modes.join(", ")
            ));
        }
    }
    problems
}

/// Every kumactl argument vector of one step, with the step's id.
fn kumactl_argvs(step: &Value) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    maps(step, &mut all);
    all.iter()
        .flat_map(|m| ["argv", "dry_run_argv"].into_iter().filter_map(|k| m.get(k)))
        .map(argv_strings)
        .filter(|argv| argv.first().is_some_and(|a| a == "kumactl" || a == "{{kumactl}}"))
        .collect()
}

/// What is wrong with the kumactl calls of one procedure: every release the
/// procedure may go to is checked against the kumactl of that release, for the
/// steps that run on a hop there (a step's `when: {to: …}` decides). Returns
/// the problems, the number of (release, argv) pairs checked and the releases
/// the facts cannot place (no known Kuma base).
fn procedure_kumactl_problems(
    product: &str,
    releases: &[String],
    procedure: &Value,
    kuma: &Value,
    kong_mesh: &Value,
) -> (Vec<String>, usize, Vec<String>) {
    let range = |v: Option<&Value>| VersionRange::parse(v.and_then(Value::as_str).unwrap_or("*")).unwrap();
    let to = range(procedure["applies"].get("to"));
    let (mut problems, mut checked, mut unplaced) = (Vec::new(), 0, Vec::new());
    for release in releases.iter().map(|r| Version::parse(r).unwrap()).filter(|r| to.matches(r)) {
        for step in procedure["steps"].as_array().into_iter().flatten() {
            if !range(step.get("when").and_then(|w| w.get("to"))).matches(&release) {
                continue;
            }
            let id = step["id"].as_str().unwrap_or("?");
            for argv in kumactl_argvs(step) {
                let Some(kumactl) = kumactl_of(product, &release, kuma, kong_mesh) else {
                    unplaced.push(release.to_string());
                    continue;
                };
                checked += 1;
                problems
                    .extend(kumactl_problems(&argv, &kumactl).into_iter().map(|p| format!("#{id}, to {release}: {p}")));
            }
        }
    }
    unplaced.sort();
    unplaced.dedup();
    (problems, checked, unplaced)
}

#[test]
fn every_kumactl_call_is_one_the_kumactl_of_its_hop_accepts() {
    let (kuma, kong_mesh) = (facts("kuma"), facts("kong-mesh"));
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut unplaced = Vec::new();
    for product in ["kuma", "kong-mesh"] {
        let (file, procedures) = product_and_procedures(product);
        let releases = strings(&file["releases"]);
        for (name, procedure) in &procedures {
            let (p, c, u) = procedure_kumactl_problems(product, &releases, procedure, &kuma, &kong_mesh);
            problems.extend(p.into_iter().map(|p| format!("{name}{p}")));
            checked += c;
            unplaced.extend(u.into_iter().map(|r| format!("{product} {r}")));
        }
    }
    assert!(problems.is_empty(), "the runbooks call kumactl with what its release lacks:\n{}", problems.join("\n"));
    assert!(checked >= 100, "too few kumactl calls were checked: {checked}");
    // Kong Mesh 1.9 is the one release a kumactl procedure goes to whose Kuma
    // base no source records; it lies between bases that accept every call.
    unplaced.sort();
    unplaced.dedup();
    assert_eq!(unplaced, ["kong-mesh 1.9.0"], "releases the kumactl facts cannot place");
}

#[test]
fn the_kumactl_check_finds_a_flag_and_a_mode_the_release_lacks() {
    let (kuma, kong_mesh) = (facts("kuma"), facts("kong-mesh"));
    let procedure: Value = serde_saphyr::from_str(
        "applies: {from: '>=1.0.0', to: '>=1.1.0'}\nsteps:\n  \
         - id: old\n    when: {to: '<1.6.0'}\n    command: {argv: ['{{kumactl}}', install, control-plane, --mode, zone]}\n  \
         - id: new\n    when: {to: '>=1.6.0'}\n    apply: {command: {argv: ['{{kumactl}}', install, control-plane, --values, v.yaml]}}\n  \
         - id: gateway\n    command: {argv: [kumactl, install, control-plane, --experimental-gatewayapi]}\n",
    )
    .unwrap();
    let releases = ["1.1.0", "1.2.0", "1.6.0", "2.6.0", "2.7.0"].map(String::from);
    let (problems, checked, unplaced) = procedure_kumactl_problems("kuma", &releases, &procedure, &kuma, &kong_mesh);
    assert_eq!(checked, 10);
    assert!(unplaced.is_empty());
    let gateway = |v: &str| {
        format!("#gateway, to {v}: kumactl install control-plane (Kuma {v}) has no flag `--experimental-gatewayapi`")
    };
    assert_eq!(
        problems,
        [
            "#old, to 1.1.0: kumactl (Kuma 1.1.0) has no mode `zone`: global, remote, standalone".to_string(),
            gateway("1.1.0"),
            gateway("1.2.0"),
            gateway("2.7.0"),
        ]
    );
    // Kong Mesh 1.6 is built on Kuma 1.5, whose kumactl takes no values file.
    let (problems, _, _) = procedure_kumactl_problems(
        "kong-mesh",
        &["1.6.0".to_string()],
        &serde_saphyr::from_str::<Value>(
            "applies: {to: '>=1.1.0'}\nsteps:\n  - id: apply\n    command: {argv: [kumactl, install, control-plane, -f, v.yaml]}\n",
        )
        .unwrap(),
        &kuma,
        &kong_mesh,
    );
    assert_eq!(problems, ["#apply, to 1.6.0: kumactl install control-plane (Kuma 1.5.0) has no flag `-f`"]);
}

/// The kumactl stand-in, run as Kong Mesh's kumactl of `version` with `args`;
/// no cluster is needed for what these tests ask of it.
fn kumactl_standin(version: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(repo().join("tests/standins/kumactl"))
        .args(args)
        .env("KUMACTL_VERSION", version)
        .env_remove("STEPWISE_STANDIN_LOG")
        .output()
        .expect("the kumactl stand-in runs")
}

#[test]
fn the_kumactl_standin_refuses_what_its_release_lacks() {
    let said = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    // Kong Mesh 1.6 is built on Kuma 1.5: no values file yet.
    let out = kumactl_standin("1.6.0", &["install", "control-plane", "--values", "values.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).starts_with("Error: unknown flag: --values\n"), "{}", said(&out));
    let out = kumactl_standin("1.6.0", &["install", "control-plane", "-f", "values.yaml"]);
    assert!(said(&out).starts_with("Error: unknown shorthand flag: 'f' in -f\n"), "{}", said(&out));
    // Kong Mesh 1.7 (Kuma 1.6) has it: the stand-in gets as far as the file.
    let out = kumactl_standin("1.7.0", &["install", "control-plane", "--values", "/nonexistent/values.yaml"]);
    assert!(said(&out).contains("/nonexistent/values.yaml: no such file"), "{}", said(&out));
    // Kuma 2.7 dropped the experimental Gateway API switch.
    let out = kumactl_standin("2.7.0", &["install", "control-plane", "--experimental-gatewayapi"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).starts_with("Error: unknown flag: --experimental-gatewayapi\n"), "{}", said(&out));
    // Kong Mesh 1.3 is built on Kuma 1.2, where remote became zone.
    let out = kumactl_standin("1.3.0", &["install", "control-plane", "--mode", "remote"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert_eq!(said(&out), "Error: invalid mode. Available modes: standalone, zone, global\n");
    // No kumactl has `version --client`; the default release prints its line.
    let out = kumactl_standin("2.0.0", &["version", "--client"]);
    assert!(said(&out).starts_with("Error: unknown flag: --client\n"), "{}", said(&out));
    let out = kumactl_standin("2.0.0", &["version"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Client: Kong Mesh 2.0.0\n");
    // A release the facts cannot place is an error, never a guess.
    let out = kumactl_standin("1.9.0", &["version"]);
    assert!(!out.status.success() && said(&out).contains("Kong Mesh 1.9.0"), "{}", said(&out));
}

#[test]
fn the_kumactl_standin_and_the_facts_agree_on_every_release() {
    // For every Kong Mesh release the facts can place, --values is refused
    // exactly where its Kuma base lacks it.
    let (kuma, kong_mesh) = (facts("kuma"), facts("kong-mesh"));
    let releases = strings(&product_and_procedures("kong-mesh").0["releases"]);
    let mut seen = 0;
    for release in &releases {
        let Some(kumactl) = kumactl_of("kong-mesh", &Version::parse(release).unwrap(), &kuma, &kong_mesh) else {
            continue;
        };
        seen += 1;
        let out = kumactl_standin(release, &["install", "control-plane", "--values", "/nonexistent/values.yaml"]);
        let said = String::from_utf8_lossy(&out.stderr);
        let has = kumactl.install_flags.iter().any(|f| f == "--values");
        assert_eq!(!said.contains("unknown flag: --values"), has, "{release} (Kuma {}): {said}", kumactl.base);
    }
    assert!(seen >= 15, "{seen}");
}

/// The control-plane Deployment names the facts give a kumactl install of `release`.
fn control_plane_names(facts: &Value, release: &Version) -> Vec<String> {
    names_at(&facts["control_plane"]["deployment"], release)
}

#[test]
fn kumactl_procedures_wait_for_the_deployment_of_their_releases() {
    // The procedures name the control plane `{{control_plane}}`; its default
    // must be the Deployment of every release they start from or go to.
    let mut checked = 0;
    for product in ["kuma", "kong-mesh"] {
        let facts = facts(product);
        let (file, procedures) = product_and_procedures(product);
        let default = file["variables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "control_plane")
            .and_then(|v| v["default"].as_str())
            .unwrap()
            .to_string();
        for (name, procedure) in &procedures {
            let methods = &procedure["applies"]["when"]["install_method"];
            if !methods.as_array().is_some_and(|m| m.iter().any(|m| m == "kumactl")) {
                continue;
            }
            let from = VersionRange::parse(procedure["applies"]["from"].as_str().unwrap_or("*")).unwrap();
            let to = VersionRange::parse(procedure["applies"]["to"].as_str().unwrap_or("*")).unwrap();
            for release in strings(&file["releases"]).iter().map(|r| Version::parse(r).unwrap()) {
                if !from.matches(&release) && !to.matches(&release) {
                    continue;
                }
                checked += 1;
                let names = control_plane_names(&facts, &release);
                assert!(
                    names.contains(&default),
                    "{name}: a kumactl install of {product} {release} names its control plane {names:?}, not `{default}`"
                );
            }
        }
    }
    assert!(checked >= 60, "{checked}");
}

fn stepwise(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("stepwise runs")
}

#[test]
fn the_shipped_runbooks_lint_clean() {
    let out = stepwise(&["lint", "runbooks"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("no problems"), "{said}");
}

/// The ids of the notes `stepwise plan` shows for one hop.
fn planned_note_ids(product: &str, from: &str, to: &str, facts: &[String]) -> Vec<String> {
    let mut args = vec!["plan", product, "--from", from, "--to", to, "-o", "json"];
    for fact in facts {
        args.extend(["--fact", fact.as_str()]);
    }
    let out = stepwise(&args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).expect("the plan is JSON");
    plan["hops"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["notes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn every_kuma_version_note_shows_in_the_plan_of_a_hop_it_applies_to() {
    // For each note with a range: the first listed release it goes to, from the
    // release listed just before it (always a hop the path rules allow).
    let (file, _) = product_and_procedures("kuma");
    let releases: Vec<Version> = strings(&file["releases"]).iter().map(|r| Version::parse(r).unwrap()).collect();
    let mut checked = 0;
    for note in file["notes"].as_array().unwrap() {
        let (Some(from), Some(to)) = (note["from"].as_str(), note["to"].as_str()) else { continue };
        let (from, to) = (VersionRange::parse(from).unwrap(), VersionRange::parse(to).unwrap());
        let id = note["id"].as_str().unwrap();
        let hop = releases.windows(2).find(|w| from.matches(&w[0]) && to.matches(&w[1]));
        let [before, after] = hop.unwrap_or_else(|| panic!("{id}: no hop between listed releases fits")) else {
            unreachable!()
        };
        let facts: Vec<String> = note
            .get("when")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(fact, values)| format!("{fact}={}", values[0].as_str().unwrap()))
            .collect();
        let shown = planned_note_ids("kuma", &before.to_string(), &after.to_string(), &facts);
        assert!(
            shown.iter().any(|s| s == id),
            "{id}: plan kuma --from {before} --to {after} {facts:?} shows {shown:?}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "too few version notes were checked: {checked}");
    // Kong Mesh shows Kuma's notes too.
    let shown = planned_note_ids("kong-mesh", "2.7.0", "2.9.0", &[]);
    assert!(shown.iter().any(|s| s == "inbound-request-timeout"), "{shown:?}");
    assert!(shown.iter().any(|s| s == "legacy-tokens-rejected"), "{shown:?}");
}

/// Kong Mesh's `built_on` agrees with the vendor facts' Kuma base of each Kong
/// Mesh release, so a hop shows the notes of the Kuma releases it brings.
#[test]
fn kong_mesh_is_built_on_the_kuma_release_the_vendor_facts_name() {
    let catalog = stepwise::catalog_files::load(&[]).unwrap();
    let product = &catalog.product("kong-mesh").unwrap().product;
    let kumactl = &facts("kong-mesh")["kumactl"];
    let bases = kumactl["kuma_base"].as_object().unwrap();
    assert!(!bases.is_empty());
    for (kong_mesh, kuma) in bases {
        let base = product.base_version("kuma", &Version::parse(kong_mesh).unwrap());
        assert_eq!(base, Some(Version::parse(kuma.as_str().unwrap()).unwrap()), "Kong Mesh {kong_mesh}");
    }
    let same_since = Version::parse(kumactl["same_as_kuma_since"].as_str().unwrap()).unwrap();
    for release in product.releases.iter().filter(|r| **r >= same_since) {
        assert_eq!(product.base_version("kuma", release).as_ref(), Some(release), "Kong Mesh {release}");
    }
}
