//! What a shadow rehearsal found, for the screen (a few lines) and for
//! `report.md` in its folder: every step with its time, how long the product
//! was without its custom resources, every object that did not come back
//! identical, and what the CRDs served before and after.

use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cluster::Connection;
use crate::cluster::compare::{KindComparison, ServedVersions};
use crate::journal::{StepRecord, StepState};
use crate::plan::Plan;

/// How many objects that did not come back the screen names; the report names all.
const SHOWN: usize = 10;

/// What the report is made from.
pub(super) struct Inputs<'a> {
    pub plan: &'a Plan,
    pub primary: &'a Connection,
    pub shadow: &'a Connection,
    pub objects: u64,
    pub install_took: Duration,
    /// The shadow session's steps as its journal recorded them.
    pub steps: Vec<StepRecord>,
    pub session: Option<PathBuf>,
    pub comparison: Vec<KindComparison>,
    pub served_before: Vec<ServedVersions>,
    pub served_after: Vec<ServedVersions>,
}

/// A shadow rehearsal's findings.
pub struct ShadowReport {
    title: String,
    clusters: String,
    session: Option<PathBuf>,
    objects: u64,
    install_took: Duration,
    steps: Vec<StepRecord>,
    comparison: Vec<KindComparison>,
    served: Vec<(ServedVersions, ServedVersions)>,
}

impl ShadowReport {
    pub(super) fn new(i: Inputs<'_>) -> Self {
        ShadowReport {
            title: format!("{} {} -> {}", i.plan.product_name, i.plan.from, i.plan.to),
            clusters: format!(
                "shadow {} ({}); primary {} ({}), only read",
                i.shadow.context, i.shadow.server, i.primary.context, i.primary.server
            ),
            session: i.session,
            objects: i.objects,
            install_took: i.install_took,
            steps: i.steps,
            comparison: i.comparison,
            served: i.served_before.into_iter().zip(i.served_after).collect(),
        }
    }

    /// From the start of the first destructive step to the end of the last
    /// restore after it: how long the product ran without its custom
    /// resources. `None` when the procedure removes nothing or never restored.
    pub fn window(&self) -> Option<Duration> {
        let removal = self.steps.iter().position(|s| s.destructive)?;
        let start = at(self.steps[removal].started_at.as_deref())?;
        let restore = self.steps[removal..].iter().rev().find(|s| s.kind == "restore" && s.state == StepState::Done)?;
        let end = at(restore.ended_at.as_deref())?;
        (end - start).try_into().ok()
    }

    /// Every saved object that is missing from the shadow or differs there.
    pub fn not_identical(&self) -> Vec<&str> {
        self.comparison.iter().flat_map(|k| k.differences.iter().map(String::as_str)).collect()
    }

    fn identical(&self) -> u64 {
        self.comparison.iter().map(|k| k.identical).sum()
    }

    fn finished(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.state.is_settled())
    }

    /// Every step that failed or was interrupted, with what its latest attempt said.
    fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.steps
            .iter()
            .filter(|s| matches!(s.state, StepState::Failed | StepState::Interrupted))
            .map(|s| (s.title.as_str(), s.error.as_deref().unwrap_or("(no message recorded)")))
    }

    /// A few lines for the screen.
    pub fn summary(&self) -> Vec<String> {
        let ended = if self.finished() { "every step done" } else { "the procedure did not finish" };
        let mut lines = vec![format!("Shadow rehearsal of {}: {ended}", self.title)];
        lines.push(match self.window() {
            Some(w) => format!("Without its custom resources for {} (removal to restored)", seconds(w)),
            None => "No window measured: nothing was removed, or nothing restored".into(),
        });
        lines.extend(self.failures().map(|(title, error)| format!("  step failed: {title}: {error}")));
        let missing = self.not_identical();
        lines.push(format!("{} of {} custom resources came back identical", self.identical(), self.objects));
        lines.extend(missing.iter().take(SHOWN).map(|m| format!("  not restorable as saved: {m}")));
        if missing.len() > SHOWN {
            lines.push(format!("  … and {} more in the report", missing.len() - SHOWN));
        }
        for k in self.comparison.iter().filter_map(|k| k.problem.as_ref().map(|p| (k, p))) {
            lines.push(format!("  {}: {}", k.0.resource, k.1));
        }
        lines.extend(
            self.served
                .iter()
                .filter(|(b, a)| b != a)
                .map(|(b, a)| format!("{}: served {} before, {} after", b.resource, b.describe(), a.describe())),
        );
        lines
    }

    /// `report.md`.
    pub fn markdown(&self) -> String {
        let mut md = format!("# Shadow rehearsal: {}\n\n", self.title);
        md.push_str(&format!("* Clusters: {}\n", self.clusters));
        if let Some(dir) = &self.session {
            md.push_str(&format!("* The shadow's session: {}\n", dir.display()));
        }
        md.push_str(&format!("* Installing the current release on the shadow took {}\n", seconds(self.install_took)));
        md.push_str(&format!(
            "* Window without custom resources: {}\n\n",
            self.window().map_or("not measured (nothing removed, or nothing restored)".into(), seconds)
        ));
        md.push_str(
            "Every finding here is real: the procedure ran on the shadow cluster, nothing was predicted from a \
             server-side dry run. The primary cluster was only read.\n\n## Steps\n\n| # | step | state | took |\n|---:|---|---|---:|\n",
        );
        for (i, s) in self.steps.iter().enumerate() {
            let took = match (at(s.started_at.as_deref()), at(s.ended_at.as_deref())) {
                (Some(a), Some(b)) => Duration::try_from(b - a).map_or_else(|_| "-".into(), seconds),
                _ => "-".into(),
            };
            let item = s.item.as_ref().map(|i| format!(" ({i})")).unwrap_or_default();
            md.push_str(&format!("| {} | {}{item} | {:?} | {took} |\n", i + 1, s.title, s.state));
        }
        let failures: Vec<_> = self.failures().collect();
        if !failures.is_empty() {
            md.push_str("\n## Failed steps\n\n");
            md.extend(failures.iter().map(|(title, error)| format!("* {title}: {error}\n")));
        }
        md.push_str(&self.objects_section());
        md.push_str("\n## CRD versions served\n\n| kind | before | after |\n|---|---|---|\n");
        for (b, a) in &self.served {
            md.push_str(&format!("| {} | {} | {} |\n", b.resource, b.describe(), a.describe()));
        }
        md
    }

    fn objects_section(&self) -> String {
        let mut md = format!(
            "\n## Custom resources\n\n{} of {} came back identical to the primary's.\n\n| kind | saved | identical | not |\n|---|---:|---:|---:|\n",
            self.identical(),
            self.objects
        );
        for k in &self.comparison {
            let problem = k.problem.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
            md.push_str(&format!(
                "| {}{problem} | {} | {} | {} |\n",
                k.resource,
                k.saved,
                k.identical,
                k.differences.len()
            ));
        }
        let missing = self.not_identical();
        if !missing.is_empty() {
            md.push_str("\nNot restorable as saved:\n\n");
            md.extend(missing.iter().map(|m| format!("* {m}\n")));
        }
        md
    }
}

fn at(text: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text?, &Rfc3339).ok()
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
