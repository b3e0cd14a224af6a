//! Puts a cluster of the test bed back to how it started, for the next module.
//!
//! What the bed holds when it is up is recorded once ([`record_baseline`]): the
//! cluster-wide objects and those in `default`. A reset deletes every object of
//! those kinds that was not there then, every namespace and CRD a test made
//! (their custom objects' finalizers cleared first, as no controller of theirs
//! runs here), and stepwise's leases in `kube-system`, then waits until they are
//! gone: a module never finds the last module's mesh, CRDs or releases.
//!
//! The namespaces are emptied and finalized here rather than left to the
//! namespace controller, which waits a fixed five seconds before it starts on
//! a deleted namespace; with about forty resets in a run that wait was most of
//! the time the bed spent cleaning.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope, verbs};
use kube::{Client, ResourceExt};

use super::TestCluster;

/// How long the deleted namespaces and CRDs may take to go.
const GONE_WITHIN: Duration = Duration::from_secs(180);

/// `(group, version, kind, plural)` of the kinds a reset looks at, cluster-wide.
const CLUSTER_KINDS: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "Namespace", "namespaces"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings"),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses"),
];

/// The kinds a reset looks at in `default`.
const DEFAULT_KINDS: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "Secret", "secrets"),
    ("", "v1", "ServiceAccount", "serviceaccounts"),
    ("", "v1", "Service", "services"),
    ("", "v1", "Pod", "pods"),
    ("apps", "v1", "Deployment", "deployments"),
    ("apps", "v1", "DaemonSet", "daemonsets"),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("apps", "v1", "ReplicaSet", "replicasets"),
    ("batch", "v1", "Job", "jobs"),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
];

/// Objects the control plane makes on its own, whenever it gets to it.
const ALWAYS_KEPT: &[&str] = &["kube-root-ca.crt", "default", "kubernetes"];

/// `plural/namespace/name` of every object of the kinds above, per cluster,
/// as the bed started.
static BASELINE: OnceLock<[BTreeSet<String>; 2]> = OnceLock::new();

fn resource((group, version, kind, plural): (&str, &str, &str, &str)) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Runs `work` on a thread of its own with its own runtime: resets happen
/// inside a test's `support::cluster()` call, which may be in async code.
fn on_own_runtime<T: Send>(work: impl std::future::Future<Output = Result<T, String>> + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("tokio runtime: {e}"))?;
                rt.block_on(work)
            })
            .join()
            .unwrap_or_else(|_| Err("the reset thread panicked".into()))
    })
}

/// The contexts of cluster `n` (1 or 2) of `bed`.
fn admin_context(bed: &TestCluster, n: u8) -> Result<&str, String> {
    match n {
        1 => Ok(&bed.context),
        _ => bed.second_context.as_deref().ok_or_else(|| "a one-cluster bed has no cluster 2".to_string()),
    }
}

async fn objects(client: &Client) -> Result<BTreeSet<String>, String> {
    let mut found = BTreeSet::new();
    let kinds = CLUSTER_KINDS.iter().map(|k| (k, None)).chain(DEFAULT_KINDS.iter().map(|k| (k, Some("default"))));
    for (&kind, namespace) in kinds {
        let ar = resource(kind);
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        let list = api.list(&ListParams::default()).await.map_err(|e| format!("list {}: {e}", ar.plural))?;
        for o in list.items {
            found.insert(format!("{}/{}/{}", ar.plural, namespace.unwrap_or(""), o.name_any()));
        }
    }
    Ok(found)
}

/// Records what both clusters of `bed` hold now, before any test ran.
pub fn record_baseline(bed: &TestCluster) -> Result<(), String> {
    let recorded = on_own_runtime(async {
        let mut sets = [BTreeSet::new(), BTreeSet::new()];
        for (i, set) in sets.iter_mut().enumerate() {
            let client = super::client_for(&bed.kubeconfig, admin_context(bed, i as u8 + 1)?).await?;
            *set = objects(&client).await?;
        }
        Ok(sets)
    })?;
    let _ = BASELINE.set(recorded);
    Ok(())
}

/// Cluster `n` of `bed` back to its baseline; see the module documentation.
pub fn reset(bed: &TestCluster, n: u8) -> Result<(), String> {
    let baseline = BASELINE.get().ok_or("no baseline was recorded")?;
    let baseline = &baseline[usize::from(n - 1)];
    on_own_runtime(async {
        let client = super::client_for(&bed.kubeconfig, admin_context(bed, n)?).await?;
        clear_custom_finalizers(&client).await?;
        let extra: Vec<String> = objects(&client).await?.difference(baseline).cloned().collect();
        let extra: Vec<String> =
            extra.into_iter().filter(|key| !ALWAYS_KEPT.iter().any(|k| key.ends_with(&format!("/{k}")))).collect();
        let namespaces: Vec<String> =
            extra.iter().filter_map(|key| key.strip_prefix("namespaces//")).map(str::to_string).collect();
        drop_namespaces(&client, &namespaces).await?;
        for key in &extra {
            delete(&client, key).await?;
        }
        delete_stepwise_leases(&client).await?;
        wait_gone(&client, &extra).await
    })
}

fn api_for(client: &Client, key: &str) -> Result<(Api<DynamicObject>, String), String> {
    let mut parts = key.splitn(3, '/');
    let (Some(plural), Some(namespace), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("not an object key: {key}"));
    };
    let kind = CLUSTER_KINDS
        .iter()
        .chain(DEFAULT_KINDS)
        .find(|k| k.3 == plural)
        .ok_or_else(|| format!("not a kind a reset knows: {plural}"))?;
    let ar = resource(*kind);
    let api = if namespace.is_empty() {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), namespace, &ar)
    };
    Ok((api, name.to_string()))
}

async fn delete(client: &Client, key: &str) -> Result<(), String> {
    let (api, name) = api_for(client, key)?;
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(format!("delete {key}: {e}")),
    }
}

/// Deletes `namespaces` and everything in them, then finalizes them, the way
/// the namespace controller would without its opening pause. Deleting the
/// namespaces first stops anything new being made in them meanwhile.
async fn drop_namespaces(client: &Client, namespaces: &[String]) -> Result<(), String> {
    if namespaces.is_empty() {
        return Ok(());
    }
    let api: Api<Namespace> = Api::all(client.clone());
    for ns in namespaces {
        match api.delete(ns, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(format!("delete namespace {ns}: {e}")),
        }
    }
    let kinds = namespaced_kinds(client).await?;
    let started = Instant::now();
    while delete_contents(client, &kinds, namespaces).await? > 0 {
        if started.elapsed() > GONE_WITHIN {
            return Err(format!("namespaces {namespaces:?} still hold objects after {GONE_WITHIN:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for ns in namespaces {
        let Some(mut namespace) = api.get_opt(ns).await.map_err(|e| format!("get namespace {ns}: {e}"))? else {
            continue;
        };
        namespace.spec.get_or_insert_with(Default::default).finalizers = Some(Vec::new());
        match api.replace_subresource("finalize", ns, &PostParams::default(), &namespace).await {
            Ok(_) => {}
            // Gone meanwhile, or changed by the namespace controller at the same time.
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(e) => return Err(format!("finalize namespace {ns}: {e}")),
        }
    }
    Ok(())
}

/// Every namespaced kind the cluster serves that can be listed and deleted.
async fn namespaced_kinds(client: &Client) -> Result<Vec<ApiResource>, String> {
    let discovery = Discovery::new(client.clone()).run_aggregated().await.map_err(|e| format!("API discovery: {e}"))?;
    Ok(discovery
        .groups()
        .flat_map(|group| group.recommended_resources())
        .filter(|(_, caps)| {
            caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::LIST)
                && caps.supports_operation(verbs::DELETE)
        })
        .map(|(ar, _)| ar)
        .collect())
}

/// Deletes (at once, finalizers cleared) whatever `kinds` hold in
/// `namespaces`, one call per kind and namespace; returns how many objects it
/// found.
async fn delete_contents(client: &Client, kinds: &[ApiResource], namespaces: &[String]) -> Result<usize, String> {
    let now = DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::background() };
    let mut found = 0;
    for ar in kinds {
        // A kind whose CRD went meanwhile lists nothing any more.
        let Ok(list) = Api::<DynamicObject>::all_with(client.clone(), ar).list(&ListParams::default()).await else {
            continue;
        };
        let mut holding = BTreeSet::new();
        for o in list.items {
            let Some(ns) = o.namespace().filter(|ns| namespaces.contains(ns)) else { continue };
            found += 1;
            if !o.finalizers().is_empty() {
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, ar);
                drop_finalizers(&api, &o.name_any()).await;
            }
            holding.insert(ns);
        }
        for ns in holding {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, ar);
            let _ = api.delete_collection(&now, &ListParams::default()).await;
        }
    }
    Ok(found)
}

/// Clears an object's finalizers (best effort: it may be gone already).
async fn drop_finalizers(api: &Api<DynamicObject>, name: &str) {
    let patch = serde_json::json!({"metadata": {"finalizers": null}});
    let _ = api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await;
}

async fn delete_stepwise_leases(client: &Client) -> Result<(), String> {
    let ar = resource(("coordination.k8s.io", "v1", "Lease", "leases"));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "kube-system", &ar);
    let list = api.list(&ListParams::default()).await.map_err(|e| format!("list leases: {e}"))?;
    for lease in list.items.into_iter().filter(|l| l.name_any().starts_with("stepwise-")) {
        let _ = api.delete(&lease.name_any(), &DeleteParams::default()).await;
    }
    Ok(())
}

/// Every custom object that has finalizers loses them: nothing here would
/// ever finish them, and they would hold their namespace and CRD forever.
async fn clear_custom_finalizers(client: &Client) -> Result<(), String> {
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &resource(CLUSTER_KINDS[1]));
    let list = crds.list(&ListParams::default()).await.map_err(|e| format!("list CRDs: {e}"))?;
    for crd in list.items {
        let spec = &crd.data["spec"];
        let (Some(group), Some(kind), Some(plural)) =
            (spec["group"].as_str(), spec["names"]["kind"].as_str(), spec["names"]["plural"].as_str())
        else {
            continue;
        };
        let versions = spec["versions"].as_array().cloned().unwrap_or_default();
        let Some(version) = versions.iter().find(|v| v["storage"] == true).and_then(|v| v["name"].as_str()) else {
            continue;
        };
        let ar = resource((group, version, kind, plural));
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let Ok(objects) = api.list(&ListParams::default()).await else { continue };
        for o in objects.items.into_iter().filter(|o| !o.finalizers().is_empty()) {
            let ns = o.namespace().unwrap_or_default();
            let api: Api<DynamicObject> = if ns.is_empty() {
                Api::all_with(client.clone(), &ar)
            } else {
                Api::namespaced_with(client.clone(), &ns, &ar)
            };
            drop_finalizers(&api, &o.name_any()).await;
        }
    }
    Ok(())
}

/// Waits until every object of `keys` is gone, clearing finalizers again now
/// and then (a namespace's deletion may meet objects made while it started).
async fn wait_gone(client: &Client, keys: &[String]) -> Result<(), String> {
    let started = Instant::now();
    let mut left: Vec<&String> = keys.iter().collect();
    let mut round = 0u32;
    while !left.is_empty() {
        let mut still = Vec::new();
        for key in left {
            let (api, name) = api_for(client, key)?;
            match api.get_opt(&name).await {
                Ok(None) => {}
                Ok(Some(_)) | Err(_) => still.push(key),
            }
        }
        left = still;
        if left.is_empty() {
            break;
        }
        if started.elapsed() > GONE_WITHIN {
            return Err(format!("still there after {GONE_WITHIN:?}: {left:?}"));
        }
        round += 1;
        if round.is_multiple_of(8) {
            clear_custom_finalizers(client).await?;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}
