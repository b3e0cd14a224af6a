//! Every upgrade path the vendor documents state, planned through the shipped runbooks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use stepwise::catalog_files::load;
use stepwise::plan::{Plan, PlanError, Request, plan};
use stepwise::runbook::{Catalog, Version};

fn catalog() -> Catalog {
    load(&[]).expect("shipped runbooks load")
}

fn request(product: &str, from: &str, to: &str, facts: &[(&str, &str)]) -> Request {
    Request {
        product: product.into(),
        from: Some(Version::parse(from).unwrap()),
        to: to.into(),
        facts: facts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Request::default()
    }
}

fn stops(p: &Plan) -> Vec<String> {
    std::iter::once(p.from.to_string()).chain(p.hops.iter().map(|h| h.to.to_string())).collect()
}

#[test]
fn kuma_and_kong_mesh_move_at_most_two_minor_versions_per_hop() {
    let c = catalog();
    for product in ["kuma", "kong-mesh"] {
        assert_eq!(stops(&plan(&c, &request(product, "1.5.0", "1.6.0", &[])).unwrap()), ["1.5.0", "1.6.0"]);
        assert_eq!(stops(&plan(&c, &request(product, "1.4.0", "1.6.0", &[])).unwrap()), ["1.4.0", "1.6.0"]);
        let long = plan(&c, &request(product, "1.2.0", "1.6.0", &[])).unwrap();
        assert_eq!(long.hops.len(), 2, "{product}: {:?}", stops(&long));
        assert_eq!(long.hops[0].to.line(), (1, 4), "{product} stops on a 1.4 release: {:?}", stops(&long));
    }
}

#[test]
fn kong_mesh_two_nine_to_two_eleven_is_one_hop_with_the_version_notes() {
    // On the kumactl path: the charts that ship 2.10 and 2.11 are not recorded
    // (see kong_mesh_helm_hops_install_the_chart_that_ships_their_release).
    let p = plan(&catalog(), &request("kong-mesh", "2.9.0", "2.11", &[("install_method", "kumactl")])).unwrap();
    assert_eq!(p.hops.len(), 1);
    let notes: Vec<&str> = p.hops[0].notes.iter().map(|n| n.title.as_str()).collect();
    assert!(p.hops[0].notes.iter().any(|n| n.product == "kong-mesh"), "{notes:?}");
    assert!(p.hops[0].notes.iter().any(|n| n.text.contains("skipRBAC")), "the 2.11 note applies: {notes:?}");
}

#[test]
fn kong_mesh_multizone_orders_global_then_zones_then_data_planes() {
    for method in ["helm", "kumactl"] {
        let facts = [("topology", "multizone"), ("install_method", method)];
        let p = plan(&catalog(), &request("kong-mesh", "2.7.0", "2.9.0", &facts)).unwrap();
        let steps: Vec<&str> = p.hops[0].steps.iter().map(|s| s.id.as_str()).collect();
        let pos = |needle: &str| {
            steps.iter().position(|s| s.contains(needle)).unwrap_or_else(|| panic!("{method}: {needle} in {steps:?}"))
        };
        assert!(pos("global") < pos("zone"), "{method}: {steps:?}");
    }
}

/// What a plan's hops run, one line per command.
fn commands(p: &Plan) -> Vec<Vec<String>> {
    p.hops.iter().map(|h| h.steps.iter().flat_map(|s| s.does.clone()).collect()).collect()
}

#[test]
fn kong_mesh_helm_hops_install_the_chart_that_ships_their_release() {
    // Kong Mesh charts were 0.x up to 1.6: 1.4.0 is chart 0.5.0, 1.6.0 chart 0.7.0.
    let p = plan(&catalog(), &request("kong-mesh", "1.2.0", "1.6", &[("install_method", "helm")])).unwrap();
    let runs = commands(&p);
    assert!(runs[0].iter().any(|r| r.contains("--version 0.5.0")), "{:?}", runs[0]);
    assert!(runs[1].iter().any(|r| r.contains("--version 0.7.0")), "{:?}", runs[1]);
    // From 1.7.0 on the chart carries the Kong Mesh version.
    let p = plan(&catalog(), &request("kong-mesh", "2.7.0", "2.9", &[("install_method", "helm")])).unwrap();
    assert!(commands(&p)[0].iter().any(|r| r.contains("--version 2.9.0")), "{:?}", commands(&p));
    // The charts that ship 2.10 and 2.11 are not recorded, so no Helm hop goes there.
    let refused = plan(&catalog(), &request("kong-mesh", "2.9.0", "2.11", &[("install_method", "helm")]));
    assert!(matches!(refused, Err(PlanError::NoProcedure { .. } | PlanError::NoPath { .. })), "{refused:?}");
}

#[test]
fn kuma_helm_hops_install_the_chart_that_ships_their_release() {
    // Kuma charts were 0.x before 1.6: 1.5.0 is chart 0.9.0.
    let p = plan(&catalog(), &request("kuma", "1.4.0", "1.6", &[("install_method", "helm")])).unwrap();
    let runs = commands(&p);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].iter().any(|r| r.contains("--version 1.6.0")), "{runs:?}");
    let p = plan(&catalog(), &request("kuma", "1.3.0", "1.5", &[("install_method", "helm")])).unwrap();
    assert!(commands(&p).last().unwrap().iter().any(|r| r.contains("--version 0.9.0")), "{:?}", commands(&p));
    // A chart given with --set is installed instead.
    let mut given = request("kuma", "2.9.0", "2.11", &[("install_method", "helm")]);
    given.values.insert("chart_version".into(), "2.11.3".into());
    let p = plan(&catalog(), &given).unwrap();
    assert!(commands(&p)[0].iter().any(|r| r.contains("--version 2.11.3")), "{:?}", commands(&p));
}

#[test]
fn kuma_kumactl_passes_a_values_file_only_to_the_kumactl_that_takes_one() {
    // kumactl takes --values from 1.6.0; before, stepwise cannot know the flags.
    let single = [("install_method", "kumactl"), ("topology", "single-zone")];
    let ids = |p: &Plan| -> Vec<String> { p.hops[0].steps.iter().map(|s| s.id.clone()).collect() };
    let old = plan(&catalog(), &request("kuma", "1.4.0", "1.5", &single)).unwrap();
    assert!(ids(&old).contains(&"apply-control-plane-by-hand".to_string()), "{:?}", ids(&old));
    assert!(!ids(&old).contains(&"apply-control-plane".to_string()), "{:?}", ids(&old));
    assert!(!commands(&old)[0].iter().any(|r| r.contains("--values")), "{:?}", commands(&old));
    let new = plan(&catalog(), &request("kuma", "1.6.0", "1.7", &single)).unwrap();
    assert!(ids(&new).contains(&"apply-control-plane".to_string()), "{:?}", ids(&new));
    assert!(commands(&new)[0].iter().any(|r| r.contains("--values")), "{:?}", commands(&new));
    // Multizone needs each zone's settings from its values file: from 1.6.0 only.
    let multi = [("install_method", "kumactl"), ("topology", "multizone")];
    let refused = plan(&catalog(), &request("kuma", "1.4.0", "1.5", &multi));
    assert!(matches!(refused, Err(PlanError::NoProcedure { .. } | PlanError::NoPath { .. })), "{refused:?}");
    assert!(plan(&catalog(), &request("kuma", "1.6.0", "1.7", &multi)).is_ok());
}

#[test]
fn kong_gateway_two_eight_paths() {
    let c = catalog();
    // Any 2.1.x or later moves straight to 2.8.
    for from in ["2.1.0", "2.5.0", "2.7.0"] {
        let p = plan(&c, &request("kong-gateway", from, "2.8", &[])).unwrap();
        assert_eq!(p.hops.len(), 1, "{from}");
        assert!(p.hops[0].acknowledge.is_none());
    }
    // 1.x moves straight to 2.8 as a major upgrade that must be acknowledged.
    let p = plan(&c, &request("kong-gateway", "1.5.0", "2.8", &[])).unwrap();
    assert_eq!(p.hops.len(), 1);
    assert!(p.hops[0].acknowledge.is_some());
    // 2.0.x goes to 2.1 first.
    let p = plan(&c, &request("kong-gateway", "2.0.0", "2.8", &[])).unwrap();
    assert_eq!(p.hops.len(), 2);
    assert_eq!(p.hops[0].to.line(), (2, 1));
}

#[test]
fn kong_gateway_postgres_blue_green_runs_migrations_up_before_finish() {
    let p = plan(&catalog(), &request("kong-gateway", "2.7.0", "2.8", &[("deployment", "traditional")])).unwrap();
    assert_eq!(p.hops[0].procedure, "postgres-blue-green");
    let does: Vec<String> = p.hops[0].steps.iter().flat_map(|s| s.does.clone()).collect();
    let up = does.iter().position(|d| d.contains("migrations up")).expect("migrations up");
    let finish = does.iter().position(|d| d.contains("migrations finish")).expect("migrations finish");
    assert!(up < finish);
}

#[test]
fn nginx_in_place_from_the_previous_release_and_no_version_skipped() {
    let c = catalog();
    let p = plan(&c, &request("nginx-service-mesh", "1.6.0", "1.7.0", &[])).unwrap();
    assert_eq!(p.hops[0].procedure, "in-place");
    // The vendor's patch releases are releases too: from 1.4.1 (or 1.4.0) to
    // 1.5.0 is from the release just before it.
    for from in ["1.4.0", "1.4.1"] {
        let p = plan(&c, &request("nginx-service-mesh", from, "1.5.0", &[])).unwrap();
        assert_eq!(p.hops[0].procedure, "in-place", "from {from}");
    }
    // The mesh does not support skipping versions: every minor is a stop, the
    // newest patch of each, and each hop is in place.
    let p = plan(&c, &request("nginx-service-mesh", "1.2.0", "1.5.0", &[])).unwrap();
    let stops: Vec<String> = p.hops.iter().map(|h| format!("{} {}", h.to, h.procedure)).collect();
    assert_eq!(stops, ["1.3.1 in-place", "1.4.1 in-place", "1.5.0 in-place"]);
    // Forcing the manual procedure applies it to every hop, never as one jump.
    let mut manual = request("nginx-service-mesh", "1.5.0", "1.7.0", &[]);
    manual.procedure = Some("manual-meshctl".into());
    let p = plan(&c, &manual).unwrap();
    assert_eq!(p.hops.len(), 2);
    match plan(&c, &request("nginx-service-mesh", "1.7.0", "1.5.0", &[])) {
        Err(PlanError::Downgrade { .. }) => {}
        other => panic!("a downgrade must be refused, got {other:?}"),
    }
}

#[test]
fn nginx_on_openshift_to_one_seven_uses_the_csi_driver_procedure() {
    let c = catalog();
    for (method, id) in [("nginx-meshctl", "openshift-1-7-meshctl"), ("helm", "openshift-1-7-helm")] {
        let p = plan(
            &c,
            &request("nginx-service-mesh", "1.6.0", "1.7.0", &[("platform", "openshift"), ("install_method", method)]),
        )
        .unwrap();
        assert_eq!(p.hops[0].procedure, id);
        let steps: Vec<&str> = p.hops[0].steps.iter().map(|s| s.id.as_str()).collect();
        assert!(p.hops[0].steps.iter().any(|s| s.does.iter().any(|d| d.contains("csi-driver-sentinel"))), "{steps:?}");
    }
}

#[test]
fn nginx_manual_upgrade_backs_up_all_six_kinds_before_removal() {
    let mut manual = request("nginx-service-mesh", "1.6.0", "1.7.0", &[]);
    manual.procedure = Some("manual-meshctl".into());
    let p = plan(&catalog(), &manual).unwrap();
    let steps = &p.hops[0].steps;
    let backup = steps.iter().position(|s| s.kind == "backup").expect("a backup step");
    let removal = steps.iter().position(|s| s.destructive).expect("a destructive step");
    assert!(backup < removal);
    for kind in [
        "trafficsplits.split.smi-spec.io",
        "traffictargets.access.smi-spec.io",
        "httproutegroups.specs.smi-spec.io",
        "tcproutes.specs.smi-spec.io",
        "ratelimits.specs.smi.nginx.com",
        "circuitbreakers.specs.smi.nginx.com",
    ] {
        assert!(steps[backup].does.iter().any(|d| d.contains(kind)), "{kind} is backed up");
    }
    assert!(p.hops[0].notes.iter().any(|n| n.title.contains("racing")), "the tracing note applies");
}

#[test]
fn kong_mesh_one_x_hops_show_the_notes_of_the_kuma_release_they_run() {
    // Kong Mesh 1.5 runs Kuma 1.4, so the hop to it brings Kuma's 1.4 note, and
    // Kuma's 1.5 note comes with the hop to Kong Mesh 1.6.
    let kuma_notes = |from: &str, to: &str| -> Vec<String> {
        let p = plan(&catalog(), &request("kong-mesh", from, to, &[("install_method", "kumactl")])).unwrap();
        assert_eq!(p.hops.len(), 1, "{}", stops(&p).join(" -> "));
        p.hops[0].notes.iter().filter(|n| n.product == "kuma").map(|n| n.id.clone()).collect()
    };
    let to_1_5 = kuma_notes("1.4.0", "1.5");
    assert!(to_1_5.contains(&"api-user-token-auth".to_string()), "{to_1_5:?}");
    assert!(!to_1_5.contains(&"sidecar-injection-label".to_string()), "{to_1_5:?}");
    let to_1_6 = kuma_notes("1.5.0", "1.6");
    assert!(to_1_6.contains(&"sidecar-injection-label".to_string()), "{to_1_6:?}");
    // From 2.0 the numbers are the same: 2.1 brings Kuma's 2.1 notes.
    let to_2_1 = kuma_notes("2.0.0", "2.1");
    assert!(to_2_1.contains(&"serviceless-pod-service-name".to_string()), "{to_2_1:?}");
    // 1.9 runs Kuma 1.8 and 2.0 runs Kuma 2.0: the hop brings Kuma's 2.0 note.
    let to_2_0 = kuma_notes("1.9.0", "2.0");
    assert!(to_2_0.contains(&"control-plane-tls-1-2".to_string()), "{to_2_0:?}");
}

#[test]
fn a_db_less_helm_gateway_is_upgraded_without_a_database_step_and_with_a_warning() {
    let facts = [("deployment", "helm-single"), ("datastore", "off")];
    let p = plan(&catalog(), &request("kong-gateway", "2.7.0", "2.8", &facts)).unwrap();
    assert_eq!(stops(&p), ["2.7.0", "2.8.4"]);
    let hop = &p.hops[0];
    assert_eq!(hop.procedure, "helm-single");
    let steps: Vec<&str> = hop.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(steps, ["check-gateway", "upgrade", "wait-gateway"], "no database to back up");
    assert!(hop.notes.iter().any(|n| n.id == "dbless-no-migrations"), "the DB-less warning shows");
    // With a database the backup step and no DB-less warning.
    let p = plan(&catalog(), &request("kong-gateway", "2.7.0", "2.8", &[("deployment", "helm-single")])).unwrap();
    assert!(p.hops[0].steps.iter().any(|s| s.id == "backup-database"));
    assert!(p.hops[0].notes.iter().all(|n| n.id != "dbless-no-migrations"));
    // Nodes run by hand without a database: no procedure, and the error says so.
    let refused = plan(
        &catalog(),
        &request("kong-gateway", "2.7.0", "2.8", &[("deployment", "traditional"), ("datastore", "off")]),
    );
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn kong_on_cassandra_uses_migrations_up_and_finish_and_a_new_keyspace_only_where_needed() {
    let cassandra = [("deployment", "traditional"), ("datastore", "cassandra")];
    let ids = |p: &Plan| p.hops[0].steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    // From 2.2 on, old and new nodes share the keyspace: the usual commands, side by side.
    let p = plan(&catalog(), &request("kong-gateway", "2.5.0", "2.8", &cassandra)).unwrap();
    assert_eq!(p.hops[0].procedure, "cassandra-migrations");
    assert!(p.hops[0].alternatives.is_empty(), "no new keyspace is needed: {:?}", p.hops[0].alternatives);
    let steps = ids(&p);
    assert!(!steps.contains(&"stop-old-nodes".to_string()), "{steps:?}");
    let up = steps.iter().position(|s| s == "migrations-up").unwrap();
    let shift = steps.iter().position(|s| s == "shift-traffic").unwrap();
    let finish = steps.iter().position(|s| s == "migrations-finish").unwrap();
    assert!(up < shift && shift < finish, "{steps:?}");
    // From 2.1.x the schemas are incompatible: the new keyspace keeps the old
    // cluster serving; the usual commands, with downtime, are the alternative.
    let p = plan(&catalog(), &request("kong-gateway", "2.1.0", "2.8", &cassandra)).unwrap();
    assert_eq!(p.hops[0].procedure, "cassandra-new-keyspace");
    assert!(p.hops[0].alternatives.iter().any(|a| a.contains("cassandra-migrations")), "{:?}", p.hops[0].alternatives);
    let mut pick = request("kong-gateway", "2.1.0", "2.8", &cassandra);
    pick.procedure = Some("cassandra-migrations".into());
    let p = plan(&catalog(), &pick).unwrap();
    let steps = ids(&p);
    let stop = steps.iter().position(|s| s == "stop-old-nodes").unwrap();
    assert!(stop < steps.iter().position(|s| s == "migrations-up").unwrap(), "{steps:?}");
    assert!(!steps.contains(&"shift-traffic".to_string()), "nothing runs side by side: {steps:?}");
    assert!(p.hops[0].steps[stop].destructive, "the downtime is confirmed with a typed word");
}

#[test]
fn the_plan_counts_steps_and_says_which_run_once_per_list_item() {
    let mut req = request("nginx-service-mesh", "1.6.0", "1.7.0", &[]);
    req.procedure = Some("manual-meshctl".into());
    let p = plan(&catalog(), &req).unwrap();
    let repeated: Vec<(&str, Option<&str>)> = p.hops[0]
        .steps
        .iter()
        .filter(|s| s.for_each.is_some())
        .map(|s| (s.id.as_str(), s.for_each.as_deref()))
        .collect();
    assert_eq!(repeated.len(), 2, "{repeated:?}");
    assert!(repeated.iter().any(|(_, list)| *list == Some("meshed_namespaces")), "{repeated:?}");
    let n = p.step_count();
    assert_eq!(p.steps_text(), format!("{n} steps, 2 of them once per item of a list"));
    // A plan without such steps says the count alone.
    let p = plan(&catalog(), &request("kong-gateway", "2.0.0", "2.8", &[])).unwrap();
    assert!(p.hops.iter().all(|h| h.steps.iter().all(|s| s.for_each.is_none())));
    assert_eq!(p.steps_text(), format!("{} steps", p.step_count()));
}

#[test]
fn a_move_from_the_open_source_package_to_enterprise_says_the_same_migrations_carry_it() {
    let note = |facts: &[(&str, &str)]| -> bool {
        let p = plan(&catalog(), &request("kong-gateway", "2.7.0", "2.8", facts)).unwrap();
        p.hops.iter().any(|h| h.notes.iter().any(|n| n.id == "oss-to-enterprise"))
    };
    assert!(note(&[("package", "oss-to-enterprise")]));
    assert!(!note(&[]), "Enterprise on both sides is the default and needs no such note");
    assert!(!note(&[("package", "oss")]));
}

#[test]
fn a_custom_image_tag_reaches_the_manual_deploy_only_when_given() {
    let deploy = |sets: &[(&str, &str)]| -> String {
        let mut req = request("nginx-service-mesh", "1.6.0", "1.7.0", &[]);
        req.procedure = Some("manual-meshctl".into());
        req.values = sets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let p = plan(&catalog(), &req).unwrap();
        commands(&p)[0].iter().find(|c| c.contains(" deploy ")).cloned().expect("a deploy step")
    };
    assert!(deploy(&[("image_tag", "1.7.0-fips")]).ends_with("--image-tag=1.7.0-fips`"), "{}", deploy(&[]));
    assert!(!deploy(&[]).contains("--image-tag"), "the release's own images by default: {}", deploy(&[]));
}
