//! The work of a session: every step of every hop, with per-item repeats
//! expanded, and the values its templates see.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::Plan;
use crate::runbook::catalog::ProductEntry;
use crate::runbook::model::{Step, Variable};
use crate::runbook::template::Template;
use crate::runbook::{Catalog, Facts, ProcedureEntry, Version};

use super::error::EngineError;

/// One unit of work: a step of a hop's procedure, once per item for repeated steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub hop: usize,
    pub procedure: String,
    /// Index into the procedure's steps.
    pub step: usize,
    pub item: Option<String>,
}

/// The plan's runbooks, looked up again from the catalog.
pub struct Resolved<'a> {
    pub product: &'a ProductEntry,
    pub procedures: Vec<&'a ProcedureEntry>,
    /// Each hop's versions, and the installation's facts, which decide the
    /// steps a hop takes (a step's `when`).
    hops: Vec<(Version, Version)>,
    facts: Facts,
}

pub fn resolve<'a>(catalog: &'a Catalog, plan: &Plan) -> Result<Resolved<'a>, EngineError> {
    let product = catalog
        .product(&plan.product)
        .ok_or_else(|| EngineError::Runbooks(format!("product `{}` is no longer in the runbooks", plan.product)))?;
    let procedures = plan
        .hops
        .iter()
        .map(|hop| {
            product.procedure(&hop.procedure).ok_or_else(|| {
                EngineError::Runbooks(format!("procedure `{}` is no longer in the runbooks", hop.procedure))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let hops = plan.hops.iter().map(|h| (h.from.clone(), h.to.clone())).collect();
    Ok(Resolved { product, procedures, hops, facts: plan.facts.clone() })
}

impl Resolved<'_> {
    /// Every variable the session needs, each once, product variables first. A
    /// product variable only some procedures use (a Helm release name, say) is
    /// left out when none of the plan's procedures refers to it, so the operator
    /// is not asked for a value that changes nothing.
    pub fn variables(&self) -> Vec<&Variable> {
        let used = self.names_used();
        let mut seen = BTreeSet::new();
        let product = self.product.product.variables.iter().filter(|v| used.contains(v.name.value.as_str()));
        product
            .chain(self.procedures.iter().flat_map(|p| p.procedure.variables.iter()))
            .filter(|v| seen.insert(v.name.value.clone()))
            .collect()
    }

    /// The names the plan's steps and the procedures' own variables refer to, with
    /// whatever their defaults refer to in turn. Detection is not counted: it ran
    /// before the plan existed, with the defaults or the values given.
    fn names_used(&self) -> BTreeSet<&str> {
        let product = &self.product.product;
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for (hop, entry) in self.procedures.iter().enumerate() {
            for (_, step) in self.hop_steps(hop) {
                used.extend(step.templates().into_iter().flat_map(Template::variables));
                used.extend(step.for_each.iter().map(|f| f.value.as_str()));
            }
            used.extend(entry.procedure.variables.iter().map(|v| v.name.value.as_str()));
        }
        let all: Vec<&Variable> =
            product.variables.iter().chain(self.procedures.iter().flat_map(|p| p.procedure.variables.iter())).collect();
        loop {
            let before = used.len();
            let referred: Vec<&str> = all
                .iter()
                .filter(|v| used.contains(v.name.value.as_str()))
                .flat_map(|v| v.default.iter().flat_map(Template::variables))
                .collect();
            used.extend(referred);
            if used.len() == before {
                return used;
            }
        }
    }

    pub fn step(&self, w: &WorkItem) -> &Step {
        &self.procedures[w.hop].procedure.steps[w.step]
    }

    /// The values a work item's templates see: the session's, with its hop's
    /// versions and release values, and its item.
    pub fn step_values(&self, session: &BTreeMap<String, String>, w: &WorkItem) -> BTreeMap<String, String> {
        let (from, to) = &self.hops[w.hop];
        let mut values = self.hop_values(session, from, to);
        if let Some(item) = &w.item {
            values.insert("item".into(), item.clone());
        }
        values
    }

    /// A work item's title, with the values known (unknown ones stay `{{name}}`).
    pub fn title(&self, session: &BTreeMap<String, String>, w: &WorkItem) -> String {
        self.step(w).title.render_partial(&self.step_values(session, w))
    }

    /// The steps hop `hop` takes, with their index in the procedure: those
    /// whose `when` holds for the hop, as in the plan.
    fn hop_steps(&self, hop: usize) -> impl Iterator<Item = (usize, &Step)> {
        let (from, to) = &self.hops[hop];
        let steps = self.procedures[hop].procedure.steps.iter().enumerate();
        steps.filter(move |(_, step)| step.applies_to(from, to, &self.facts))
    }

    /// Renders, for one hop, the variables whose defaults name the hop's versions (a
    /// chart version defaulting to `{{to_version}}`, say). When the session began
    /// no hop was known, so such a default was kept with those names unrendered;
    /// a value the operator gave instead is left as it is.
    pub fn render_hop_defaults(&self, values: &mut BTreeMap<String, String>) {
        let before_hop: BTreeMap<String, String> = values
            .iter()
            .filter(|(k, _)| !HOP_VALUES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for var in self.variables() {
            let Some(default) = &var.default else { continue };
            if !default.variables().any(|n| HOP_VALUES.contains(&n)) {
                continue;
            }
            if values.get(&var.name.value) == Some(&default.render_partial(&before_hop)) {
                values.insert(var.name.value.clone(), default.render_partial(values));
            }
        }
    }

    /// The values the templates of a hop from `from` to `to` see: the session's,
    /// the hop's versions, the values of the release it goes to, and the defaults
    /// that name the hop's versions rendered for it. A release value the session
    /// holds was given with --set (no variable may share its name), so it stays,
    /// as the plan shows it.
    pub fn hop_values(
        &self,
        session: &BTreeMap<String, String>,
        from: &Version,
        to: &Version,
    ) -> BTreeMap<String, String> {
        let mut values = session.clone();
        values.insert("from_version".into(), from.to_string());
        values.insert("to_version".into(), to.to_string());
        for (name, value) in self.product.release_values(to) {
            values.entry(name).or_insert(value);
        }
        self.render_hop_defaults(&mut values);
        values
    }

    /// The work list; steps with `for_each` repeat for each item of their list,
    /// and steps whose `when` does not hold for their hop are left out.
    pub fn work(&self, values: &BTreeMap<String, String>) -> Vec<WorkItem> {
        let mut out = Vec::new();
        for (hop, p) in self.procedures.iter().enumerate() {
            for (index, step) in self.hop_steps(hop) {
                let base = WorkItem { hop, procedure: p.id().to_string(), step: index, item: None };
                match &step.for_each {
                    None => out.push(base),
                    Some(list) => {
                        let items = values.get(&list.value).map(|v| split_list(v)).unwrap_or_default();
                        out.extend(items.into_iter().map(|item| WorkItem { item: Some(item), ..base.clone() }));
                    }
                }
            }
        }
        out
    }
}

/// Built-in values that differ from hop to hop.
const HOP_VALUES: [&str; 2] = ["from_version", "to_version"];

/// A comma-separated list, blanks dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Whether a variable may be left empty: only when its pattern says so (an
/// empty list of namespaces, say); otherwise an empty answer is a slip.
pub fn may_be_empty(var: &Variable) -> bool {
    var.pattern.is_some() && var.choices.is_empty() && check_value(var, "").is_ok()
}

/// Checks a variable's value against its pattern and choices.
pub fn check_value(var: &Variable, value: &str) -> Result<(), String> {
    var.check(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked_for(procedure: &str, install_method: &str) -> Vec<String> {
        let catalog = crate::catalog_files::load(&[]).unwrap();
        let facts = [("install_method", install_method), ("platform", "kubernetes")];
        let request = crate::plan::Request {
            product: "nginx-service-mesh".into(),
            from: Some(crate::runbook::Version::parse("1.6.0").unwrap()),
            to: "1.7.0".into(),
            facts: facts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            procedure: Some(procedure.into()),
            values: BTreeMap::new(),
        };
        let plan = crate::plan::plan(&catalog, &request).unwrap();
        let resolved = resolve(&catalog, &plan).unwrap();
        resolved.variables().iter().map(|v| v.name.value.clone()).collect()
    }

    #[test]
    fn product_variables_no_step_of_the_plan_uses_are_not_asked_for() {
        let meshctl = asked_for("manual-meshctl", "nginx-meshctl");
        let helm = asked_for("manual-helm", "helm");
        for name in ["release", "chart"] {
            assert!(!meshctl.contains(&name.to_string()), "{name} asked for the nginx-meshctl path: {meshctl:?}");
            assert!(helm.contains(&name.to_string()), "{name} not asked for the Helm path: {helm:?}");
        }
        for name in ["namespace", "meshed_namespaces", "target_meshctl"] {
            assert!(meshctl.contains(&name.to_string()), "{name} not asked for the nginx-meshctl path: {meshctl:?}");
        }
    }

    #[test]
    fn a_hop_installs_the_chart_of_its_release_unless_one_was_given() {
        let catalog = crate::catalog_files::load(&[]).unwrap();
        let v = |s: &str| Version::parse(s).unwrap();
        let request = crate::plan::Request {
            product: "kong-mesh".into(),
            from: Some(v("1.2.0")),
            to: "1.6.0".into(),
            facts: [("install_method", "helm")].iter().map(|(k, x)| (k.to_string(), x.to_string())).collect(),
            procedure: None,
            values: BTreeMap::new(),
        };
        let plan = crate::plan::plan(&catalog, &request).unwrap();
        let resolved = resolve(&catalog, &plan).unwrap();
        let charts = |session: &BTreeMap<String, String>| -> Vec<String> {
            plan.hops.iter().map(|h| resolved.hop_values(session, &h.from, &h.to)["chart_version"].clone()).collect()
        };
        assert_eq!(
            charts(&BTreeMap::new()),
            ["0.5.0", "0.7.0"],
            "Kong Mesh 1.4.0 and 1.6.0 ship charts 0.5.0 and 0.7.0"
        );
        let given = BTreeMap::from([("chart_version".to_string(), "0.7.4".to_string())]);
        assert_eq!(charts(&given), ["0.7.4", "0.7.4"], "a chart given with --set is used on every hop");
    }

    #[test]
    fn the_work_list_takes_the_steps_the_plan_shows_for_each_hop() {
        use crate::runbook::error::SourceFile;
        use crate::runbook::load::{RawFile, build};
        let product = "id: p\nname: P\nreleases: [1.0.0, 1.1.0, 1.2.0]\n\
                       path: {rules: [{reason: one minor, max_minor: 1}]}\n";
        let procedure = "id: up\nproduct: p\ntitle: t\ndescription: d\ndisruption: low\n\
                         applies: {from: '*', to: '*'}\nsteps:\n\
                         - {id: old, title: o, explain: e, when: {to: '<1.2.0'}, command: {argv: [a]}}\n\
                         - {id: new, title: n, explain: e, when: {from: '>=1.1.0'}, command: {argv: [b]}}\n\
                         - {id: all, title: a, explain: e, command: {argv: [c]}}\n";
        let files = vec![
            RawFile::new("p", SourceFile::new("p/product.yaml", product), None),
            RawFile::new("p", SourceFile::new("p/up.yaml", procedure), None),
        ];
        let catalog = build(files).unwrap();
        let request = crate::plan::Request {
            product: "p".into(),
            from: Some(crate::runbook::Version::parse("1.0.0").unwrap()),
            to: "1.2.0".into(),
            ..Default::default()
        };
        let plan = crate::plan::plan(&catalog, &request).unwrap();
        let resolved = resolve(&catalog, &plan).unwrap();
        let worked: Vec<(usize, String)> =
            resolved.work(&BTreeMap::new()).iter().map(|w| (w.hop, resolved.step(w).id.value.clone())).collect();
        let planned: Vec<(usize, String)> =
            plan.hops.iter().enumerate().flat_map(|(i, h)| h.steps.iter().map(move |s| (i, s.id.clone()))).collect();
        assert_eq!(worked, planned);
        let ids: Vec<&str> = worked.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["old", "all", "new", "all"]);
    }

    #[test]
    fn lists_split_on_commas_and_drop_blanks() {
        assert_eq!(split_list(" zone-a, zone-b ,, "), ["zone-a", "zone-b"]);
        assert!(split_list("").is_empty());
    }
}
