//! The integration suite, one test binary (`cargo test --test it`).
//!
//! Every file beside this one is a module of tests; `support`, `seed`,
//! `journey`, `kong` and `journal_fixture` are the kit they share. Tests that
//! need a cluster share one test bed of two clusters: `support::cluster()`
//! hands each test a cluster of its own for its module (see
//! `support::lanes`), cleaned of what the module before left behind. Run one
//! module with `cargo test --test it MODULE::`, one test with its full name.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

mod journal_fixture;
mod journey;
mod kong;
mod seed;
mod support;

mod apiserver_restart;
mod backup_restore;
mod backup_roundtrip;
mod cli_catalog;
mod cli_kubectl_plugin;
mod cli_logs;
mod cli_new_runbook;
mod cli_no_color;
mod cli_output;
mod cluster_ops;
mod commands;
mod drills_bad_input;
mod drills_delete;
mod drills_disk;
mod drills_drift;
mod drills_half_done;
mod drills_orphans;
mod drills_secrets;
mod drills_skew;
mod drills_targeting;
mod e2e_boundaries;
mod e2e_kong_gateway;
mod e2e_kong_mesh;
mod e2e_nginx;
mod e2e_nginx_paths;
mod e2e_rehearsal;
mod e2e_resume;
mod e2e_shadow;
mod journal;
mod malformed_runbooks;
mod plain_frontend;
mod planner;
mod readme;
mod readme_commands;
mod sandbox;
mod shipped_paths;
mod suite_coverage;
mod testbed;
mod tui_journey;
mod tui_render;
mod vendor_facts;
mod vendor_fidelity_doc;
