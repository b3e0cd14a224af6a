//! Helper of the upgrade benchmark (`benches/upgrade/run.sh`); not a benchmark on
//! its own and not a test. It plays the parts of the cluster that the test bed
//! lacks, with the tests' own code, and has two commands:
//!
//! ```text
//! upgrade_world serve       --kubeconfig F --context C
//! upgrade_world meshed-apps --kubeconfig F --context C NAMESPACE...
//! ```
//!
//! `serve` runs until its stdin is closed (the driver holds the other end, so it
//! ends with the driver however that ends): the node stand-in of the tests
//! (`tests/it/support/node.rs`: binds pods, makes them Ready, finishes deleted ones,
//! which rollouts and namespace deletions need), and a finalizer controller that
//! removes the finalizer `stepwise.test/keep` of the objects of the six kinds once
//! their CRD is being deleted, as the tests' `spawn_finalizer_controller` does.
//! Unlike that one, it lists objects only while a CRD is terminating: listing
//! every one of 30,000 objects several times a second would load the API server
//! through the whole measurement, on both sides.
//! `meshed-apps` creates the meshed Deployment `web` of the tests
//! (`tests/it/seed/mod.rs` `meshed_app`) in each namespace.
//!
//! Built by run.sh with `cargo bench --bench upgrade_world --no-run`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

#[path = "../tests/it/seed/mod.rs"]
mod seed;
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

const FINALIZER: &str = "stepwise.test/keep";

struct Args {
    command: String,
    kubeconfig: PathBuf,
    context: String,
    rest: Vec<String>,
}

fn parse_args() -> Option<Args> {
    let given: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--bench")).collect();
    if !given.iter().any(|a| a == "serve" || a == "meshed-apps") {
        return None;
    }
    let mut args = Args { command: String::new(), kubeconfig: PathBuf::new(), context: String::new(), rest: vec![] };
    let mut it = given.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kubeconfig" => args.kubeconfig = it.next().unwrap_or_else(|| usage("--kubeconfig F")).into(),
            "--context" => args.context = it.next().unwrap_or_else(|| usage("--context C")),
            c if args.command.is_empty() && !c.starts_with('-') => args.command = c.to_string(),
            c if !c.starts_with('-') => args.rest.push(c.to_string()),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if args.context.is_empty() || args.kubeconfig.as_os_str().is_empty() {
        usage("--kubeconfig and --context are needed");
    }
    Some(args)
}

fn usage(why: &str) -> ! {
    eprintln!("upgrade_world: {why}");
    eprintln!("usage: upgrade_world serve|meshed-apps --kubeconfig F --context C [NAMESPACE...]");
    std::process::exit(2);
}

async fn client(args: &Args) -> Client {
    let kubeconfig = Kubeconfig::read_from(&args.kubeconfig).expect("read kubeconfig");
    let options = KubeConfigOptions { context: Some(args.context.clone()), ..KubeConfigOptions::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("kubeconfig");
    Client::try_from(config).expect("client")
}

/// Clears the finalizer of every object of a kind being deleted, while its CRD
/// is terminating; otherwise only reads the six CRDs, every 300 ms.
async fn finalizer_controller(client: Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut last_error = None;
    loop {
        for kind in seed::KINDS {
            let name = format!("{}.{}", kind.0, kind.1);
            let terminating = match crds.get_opt(&name).await {
                Ok(Some(crd)) => crd.metadata.deletion_timestamp.is_some(),
                Ok(None) => false,
                Err(e) => {
                    let msg = e.to_string();
                    if last_error.as_deref() != Some(msg.as_str()) {
                        eprintln!("[finalizer controller] {msg}");
                        last_error = Some(msg);
                    }
                    false
                }
            };
            if terminating {
                unfinalize(&client, kind).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn unfinalize(client: &Client, kind: &(&str, &str, &str, &str)) {
    let ar = seed::api_resource(kind);
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let mut params = ListParams::default().limit(5000);
    let mut pending = Vec::new();
    loop {
        let Ok(list) = all.list_metadata(&params).await else { return };
        for o in list.items {
            let finalized = o.metadata.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == FINALIZER));
            if finalized && o.metadata.deletion_timestamp.is_some() {
                pending.push((o.metadata.namespace.unwrap_or_default(), o.metadata.name.unwrap_or_default()));
            }
        }
        match list.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(t) => params.continue_token = Some(t),
            None => break,
        }
    }
    futures::stream::iter(pending)
        .map(|(ns, name)| {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
            async move {
                let patch = json!({"metadata": {"finalizers": null}});
                let _ = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await;
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
}

fn main() {
    // `cargo test --all-targets` and `cargo bench` start every bench target with no
    // command (or only cargo's own flags); this helper only does something when
    // benches/upgrade/run.sh drives it.
    let Some(args) = parse_args() else {
        println!("upgrade_world: a helper of benches/upgrade/run.sh; nothing to do on its own");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    runtime.block_on(async {
        let client = client(&args).await;
        match args.command.as_str() {
            "serve" => {
                let node = tokio::spawn(support::node::run(client.clone(), format!("{}-node", args.context)));
                let finalizers = tokio::spawn(finalizer_controller(client));
                // Until the driver closes our stdin (or has gone).
                tokio::task::spawn_blocking(|| {
                    let mut sink = Vec::new();
                    let _ = std::io::stdin().read_to_end(&mut sink);
                })
                .await
                .expect("stdin reader");
                node.abort();
                finalizers.abort();
            }
            "meshed-apps" => {
                for ns in &args.rest {
                    seed::meshed_app(&client, ns).await;
                }
            }
            other => usage(&format!("unknown command {other}")),
        }
    });
}
