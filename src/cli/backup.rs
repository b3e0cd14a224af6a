//! `stepwise backup` and `stepwise restore`: the upgrade's backup, its proof and
//! its restore on their own, useful outside an upgrade too.

use std::collections::BTreeSet;
use std::path::Path;

use super::args::{BackupArgs, Global, RestoreArgs};
use super::catalog::load_catalog;
use super::session::{cluster_failure, runtime, target};
use super::{Failure, exit};
use crate::base::Mode;
use crate::cluster::backup::BackupRequest;
use crate::cluster::restore::RestoreRequest;
use crate::cluster::{ClusterError, backup as backup_op, proof, restore as restore_op};
use crate::runbook::model::Action;
use crate::ui;

pub fn backup(global: &Global, args: &BackupArgs) -> Result<String, Failure> {
    if let Some(dir) = &args.check {
        return check(&target(global, &args.cluster), dir);
    }
    let Some(to) = &args.to else {
        return Err(Failure::one(
            exit::USAGE,
            miette::miette!("say where to write the backup (--to DIR), or which backup to prove (--check DIR)"),
        ));
    };
    let mut kinds: BTreeSet<String> = args.kinds.iter().cloned().collect();
    if let Some(product) = &args.product {
        kinds.extend(product_kinds(global, product)?);
    }
    if kinds.is_empty() {
        return Err(Failure::one(
            exit::USAGE,
            miette::miette!("name the kinds to back up (plural.group), or pass --product"),
        ));
    }
    refuse_non_empty(to, args.force)?;
    let mut request = BackupRequest::new(kinds.into_iter().collect(), to.clone());
    if !args.namespaces.is_empty() {
        request.namespaces = Some(args.namespaces.clone());
    }
    runtime()?.block_on(async {
        let conn = target(global, &args.cluster).connect().await.map_err(cluster_failure)?;
        let (reporter, bar) = ui::plain::progress_reporter();
        let result = backup_op::backup(&conn, &request, reporter).await;
        bar.finish_and_clear();
        let manifest = result.map_err(cluster_failure)?;
        let mut out = String::new();
        for k in &manifest.kinds {
            out.push_str(&format!("{:>8}  {}  ({} bytes)\n", k.count, k.resource, k.bytes));
        }
        for k in &manifest.not_served {
            out.push_str(&format!("       -  {k}  (not served by this cluster)\n"));
        }
        for o in &manifest.being_deleted {
            out.push_str(&format!("  being deleted, saved but left out by a restore: {o}\n"));
        }
        out.push_str(&format!(
            "{} objects saved to {}; manifest.json lists their SHA-256 sums\n",
            manifest.total(),
            to.display()
        ));
        Ok(out)
    })
}

/// `backup --check DIR`: the proof a destructive step waits for, on its own.
fn check(target: &crate::base::Target, dir: &Path) -> Result<String, Failure> {
    runtime()?.block_on(async {
        let conn = target.connect().await.map_err(cluster_failure)?;
        let (reporter, bar) = ui::plain::progress_reporter();
        let result = proof::prove(&conn, dir, reporter).await;
        bar.finish_and_clear();
        match result {
            Ok(proof) => Ok(proof.summary() + "\n"),
            Err(ClusterError::Drift { changes, .. }) => Err(drifted(dir, &changes)),
            Err(other) => Err(backup_failure(other)),
        }
    })
}

/// Every change since the backup, one a line, then why that is a failure.
fn drifted(dir: &Path, changes: &[String]) -> Failure {
    for change in changes {
        println!("  {change}");
    }
    Failure::one(
        exit::REFUSED,
        miette::miette!(
            "the backup in {} no longer matches the cluster: {} objects were created, changed or deleted since \
             it was taken (listed above). Take a new backup before anything relies on this one",
            dir.display(),
            changes.len()
        ),
    )
}

/// A damaged backup, or one of another cluster, is refused; anything else is
/// the cluster's failure.
fn backup_failure(e: ClusterError) -> Failure {
    match e {
        ClusterError::Backup { .. } => Failure::one(exit::REFUSED, miette::miette!("{e}")),
        other => cluster_failure(other),
    }
}

/// A folder that already holds files is somebody's: maybe a good backup that
/// this one would replace, maybe not a backup at all (`--to .`). Only with
/// `--force` is it written into.
fn refuse_non_empty(dir: &Path, force: bool) -> Result<(), Failure> {
    let Ok(mut entries) = std::fs::read_dir(dir) else { return Ok(()) };
    if force || entries.next().is_none() {
        return Ok(());
    }
    let what = if dir.join(crate::cluster::manifest::MANIFEST_FILE).exists() { "an earlier backup" } else { "files" };
    Err(Failure::one(
        exit::REFUSED,
        miette::miette!(
            "{} already holds {what}; nothing was written. Choose a new folder, or pass --force to replace \
             what is there",
            dir.display()
        ),
    ))
}

/// The kinds a product's procedures back up.
fn product_kinds(global: &Global, product: &str) -> Result<Vec<String>, Failure> {
    let catalog = load_catalog(&global.runbooks)?;
    let entry = catalog.product(product).ok_or_else(|| {
        Failure::one(
            exit::USAGE,
            miette::miette!("unknown product `{product}`; known: {}", catalog.product_ids().join(", ")),
        )
    })?;
    let mut kinds = Vec::new();
    for p in &entry.procedures {
        for step in &p.procedure.steps {
            if let Action::Backup(b) = step.action() {
                kinds
                    .extend(b.resources.iter().filter(|t| t.variables().next().is_none()).map(|t| t.raw().to_string()));
            }
        }
    }
    Ok(kinds)
}

pub fn restore(global: &Global, args: &RestoreArgs) -> Result<String, Failure> {
    let mode = if args.dry_run { Mode::Rehearsal } else { Mode::Real };
    let mut request = RestoreRequest::new(args.dir.clone(), mode);
    request.concurrency = args.concurrency.max(1);
    runtime()?.block_on(async {
        let conn = target(global, &args.cluster).connect().await.map_err(cluster_failure)?;
        let (reporter, bar) = ui::plain::progress_reporter();
        let result = restore_op::restore(&conn, &request, reporter).await;
        bar.finish_and_clear();
        let report = result.map_err(backup_failure)?;
        let out = report.summary(mode);
        if report.verified {
            Ok(out + "every object of the backup is in the cluster\n")
        } else {
            print!("{out}");
            Err(Failure::one(
                exit::STEP_FAILED,
                miette::miette!("the restore is incomplete; the lines above say which objects and why"),
            ))
        }
    })
}
