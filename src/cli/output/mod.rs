//! What `-o json` and `-o yaml` print: one versioned document per command.
//!
//! Every document starts with `apiVersion: stepwise/v1` and a `kind`; fields are
//! only ever added within a version. The JSON Schemas in `assets/schema/output-*.schema.json`
//! are generated from these types (`stepwise schema output-plan`, …), so they cannot drift.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

mod session;

pub use session::{
    RunOutcomeShown, RunRecorder, RunSummary, SessionList, SessionShown, SessionState, StepShown, session_list,
};

use super::args::Output;
use super::{Failure, exit};
use crate::plan::{Plan, StepSummary};
use crate::runbook::model::{Disruption, Severity, Variable};
use crate::runbook::{Catalog, Problem, ProcedureEntry, ProductEntry, Version};

/// The version of every document's shape.
#[derive(Debug, Clone, Copy, Default, Serialize, JsonSchema)]
pub enum ApiVersion {
    #[default]
    #[serde(rename = "stepwise/v1")]
    V1,
}

/// A document's kind; each command's has a single value.
macro_rules! kind {
    ($name:ident, $value:ident) => {
        #[derive(Debug, Clone, Copy, Default, Serialize, JsonSchema)]
        pub enum $name {
            #[default]
            $value,
        }
    };
}
kind!(ProductListKind, ProductList);
kind!(ProductKind, Product);
kind!(ProcedureKind, Procedure);
kind!(PlanKind, Plan);
kind!(LintReportKind, LintReport);
kind!(SessionListKind, SessionList);
kind!(RunSummaryKind, RunSummary);

/// `stepwise list`: every product with the procedures it has.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProductList {
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    pub kind: ProductListKind,
    pub products: Vec<ListedProduct>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListedProduct {
    pub id: String,
    pub name: String,
    /// Known releases, oldest first.
    pub releases: Vec<Version>,
    pub procedures: Vec<ListedProcedure>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListedProcedure {
    pub id: String,
    pub title: String,
    /// The versions a hop may start from, as the runbook writes the range.
    pub from: String,
    /// The versions a hop may end at.
    pub to: String,
    pub disruption: Disruption,
    /// Only for a hop from the release right before `to`.
    pub previous_release_only: bool,
    /// Facts the installation must have: fact name to the values that fit.
    pub when: BTreeMap<String, Vec<String>>,
}

/// `stepwise show PRODUCT` or `stepwise show PRODUCT PROCEDURE`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Shown {
    Product(ProductShown),
    Procedure(ProcedureShown),
}

/// `stepwise show PRODUCT`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProductShown {
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    pub kind: ProductKind,
    pub id: String,
    pub name: String,
    pub description: String,
    pub releases: Vec<Version>,
    pub facts: Vec<FactShown>,
    /// Variables every procedure of the product uses.
    pub variables: Vec<VariableShown>,
    /// Why each path rule exists.
    pub path_rules: Vec<String>,
    pub procedures: Vec<ProcedureRef>,
    pub notes: Vec<NoteShown>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FactShown {
    pub name: String,
    pub description: String,
    pub values: Vec<String>,
    pub default: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VariableShown {
    pub name: String,
    pub description: String,
    /// The default as written, templates unrendered.
    pub default: Option<String>,
    pub choices: Vec<String>,
    pub secret: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProcedureRef {
    pub id: String,
    pub title: String,
    pub disruption: Disruption,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NoteShown {
    pub id: String,
    pub severity: Severity,
    pub title: String,
    /// The versions a hop starts from for the note to apply (any when absent).
    pub from: Option<String>,
    /// The versions a hop ends at for the note to apply (any when absent).
    pub to: Option<String>,
}

/// `stepwise show PRODUCT PROCEDURE`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProcedureShown {
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    pub kind: ProcedureKind,
    pub product: String,
    pub id: String,
    pub title: String,
    pub description: String,
    pub disruption: Disruption,
    pub from: String,
    pub to: String,
    /// The product's variables, then the procedure's own.
    pub variables: Vec<VariableShown>,
    /// Every step, with templates shown as `{{name}}` or their defaults.
    pub steps: Vec<StepSummary>,
}

/// `stepwise plan`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlanShown {
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    pub kind: PlanKind,
    /// What was found on the cluster when `--from` was not given: the installed
    /// version and facts, one sentence each; empty with `--from`.
    pub detected: Vec<String>,
    #[serde(flatten)]
    pub plan: Plan,
}

/// `stepwise lint`: the files checked and every problem found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LintReport {
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    pub kind: LintReportKind,
    /// Whether the runbooks have no errors (warnings may be listed).
    pub ok: bool,
    /// How many runbook files were checked, built-in ones included.
    pub files: usize,
    /// Products and procedures loaded; absent when there are problems.
    pub products: Option<usize>,
    pub procedures: Option<usize>,
    pub problems: Vec<LintProblem>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LintProblem {
    /// The file as stepwise names it (`runbooks/kuma/product.yaml` for built-in ones).
    pub file: String,
    /// 1-based; absent when the problem has no place in the file.
    pub line: Option<u32>,
    /// 1-based; absent when the problem has no place in the file.
    pub column: Option<u32>,
    pub message: String,
    /// What the author can do about it.
    pub help: Option<String>,
    /// `error` stops the runbooks from loading; `warning` does not.
    pub severity: LintSeverity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LintSeverity {
    Error,
    Warning,
}

/// The documents `-o json` prints, one per command; each has a schema file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    List,
    Show,
    Plan,
    Lint,
    Sessions,
    Run,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 6] = [
        DocumentKind::List,
        DocumentKind::Show,
        DocumentKind::Plan,
        DocumentKind::Lint,
        DocumentKind::Sessions,
        DocumentKind::Run,
    ];

    /// The file name under `assets/schema/`.
    pub fn file_name(self) -> &'static str {
        match self {
            DocumentKind::List => "output-list.schema.json",
            DocumentKind::Show => "output-show.schema.json",
            DocumentKind::Plan => "output-plan.schema.json",
            DocumentKind::Lint => "output-lint.schema.json",
            DocumentKind::Sessions => "output-sessions.schema.json",
            DocumentKind::Run => "output-run.schema.json",
        }
    }
}

/// The schema of a command's document as pretty JSON with a trailing newline.
pub fn schema(kind: DocumentKind) -> String {
    let schema = match kind {
        DocumentKind::List => schemars::schema_for!(ProductList),
        DocumentKind::Show => schemars::schema_for!(Shown),
        DocumentKind::Plan => schemars::schema_for!(PlanShown),
        DocumentKind::Lint => schemars::schema_for!(LintReport),
        DocumentKind::Sessions => schemars::schema_for!(SessionList),
        DocumentKind::Run => schemars::schema_for!(RunSummary),
    };
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// A document in the format asked for; `text` renders it for people.
pub fn render<T: Serialize>(format: Output, document: &T, text: impl FnOnce() -> String) -> Result<String, Failure> {
    match format {
        Output::Text => Ok(text()),
        Output::Json => serde_json::to_string_pretty(document)
            .map(|json| json + "\n")
            .map_err(|e| Failure::one(exit::FAILURE, miette::miette!("cannot write JSON: {e}"))),
        Output::Yaml => serde_saphyr::to_string(document)
            .map_err(|e| Failure::one(exit::FAILURE, miette::miette!("cannot write YAML: {e}"))),
    }
}

/// `stepwise list` as a document.
pub fn product_list(catalog: &Catalog) -> ProductList {
    let products = catalog
        .products
        .iter()
        .map(|product| ListedProduct {
            id: product.id().to_string(),
            name: product.product.name.clone(),
            releases: product.product.releases.clone(),
            procedures: product.procedures.iter().map(listed_procedure).collect(),
        })
        .collect();
    ProductList { api_version: ApiVersion::V1, kind: ProductListKind::ProductList, products }
}

fn listed_procedure(entry: &ProcedureEntry) -> ListedProcedure {
    let p = &entry.procedure;
    let when = p
        .applies
        .when
        .iter()
        .map(|(fact, values)| (fact.value.clone(), values.iter().map(|v| v.value.clone()).collect()))
        .collect();
    ListedProcedure {
        id: entry.id().to_string(),
        title: p.title.clone(),
        from: p.applies.from.value.to_string(),
        to: p.applies.to.value.to_string(),
        disruption: p.disruption,
        previous_release_only: p.applies.previous_release_only,
        when,
    }
}

/// `stepwise show PRODUCT` as a document.
pub fn product_shown(entry: &ProductEntry) -> Shown {
    let p = &entry.product;
    let facts = p
        .facts
        .iter()
        .map(|f| FactShown {
            name: f.name.value.clone(),
            description: f.description.trim().to_string(),
            values: f.values.clone(),
            default: f.default.value.clone(),
        })
        .collect();
    let notes = p
        .notes
        .iter()
        .map(|n| NoteShown {
            id: n.id.value.clone(),
            severity: n.severity,
            title: n.title.clone(),
            from: n.from.as_ref().map(ToString::to_string),
            to: n.to.as_ref().map(ToString::to_string),
        })
        .collect();
    Shown::Product(ProductShown {
        api_version: ApiVersion::V1,
        kind: ProductKind::Product,
        id: entry.id().to_string(),
        name: p.name.clone(),
        description: p.description.trim().to_string(),
        releases: p.releases.clone(),
        facts,
        variables: p.variables.iter().map(variable_shown).collect(),
        path_rules: p.path.rules.iter().map(|r| r.reason.trim().to_string()).collect(),
        procedures: entry
            .procedures
            .iter()
            .map(|q| ProcedureRef {
                id: q.id().to_string(),
                title: q.procedure.title.clone(),
                disruption: q.procedure.disruption,
            })
            .collect(),
        notes,
    })
}

/// `stepwise show PRODUCT PROCEDURE` as a document.
pub fn procedure_shown(product: &ProductEntry, entry: &ProcedureEntry) -> Shown {
    let p = &entry.procedure;
    Shown::Procedure(ProcedureShown {
        api_version: ApiVersion::V1,
        kind: ProcedureKind::Procedure,
        product: product.id().to_string(),
        id: entry.id().to_string(),
        title: p.title.clone(),
        description: p.description.trim().to_string(),
        disruption: p.disruption,
        from: p.applies.from.value.to_string(),
        to: p.applies.to.value.to_string(),
        variables: entry.variables(&product.product).map(variable_shown).collect(),
        steps: p.steps.iter().map(|step| crate::plan::describe_step(step, &BTreeMap::new())).collect(),
    })
}

fn variable_shown(v: &Variable) -> VariableShown {
    VariableShown {
        name: v.name.value.clone(),
        description: v.description.trim().to_string(),
        default: v.default.as_ref().map(|d| d.raw().to_string()),
        choices: v.choices.clone(),
        secret: v.secret,
    }
}

/// `stepwise plan` as a document.
pub fn plan_shown(plan: &Plan, detected: &[String]) -> PlanShown {
    PlanShown { api_version: ApiVersion::V1, kind: PlanKind::Plan, detected: detected.to_vec(), plan: plan.clone() }
}

/// `stepwise lint` as a document: `catalog` is what loaded, when it did (its
/// warnings are listed too), else the problems that stopped it.
pub fn lint_report(files: usize, catalog: Option<&Catalog>, problems: &[Problem]) -> LintReport {
    let warnings = catalog.map(|c| c.warnings.as_slice()).unwrap_or_default();
    let problems: Vec<LintProblem> = problems
        .iter()
        .chain(warnings)
        .map(|p| {
            let known = p.pos.is_known();
            LintProblem {
                file: p.file.name.clone(),
                line: known.then_some(p.pos.line),
                column: known.then_some(p.pos.column),
                message: p.message.clone(),
                help: p.help.clone(),
                severity: if p.warning { LintSeverity::Warning } else { LintSeverity::Error },
            }
        })
        .collect();
    LintReport {
        api_version: ApiVersion::V1,
        kind: LintReportKind::LintReport,
        ok: problems.iter().all(|p| p.severity == LintSeverity::Warning),
        files,
        products: catalog.map(|c| c.products.len()),
        procedures: catalog.map(|c| c.products.iter().map(|p| p.procedures.len()).sum()),
        problems,
    }
}
