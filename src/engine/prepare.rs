//! Before a session exists: what is installed (detected on the cluster unless
//! `--from` says), which procedure to follow when more than one fits, and the
//! plan that follows from both. Everything found is said as an [`Event`] and the
//! choice is a [`Question`], so each front end shows and asks it its own way —
//! the full screen inside the screen, the line front end on the terminal, the
//! headless one from flags.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::base::{CancelSignal, Mode, Target};
use crate::cluster::ClusterError;
use crate::cluster::detect::DetectError;
use crate::engine::detection as detect;
use crate::plan::{self, Plan, PlanError, Request};
use crate::runbook::version::VersionError;
use crate::runbook::{Catalog, ProductEntry, Version};

use super::events::{self, Answer, Detection, Event, Msg, Outbox, ProcedureChoice, Question};
use super::{EngineError, RunOutcome, StartRequest};

/// Why no session could be prepared, or why the session that was started ended
/// in an error.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The cluster could not be reached or used.
    #[error("{0}")]
    Cluster(#[source] ClusterError),
    /// `--from` is not a version.
    #[error("--from: {source}")]
    BadFrom {
        #[source]
        source: VersionError,
    },
    /// The installed version could not be told from the cluster.
    #[error("{source}")]
    Undetectable {
        #[source]
        source: DetectError,
    },
    /// The planner refused the request.
    #[error("{0}")]
    Plan(#[source] Box<PlanError>),
    /// The operator backed out of the procedure choice.
    #[error("no procedure chosen; nothing was done")]
    NoProcedure,
    /// A signal, or the operator leaving the screen, stopped it before the
    /// session began.
    #[error("interrupted before the session began; nothing was done")]
    Interrupted,
    /// The front end went away while a question was open.
    #[error("the front end stopped before the procedure was chosen")]
    NoFrontEnd,
    /// The session itself stopped with an error.
    #[error(transparent)]
    Session(#[from] EngineError),
}

/// What the operator asked to plan, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub product: String,
    /// The installed version as typed; detected on the cluster when `None`.
    pub from: Option<String>,
    /// The target as typed; `2.8` means the newest known 2.8 release.
    pub to: String,
    /// Facts given with `--fact`; detected ones are added to them.
    pub facts: BTreeMap<String, String>,
    /// A procedure the operator insists on (`--procedure`); nothing is offered then.
    pub procedure: Option<String>,
    /// Variable values given with `--set`.
    pub values: BTreeMap<String, String>,
}

/// A plan and what was read on the cluster to make it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub plan: Plan,
    pub detected: Vec<Detection>,
}

/// Plans `req`, detecting the installed version and the product's facts on the
/// cluster where the request does not give them. Asks nothing: `stepwise plan`
/// shows the result as it is.
pub async fn plan(catalog: &Catalog, target: &Target, req: &PlanRequest) -> Result<Prepared, PrepareError> {
    let mut facts = req.facts.clone();
    let mut detected = detect_facts(catalog, target, req, &mut facts).await?;
    let from = match &req.from {
        Some(f) => parse_from(f)?,
        None => {
            let product = known_product(catalog, &req.product)?;
            let (version, found) = detect_version(product, target, req, &mut facts).await?;
            detected.push(found);
            version
        }
    };
    let plan = plan_from(catalog, req, from, facts, req.procedure.clone())?;
    Ok(Prepared { plan, detected })
}

/// Plans `req` from its `--from` without touching a cluster: facts are only
/// those given. `None` when the request has no `--from`.
pub fn plan_offline(catalog: &Catalog, req: &PlanRequest) -> Option<Result<Plan, PrepareError>> {
    let from = req.from.as_deref()?;
    Some(parse_from(from).and_then(|from| plan_from(catalog, req, from, req.facts.clone(), req.procedure.clone())))
}

fn parse_from(text: &str) -> Result<Version, PrepareError> {
    Version::parse(text).map_err(|source| PrepareError::BadFrom { source })
}

fn plan_from(
    catalog: &Catalog,
    req: &PlanRequest,
    from: Version,
    facts: BTreeMap<String, String>,
    procedure: Option<String>,
) -> Result<Plan, PrepareError> {
    let request = Request {
        product: req.product.clone(),
        from: Some(from),
        to: req.to.clone(),
        facts,
        procedure,
        values: req.values.clone(),
    };
    plan::plan(catalog, &request).map_err(|e| PrepareError::Plan(Box::new(e)))
}

/// The product's facts that have a `detect:`, read on the cluster unless given.
async fn detect_facts(
    catalog: &Catalog,
    target: &Target,
    req: &PlanRequest,
    facts: &mut BTreeMap<String, String>,
) -> Result<Vec<Detection>, PrepareError> {
    let Some(entry) = catalog.product(&req.product).filter(|e| e.product.facts.iter().any(|f| f.detect.is_some()))
    else {
        return Ok(Vec::new());
    };
    let conn = target.connect().await.map_err(PrepareError::Cluster)?;
    let told = detect::detect_facts(&conn, &entry.product, &*facts).await.map_err(PrepareError::Cluster)?;
    Ok(told
        .into_iter()
        .map(|(name, value, why)| {
            facts.insert(name.clone(), value.clone());
            Detection::Fact { name, value, why }
        })
        .collect())
}

/// The installed version, read on the cluster; facts found on the way are
/// added where not given.
async fn detect_version(
    product: &ProductEntry,
    target: &Target,
    req: &PlanRequest,
    facts: &mut BTreeMap<String, String>,
) -> Result<(Version, Detection), PrepareError> {
    let conn = target.connect().await.map_err(PrepareError::Cluster)?;
    let found = detect::detect(&conn, &product.product, &req.values).await.map_err(|e| match e {
        // An unreachable cluster is not an undetectable version: --from would not help.
        DetectError::Cluster(c @ ClusterError::Unreachable { .. }) => PrepareError::Cluster(c),
        source => PrepareError::Undetectable { source },
    })?;
    for (k, v) in found.facts {
        facts.entry(k).or_insert(v);
    }
    let detection = Detection::Version {
        product: product.product.name.clone(),
        version: found.version.to_string(),
        source: found.source,
    };
    Ok((found.version, detection))
}

fn known_product<'c>(catalog: &'c Catalog, id: &str) -> Result<&'c ProductEntry, PrepareError> {
    catalog.product(id).ok_or_else(|| {
        PrepareError::Plan(Box::new(PlanError::UnknownProduct {
            name: id.into(),
            known: catalog.product_ids().iter().map(ToString::to_string).collect(),
        }))
    })
}

/// What `stepwise run` and `stepwise rehearse` ask for: a plan still to be
/// made, and how to run it.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub plan: PlanRequest,
    pub mode: Mode,
    pub target: Target,
    pub state_dir: PathBuf,
    /// As in [`StartRequest`].
    pub new_session: bool,
    /// As in [`StartRequest`].
    pub break_lease: bool,
}

/// Prepares a new session and runs it: connects, says what was detected, offers
/// the procedures when more than one fits, says the plan, then starts the
/// session ([`super::start`]). What was said before the session existed goes
/// into its transcript too.
pub async fn run(
    catalog: &Catalog,
    req: RunRequest,
    out: Outbox,
    cancel: CancelSignal,
) -> Result<RunOutcome, PrepareError> {
    mask_given_secrets(catalog, &req.plan);
    // A kubeconfig that cannot be read stops the run before a plan is shown for it.
    req.target.connect().await.map_err(PrepareError::Cluster)?;
    let mut signal = cancel.clone();
    // Detection may wait on a slow cluster; a cancel ends the wait at once.
    let prepared = tokio::select! {
        prepared = plan(catalog, &req.target, &req.plan) => prepared?,
        () = signal.cancelled() => return Err(PrepareError::Interrupted),
    };
    let mut said = Vec::new();
    let mut say = |event: Event| {
        let event = events::masked(event);
        said.push(event.clone());
        let _ = out.send(Msg::Event(event));
    };
    for detection in prepared.detected {
        say(Event::Detected { detection });
    }
    let plan = choose_procedure(catalog, prepared.plan, &req.plan, &out).await?;
    if cancel.is_cancelled() {
        return Err(PrepareError::Interrupted);
    }
    say(Event::PlanReady { plan: Box::new(plan.clone()) });
    let start = StartRequest {
        plan,
        mode: req.mode,
        target: req.target,
        state_dir: req.state_dir,
        values: req.plan.values,
        new_session: req.new_session,
        break_lease: req.break_lease,
        earlier: said,
        shadow_of: None,
    };
    Ok(super::start(catalog, start, out, cancel).await?)
}

/// Secrets given with `--set` are masked before anything shows them, the plan included.
fn mask_given_secrets(catalog: &Catalog, req: &PlanRequest) {
    let Some(product) = catalog.product(&req.product) else { return };
    for (name, value) in &req.values {
        if product.is_secret(name) {
            crate::redact::add(value);
        }
    }
}

/// When several procedures fit a one-hop plan and none was named, asks which
/// one, the planner's (least disruptive) choice first; re-plans with another.
async fn choose_procedure(
    catalog: &Catalog,
    plan: Plan,
    req: &PlanRequest,
    out: &Outbox,
) -> Result<Plan, PrepareError> {
    let Some(question) = procedure_question(&plan, req) else { return Ok(plan) };
    let Question::PickProcedure { choices, .. } = &question else { return Ok(plan) };
    let known: Vec<String> = choices.iter().map(|c| c.id.clone()).collect();
    let (tx, rx) = tokio::sync::oneshot::channel();
    out.send(Msg::Ask(events::masked(question), tx)).map_err(|_| PrepareError::NoFrontEnd)?;
    let picked = match rx.await.map_err(|_| PrepareError::NoFrontEnd)? {
        Answer::Text(id) if known.contains(&id) => id,
        Answer::Yes => known.first().cloned().ok_or(PrepareError::NoProcedure)?,
        _ => return Err(PrepareError::NoProcedure),
    };
    if known.first() == Some(&picked) {
        return Ok(plan);
    }
    plan_from(catalog, req, plan.from.clone(), plan.facts.clone(), Some(picked))
}

/// The question offering the procedures that fit, or `None` when there is
/// nothing to choose: several hops, one procedure, or one named already.
pub fn procedure_question(plan: &Plan, req: &PlanRequest) -> Option<Question> {
    let [hop] = plan.hops.as_slice() else { return None };
    if req.procedure.is_some() || hop.alternatives.is_empty() {
        return None;
    }
    let mut choices = vec![ProcedureChoice {
        id: hop.procedure.clone(),
        label: format!("{} ({}, recommended)", hop.procedure, hop.procedure_title),
        recommended: true,
    }];
    choices.extend(hop.alternatives.iter().map(|a| ProcedureChoice {
        id: a.split(' ').next().unwrap_or(a).to_string(),
        label: a.clone(),
        recommended: false,
    }));
    Some(Question::PickProcedure { hop: format!("{} -> {}", hop.from, hop.to), choices })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::error::SourceFile;
    use crate::runbook::load::{RawFile, build};

    const PRODUCT: &str = "id: meshy\nname: Meshy\nreleases: [1.5.0, 1.6.0]\npath:\n  rules:\n    - reason: one minor per hop\n      to: '*'\n      max_minor: 1\n";

    fn procedure(id: &str, disruption: &str) -> String {
        format!(
            "id: {id}\nproduct: meshy\ntitle: {id} title\ndescription: d\ndisruption: {disruption}\napplies: {{from: '*', to: '*'}}\nsteps:\n  - id: go\n    title: Go\n    explain: e\n    command: {{argv: [meshctl, upgrade]}}\n"
        )
    }

    fn catalog() -> Catalog {
        let files = vec![
            RawFile::new("meshy", SourceFile::new("meshy/product.yaml", PRODUCT), None),
            RawFile::new("meshy", SourceFile::new("meshy/rolling.yaml", procedure("rolling", "low")), None),
            RawFile::new("meshy", SourceFile::new("meshy/reinstall.yaml", procedure("reinstall", "high")), None),
        ];
        match build(files) {
            Ok(c) => c,
            Err(e) => panic!("test catalog invalid: {e:?}"),
        }
    }

    fn request() -> PlanRequest {
        PlanRequest {
            product: "meshy".into(),
            from: Some("1.5.0".into()),
            to: "1.6.0".into(),
            ..PlanRequest::default()
        }
    }

    fn planned(req: &PlanRequest) -> Plan {
        match plan_offline(&catalog(), req) {
            Some(Ok(plan)) => plan,
            other => panic!("no plan: {other:?}"),
        }
    }

    #[test]
    fn the_planner_choice_is_offered_first_then_the_others_by_id() {
        let req = request();
        let question = procedure_question(&planned(&req), &req);
        let Some(Question::PickProcedure { hop, choices }) = question else { panic!("nothing offered") };
        assert_eq!(hop, "1.5.0 -> 1.6.0");
        let ids: Vec<&str> = choices.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["rolling", "reinstall"]);
        assert!(choices[0].recommended && !choices[1].recommended);
        assert_eq!(choices[0].label, "rolling (rolling title, recommended)");
    }

    #[test]
    fn a_named_procedure_is_not_asked_about() {
        let req = PlanRequest { procedure: Some("reinstall".into()), ..request() };
        assert!(procedure_question(&planned(&req), &req).is_none());
    }

    /// Answers the one question `choose_procedure` asks with `answer`.
    async fn chosen(answer: Answer) -> Result<Plan, PrepareError> {
        let req = request();
        let catalog = catalog();
        let (out, mut inbox) = events::channel();
        let answering = tokio::spawn(async move {
            if let Some(Msg::Ask(Question::PickProcedure { .. }, reply)) = inbox.recv().await {
                let _ = reply.send(answer);
            }
        });
        let result = choose_procedure(&catalog, planned(&req), &req, &out).await;
        let _ = answering.await;
        result
    }

    #[tokio::test]
    async fn another_procedure_picked_is_planned_with() {
        let plan = chosen(Answer::Text("reinstall".into())).await.map_err(|e| e.to_string());
        assert_eq!(plan.map(|p| p.hops[0].procedure.clone()), Ok("reinstall".to_string()));
    }

    #[tokio::test]
    async fn backing_out_of_the_choice_does_nothing() {
        assert!(matches!(chosen(Answer::Stop).await, Err(PrepareError::NoProcedure)));
        assert!(matches!(chosen(Answer::Text("made-up".into())).await, Err(PrepareError::NoProcedure)));
    }
}
