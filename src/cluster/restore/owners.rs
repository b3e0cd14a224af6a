//! Owner references of restored objects: kept, pointed at a restored owner's
//! new uid, or dropped when the owner is gone.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use kube::api::{Api, DynamicObject};
use serde_json::Value;

use super::super::connect::Connection;
use super::super::retry;
use super::super::strip::{OwnerRef, owner_refs};
use super::lock;

/// Whether one of the object's owners is among `uids`.
pub(super) fn has_owner_in(uids: &HashSet<String>, object: &Value) -> bool {
    owner_refs(object).iter().any(|r| uids.contains(&r.uid))
}

/// Decides what happens to owner references: owners restored from the same backup
/// get their new uid, whether this run created them or an earlier run of the
/// restore did (found by kind, namespace and name); owners that still exist
/// stay; owners that are gone are dropped, because the garbage collector would
/// delete an object whose owner is gone, undoing the restore. An owner that
/// cannot be looked up is not taken for gone: the object is not restored and
/// the report says why.
pub(super) struct OwnerLinks {
    conn: Connection,
    /// Uids of every saved object, shared with the reader that sets aside the
    /// objects whose owner is among them.
    in_backup: Arc<HashSet<String>>,
    /// Owner uid -> the uid of the live owner by that reference (None: gone).
    live: Mutex<HashMap<String, Option<String>>>,
    dropped: Arc<Mutex<Vec<String>>>,
    /// How long a read of an owner is retried (the restore's retry budget).
    retry_budget: std::time::Duration,
}

impl OwnerLinks {
    pub(super) fn new(conn: &Connection, in_backup: HashSet<String>, retry_budget: std::time::Duration) -> Self {
        OwnerLinks {
            conn: conn.clone(),
            in_backup: Arc::new(in_backup),
            live: Mutex::new(HashMap::new()),
            dropped: Arc::default(),
            retry_budget,
        }
    }

    /// Tells the objects to create last, once their owner exists: those whose
    /// owner is in the backup. Owned, so the backup's reader thread can ask it.
    pub(super) fn deferral(&self) -> impl Fn(&Value) -> bool + Send + 'static {
        let in_backup = Arc::clone(&self.in_backup);
        move |object| has_owner_in(&in_backup, object)
    }

    pub(super) fn dropped(&self) -> Vec<String> {
        let mut d = lock(&self.dropped).clone();
        d.sort();
        d
    }

    pub(super) async fn relink(
        &self,
        object: &mut Value,
        created: &Mutex<HashMap<String, String>>,
    ) -> Result<(), String> {
        let refs = owner_refs(object);
        if refs.is_empty() {
            return Ok(());
        }
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut keep = Vec::new();
        let raw = object.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
        for (r, mut raw_ref) in refs.into_iter().zip(raw) {
            let new_uid = lock(created).get(&r.uid).cloned();
            let live = match new_uid {
                Some(uid) => Some(uid),
                None => self.live_owner(&r, namespace.as_deref()).await?,
            };
            match live {
                Some(uid) => {
                    raw_ref["uid"] = Value::String(uid);
                    keep.push(raw_ref);
                }
                None => lock(&self.dropped).push(format!(
                    "{}{name}: owner {} {} is gone",
                    namespace.as_ref().map(|n| format!("{n}/")).unwrap_or_default(),
                    r.kind,
                    r.name
                )),
            }
        }
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            if keep.is_empty() {
                meta.remove("ownerReferences");
            } else {
                meta.insert("ownerReferences".into(), Value::Array(keep));
            }
        }
        Ok(())
    }

    /// The uid of the owner a reference names, as it lives now: the same uid, or
    /// (for an owner in this backup, restored by an earlier run) the re-created
    /// one's. None when it is gone.
    async fn live_owner(&self, r: &OwnerRef, namespace: Option<&str>) -> Result<Option<String>, String> {
        if let Some(known) = lock(&self.live).get(&r.uid) {
            return Ok(known.clone());
        }
        let uid = self.lookup(r, namespace).await.map_err(|e| {
            format!(
                "cannot tell whether its owner {} {} exists ({e}); not restored, run the restore again",
                r.kind, r.name
            )
        })?;
        let live = uid.filter(|uid| *uid == r.uid || self.in_backup.contains(&r.uid));
        lock(&self.live).insert(r.uid.clone(), live.clone());
        Ok(live)
    }

    /// The uid of the object the reference names by kind, namespace and name, if
    /// there is one; an error when the API server cannot say.
    async fn lookup(&self, r: &OwnerRef, namespace: Option<&str>) -> Result<Option<String>, String> {
        let (group, version) = r.api_version.rsplit_once('/').unwrap_or(("", &r.api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, &r.kind);
        let (api_resource, caps) = match kube::discovery::pinned_kind(&self.conn.client, &gvk).await {
            Ok(found) => found,
            // The kind is not served at all: no owner of it can exist.
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
            Err(kube::Error::Discovery(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
                Api::namespaced_with(self.conn.client.clone(), ns, &api_resource)
            }
            _ => Api::all_with(self.conn.client.clone(), &api_resource),
        };
        let owner = retry::with_retry(self.retry_budget, |_, _| {}, async || api.get_opt(&r.name).await)
            .await
            .map_err(|e| e.to_string())?;
        Ok(owner.and_then(|o| o.metadata.uid))
    }
}
