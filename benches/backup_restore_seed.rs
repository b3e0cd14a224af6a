//! Helper of the backup/restore benchmark (`benches/backup_restore/run.sh`); not a
//! benchmark on its own and not a test. It talks to the test bed with plain kube-rs,
//! never through stepwise's code, and has three commands:
//!
//! ```text
//! backup_restore_seed seed     --kubeconfig F --context C --objects N --namespaces M
//! backup_restore_seed ceiling  --kubeconfig F --context C --from DIR --concurrency C
//! backup_restore_seed unfinalize --kubeconfig F --context C
//! ```
//!
//! `seed` creates N objects of the six NGINX Service Mesh kinds (N/6 each) spread
//! over M namespaces `bench-00`...: varied labels, annotations with unicode, quotes
//! and newlines, every 11th object with a finalizer, nested specs with values YAML
//! would misread (`on`, `0755`).
//! `ceiling` is the raw create loop the report measures stepwise against: every
//! object of the stepwise backup in DIR, all kinds in one stream, created with
//! `buffer_unordered(C)` and nothing else (no pre-checks, no per-kind barrier, no
//! verification). It prints one JSON line: created, failed, seconds, per_second.
//! `unfinalize` removes the finalizers of every object of the six kinds, so that
//! deleting the CRDs can finish.
//!
//! Built by run.sh with `cargo bench --bench backup_restore_seed --no-run`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::path::PathBuf;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

/// One kind, as `(plural, group, version, kind)`.
type KindRow = (&'static str, &'static str, &'static str, &'static str);

/// The six kinds, at the versions the fixture CRDs serve.
const KINDS: &[KindRow] = &[
    ("trafficsplits", "split.smi-spec.io", "v1alpha3", "TrafficSplit"),
    ("traffictargets", "access.smi-spec.io", "v1alpha2", "TrafficTarget"),
    ("httproutegroups", "specs.smi-spec.io", "v1alpha3", "HTTPRouteGroup"),
    ("tcproutes", "specs.smi-spec.io", "v1alpha3", "TCPRoute"),
    ("ratelimits", "specs.smi.nginx.com", "v1alpha2", "RateLimit"),
    ("circuitbreakers", "specs.smi.nginx.com", "v1alpha1", "CircuitBreaker"),
];

fn api_resource(kind: &(&str, &str, &str, &str)) -> ApiResource {
    let (plural, group, version, k) = *kind;
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: k.into(),
        plural: plural.into(),
    }
}

fn api_resource_for(api_version: &str, kind: &str) -> ApiResource {
    let k = KINDS.iter().find(|k| k.3 == kind && format!("{}/{}", k.1, k.2) == api_version);
    api_resource(k.unwrap_or_else(|| panic!("not one of the six kinds: {api_version} {kind}")))
}

const COMMANDS: &[&str] = &["seed", "ceiling", "unfinalize"];

struct Args {
    command: String,
    kubeconfig: PathBuf,
    context: String,
    objects: usize,
    namespaces: usize,
    from: Option<PathBuf>,
    concurrency: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        command: String::new(),
        kubeconfig: PathBuf::new(),
        context: String::new(),
        objects: 3000,
        namespaces: 10,
        from: None,
        concurrency: 32,
    };
    let given: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if !given.iter().any(|a| COMMANDS.contains(&a.as_str())) {
        // `cargo test --all-targets` and `cargo bench` run every bench target, with no
        // command or with harness flags: this helper has nothing to do then.
        eprintln!("backup_restore_seed: a helper of benches/backup_restore/run.sh; nothing to do without a command");
        std::process::exit(0);
    }
    let mut it = given.into_iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{a} needs a value")));
        match a.as_str() {
            "--kubeconfig" => args.kubeconfig = value().into(),
            "--context" => args.context = value(),
            "--objects" => args.objects = value().parse().unwrap_or_else(|_| usage("--objects N")),
            "--namespaces" => args.namespaces = value().parse().unwrap_or_else(|_| usage("--namespaces M")),
            "--from" => args.from = Some(value().into()),
            "--concurrency" => args.concurrency = value().parse().unwrap_or_else(|_| usage("--concurrency C")),
            c if args.command.is_empty() && !c.starts_with('-') => args.command = c.to_string(),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if args.command.is_empty() || args.context.is_empty() || args.kubeconfig.as_os_str().is_empty() {
        usage("a command, --kubeconfig and --context are needed");
    }
    args
}

fn usage(why: &str) -> ! {
    eprintln!("backup_restore_seed: {why}");
    eprintln!("usage: backup_restore_seed seed|ceiling|unfinalize --kubeconfig F --context C");
    eprintln!("       [--objects N --namespaces M] [--from BACKUP_DIR --concurrency C]");
    std::process::exit(2);
}

async fn client(args: &Args) -> Client {
    let kubeconfig = Kubeconfig::read_from(&args.kubeconfig).expect("read kubeconfig");
    let options = KubeConfigOptions { context: Some(args.context.clone()), ..KubeConfigOptions::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("kubeconfig");
    Client::try_from(config).expect("client")
}

/// Object number `i` of a kind. Same shape as `tests/it/seed/mod.rs`, with more variety.
fn object(kind: &(&str, &str, &str, &str), namespace: &str, i: usize) -> Value {
    let (_, group, version, k) = *kind;
    let tiers = ["backend", "frontend", "edge", "batch", "data"];
    let mut metadata = json!({
        "name": format!("{}-{i:05}", k.to_lowercase()),
        "namespace": namespace,
        "labels": {
            "app": format!("app-{}", i % 7),
            "tier": tiers[i % tiers.len()],
            "version": format!("v{}", i % 3 + 1),
            "stepwise-bench/seed": "yes",
        },
        "annotations": {
            "note": format!("objet n°{i} — \"quoted\" 'single' ✓ 日本語 🚀"),
            "multi": "line one\nline two\n\ttabbed: {not: yaml}",
            "json-looking": format!("{{\"replicas\": {i}, \"ok\": true}}"),
        },
    });
    if i.is_multiple_of(5) {
        metadata["labels"]["long-label-value"] = json!("v".repeat(63));
        metadata["labels"]["example.com/a-rather-long-label-key-for-testing-purposes-only"] = json!("x");
    }
    if i.is_multiple_of(11) {
        metadata["finalizers"] = json!(["stepwise.test/keep"]);
    }
    if i.is_multiple_of(13) {
        metadata["annotations"]["empty"] = json!("");
    }
    json!({
        "apiVersion": format!("{group}/{version}"),
        "kind": k,
        "metadata": metadata,
        "spec": {
            "service": format!("svc-{i}"),
            "weights": [
                {"backend": "v1", "weight": 90 - (i % 50) as i64},
                {"backend": "v2", "weight": 10 + (i % 50) as i64, "extra": {"deep": {"deeper": [1, 2.5, "three", null, true]}}}
            ],
            "matches": {"headers": {"x-user": "ünïcødé", "x-empty": "", "x-quote": "say \"hi\""}},
            "octal-looking": "0755",
            "yes-looking": "on",
            "index": i,
        }
    })
}

async fn seed(client: &Client, objects: usize, namespaces: usize) {
    let names: Vec<String> = (0..namespaces.max(1)).map(|n| format!("bench-{n:02}")).collect();
    let ns_api: Api<Namespace> = Api::all(client.clone());
    for name in &names {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        match ns_api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("create namespace {name}: {e}"),
        }
    }
    let per_kind = objects / KINDS.len();
    let wanted: Vec<(&KindRow, Value)> = KINDS
        .iter()
        .flat_map(|kind| (0..per_kind).map(move |i| (kind, i)))
        .map(|(kind, i)| (kind, object(kind, &names[i % names.len()], i)))
        .collect();
    let started = Instant::now();
    let results: Vec<Result<(), String>> = futures::stream::iter(wanted)
        .map(|(kind, obj)| async move {
            let ns = obj["metadata"]["namespace"].as_str().unwrap().to_string();
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &api_resource(kind));
            let dynamic: DynamicObject = serde_json::from_value(obj).unwrap();
            match api.create(&PostParams::default(), &dynamic).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
                Err(e) => Err(format!("{}/{}: {e}", ns, dynamic.metadata.name.unwrap_or_default())),
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(first) = failed.first() {
        panic!("{} objects could not be seeded; the first: {first}", failed.len());
    }
    println!(
        "{}",
        json!({"seeded": results.len(), "namespaces": names.len(), "seconds": started.elapsed().as_secs_f64()})
    );
}

async fn ceiling(client: &Client, from: &PathBuf, concurrency: usize) {
    let mut objects = Vec::new();
    for entry in std::fs::read_dir(from).expect("read backup folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read backup file");
        for line in text.lines().filter(|l| l.starts_with('{')) {
            let obj: DynamicObject = serde_json::from_str(line).expect("a backup line is one JSON object");
            let types = obj.types.clone().expect("apiVersion and kind");
            objects.push((api_resource_for(&types.api_version, &types.kind), obj));
        }
    }
    let total = objects.len();
    let started = Instant::now();
    let failures: Vec<String> = futures::stream::iter(objects)
        .map(|(ar, obj)| async move {
            let ns = obj.metadata.namespace.clone().unwrap_or_default();
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
            api.create(&PostParams::default(), &obj).await.err().map(|e| e.to_string())
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(|r| async move { r })
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let created = total - failures.len();
    println!(
        "{}",
        json!({
            "concurrency": concurrency,
            "created": created,
            "failed": failures.len(),
            "first_failure": failures.first(),
            "seconds": seconds,
            "per_second": created as f64 / seconds,
        })
    );
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

async fn unfinalize(client: &Client) {
    let mut patched = 0usize;
    for kind in KINDS {
        let all: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(kind));
        let mut names = Vec::new();
        let mut params = ListParams::default().limit(500);
        loop {
            let list = match all.list_metadata(&params).await {
                Ok(l) => l,
                // The kind is not served (the CRDs are gone): nothing to do.
                Err(kube::Error::Api(s)) if s.code == 404 => break,
                Err(e) => panic!("list {}: {e}", kind.0),
            };
            for o in list.items {
                if o.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
                    names.push((o.metadata.namespace.unwrap_or_default(), o.metadata.name.unwrap_or_default()));
                }
            }
            match list.metadata.continue_.filter(|t| !t.is_empty()) {
                Some(t) => params.continue_token = Some(t),
                None => break,
            }
        }
        patched += names.len();
        futures::stream::iter(names)
            .map(|(ns, name)| async move {
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &api_resource(kind));
                let patch = json!({"metadata": {"finalizers": null}});
                match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => panic!("clear the finalizers of {ns}/{name}: {e}"),
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
    }
    println!("{}", json!({"unfinalized": patched}));
}

fn main() {
    // `cargo test --all-targets` and `cargo bench` start every bench target with no
    // command (or only cargo's own flags); this helper only does something when
    // benches/backup_restore/run.sh drives it.
    if std::env::args().skip(1).all(|a| a.starts_with("--bench") || a.starts_with("--test")) {
        println!("backup_restore_seed: a helper of benches/backup_restore/run.sh; nothing to do on its own");
        return;
    }
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let client = client(&args).await;
        match args.command.as_str() {
            "seed" => seed(&client, args.objects, args.namespaces).await,
            "ceiling" => {
                let from = args.from.clone().unwrap_or_else(|| usage("ceiling needs --from BACKUP_DIR"));
                ceiling(&client, &from, args.concurrency).await;
            }
            "unfinalize" => unfinalize(&client).await,
            other => usage(&format!("unknown command {other}")),
        }
    });
}
