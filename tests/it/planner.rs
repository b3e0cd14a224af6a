//! Planner rules on small catalogs written for each case, so every boundary is
//! visible in the test itself. Paths through the shipped runbooks are tested in
//! `shipped_paths.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use stepwise::plan::{PlanError, Request, plan};
use stepwise::runbook::error::SourceFile;
use stepwise::runbook::load::{RawFile, build};
use stepwise::runbook::{Catalog, Version};

const PRODUCT: &str = r#"
id: meshy
name: Meshy
releases: [1.0.0, 1.1.0, 1.2.0, 1.2.3, 1.3.0, 1.4.0, 1.5.0, 1.6.0, 1.7.0, 1.8.0, 2.0.0]
facts:
  - {name: method, values: [cli, helm], default: cli}
path:
  rules:
    - reason: from 1.4 on, up to two minor versions per hop
      to: ">=1.4.0, <2.0.0"
      max_minor: 2
    - reason: before 1.4, one minor version per hop
      to: "<1.4.0"
      max_minor: 1
    - reason: 1.8 moves to 2.0 as a major upgrade
      from: "1.8.x"
      to: "2.0.x"
      allow_major: true
      acknowledge: Read the 2.0 breaking changes first.
notes:
  - {id: two-zero, severity: breaking, title: Two, text: big change, from: "<2.0.0", to: ">=2.0.0"}
  - {id: one-five, severity: warning, title: Five, text: flag renamed, from: "<1.5.0", to: ">=1.5.0"}
"#;

fn procedure(id: &str, disruption: &str, applies: &str) -> String {
    format!(
        "id: {id}\nproduct: meshy\ntitle: {id}\ndescription: d\ndisruption: {disruption}\napplies: {applies}\nsteps:\n  - id: go\n    title: Go\n    explain: e\n    command: {{argv: [meshctl, upgrade, \"{{{{to_version}}}}\"]}}\n"
    )
}

fn catalog(procedures: &[String]) -> Catalog {
    let mut files = vec![RawFile::new("meshy", SourceFile::new("meshy/product.yaml", PRODUCT), None)];
    for (i, text) in procedures.iter().enumerate() {
        files.push(RawFile::new("meshy", SourceFile::new(format!("meshy/p{i}.yaml"), text.clone()), None));
    }
    match build(files) {
        Ok(c) => c,
        Err(e) => panic!("test catalog invalid: {e:?}"),
    }
}

fn standard() -> Catalog {
    catalog(&[
        procedure("rolling", "low", "{from: '*', to: '*', previous_release_only: true, when: {method: [cli]}}"),
        procedure("reinstall", "high", "{from: '*', to: '*'}"),
    ])
}

fn request(from: &str, to: &str) -> Request {
    Request { product: "meshy".into(), from: Some(Version::parse(from).unwrap()), to: to.into(), ..Request::default() }
}

fn stops(from: &str, to: &str) -> Vec<String> {
    let plan = plan(&standard(), &request(from, to)).unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
    let mut out = vec![plan.from.to_string()];
    out.extend(plan.hops.iter().map(|h| h.to.to_string()));
    out
}

#[test]
fn two_minor_rule_splits_long_jumps_like_the_kuma_example() {
    // 1.2 -> 1.6 becomes 1.2 -> 1.4 -> 1.6; the stop is the newest 1.4 release.
    assert_eq!(stops("1.2.0", "1.6.0"), ["1.2.0", "1.4.0", "1.6.0"]);
    assert_eq!(stops("1.4.0", "1.6.0"), ["1.4.0", "1.6.0"]);
    assert_eq!(stops("1.5.0", "1.6.0"), ["1.5.0", "1.6.0"]);
}

#[test]
fn older_targets_step_one_minor_at_a_time_in_long_chains() {
    assert_eq!(stops("1.0.0", "1.3.0"), ["1.0.0", "1.1.0", "1.2.3", "1.3.0"]);
    assert_eq!(stops("1.0.0", "1.8.0"), ["1.0.0", "1.1.0", "1.2.3", "1.4.0", "1.6.0", "1.8.0"]);
}

#[test]
fn major_hop_needs_its_rule_and_carries_the_acknowledgement() {
    let p = plan(&standard(), &request("1.6.0", "2.0.0")).unwrap();
    let stops: Vec<String> = p.hops.iter().map(|h| h.to.to_string()).collect();
    assert_eq!(stops, ["1.8.0", "2.0.0"]);
    assert_eq!(p.hops[1].acknowledge.as_deref(), Some("Read the 2.0 breaking changes first."));
    assert!(p.hops[0].acknowledge.is_none());
    assert!(p.hops[1].notes.iter().any(|n| n.id == "two-zero"));
    assert!(!p.hops[0].notes.iter().any(|n| n.id == "two-zero"));
}

#[test]
fn notes_apply_only_to_hops_that_cross_them() {
    let p = plan(&standard(), &request("1.3.0", "1.5.0")).unwrap();
    assert_eq!(p.hops.len(), 1);
    assert!(p.hops[0].notes.iter().any(|n| n.id == "one-five"));
    let p = plan(&standard(), &request("1.5.0", "1.6.0")).unwrap();
    assert!(p.hops[0].notes.is_empty());
}

#[test]
fn least_disruptive_procedure_wins_and_says_why() {
    let p = plan(&standard(), &request("1.5.0", "1.6.0")).unwrap();
    assert_eq!(p.hops[0].procedure, "rolling");
    assert!(p.hops[0].reason.contains("least disruptive of 2"), "{}", p.hops[0].reason);
    assert_eq!(p.hops[0].alternatives, ["reinstall (high disruption)"]);
    // Two releases back, only the reinstall fits.
    let p = plan(&standard(), &request("1.4.0", "1.6.0")).unwrap();
    assert_eq!(p.hops[0].procedure, "reinstall");
    assert!(p.hops[0].reason.contains("the only procedure"));
}

#[test]
fn facts_decide_which_procedures_fit() {
    let mut req = request("1.5.0", "1.6.0");
    req.facts.insert("method".into(), "helm".into());
    let p = plan(&standard(), &req).unwrap();
    assert_eq!(p.hops[0].procedure, "reinstall");
    assert_eq!(p.facts.get("method").map(String::as_str), Some("helm"));
}

#[test]
fn explicit_procedure_is_used_or_refused_with_the_valid_ids() {
    let mut req = request("1.5.0", "1.6.0");
    req.procedure = Some("reinstall".into());
    assert_eq!(plan(&standard(), &req).unwrap().hops[0].procedure, "reinstall");
    let mut req = request("1.4.0", "1.6.0");
    req.procedure = Some("rolling".into());
    match plan(&standard(), &req) {
        Err(PlanError::ProcedureDoesNotFit { id, valid, .. }) => {
            assert_eq!(id, "rolling");
            assert_eq!(valid, ["reinstall"]);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn downgrades_same_versions_and_unknown_versions_are_refused() {
    assert!(matches!(plan(&standard(), &request("1.6.0", "1.4.0")), Err(PlanError::Downgrade { .. })));
    assert!(matches!(plan(&standard(), &request("1.6.0", "1.6.0")), Err(PlanError::AlreadyThere { .. })));
    match plan(&standard(), &request("1.6.0", "1.9.0")) {
        Err(PlanError::UnknownVersion { known, .. }) => assert!(known.contains(&"1.8.0".to_string())),
        other => panic!("expected unknown version, got {other:?}"),
    }
    assert!(matches!(plan(&standard(), &request("1.6.0", "latest")), Err(PlanError::BadVersion(_))));
    let mut req = request("1.0.0", "1.1.0");
    req.product = "nope".into();
    match plan(&standard(), &req) {
        Err(PlanError::UnknownProduct { known, .. }) => assert_eq!(known, ["meshy"]),
        other => panic!("expected unknown product, got {other:?}"),
    }
}

#[test]
fn partial_targets_mean_the_newest_release_of_that_line() {
    let p = plan(&standard(), &request("1.1.0", "1.2")).unwrap();
    assert_eq!(p.to.to_string(), "1.2.3");
    let p = plan(&standard(), &request("v1.6", "v2")).unwrap();
    assert_eq!(p.to.to_string(), "2.0.0");
}

#[test]
fn a_gap_in_the_rules_is_explained() {
    // Without the major rule nothing leads from 1.x to 2.x.
    let c = catalog(&[procedure("reinstall", "high", "{from: '*', to: '<2.0.0'}")]);
    match plan(&c, &request("1.8.0", "2.0.0")) {
        Err(PlanError::NoPath { explanation, .. }) => {
            assert!(explanation.contains("no procedure fits"), "{explanation}")
        }
        other => panic!("expected no path, got {other:?}"),
    }
}

#[test]
fn range_boundaries_decide_fit_exactly() {
    let c = catalog(&[
        procedure("early", "high", "{from: '>=1.0.0, <1.5.0', to: '<=1.6.0'}"),
        procedure("late", "high", "{from: '>=1.5.0', to: '>1.6.0'}"),
    ]);
    assert_eq!(plan(&c, &request("1.4.0", "1.6.0")).unwrap().hops[0].procedure, "early");
    assert_eq!(plan(&c, &request("1.6.0", "1.8.0")).unwrap().hops[0].procedure, "late");
    // 1.5.0 -> 1.6.0: `early` stops below 1.5.0 and `late` starts above 1.6.0.
    assert!(matches!(plan(&c, &request("1.5.0", "1.6.0")), Err(PlanError::NoPath { .. })));
}

#[test]
fn steps_show_templates_resolved_with_the_hop_versions() {
    let p = plan(&standard(), &request("1.2.0", "1.6.0")).unwrap();
    assert_eq!(p.hops[0].steps[0].does[0], "run `meshctl upgrade 1.4.0`");
    assert_eq!(p.hops[1].steps[0].does[0], "run `meshctl upgrade 1.6.0`");
}

#[test]
fn each_hop_sees_the_values_of_the_release_it_goes_to() {
    let product = PRODUCT.replacen(
        "path:",
        "release_values:\n  1.1.0: {chart_version: 0.9.1}\n  1.2.3: {chart_version: 1.0.4}\npath:",
        1,
    );
    let helm = "id: helm\nproduct: meshy\ntitle: Helm\ndescription: d\ndisruption: low\napplies: {from: '*', to: '*'}\n\
                steps:\n  - id: go\n    title: Go\n    explain: e\n    command: {argv: [helm, upgrade, meshy, --version, \"{{chart_version}}\"]}\n";
    let files = vec![
        RawFile::new("meshy", SourceFile::new("meshy/product.yaml", product), None),
        RawFile::new("meshy", SourceFile::new("meshy/helm.yaml", helm.to_string()), None),
    ];
    let catalog = build(files).unwrap_or_else(|e| panic!("{e:?}"));
    let p = plan(&catalog, &request("1.0.0", "1.2.3")).unwrap();
    let runs: Vec<String> = p.hops.iter().map(|h| h.steps[0].does[0].clone()).collect();
    assert_eq!(runs, ["run `helm upgrade meshy --version 0.9.1`", "run `helm upgrade meshy --version 1.0.4`"]);

    // A release value for a release the product does not list is an error.
    let wrong = PRODUCT.replacen("path:", "release_values:\n  1.1.5: {chart_version: 0.9.9}\npath:", 1);
    let files = vec![RawFile::new("meshy", SourceFile::new("meshy/product.yaml", wrong), None)];
    let problems = format!("{:?}", build(files).expect_err("refused"));
    assert!(problems.contains("`release_values` names `1.1.5`"), "{problems}");
}

#[test]
fn a_step_condition_leaves_the_step_out_of_hops_it_does_not_hold_for() {
    let steps = "steps:\n  - id: values-flag\n    title: Install with --values\n    explain: e\n    when: {to: \">=1.7.0\"}\n    command: {argv: [meshctl, install, --values, v.yaml]}\n  \
                 - id: old-flags\n    title: Install with --set\n    explain: e\n    when: {to: \"<1.7.0\", facts: {method: [cli]}}\n    command: {argv: [meshctl, install, --set, a=b]}\n  \
                 - id: always\n    title: Check\n    explain: e\n    command: {argv: [meshctl, check]}\n";
    let text = format!(
        "id: upgrade\nproduct: meshy\ntitle: t\ndescription: d\ndisruption: low\napplies: {{from: '*', to: '*'}}\n{steps}"
    );
    let catalog = catalog(&[text]);
    let ids = |p: &stepwise::plan::Plan| -> Vec<Vec<String>> {
        p.hops.iter().map(|h| h.steps.iter().map(|s| s.id.clone()).collect()).collect()
    };
    let p = plan(&catalog, &request("1.4.0", "1.7.0")).unwrap();
    assert_eq!(p.hops.iter().map(|h| h.to.to_string()).collect::<Vec<_>>(), ["1.6.0", "1.7.0"]);
    assert_eq!(ids(&p), [vec!["old-flags", "always"], vec!["values-flag", "always"]]);
    // The fact decides too: with Helm, a hop before 1.7 has no `old-flags`.
    let mut req = request("1.4.0", "1.5.0");
    req.facts.insert("method".into(), "helm".into());
    assert_eq!(ids(&plan(&catalog, &req).unwrap()), [vec!["always"]]);
}

#[test]
fn notes_limited_by_facts_show_only_for_those_installations() {
    let product = PRODUCT.replacen(
        "notes:\n",
        "notes:\n  - {id: helm-only, severity: info, title: H, text: chart values renamed, to: \">=1.5.0\", when: {method: [helm]}}\n",
        1,
    );
    let files = vec![
        RawFile::new("meshy", SourceFile::new("meshy/product.yaml", product), None),
        RawFile::new("meshy", SourceFile::new("meshy/p.yaml", procedure("any", "low", "{from: '*', to: '*'}")), None),
    ];
    let catalog = build(files).unwrap_or_else(|e| panic!("{e:?}"));
    let mut req = request("1.4.0", "1.5.0");
    let notes = |req: &Request| -> Vec<String> {
        plan(&catalog, req).unwrap().hops[0].notes.iter().map(|n| n.id.clone()).collect()
    };
    assert_eq!(notes(&req), ["one-five"]);
    req.facts.insert("method".into(), "helm".into());
    assert_eq!(notes(&req), ["helm-only", "one-five"]);
}

#[test]
fn titles_and_explanations_show_the_values_the_plan_knows() {
    let text = "id: up\nproduct: meshy\ntitle: t\ndescription: d\ndisruption: low\napplies: {from: '*', to: '*'}\n\
                variables:\n  - {name: zones, description: z}\n\
                steps:\n  - id: go\n    title: Upgrade to {{to_version}}\n    explain: Then restart {{zones}}.\n    command: {argv: [meshctl, upgrade]}\n";
    let p = plan(&catalog(&[text.to_string()]), &request("1.5.0", "1.6.0")).unwrap();
    let step = &p.hops[0].steps[0];
    assert_eq!((step.title.as_str(), step.explain.as_str()), ("Upgrade to 1.6.0", "Then restart {{zones}}."));
}
