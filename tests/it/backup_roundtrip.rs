//! The promise the manual upgrade rests on, on the real test bed: back up
//! thousands of custom resources, delete their CRDs (which deletes every object,
//! as `nginx-meshctl remove` does), install the CRDs again, restore, and get every
//! object back with identical spec, labels, annotations and finalizers.
//! Its own test binary, because it deletes cluster-wide CRDs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use stepwise::base::{Mode, OpEvent, Reporter, Target};
use stepwise::cluster::backup::{BackupRequest, backup};
use stepwise::cluster::restore::{Outcome, RestoreRequest, restore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_objects_survive_backup_crd_removal_and_restore() {
    let tb = support::cluster();
    let conn =
        Target { kubeconfig: Some(tb.kubeconfig.clone()), context: Some(tb.context.clone()) }.connect().await.unwrap();
    seed::install_crds(&tb.kubectl, &tb.kubeconfig, &tb.context);
    let namespaces: Vec<String> = (0..30).map(|i| format!("shop-{i:02}")).collect();
    let seeded = seed::seed(&conn.client, &namespaces, 500).await;
    assert_eq!(seeded.len(), 3000);
    let before = seed::live(&conn.client, &namespaces).await;
    assert_eq!(before.len(), 3000);

    let dir = tempfile::tempdir().unwrap();
    let backup_dir = dir.path().join("backup");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let reporter: Reporter = Arc::new(move |e| sink.lock().unwrap().push(e));
    let mut request = BackupRequest::new(seed::resource_names(), backup_dir.clone());
    request.page_size = 250;
    let manifest = backup(&conn, &request, reporter).await.unwrap();
    assert!(manifest.complete);
    assert_eq!(manifest.total(), 3000);
    assert!(manifest.kinds.iter().all(|k| k.count == 500), "{:?}", manifest.kinds);
    assert_eq!(std::fs::metadata(&backup_dir).unwrap().permissions().mode() & 0o777, 0o700);
    for k in &manifest.kinds {
        let meta = std::fs::metadata(backup_dir.join(&k.file)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", k.file);
        let text = std::fs::read_to_string(backup_dir.join(&k.file)).unwrap();
        assert!(!text.contains("\"resourceVersion\""), "server fields are stripped from {}", k.file);
        assert!(!text.contains("\"managedFields\""), "{}", k.file);
    }
    let progress = events.lock().unwrap().iter().filter(|e| matches!(e, OpEvent::Progress { .. })).count();
    assert!(progress >= 12, "progress is reported page by page, saw {progress}");

    // The backup must be readable by the vendor's own procedure too.
    let out = std::process::Command::new(&tb.kubectl)
        .args(["--kubeconfig", tb.kubeconfig.to_str().unwrap(), "--context", &tb.context])
        .args(["create", "--dry-run=server", "-o", "name", "-f"])
        .arg(backup_dir.join("trafficsplits.split.smi-spec.io.yaml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AlreadyExists") || stderr.contains("already exists"), "kubectl reads the file: {stderr}");

    seed::delete_crds(&conn.client, &tb.kubectl, &tb.kubeconfig, &tb.context).await;
    seed::install_crds(&tb.kubectl, &tb.kubeconfig, &tb.context);
    assert!(seed::live(&conn.client, &namespaces).await.is_empty(), "removing the CRDs removed every object");

    let report =
        restore(&conn, &RestoreRequest::new(backup_dir.clone(), Mode::Real), stepwise::base::progress::silent())
            .await
            .unwrap();
    assert!(report.verified, "{report:#?}");
    assert_eq!(report.failed(), 0, "{:#?}", report.notable);
    assert!(report.kinds.iter().all(|k| k.created == 500 && k.live == Some(500)), "{:#?}", report.kinds);

    let after = seed::live(&conn.client, &namespaces).await;
    assert_eq!(after.len(), before.len(), "nothing lost, nothing duplicated");
    for (key, original) in &before {
        let restored = after.get(key).unwrap_or_else(|| panic!("{key} was not restored"));
        assert_eq!(seed::essence(restored), seed::essence(original), "{key} came back different");
    }

    // Restoring again creates nothing and reports every object as already there.
    let again =
        restore(&conn, &RestoreRequest::new(backup_dir, Mode::Real), stepwise::base::progress::silent()).await.unwrap();
    assert!(again.kinds.iter().all(|k| k.identical == 500 && k.created == 0), "{:#?}", again.kinds);
    assert!(again.notable.iter().all(|o| o.outcome != Outcome::Created));
}
