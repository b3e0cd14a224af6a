//! The upgrade-path planner: turns "installed X, wanted Y" into hops, a procedure
//! for each hop with the reason it was chosen, the notes that apply, and the steps.
//!
//! Pure: it reads a [`Catalog`] and returns values; it never touches the cluster.

mod describe;
mod error;
mod path;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use describe::{StepSummary, counted, describe_step, display_argv};
pub use error::PlanError;
pub use path::minors_behind;

use crate::runbook::model::{Disruption, Severity};
use crate::runbook::{Catalog, Facts, ProcedureEntry, ProductEntry, Version};

/// What the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub product: String,
    pub from: Option<Version>,
    /// The target as typed; `2.8` means the newest known 2.8 release.
    pub to: String,
    pub facts: Facts,
    /// A procedure id the operator insists on.
    pub procedure: Option<String>,
    /// Variable values given so far; the rest show as `{{name}}` or their defaults.
    pub values: BTreeMap<String, String>,
}

/// The upgrade path, hop by hop, with the procedure, notes and steps of each.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    pub product: String,
    pub product_name: String,
    pub from: Version,
    pub to: Version,
    pub facts: Facts,
    pub hops: Vec<Hop>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hop {
    pub from: Version,
    pub to: Version,
    /// The path rule that allows this hop.
    pub rule: String,
    /// Text the operator must acknowledge before this hop (a major upgrade, say).
    pub acknowledge: Option<String>,
    pub procedure: String,
    pub procedure_title: String,
    pub disruption: Disruption,
    /// Why this procedure was chosen.
    pub reason: String,
    /// Other procedures that would also fit, as `id (disruption)`.
    pub alternatives: Vec<String>,
    pub notes: Vec<Note>,
    pub steps: Vec<StepSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Note {
    pub product: String,
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub text: String,
}

impl Plan {
    pub fn step_count(&self) -> usize {
        self.hops.iter().map(|h| h.steps.len()).sum()
    }

    /// "9 steps", or "9 steps, 2 of them once per item of a list" when some
    /// steps repeat: the session then shows one step per item, more than 9.
    pub fn steps_text(&self) -> String {
        let steps = counted(self.step_count(), "step");
        let repeated = self.hops.iter().flat_map(|h| &h.steps).filter(|s| s.for_each.is_some()).count();
        match repeated {
            0 => steps,
            1 => format!("{steps}, 1 of them once per item of a list"),
            n => format!("{steps}, {n} of them once per item of a list"),
        }
    }
}

/// Plans an upgrade, or says why it is impossible and what is possible instead.
pub fn plan(catalog: &Catalog, request: &Request) -> Result<Plan, PlanError> {
    let product = catalog.product(&request.product).ok_or_else(|| PlanError::UnknownProduct {
        name: request.product.clone(),
        known: catalog.product_ids().iter().map(ToString::to_string).collect(),
    })?;
    let from = request.from.clone().ok_or(PlanError::FromRequired)?;
    let from = product.product.version_format().adopt(from).map_err(PlanError::BadVersion)?;
    let to = resolve_target(product, &request.to)?;
    if to < from {
        return Err(PlanError::Downgrade { from, to });
    }
    if to == from {
        return Err(PlanError::AlreadyThere { version: to });
    }
    let facts = product.complete_facts(&request.facts);
    let versions = path::find(product, &from, &to, &facts)?;
    let mut hops = Vec::new();
    for pair in versions.windows(2) {
        hops.push(plan_hop(catalog, product, &pair[0], &pair[1], &facts, request)?);
    }
    Ok(Plan { product: product.id().to_string(), product_name: product.product.name.clone(), from, to, facts, hops })
}

/// Reads the target as typed: a full version must be a known release; `2.8` or `2`
/// means the newest known release of that line.
fn resolve_target(product: &ProductEntry, typed: &str) -> Result<Version, PlanError> {
    let version = product.product.version_format().parse(typed).map_err(PlanError::BadVersion)?;
    let releases = &product.product.releases;
    let (_, core) = crate::base::version::split_label(typed.trim());
    let parts = core.split(['-', '+']).next().unwrap_or(core).split('.').count();
    let found = match parts {
        1 => releases.iter().filter(|r| r.major() == version.major()).max(),
        2 => releases.iter().filter(|r| r.line() == version.line()).max(),
        _ => releases.iter().find(|r| **r == version),
    };
    found.cloned().ok_or_else(|| PlanError::UnknownVersion {
        product: product.id().to_string(),
        version: typed.trim().to_string(),
        known: releases.iter().map(ToString::to_string).collect(),
    })
}

fn plan_hop(
    catalog: &Catalog,
    product: &ProductEntry,
    from: &Version,
    to: &Version,
    facts: &Facts,
    request: &Request,
) -> Result<Hop, PlanError> {
    let mut fitting = product.fitting(from, to, facts);
    fitting.sort_by_key(|p| (p.procedure.disruption, p.id().to_string()));
    let chosen = match &request.procedure {
        Some(id) => *fitting.iter().find(|p| p.id() == id).ok_or_else(|| PlanError::ProcedureDoesNotFit {
            id: id.clone(),
            from: from.clone(),
            to: to.clone(),
            valid: fitting.iter().map(|p| p.id().to_string()).collect(),
        })?,
        // The path search only keeps hops that some procedure fits.
        None => *fitting.first().ok_or_else(|| PlanError::NoProcedure {
            from: from.clone(),
            to: to.clone(),
            facts: facts.clone(),
        })?,
    };
    let rule = product.hop_rule(from, to).ok_or_else(|| PlanError::NoPath {
        from: from.clone(),
        to: to.clone(),
        explanation: "no path rule allows this hop".into(),
    })?;
    let alternatives: Vec<String> = fitting
        .iter()
        .filter(|p| p.id() != chosen.id())
        .map(|p| format!("{} ({})", p.id(), disruption_word(p.procedure.disruption)))
        .collect();
    let reason = choice_reason(chosen, &fitting, request.procedure.is_some(), facts);
    let values = step_values(product, chosen, from, to, facts, &request.values);
    let steps = chosen
        .procedure
        .steps
        .iter()
        .filter(|s| s.applies_to(from, to, facts))
        .map(|s| describe_step(s, &values))
        .collect();
    let notes = product
        .notes_for(catalog, from, to, facts)
        .into_iter()
        .map(|(owner, n)| Note {
            product: owner.to_string(),
            id: n.id.value.clone(),
            severity: n.severity,
            title: n.title.clone(),
            text: n.text.trim().to_string(),
        })
        .collect();
    Ok(Hop {
        from: from.clone(),
        to: to.clone(),
        rule: rule.reason.trim().to_string(),
        acknowledge: rule.acknowledge.as_ref().map(|a| a.trim().to_string()),
        procedure: chosen.id().to_string(),
        procedure_title: chosen.procedure.title.clone(),
        disruption: chosen.procedure.disruption,
        reason,
        alternatives,
        notes,
        steps,
    })
}

pub fn disruption_word(d: Disruption) -> &'static str {
    match d {
        Disruption::Low => "low disruption",
        Disruption::Medium => "medium disruption",
        Disruption::High => "high disruption",
    }
}

fn choice_reason(chosen: &ProcedureEntry, fitting: &[&ProcedureEntry], explicit: bool, facts: &Facts) -> String {
    let applies = &chosen.procedure.applies;
    let mut conditions = vec![format!("from {}", applies.from.value), format!("to {}", applies.to.value)];
    if applies.previous_release_only {
        conditions.push("from the release just before the target".into());
    }
    for (fact, values) in &applies.when {
        let actual = facts.get(&fact.value).map_or("?", String::as_str);
        let allowed: Vec<&str> = values.iter().map(|v| v.value.as_str()).collect();
        conditions.push(format!("{}={} (one of {})", fact.value, actual, allowed.join("|")));
    }
    let why = if explicit {
        "chosen with --procedure".to_string()
    } else if fitting.len() == 1 {
        "the only procedure that fits".to_string()
    } else {
        format!("the least disruptive of {} that fit", fitting.len())
    };
    format!("{why}; it applies {}", conditions.join(", "))
}

/// The values templates see for a hop: defaults, then facts and built-ins, then what
/// the operator gave.
pub fn step_values(
    product: &ProductEntry,
    procedure: &ProcedureEntry,
    from: &Version,
    to: &Version,
    facts: &Facts,
    given: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = facts.clone();
    values.insert("from_version".into(), from.to_string());
    values.insert("to_version".into(), to.to_string());
    values.extend(product.release_values(to));
    values.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    // Defaults may refer to other variables, so resolve them after the rest. A
    // default the session reads from the cluster is not known yet: the plan
    // shows the variable's name.
    for var in procedure.variables(&product.product) {
        if values.contains_key(&var.name.value) || var.discover.is_some() {
            continue;
        }
        if let Some(default) = &var.default
            && let Ok(v) = default.render(&values)
        {
            values.insert(var.name.value.clone(), v);
        }
    }
    values
}
