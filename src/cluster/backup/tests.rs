//! Backups written from pages given by hand: relists, counts, hashes.

use super::*;
use kube::core::Status;
use serde_json::json;

/// Pages from a list in memory. The real API server cannot be made to expire
/// a continue token on demand (it takes an etcd compaction), so this stand-in
/// can answer 410 Gone once at a chosen page.
struct Fake {
    objects: Vec<Value>,
    expire_at: Option<usize>,
    calls: usize,
    announce: bool,
}

impl PageSource for Fake {
    async fn page(&mut self, token: Option<String>, limit: u32) -> Result<Page, kube::Error> {
        self.calls += 1;
        let start: usize = token.as_deref().map_or(0, |t| t.parse().unwrap_or(0));
        if self.expire_at == Some(start) && start > 0 {
            self.expire_at = None;
            return Err(kube::Error::Api(Status::failure("expired", "Expired").with_code(410).boxed()));
        }
        let end = (start + limit as usize).min(self.objects.len());
        let remaining = (self.objects.len() - end) as i64;
        Ok(Page {
            items: self.objects[start..end].to_vec(),
            continue_token: (end < self.objects.len()).then(|| end.to_string()),
            remaining: (self.announce && remaining > 0).then_some(remaining),
        })
    }
}

fn objects(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": format!("o{i}"), "uid": format!("u{i}"), "resourceVersion": "1"}})).collect()
}

async fn run(fake: &mut Fake, page_size: u32) -> (KindResult, u64, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.yaml");
    let mut w = KindWriter::create(&path, "xs.example.com").unwrap();
    let report: Reporter = Arc::new(|_| {});
    let done = Mutex::new((0, 0));
    let r = list_into(fake, &mut w, page_size, "xs", &report, &done).await.unwrap();
    let KindResult { count, sha256: sha, .. } = w.finish().unwrap();
    let (scanned, scanned_sha) = manifest::scan_file(&path, |o| {
        assert!(o.pointer("/metadata/resourceVersion").is_none());
        Ok(())
    })
    .unwrap();
    assert_eq!(scanned_sha, sha, "the recorded SHA-256 is the file's");
    assert_eq!(scanned, count);
    (r, count, sha)
}

#[tokio::test]
async fn an_empty_kind_makes_an_empty_but_valid_file() {
    let mut fake = Fake { objects: vec![], expire_at: None, calls: 0, announce: true };
    let (r, count, _) = run(&mut fake, 500).await;
    assert_eq!((r.count, count, fake.calls), (0, 0, 1));
}

#[tokio::test]
async fn exactly_one_page_needs_one_call() {
    let mut fake = Fake { objects: objects(500), expire_at: None, calls: 0, announce: true };
    let (r, count, _) = run(&mut fake, 500).await;
    assert_eq!((r.count, count, fake.calls), (500, 500, 1));
    assert!(r.mismatch.is_none());
}

#[tokio::test]
async fn many_pages_are_all_written_in_order() {
    let mut fake = Fake { objects: objects(1234), expire_at: None, calls: 0, announce: true };
    let (r, count, _) = run(&mut fake, 100).await;
    assert_eq!((r.count, count, fake.calls), (1234, 1234, 13));
}

#[tokio::test]
async fn an_expired_continue_token_lists_again_without_duplicates() {
    let mut fake = Fake { objects: objects(250), expire_at: Some(200), calls: 0, announce: true };
    let (r, count, sha) = run(&mut fake, 100).await;
    assert_eq!((r.count, count), (250, 250));
    // Two pages, the expired third, then all three pages again.
    assert_eq!(fake.calls, 6);
    let mut clean = Fake { objects: objects(250), expire_at: None, calls: 0, announce: true };
    let (_, _, clean_sha) = run(&mut clean, 100).await;
    assert_eq!(sha, clean_sha, "the relisted file is identical to an uninterrupted one");
}

#[tokio::test]
async fn a_count_that_disagrees_with_the_announcement_is_reported() {
    struct Shrinking(Fake);
    impl PageSource for Shrinking {
        async fn page(&mut self, token: Option<String>, limit: u32) -> Result<Page, kube::Error> {
            let mut page = self.0.page(token, limit).await?;
            if page.continue_token.is_none() {
                page.items.pop();
            }
            Ok(page)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut w = KindWriter::create(&dir.path().join("x.yaml"), "xs").unwrap();
    let report: Reporter = Arc::new(|_| {});
    let mut source = Shrinking(Fake { objects: objects(150), expire_at: None, calls: 0, announce: true });
    let r = list_into(&mut source, &mut w, 100, "xs", &report, &Mutex::new((0, 0))).await.unwrap();
    assert_eq!(r.count, 149);
    assert!(r.mismatch.as_deref().is_some_and(|m| m.contains("announced 150")), "{:?}", r.mismatch);
}
