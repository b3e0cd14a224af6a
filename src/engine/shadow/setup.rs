//! The shadow's side of a shadow rehearsal: installing the primary's release
//! there, copying the custom resources, stand-in workloads, the comparison
//! afterwards and taking it all away again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::base::{CancelSignal, Mode};
use crate::cluster::backup::BackupRequest;
use crate::cluster::restore::RestoreRequest;
use crate::cluster::{Connection, backup, compare, restore, scratch};
use crate::commands::{self, CommandRequest, KubeEnv};
use crate::journal::Journal;
use crate::plan::Plan;
use crate::runbook::model::{CommandSpec, HelmReleaseRef, ShadowRecipe};

use super::super::events::{Event, Msg, Outbox};
use super::super::prepare::PrepareError;
use super::super::work::Resolved;
use super::super::{EngineError, detection};
use super::report::{self, ShadowReport};
use super::{Clusters, refused};

/// How long the shadow's freshly installed release may take to be detected.
const INSTALL_SETTLE: Duration = Duration::from_secs(600);

/// Reads the values the primary's Helm release was installed with into a
/// private file in `dir` (they may hold secrets): the shadow's install uses them.
pub(super) async fn primary_helm_values(
    primary: &Connection,
    release: &HelmReleaseRef,
    values: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<PathBuf, PrepareError> {
    let render = |t: &crate::runbook::template::Template| {
        t.render(values).map_err(|e| refused(format!("the shadow recipe's helm_values: {e}")))
    };
    let (ns, name) = (render(&release.namespace)?, render(&release.release)?);
    use crate::cluster::detect::{Finding, deployed_release};
    let info = match deployed_release(primary, &ns, &name).await {
        Ok(Ok(info)) => info,
        Ok(Err(Finding::Absent(why) | Finding::Unreadable(why) | Finding::Conflicting(why))) => {
            return Err(refused(format!("cannot read the values of the primary's Helm release: {why}")));
        }
        Ok(Err(Finding::Found { .. })) => {
            return Err(refused("the primary's Helm release has no deployed revision".into()));
        }
        Err(e) => return Err(PrepareError::Cluster(e)),
    };
    let file = dir.join("primary-values.json");
    let config = if info.config.is_null() { serde_json::json!({}) } else { info.config };
    let text = serde_json::to_vec_pretty(&config).map_err(|e| EngineError::Refused(e.to_string()))?;
    crate::durable::write_atomic(&file, &text)
        .map_err(|e| EngineError::Refused(format!("cannot write {}: {e}", file.display())))?;
    Ok(file)
}

/// What the shadow holds besides the product, for the report and the cleanup.
pub(super) struct Copied {
    /// The primary's backup, restored on the shadow before the procedure ran.
    backup: PathBuf,
    objects: u64,
    /// What each kind's CRD served once the current release was installed.
    served_before: Vec<compare::ServedVersions>,
    install_took: Duration,
}

/// The shadow's side of the work, with what every part needs.
pub(super) struct Setup<'a> {
    pub(super) clusters: &'a Clusters,
    pub(super) dir: &'a Path,
    pub(super) kubeconfig: &'a Path,
    pub(super) out: &'a Outbox,
    pub(super) cancel: &'a CancelSignal,
    /// The namespaces made on the shadow so far, for the cleanup.
    pub(super) created: std::sync::Mutex<Vec<String>>,
}

impl Setup<'_> {
    fn say(&self, text: String) {
        let _ = self.out.send(Msg::Event(Event::Notice { text }));
    }

    /// Installs the primary's release on the shadow and copies the custom
    /// resources, their namespaces and stand-in workloads there.
    pub(super) async fn install_and_copy(
        &self,
        resolved: &Resolved<'_>,
        recipe: &ShadowRecipe,
        values: &BTreeMap<String, String>,
        kinds: &[String],
    ) -> Result<Copied, PrepareError> {
        let started = Instant::now();
        self.say(format!("Installing {} {} on the shadow", resolved.product.product.name, values["from_version"]));
        self.run(&recipe.install, values, "install").await?;
        self.wait_installed(resolved, values).await?;
        let install_took = started.elapsed();
        let shadow = &self.clusters.shadow;
        let served_before = compare::served_versions(shadow, kinds).await.map_err(PrepareError::Cluster)?;
        let backup = self.dir.join("primary-backup");
        self.say(format!("Saving the primary's custom resources to {}", backup.display()));
        let request = BackupRequest::new(kinds.to_vec(), backup.clone());
        let manifest = self.unless_cancelled(backup::backup(&self.clusters.primary, &request, self.progress())).await?;
        let mut wanted = scratch::backup_namespaces(&backup).map_err(PrepareError::Cluster)?;
        let meshed = workload_namespaces(recipe, values);
        wanted.extend(meshed.iter().cloned());
        let namespaces = scratch::create_namespaces(shadow, &wanted).await.map_err(PrepareError::Cluster)?;
        self.created.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(namespaces.iter().cloned());
        self.say(format!("Copying {} objects to the shadow", manifest.total()));
        let request = RestoreRequest::new(backup.clone(), Mode::Real);
        let restored = self.unless_cancelled(restore::restore(shadow, &request, self.progress())).await?;
        if restored.failed() > 0 {
            return Err(refused(format!(
                "{} of the primary's objects could not be copied to the shadow, so it would not rehearse the \
                 upgrade of what the primary holds:\n{}",
                restored.failed(),
                restored.summary(Mode::Real)
            )));
        }
        for ns in &meshed {
            scratch::create_stand_in_workload(shadow, ns).await.map_err(PrepareError::Cluster)?;
        }
        Ok(Copied { backup, objects: manifest.total(), served_before, install_took })
    }

    /// Long work on either cluster, ended at once by Ctrl-C, SIGTERM or SIGHUP
    /// (the setup is then taken away again, as after any failure).
    async fn unless_cancelled<T>(
        &self,
        work: impl Future<Output = Result<T, crate::cluster::ClusterError>>,
    ) -> Result<T, PrepareError> {
        let mut signal = self.cancel.clone();
        tokio::select! {
            done = work => done.map_err(PrepareError::Cluster),
            () = signal.cancelled() => Err(PrepareError::Interrupted),
        }
    }

    fn progress(&self) -> crate::base::Reporter {
        super::super::standalone::reporter(self.out)
    }

    /// Runs one of the recipe's commands against the shadow.
    async fn run(&self, spec: &CommandSpec, values: &BTreeMap<String, String>, what: &str) -> Result<(), PrepareError> {
        let argv = crate::runbook::arg::render_args(&spec.argv, values)
            .map_err(|e| refused(format!("the shadow recipe's {what} command: {e}")))?;
        let mut request = CommandRequest::checked(argv.clone())
            .map_err(|e| refused(format!("the shadow recipe's {what} command: {e}")))?;
        request.env = super::super::actions::command::render_env(&spec.env, values)
            .map_err(|e| refused(format!("the shadow recipe's {what} command: {e}")))?;
        if let Some(t) = spec.timeout {
            request = request.with_timeout(t.0);
        }
        let kube = KubeEnv { kubeconfig: Some(self.kubeconfig.to_path_buf()), context: None };
        let request = kube.apply(request).map_err(|e| refused(e.to_string()))?;
        let shown = argv.join(" ");
        self.say(format!("on the shadow: `{}`", commands::shown(&shown)));
        let outcome = commands::run(
            &request,
            |line| {
                let _ = self.out.send(Msg::Event(Event::Line { index: 0, text: commands::shown(&line.text).into() }));
            },
            self.cancel.clone(),
        )
        .await
        .map_err(|e| refused(format!("`{shown}` on the shadow: {e}")))?;
        if outcome.cancelled {
            return Err(PrepareError::Interrupted);
        }
        if !outcome.success() {
            let tail: Vec<&str> = outcome.stderr.lines().chain(outcome.stdout.lines()).collect();
            let tail = tail.iter().rev().take(5).rev().copied().collect::<Vec<_>>().join(" | ");
            return Err(refused(format!("`{shown}` on the shadow failed ({}): {tail}", outcome.exit)));
        }
        Ok(())
    }

    /// Waits until the shadow's installation is detected at the primary's version.
    async fn wait_installed(
        &self,
        resolved: &Resolved<'_>,
        values: &BTreeMap<String, String>,
    ) -> Result<(), PrepareError> {
        let product = &resolved.product.product;
        let deadline = Instant::now() + INSTALL_SETTLE;
        let wanted = values.get("from_version").cloned().unwrap_or_default();
        loop {
            let last = match detection::detect(&self.clusters.shadow, product, values).await {
                Ok(found) if found.version.to_string() == wanted || wanted.is_empty() => return Ok(()),
                Ok(found) => format!("it runs {}", found.version),
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline || self.cancel.is_cancelled() {
                return Err(refused(format!(
                    "{} {wanted} was installed on the shadow but is not detected there after {:?}: {last}",
                    product.name, INSTALL_SETTLE
                )));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Compares the shadow with the primary's backup and reads the CRDs again.
    pub(super) async fn report(
        &self,
        plan: &Plan,
        copied: &Copied,
        session: Option<&Journal>,
    ) -> Result<ShadowReport, PrepareError> {
        let shadow = &self.clusters.shadow;
        let comparison = compare::with_backup(shadow, &copied.backup).await.map_err(PrepareError::Cluster)?;
        let kinds: Vec<String> = copied.served_before.iter().map(|s| s.resource.clone()).collect();
        let served_after = compare::served_versions(shadow, &kinds).await.map_err(PrepareError::Cluster)?;
        Ok(ShadowReport::new(report::Inputs {
            plan,
            primary: &self.clusters.primary,
            shadow,
            objects: copied.objects,
            install_took: copied.install_took,
            steps: session.map(|j| j.steps().to_vec()).unwrap_or_default(),
            session: session.map(|j| j.dir().to_path_buf()),
            comparison,
            served_before: copied.served_before.clone(),
            served_after,
        }))
    }

    /// Takes away what the rehearsal installed: the product (the recipe's
    /// remove command), the namespaces it made and the kinds' CRDs.
    pub(super) async fn remove(&self, recipe: &ShadowRecipe, values: &BTreeMap<String, String>, kinds: &[String]) {
        self.say("Removing the product and the copies from the shadow".into());
        if let Err(e) = self.run(&recipe.remove, values, "remove").await {
            self.say(format!("The shadow recipe's remove command failed; remove the product by hand: {e}"));
        }
        let namespaces = self.created.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        for problem in scratch::remove(&self.clusters.shadow, &namespaces, kinds).await {
            self.say(format!("Left on the shadow: {problem}"));
        }
    }
}

/// The namespaces that get a stand-in workload: the recipe's `workloads`, a
/// comma-separated list once rendered.
fn workload_namespaces(recipe: &ShadowRecipe, values: &BTreeMap<String, String>) -> Vec<String> {
    let Some(template) = &recipe.workloads else { return Vec::new() };
    let rendered = template.render_partial(values);
    rendered.split(',').map(str::trim).filter(|s| !s.is_empty() && !s.contains("{{")).map(String::from).collect()
}
