//! Server-side apply of multi-document YAML, as `kubectl apply --server-side`
//! would: CRDs first (waited on until Established), then Namespaces, then
//! everything else, each object with its own outcome. Kinds are resolved through
//! discovery from each document's apiVersion and kind. In rehearsal every apply
//! is a dry run; objects whose CRD or namespace only this same batch would create
//! cannot be checked by a dry run and are reported as such, not as failures.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiResource, Scope};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::preflight::{self, AccessNeed};
use super::retry::{Look, poll_until};
use super::wait::{self, WaitTarget};
use super::{Mode, retry};
use crate::base::progress::{self, OpEvent, Reporter};

/// How long one apply may keep failing for passing reasons.
const APPLY_RETRY_BUDGET: Duration = Duration::from_secs(60);
const CRD_GROUP: &str = "apiextensions.k8s.io";

/// A batch of manifests to apply.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    pub yaml: String,
    /// Where the YAML came from (a file, a command), for messages.
    pub origin: String,
    /// The namespace of namespaced objects that name none.
    pub default_namespace: String,
    pub mode: Mode,
    /// Take over fields another manager owns. Upgrade manifests routinely change
    /// objects that `helm` or `kubectl create` made, so this is the default, and
    /// rehearsal uses the same setting so that it predicts the real run.
    pub force: bool,
    /// How long applied CRDs may take to become Established.
    pub crd_timeout: Duration,
}

impl ApplyRequest {
    pub fn new(yaml: String, origin: String, default_namespace: String, mode: Mode) -> Self {
        ApplyRequest { yaml, origin, default_namespace, mode, force: true, crd_timeout: Duration::from_secs(120) }
    }
}

/// How long the kind of a CRD applied in the same batch may stay missing from
/// discovery after the CRD is Established, and how often it is asked for.
const DISCOVERY_LAG: Duration = Duration::from_secs(30);
const DISCOVERY_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    Applied,
    /// Rehearsal: the server accepted a dry run.
    Validated,
    /// Rehearsal: a dry run cannot check it yet; says why.
    Unverifiable(String),
    /// The server's message, or why it was not sent.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectResult {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub outcome: ApplyOutcome,
}

impl ObjectResult {
    /// `Kind namespace/name`, for the log.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub mode: Mode,
    /// In the order they were applied.
    pub objects: Vec<ObjectResult>,
}

impl ApplyReport {
    pub fn failed(&self) -> impl Iterator<Item = &ObjectResult> {
        self.objects.iter().filter(|o| matches!(o.outcome, ApplyOutcome::Failed(_)))
    }

    pub fn all_ok(&self) -> bool {
        self.failed().next().is_none()
    }
}

/// Reads every YAML document into JSON values, skipping empty documents and
/// unwrapping `kind: List`.
pub fn parse_documents(yaml: &str, origin: &str) -> Result<Vec<Value>, ClusterError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
        .map_err(|e| ClusterError::Other(format!("the manifests from {origin} are not valid YAML: {e}")))?;
    let mut out = Vec::new();
    for doc in docs {
        unwrap_lists(doc, &mut out);
    }
    Ok(out)
}

fn unwrap_lists(doc: Value, out: &mut Vec<Value>) {
    match doc {
        Value::Null => {}
        Value::Object(ref map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
            if let Some(Value::Array(items)) = map.get("items") {
                for item in items.clone() {
                    unwrap_lists(item, out);
                }
            }
        }
        Value::Object(ref map) if map.is_empty() => {}
        other => out.push(other),
    }
}

/// A document's identity, read before anything is sent.
#[derive(Debug, Clone)]
struct Doc {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    body: Value,
}

impl Doc {
    fn read(index: usize, body: Value) -> Result<Doc, Box<ObjectResult>> {
        let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty());
        let (api_version, kind, name) = (text("/apiVersion"), text("/kind"), text("/metadata/name"));
        let namespace = text("/metadata/namespace");
        match (api_version, kind, name) {
            (Some(api_version), Some(kind), Some(name)) => Ok(Doc { api_version, kind, name, namespace, body }),
            (a, k, n) => Err(Box::new(ObjectResult {
                api_version: a.unwrap_or_default(),
                kind: k.unwrap_or_default(),
                namespace,
                name: n.unwrap_or_else(|| format!("document {}", index + 1)),
                outcome: ApplyOutcome::Failed(
                    "it needs apiVersion, kind and metadata.name (generateName cannot be applied)".into(),
                ),
            })),
        }
    }

    fn gvk(&self) -> GroupVersionKind {
        let (group, version) = self.api_version.split_once('/').unwrap_or(("", &self.api_version));
        GroupVersionKind::gvk(group, version, &self.kind)
    }

    fn is_crd(&self) -> bool {
        self.kind == "CustomResourceDefinition" && self.api_version.starts_with(&format!("{CRD_GROUP}/"))
    }

    fn is_namespace(&self) -> bool {
        self.kind == "Namespace" && self.api_version == "v1"
    }

    /// Applied first what others depend on.
    fn rank(&self) -> u8 {
        if self.is_crd() {
            0
        } else if self.is_namespace() {
            1
        } else {
            2
        }
    }

    fn result(&self, namespace: Option<String>, outcome: ApplyOutcome) -> ObjectResult {
        ObjectResult {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace,
            name: self.name.clone(),
            outcome,
        }
    }

    /// The (group, kind) a CRD document defines.
    fn defines(&self) -> Option<(String, String)> {
        let group = self.body.pointer("/spec/group").and_then(Value::as_str)?;
        let kind = self.body.pointer("/spec/names/kind").and_then(Value::as_str)?;
        Some((group.to_string(), kind.to_string()))
    }
}

/// How the cluster serves a kind, or why it does not.
type Served = Result<(ApiResource, bool), String>;

/// State shared by the phases of one apply.
struct Batch<'a> {
    conn: &'a Connection,
    req: &'a ApplyRequest,
    report: Reporter,
    kinds: HashMap<(String, String), Served>,
    /// (group, kind) defined by CRDs in this batch -> the CRD's name.
    crds_here: HashMap<(String, String), String>,
    /// CRDs that did not become Established, with why.
    crds_unusable: HashMap<(String, String), String>,
    namespaces_here: BTreeSet<String>,
    done: u64,
    total: u64,
}

/// Applies every document in `req.yaml`. Object failures are reported, not
/// raised; an error means the batch could not be read or the cluster not reached.
pub async fn apply(conn: &Connection, req: &ApplyRequest, report: Reporter) -> Result<ApplyReport, ClusterError> {
    let mut results = Vec::new();
    let mut docs = Vec::new();
    for (i, value) in parse_documents(&req.yaml, &req.origin)?.into_iter().enumerate() {
        match Doc::read(i, value) {
            Ok(doc) => docs.push(doc),
            Err(result) => results.push(*result),
        }
    }
    docs.sort_by_key(Doc::rank);
    let mut batch = Batch {
        conn,
        req,
        report: report.clone(),
        kinds: HashMap::new(),
        crds_here: docs
            .iter()
            .filter(|d| d.is_crd())
            .filter_map(|d| d.defines().map(|k| (k, d.name.clone())))
            .collect(),
        crds_unusable: HashMap::new(),
        namespaces_here: docs.iter().filter(|d| d.is_namespace()).map(|d| d.name.clone()).collect(),
        // Documents that could not be read are already done, as failures.
        done: results.len() as u64,
        total: (docs.len() + results.len()) as u64,
    };
    let (crds, rest): (Vec<Doc>, Vec<Doc>) = docs.into_iter().partition(Doc::is_crd);
    let mut crd_results = Vec::new();
    for doc in &crds {
        crd_results.push(batch.apply_one(doc).await?);
    }
    if !req.mode.is_rehearsal() {
        batch.await_crds(&crds, &mut crd_results).await?;
    }
    results.extend(crd_results);
    for doc in &rest {
        results.push(batch.apply_one(doc).await?);
    }
    Ok(ApplyReport { mode: req.mode, objects: results })
}

impl Batch<'_> {
    async fn apply_one(&mut self, doc: &Doc) -> Result<ObjectResult, ClusterError> {
        let result = self.outcome_of(doc).await?;
        self.done += 1;
        let verb = match &result.outcome {
            ApplyOutcome::Applied => "applied".to_string(),
            ApplyOutcome::Validated => "validated (dry run)".to_string(),
            ApplyOutcome::Unverifiable(why) => format!("not validated: {why}"),
            ApplyOutcome::Failed(why) => format!("failed: {why}"),
        };
        (self.report)(OpEvent::Line(format!("{}: {verb}", result.label())));
        (self.report)(OpEvent::Progress { done: self.done, total: Some(self.total), bytes: 0, what: result.label() });
        Ok(result)
    }

    async fn outcome_of(&mut self, doc: &Doc) -> Result<ObjectResult, ClusterError> {
        let gvk = doc.gvk();
        let defined = (gvk.group.clone(), gvk.kind.clone());
        if let Some(why) = self.crds_unusable.get(&defined) {
            return Ok(doc.result(doc.namespace.clone(), ApplyOutcome::Failed(why.clone())));
        }
        let (api_resource, namespaced) = match self.serve(&gvk).await? {
            Ok(served) => served,
            Err(why) => {
                let outcome = match self.crds_here.get(&defined) {
                    Some(crd) if self.req.mode.is_rehearsal() => {
                        ApplyOutcome::Unverifiable(format!("cannot be validated until the CRD {crd} exists"))
                    }
                    _ => ApplyOutcome::Failed(why),
                };
                return Ok(doc.result(doc.namespace.clone(), outcome));
            }
        };
        let namespace = namespaced.then(|| doc.namespace.clone().unwrap_or_else(|| self.req.default_namespace.clone()));
        let mut body = doc.body.clone();
        set_namespace(&mut body, namespace.as_deref());
        let outcome = match self.send(&api_resource, namespace.as_deref(), &doc.name, &body).await {
            Ok(()) if self.req.mode.is_rehearsal() => ApplyOutcome::Validated,
            Ok(()) => ApplyOutcome::Applied,
            Err(e) => self.failure(namespace.as_deref(), e)?,
        };
        Ok(doc.result(namespace, outcome))
    }

    /// A failed apply as an outcome; only an unreachable server ends the batch.
    fn failure(&self, namespace: Option<&str>, e: kube::Error) -> Result<ApplyOutcome, ClusterError> {
        if !matches!(e, kube::Error::Api(_)) {
            return Err(self.conn.unreachable_or(e, "server-side apply"));
        }
        let missing_ns = namespace.filter(|ns| self.namespaces_here.contains(*ns));
        Ok(match missing_ns {
            Some(ns) if self.req.mode.is_rehearsal() && api_status(&e) == Some(404) => {
                ApplyOutcome::Unverifiable(format!("cannot be validated until namespace {ns} exists"))
            }
            _ => ApplyOutcome::Failed(server_message(&e)),
        })
    }

    /// Resolves a kind once per batch. `Ok(Err(why))` when the cluster does not serve it.
    async fn serve(&mut self, gvk: &GroupVersionKind) -> Result<Served, ClusterError> {
        let key = (gvk.api_version(), gvk.kind.clone());
        if let Some(known) = self.kinds.get(&key) {
            return Ok(known.clone());
        }
        // A CRD of this batch is Established before the API server's discovery
        // lists its kind; on a busy server that lag lasts seconds, so its kind is
        // asked for again until DISCOVERY_LAG has passed.
        let defined_here =
            !self.req.mode.is_rehearsal() && self.crds_here.contains_key(&(gvk.group.clone(), gvk.kind.clone()));
        let wait = if defined_here { DISCOVERY_LAG.min(self.req.crd_timeout) } else { Duration::ZERO };
        let deadline = Instant::now() + wait;
        let conn = self.conn;
        let look = async || match discovery::pinned_kind(&conn.client, gvk).await {
            Ok((ar, caps)) => Look::Ready((ar, caps.scope == Scope::Namespaced)),
            Err(kube::Error::Discovery(_)) => {
                Look::NotYet(format!("the cluster does not serve kind {} in {}", gvk.kind, gvk.api_version()))
            }
            Err(e) if api_status(&e) == Some(404) => {
                Look::NotYet(format!("the cluster does not serve {} (is its CRD installed?)", gvk.api_version()))
            }
            Err(e) => Look::Failed(conn.unreachable_or(e, &format!("discover kind {}", gvk.kind))),
        };
        let served = poll_until(deadline, DISCOVERY_POLL, |_| {}, look).await?;
        self.kinds.insert(key, served.clone());
        Ok(served)
    }

    async fn send(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
        name: &str,
        body: &Value,
    ) -> Result<(), kube::Error> {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.conn.client.clone(), ns, ar),
            None => Api::all_with(self.conn.client.clone(), ar),
        };
        let params = self.req.mode.apply_params(self.req.force);
        let report = self.report.clone();
        retry::with_retry(
            APPLY_RETRY_BUDGET,
            |e, wait| report(OpEvent::Line(format!("apply {name}: {}; retrying in {wait:?}", retry::describe(e)))),
            async || api.patch(name, &params, &Patch::Apply(body)).await,
        )
        .await
        .map(drop)
    }

    /// Waits until each applied CRD is Established; a CRD that is not makes its
    /// custom resources fail with the reason instead of a confusing 404.
    async fn await_crds(&mut self, crds: &[Doc], results: &mut [ObjectResult]) -> Result<(), ClusterError> {
        let deadline = Instant::now() + self.req.crd_timeout;
        for (doc, result) in crds.iter().zip(results.iter_mut()) {
            if result.outcome != ApplyOutcome::Applied {
                continue;
            }
            let target = WaitTarget::CrdEstablished { name: doc.name.clone() };
            let left = deadline.saturating_duration_since(Instant::now());
            match wait::wait(self.conn, &target, left, progress::silent()).await {
                Ok(_) => {}
                Err(e @ ClusterError::Timeout { .. }) => {
                    let why = format!("CRD {} was applied but is not usable: {e}", doc.name);
                    if let Some(defined) = doc.defines() {
                        self.crds_unusable.insert(defined, why.clone());
                    }
                    result.outcome = ApplyOutcome::Failed(why);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn set_namespace(body: &mut Value, namespace: Option<&str>) {
    let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    match namespace {
        Some(ns) => {
            meta.insert("namespace".into(), Value::String(ns.to_string()));
        }
        // A cluster-scoped object carries no namespace; the server would reject a mismatch.
        None => {
            meta.remove("namespace");
        }
    }
}

fn server_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

/// What applying `yaml` needs permission for, for the preflight. Kinds the
/// cluster does not serve yet (custom resources of CRDs in the same batch) are
/// left out: they cannot be checked before their CRD exists.
pub async fn access_needs(
    conn: &Connection,
    yaml: &str,
    origin: &str,
    default_namespace: &str,
) -> Result<Vec<AccessNeed>, ClusterError> {
    let mut objects = Vec::new();
    let mut has_crds = false;
    let mut seen: HashMap<(String, String), Option<(String, bool)>> = HashMap::new();
    for (i, value) in parse_documents(yaml, origin)?.into_iter().enumerate() {
        let Ok(doc) = Doc::read(i, value) else { continue };
        has_crds |= doc.is_crd();
        let gvk = doc.gvk();
        let key = (gvk.api_version(), gvk.kind.clone());
        if !seen.contains_key(&key) {
            let found = discovery::pinned_kind(&conn.client, &gvk).await.ok().map(|(ar, caps)| {
                let name = if ar.group.is_empty() { ar.plural } else { format!("{}.{}", ar.plural, ar.group) };
                (name, caps.scope == Scope::Namespaced)
            });
            seen.insert(key.clone(), found);
        }
        if let Some(Some((name, namespaced))) = seen.get(&key) {
            let ns = namespaced.then(|| doc.namespace.clone().unwrap_or_else(|| default_namespace.to_string()));
            objects.push((name.clone(), ns));
        }
    }
    let mut needs = preflight::apply_needs(&objects);
    if has_crds {
        let target = WaitTarget::CrdEstablished { name: String::new() };
        needs.extend(preflight::wait_needs(&target));
    }
    Ok(preflight::dedup(needs))
}
