//! The order things happened in, read from the clusters themselves: a watch on
//! Deployments and Jobs records every version of each object with its
//! resourceVersion. The test bed's clusters share one etcd (each under its own
//! prefix), so resourceVersions are etcd revisions that order writes across both
//! clusters, which a real multi-cluster setup could not offer.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};

/// One version of a Deployment or Job as the watch saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub revision: u64,
    pub cluster: String,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// Images of the pod template's containers.
    pub images: Vec<String>,
    /// The pod template's `kubectl.kubernetes.io/restartedAt`.
    pub restarted_at: Option<String>,
    /// The pod template's `app.kubernetes.io/version` label.
    pub version_label: Option<String>,
    /// A Deployment whose every replica is updated and available; a Job that succeeded.
    pub settled: bool,
    /// A Job's container command.
    pub command: Vec<String>,
}

/// Every version seen so far, by any watch of one recorder.
#[derive(Clone, Default)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Recorder {
    /// Starts watching Deployments and Jobs of every namespace of `client`'s
    /// cluster, named `cluster` in what is recorded; returns once the watches
    /// have listed what exists.
    pub async fn watch(&self, client: Client, cluster: &str) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for kind in ["Deployment", "Job"] {
            let seen = self.seen.clone();
            let (client, cluster, tx) = (client.clone(), cluster.to_string(), tx.clone());
            let task = tokio::spawn(async move {
                match kind {
                    "Deployment" => {
                        record(Api::<Deployment>::all(client), "Deployment", cluster, seen, tx, deployment).await
                    }
                    _ => record(Api::<Job>::all(client), "Job", cluster, seen, tx, job).await,
                }
            });
            self.tasks.lock().unwrap().push(task);
        }
        for _ in 0..2 {
            tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
                .await
                .expect("the recorder's watches did not list within 30 s");
        }
    }

    /// Stops every watch; what was seen stays.
    pub fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    pub fn all(&self) -> Vec<Seen> {
        let mut all = self.seen.lock().unwrap().clone();
        all.sort_by_key(|s| s.revision);
        all
    }

    /// The first revision at which object `kind` `namespace/name` of `cluster`
    /// satisfied `what`.
    pub fn first(
        &self,
        cluster: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        what: impl Fn(&Seen) -> bool,
    ) -> Option<Seen> {
        self.all()
            .into_iter()
            .filter(|s| s.cluster == cluster && s.kind == kind && s.namespace == namespace && s.name == name)
            .find(|s| what(s))
    }
}

async fn record<K>(
    api: Api<K>,
    kind: &'static str,
    cluster: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    listed: tokio::sync::mpsc::UnboundedSender<()>,
    describe: fn(&K) -> Described,
) where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    while let Some(event) = events.next().await {
        let object = match event {
            Ok(Event::Apply(o) | Event::InitApply(o)) => o,
            Ok(Event::InitDone) => {
                let _ = listed.send(());
                continue;
            }
            _ => continue,
        };
        let meta = object.meta();
        let Described { images, restarted_at, version_label, settled, command } = describe(&object);
        seen.lock().unwrap().push(Seen {
            revision: meta.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0),
            cluster: cluster.clone(),
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            images,
            restarted_at,
            version_label,
            settled,
            command,
        });
    }
}

/// What [`Seen`] keeps of one object.
struct Described {
    images: Vec<String>,
    restarted_at: Option<String>,
    version_label: Option<String>,
    settled: bool,
    command: Vec<String>,
}

fn deployment(d: &Deployment) -> Described {
    let template = d.spec.as_ref().map(|s| &s.template);
    let images = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.iter().filter_map(|c| c.image.clone()).collect())
        .unwrap_or_default();
    let template_meta = template.and_then(|t| t.metadata.as_ref());
    let restarted_at = template_meta
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get("kubectl.kubernetes.io/restartedAt").cloned());
    let version_label =
        template_meta.and_then(|m| m.labels.as_ref()).and_then(|l| l.get("app.kubernetes.io/version").cloned());
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let settled = d.status.as_ref().is_some_and(|s| {
        s.observed_generation == d.metadata.generation
            && s.updated_replicas == Some(wanted)
            && s.available_replicas == Some(wanted)
            && s.replicas == Some(wanted)
    });
    Described { images, restarted_at, version_label, settled, command: Vec::new() }
}

fn job(j: &Job) -> Described {
    let containers = j.spec.as_ref().and_then(|s| s.template.spec.as_ref()).map(|s| s.containers.clone());
    let containers = containers.unwrap_or_default();
    let images = containers.iter().filter_map(|c| c.image.clone()).collect();
    let command = containers.first().and_then(|c| c.command.clone()).unwrap_or_default();
    let settled = j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) > 0;
    Described { images, restarted_at: None, version_label: None, settled, command }
}
