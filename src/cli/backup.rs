//! `stepwise backup` and `stepwise restore`: the upgrade's backup, its proof and
//! its restore on their own, useful outside an upgrade too.

use std::collections::BTreeSet;
use std::path::Path;

use super::args::{BackupArgs, Global, RestoreArgs};
use super::catalog::load_catalog;
use super::session::{cluster_failure, runtime, target};
use super::{Failure, exit};
use crate::base::Mode;
use crate::engine::standalone::{self, BackupJob, RestoreJob, StandaloneError};
use crate::engine::{self, Outbox};
use crate::ui;

/// Runs `work` with its progress shown on the terminal, and waits until the
/// last of it is drawn.
async fn with_progress<T, Fut>(work: impl FnOnce(Outbox) -> Fut) -> T
where
    Fut: Future<Output = T>,
{
    let (out, inbox) = engine::channel();
    let shown = tokio::spawn(ui::plain::progress(inbox));
    let result = work(out).await;
    let _ = shown.await;
    result
}

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
    let job = BackupJob {
        target: target(global, &args.cluster),
        kinds: kinds.into_iter().collect(),
        to: to.clone(),
        namespaces: (!args.namespaces.is_empty()).then(|| args.namespaces.clone()),
    };
    runtime()?.block_on(async {
        let result = with_progress(|out| async move { standalone::backup(&job, &out).await }).await;
        let manifest = result.map_err(|e| cluster_failure(&e))?;
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
        match with_progress(|out| async move { standalone::prove(target, dir, &out).await }).await {
            Ok(proof) => Ok(proof.summary() + "\n"),
            Err(StandaloneError::Drifted { changes, .. }) => Err(drifted(dir, &changes)),
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
fn backup_failure(e: StandaloneError) -> Failure {
    match e {
        StandaloneError::Damaged(_) | StandaloneError::Drifted { .. } => {
            Failure::one(exit::REFUSED, miette::miette!("{e}"))
        }
        StandaloneError::Cluster(c) => cluster_failure(&c),
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
    let what = if standalone::holds_backup(dir) { "an earlier backup" } else { "files" };
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
    standalone::product_kinds(&catalog, product).ok_or_else(|| {
        Failure::one(
            exit::USAGE,
            miette::miette!("unknown product `{product}`; known: {}", catalog.product_ids().join(", ")),
        )
    })
}

pub fn restore(global: &Global, args: &RestoreArgs) -> Result<String, Failure> {
    let mode = if args.dry_run { Mode::Rehearsal } else { Mode::Real };
    let job = RestoreJob {
        target: target(global, &args.cluster),
        dir: args.dir.clone(),
        mode,
        concurrency: args.concurrency,
    };
    runtime()?.block_on(async {
        let result = with_progress(|out| async move { standalone::restore(&job, &out).await }).await;
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
