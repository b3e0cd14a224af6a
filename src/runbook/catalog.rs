//! The loaded, checked set of products and procedures, and the rules that read
//! them: which hops a product's policy allows and which procedures fit a hop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::error::{Problem, SourceFile};
use super::model::{HopRule, Procedure, Product, Variable, VersionNote, facts_fit};
use super::version::Version;

/// Facts about an installation: fact name to value.
pub type Facts = BTreeMap<String, String>;

/// Variables every procedure may use without declaring them.
pub const BUILTIN_VARIABLES: &[(&str, &str)] = &[
    ("from_version", "the version this hop starts from"),
    ("to_version", "the version this hop ends at"),
    ("session_dir", "the session's folder"),
    ("backup_dir", "the session's backup folder"),
    ("kubeconfig", "the kubeconfig file in use (empty when none was named)"),
    ("kube_context", "the kube context in use"),
];

#[derive(Debug)]
pub struct ProductEntry {
    pub product: Product,
    pub file: Arc<SourceFile>,
    /// The directory the product file came from.
    pub dir: String,
    /// This product's procedures, sorted by id.
    pub procedures: Vec<ProcedureEntry>,
}

#[derive(Debug)]
pub struct ProcedureEntry {
    pub procedure: Procedure,
    pub file: Arc<SourceFile>,
    pub dir: String,
    /// Where the file lives on disk; `None` for embedded runbooks.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default)]
pub struct Catalog {
    /// Sorted by product id.
    pub products: Vec<ProductEntry>,
    /// What lint warns about in the files the catalog was built from.
    pub warnings: Vec<Problem>,
}

impl Catalog {
    pub fn product(&self, id: &str) -> Option<&ProductEntry> {
        self.products.iter().find(|p| p.id() == id)
    }

    pub fn product_ids(&self) -> Vec<&str> {
        self.products.iter().map(ProductEntry::id).collect()
    }

    /// Every file the catalog was built from, with its SHA-256.
    pub fn files(&self) -> impl Iterator<Item = &Arc<SourceFile>> {
        self.products.iter().flat_map(|p| std::iter::once(&p.file).chain(p.procedures.iter().map(|q| &q.file)))
    }
}

impl ProductEntry {
    pub fn id(&self) -> &str {
        &self.product.id.value
    }

    /// Whether the product or any of its procedures marks the variable `name` secret.
    pub fn is_secret(&self, name: &str) -> bool {
        self.procedures.iter().flat_map(|p| p.variables(&self.product)).any(|v| v.secret && v.name.value == name)
    }

    /// The values that belong to release `v` (see `Product::release_values`).
    pub fn release_values(&self, v: &Version) -> BTreeMap<String, String> {
        self.product
            .release_values
            .iter()
            .find(|(release, _)| Version::parse(release).is_ok_and(|r| &r == v))
            .map(|(_, values)| values.clone())
            .unwrap_or_default()
    }

    pub fn procedure(&self, id: &str) -> Option<&ProcedureEntry> {
        self.procedures.iter().find(|p| p.id() == id)
    }

    /// Whether `from` is the release just before `to`, as vendors mean it (from
    /// 1.4.0 or 1.4.1 to 1.5.0): on the minor line right before `to`'s among the
    /// product's releases, or an earlier patch of `to`'s own line.
    pub fn is_previous_release(&self, from: &Version, to: &Version) -> bool {
        if from >= to {
            return false;
        }
        let previous_line = self.product.releases.iter().map(Version::line).filter(|l| *l < to.line()).max();
        from.line() == to.line() || previous_line == Some(from.line())
    }

    /// The first policy rule that allows a single hop from `from` to `to`.
    pub fn hop_rule(&self, from: &Version, to: &Version) -> Option<&HopRule> {
        if from >= to {
            return None;
        }
        self.product.path.rules.iter().find(|rule| rule_allows(rule, from, to))
    }

    /// Procedures that fit a hop for an installation with these facts.
    pub fn fitting(&self, from: &Version, to: &Version, facts: &Facts) -> Vec<&ProcedureEntry> {
        self.procedures.iter().filter(|p| self.fits(&p.procedure, from, to, facts)).collect()
    }

    pub fn fits(&self, p: &Procedure, from: &Version, to: &Version, facts: &Facts) -> bool {
        let a = &p.applies;
        a.from.matches(from)
            && a.to.matches(to)
            && (!a.previous_release_only || self.is_previous_release(from, to))
            && facts_fit(&a.when, facts, false)
    }

    /// The facts with every undeclared one set to its default, and unknown names dropped.
    pub fn complete_facts(&self, given: &Facts) -> Facts {
        self.product
            .facts
            .iter()
            .map(|f| {
                (f.name.value.clone(), given.get(&f.name.value).cloned().unwrap_or_else(|| f.default.value.clone()))
            })
            .collect()
    }

    /// Every combination of declared fact values; used to check procedures cover
    /// their cases without overlap.
    pub fn fact_combinations(&self) -> Vec<Facts> {
        let mut combos = vec![Facts::new()];
        for fact in &self.product.facts {
            combos = combos
                .into_iter()
                .flat_map(|base| {
                    fact.values.iter().map(move |v| {
                        let mut next = base.clone();
                        next.insert(fact.name.value.clone(), v.clone());
                        next
                    })
                })
                .collect();
        }
        combos
    }

    /// The version notes for a hop and an installation with these facts: this
    /// product's, then those of the products it includes notes of.
    pub fn notes_for<'a>(
        &'a self,
        catalog: &'a Catalog,
        from: &Version,
        to: &Version,
        facts: &Facts,
    ) -> Vec<(&'a str, &'a VersionNote)> {
        // Each product's notes, with the hop in that product's own versions.
        let own = std::iter::once((self, Some(from.clone()), Some(to.clone())));
        let included = self
            .product
            .includes_notes_of
            .iter()
            .filter_map(|id| catalog.product(id))
            .map(|p| (p, self.product.base_version(p.id(), from), self.product.base_version(p.id(), to)));
        own.chain(included)
            .filter_map(|(p, from, to)| Some((p, from?, to?)))
            .flat_map(|(p, from, to)| {
                p.product
                    .notes
                    .iter()
                    .filter(move |n| {
                        n.from.as_ref().is_none_or(|r| r.matches(&from))
                            && n.to.as_ref().is_none_or(|r| r.matches(&to))
                            && facts_fit(&n.when, facts, true)
                    })
                    .map(move |n| (p.id(), n))
            })
            .collect()
    }
}

impl ProcedureEntry {
    pub fn id(&self) -> &str {
        &self.procedure.id.value
    }

    /// The variables a run of this procedure uses: the product's, then its own.
    pub fn variables<'a>(&'a self, product: &'a Product) -> impl Iterator<Item = &'a Variable> {
        product.variables.iter().chain(self.procedure.variables.iter())
    }
}

fn rule_allows(rule: &HopRule, from: &Version, to: &Version) -> bool {
    let in_range = rule.from.as_ref().is_none_or(|r| r.matches(from)) && rule.to.as_ref().is_none_or(|r| r.matches(to));
    if !in_range {
        return false;
    }
    if from.major() != to.major() {
        return rule.allow_major;
    }
    rule.max_minor.is_none_or(|max| to.minor() - from.minor() <= max)
}
