//! What a restore did, object by object and kind by kind, and the words every
//! caller reports it with.

use std::path::Path;

use serde::Serialize;

use crate::base::Mode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    /// Rehearsal: the server accepted a dry run of the object.
    Validated,
    AlreadyIdentical,
    /// It exists and differs from the backup; left as it is.
    AlreadyDifferent,
    Failed(String),
    /// Not brought back: it was being deleted when the backup was taken.
    LeftOut,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectOutcome {
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KindCounts {
    pub resource: String,
    pub expected: u64,
    pub created: u64,
    pub validated: u64,
    pub identical: u64,
    pub different: u64,
    pub failed: u64,
    /// Left out: they were being deleted when the backup was taken.
    pub left_out: u64,
    /// Objects of this kind in the cluster afterwards (at least `expected` when all went well).
    pub live: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RestoreReport {
    pub kinds: Vec<KindCounts>,
    /// Every object that was not created or identical, with why.
    pub notable: Vec<ObjectOutcome>,
    /// Owner references dropped because their owner no longer exists.
    pub dropped_owner_refs: Vec<String>,
    /// Every kind's objects are all present (or, in rehearsal, all validated).
    pub verified: bool,
}

impl RestoreReport {
    pub fn failed(&self) -> u64 {
        self.kinds.iter().map(|k| k.failed).sum()
    }

    /// The objects brought back: created, validated (rehearsal) or found
    /// already there and identical.
    pub fn done(&self) -> u64 {
        self.kinds.iter().map(|k| k.created + k.validated + k.identical).sum()
    }

    /// The objects found already there and identical.
    pub fn identical(&self) -> u64 {
        self.kinds.iter().map(|k| k.identical).sum()
    }

    /// The notable objects with this outcome, each as `resource/namespace/name`.
    pub fn places(&self, outcome: &Outcome) -> Vec<String> {
        self.notable.iter().filter(|o| &o.outcome == outcome).map(ObjectOutcome::place).collect()
    }

    /// The objects that could not be restored, each with why.
    pub fn unrestored(&self) -> Vec<String> {
        self.notable
            .iter()
            .filter_map(|o| match &o.outcome {
                Outcome::Failed(why) => Some(format!("{}: {why}", o.place())),
                _ => None,
            })
            .collect()
    }

    /// One line of counts: what a restore after a failure reports.
    pub fn counts(&self, from: &Path) -> String {
        format!(
            "restore from {}: {} created, {} already there, {} failed",
            from.display(),
            self.kinds.iter().map(|k| k.created).sum::<u64>(),
            self.kinds.iter().map(|k| k.identical + k.different).sum::<u64>(),
            self.failed()
        )
    }

    /// Every kind's counts and every notable object, one a line: what
    /// `stepwise restore` prints.
    pub fn summary(&self, mode: Mode) -> String {
        let mut out = String::new();
        for k in &self.kinds {
            let done = if mode.is_rehearsal() {
                format!("{} validated", k.validated)
            } else {
                format!("{} created", k.created)
            };
            let left_out = if k.left_out > 0 {
                format!(", {} left out (being deleted when saved)", k.left_out)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{}: {} of {}; {} already there and identical, {} already there and different, {} failed{left_out}\n",
                k.resource, done, k.expected, k.identical, k.different, k.failed,
            ));
        }
        for o in &self.notable {
            let place = o.namespace.as_ref().map(|n| format!("{n}/")).unwrap_or_default();
            let what = match &o.outcome {
                Outcome::AlreadyDifferent => "exists and differs from the backup; left as it is".to_string(),
                Outcome::Failed(why) => format!("failed: {why}"),
                Outcome::LeftOut => "left out: it was being deleted when the backup was taken".to_string(),
                other => format!("{other:?}"),
            };
            out.push_str(&format!("  {} {place}{}: {what}\n", o.resource, o.name));
        }
        for d in &self.dropped_owner_refs {
            out.push_str(&format!("  dropped owner reference: {d}\n"));
        }
        out
    }
}

impl ObjectOutcome {
    /// The object as `resource/namespace/name` (or `resource/name`).
    pub fn place(&self) -> String {
        format!(
            "{}/{}{}",
            self.resource,
            self.namespace.as_ref().map(|n| format!("{n}/")).unwrap_or_default(),
            self.name
        )
    }
}
