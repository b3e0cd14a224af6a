//! NGINX Service Mesh 1.6 -> 1.7 manual upgrade with nginx-meshctl, end to end
//! through the real binary on the test bed, headless with --yes: thousands of
//! custom resources come back identical, meshed workloads are re-rolled, and the
//! journal shows every step done, and the mesh comes back with the settings it
//! was deployed with. Also the refusals an operator relies on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

/// Runs the real binary; its output also goes to `state/stepwise.log` as it is
/// written, so a hung run can be watched.
fn stepwise(tb: &support::TestCluster, state: &Path, args: &[String]) -> std::process::Output {
    let mut cmd = support::stepwise_command(tb, &tb.context, state);
    cmd.args(args);
    support::output_via_log(cmd, &state.join("stepwise.log"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_upgrade_with_nginx_meshctl_keeps_every_custom_resource() {
    let tb = support::cluster();
    let client = tb.client().await;
    // Settings that differ from every default: the redeploy must keep them.
    let settings = [
        "--mtls-mode=strict",
        "--access-control-mode=deny",
        "--disable-auto-inject",
        "--enabled-namespaces=app-a,app-b",
        "--registry-server=registry.example:5000/nsm",
    ];
    let meshctl = seed::mesh::deploy_1_6(tb, &settings);
    let before_config = mesh_config(&client).await;

    // Where the settings cannot be read, a run without a terminal stops before
    // any step and says why, rather than redeploy with the defaults.
    let unread = tempfile::tempdir().unwrap();
    let mut args = seed::mesh::manual_upgrade_args("run", &meshctl.old, &meshctl.new, &["app-a"]);
    args.extend(["--from", "1.6.0", "--set", "namespace=no-mesh-here"].map(String::from));
    let out = stepwise(tb, unread.path(), &args);
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("mtls_mode has no value: Not found on the cluster: key mesh-config.json of ConfigMap no-mesh-here/mesh-config does not exist."),
        "{said}"
    );
    assert!(said.contains("--set mtls_mode=VALUE"), "{said}");
    assert!(said.contains("--mtls-mode={{mtls_mode}}"), "the plan does not guess the setting: {said}");
    let sessions = unread.path().join("sessions");
    let saved: usize = std::fs::read_dir(&sessions).map_or(0, |d| {
        d.flatten().filter_map(|s| std::fs::read_dir(s.path().join("backups")).ok()).map(|b| b.count()).sum()
    });
    assert_eq!(saved, 0, "no step ran, not even the backup: {said}");
    let finalizers = seed::spawn_finalizer_controller(client.clone());
    let namespaces: Vec<String> = (0..12).map(|i| format!("team-{i:02}")).collect();
    seed::seed(&client, &namespaces, 200).await;
    let before = seed::live(&client, &namespaces).await;
    assert_eq!(before.len(), 1200);
    seed::meshed_app(&client, "app-a").await;
    seed::meshed_app(&client, "app-b").await;

    let state = tempfile::tempdir().unwrap();
    // Without --from, plan detects the installed version too, and says so.
    let plan: Vec<String> = ["plan", "nginx-service-mesh", "--to", "1.7.0"].map(String::from).to_vec();
    let out = stepwise(tb, state.path(), &plan);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "plan without --from: {shown}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(shown.contains("Detected NGINX Service Mesh 1.6.0"), "{shown}");
    assert!(shown.contains("NGINX Service Mesh 1.6.0 -> 1.7.0"), "{shown}");
    let out = stepwise(tb, state.path(), &[plan, ["-o".into(), "json".into()].to_vec()].concat());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan -o json is JSON");
    assert_eq!(json["from"], "1.6.0", "{json}");
    assert!(json["detected"].as_array().is_some_and(|d| !d.is_empty()), "{json}");

    let args = seed::mesh::manual_upgrade_args("run", &meshctl.old, &meshctl.new, &["app-a", "app-b"]);
    let out = stepwise(tb, state.path(), &args);
    finalizers.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the upgrade failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("Detected NGINX Service Mesh 1.6.0"), "{stdout}");
    assert!(stdout.contains("unlocked: backup"), "the removal was unlocked by the backup proof:\n{stdout}");

    let after = seed::live(&client, &namespaces).await;
    assert_eq!(after.len(), before.len(), "nothing lost, nothing duplicated");
    for (key, original) in &before {
        assert_eq!(seed::essence(&after[key]), seed::essence(original), "{key} changed");
    }
    let controller: Api<Deployment> = Api::namespaced(client.clone(), "nginx-mesh");
    let image = controller.get("nginx-mesh-api").await.unwrap().spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone()
        .unwrap();
    assert!(image.ends_with(":1.7.0"), "{image}");
    let after_config = mesh_config(&client).await;
    for pointer in ["/mtls/mode", "/accessControlMode", "/injection", "/sidecarImage/image"] {
        let (was, now) = (&before_config[pointer], &after_config[pointer]);
        let was = if pointer.ends_with("image") {
            serde_json::json!(was.as_str().unwrap().replace("1.6.0", "1.7.0"))
        } else {
            was.clone()
        };
        assert_eq!(now, &was, "{pointer}: the redeployed mesh runs with the settings it had");
    }
    assert_eq!(after_config["/mtls/mode"], "strict");
    assert_eq!(
        after_config["/injection"],
        serde_json::json!({"isAutoInjectEnabled": false, "enabledNamespaces": ["app-a", "app-b"]})
    );
    for ns in ["app-a", "app-b"] {
        let d: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let annotations =
            d.get("web").await.unwrap().spec.unwrap().template.metadata.unwrap().annotations.unwrap_or_default();
        assert!(annotations.contains_key("kubectl.kubernetes.io/restartedAt"), "{ns}/web was re-rolled");
    }
    let sessions =
        std::fs::read_dir(state.path().join("sessions")).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>();
    assert_eq!(sessions.len(), 1);
    let steps: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sessions[0].join("steps.json")).unwrap()).unwrap();
    let states: Vec<&str> = steps.as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert!(states.iter().all(|s| *s == "done"), "{states:?}");
    let transcript = std::fs::read_to_string(sessions[0].join("transcript.jsonl")).unwrap();
    let started = transcript.lines().filter(|l| l.contains("\"step_started\"")).count();
    assert_eq!(started, states.len(), "the transcript records every step the operator saw start");
    assert!(transcript.contains("\"session_finished\""), "and the end of the session");
}

/// The deploy settings in the mesh's mesh-config ConfigMap, by JSON Pointer.
async fn mesh_config(client: &kube::Client) -> std::collections::BTreeMap<&'static str, serde_json::Value> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), "nginx-mesh").get("mesh-config").await.unwrap();
    let bytes = cm.binary_data.unwrap().remove("mesh-config.json").expect("mesh-config.json").0;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    ["/mtls/mode", "/accessControlMode", "/injection", "/sidecarImage/image"]
        .into_iter()
        .map(|p| (p, doc.pointer(p).cloned().unwrap_or_default()))
        .collect()
}

#[test]
fn without_a_terminal_or_yes_it_exits_at_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(["run", "nginx-service-mesh", "--to", "1.7.0", "--from", "1.6.0"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a terminal"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
