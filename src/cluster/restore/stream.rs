//! The backup's kinds read for the restore a window of objects at a time.
//!
//! **Memory bound:** a reader thread reads the kinds' files in order, one object
//! after the other, and takes a place in the window *before* it reads each
//! object; the place is given back only when the restore is done with that
//! object (created, failed, left out), by dropping its [`Read`]. So the objects
//! read but not yet finished (being read, waiting in the channel, or being
//! created) never exceed the window, whatever the size of the backup, and the
//! reading keeps at most a window ahead of the creates. Objects set aside for
//! the second pass (their owner is in the backup) are outside the window: they
//! are kept until every file has been read, as they always were.
//!
//! The files flow into each other: the next kind's first object is read as soon
//! as the last one of the kind before has a place, so the creates never drain
//! between kinds. A file that cannot be read stops the reading there; the error
//! comes from [`Reader::finish`], after the objects already read are done.

use std::path::PathBuf;
use std::sync::Arc;

use futures::Stream;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::super::error::ClusterError;
use super::super::manifest;

/// One object to create, with the index of its kind and its place in the window.
pub(super) struct Read {
    pub(super) kind: usize,
    pub(super) object: Value,
    /// Held until the restore is done with the object; dropping it lets the
    /// reader read one more.
    pub(super) slot: Slot,
}

/// A place in the window, given back when dropped.
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// The thread reading the files; [`Reader::finish`] once the stream has ended.
pub(super) struct Reader(JoinHandle<Leftover>);

/// What the reader leaves when it ends.
#[derive(Default)]
struct Leftover {
    /// Objects set aside for the second pass, with their kind's index, in file order.
    deferred: Vec<(usize, Value)>,
    /// The first file that could not be read; the reading stopped there.
    error: Option<ClusterError>,
}

/// Reads `files` (one per kind, in order) on a blocking thread, at most `window`
/// objects (at least 1) read and not yet finished at any time; see the module
/// documentation. Objects `set_aside` says yes to are kept for
/// [`Reader::finish`] instead of being streamed.
pub(super) fn open(
    files: Vec<PathBuf>,
    window: usize,
    set_aside: impl FnMut(&Value) -> bool + Send + 'static,
) -> (impl Stream<Item = Read> + Send + Unpin, Reader) {
    let window = window.clamp(1, Semaphore::MAX_PERMITS);
    let (tx, mut rx) = mpsc::channel(window);
    let slots = Arc::new(Semaphore::new(window));
    let reader = tokio::task::spawn_blocking(move || read_kinds(&files, &slots, &tx, set_aside));
    (futures::stream::poll_fn(move |cx| rx.poll_recv(cx)), Reader(reader))
}

impl Reader {
    /// Waits for the reader to end and returns the objects set aside, or the
    /// error that stopped the reading. Call it once the stream has ended (or
    /// been dropped): the reader waits for the stream to take its objects.
    pub(super) async fn finish(self) -> Result<Vec<(usize, Value)>, ClusterError> {
        let left = self.0.await.map_err(|e| ClusterError::Other(format!("reading the backup stopped: {e}")))?;
        match left.error {
            Some(e) => Err(e),
            None => Ok(left.deferred),
        }
    }
}

fn read_kinds(
    files: &[PathBuf],
    slots: &Arc<Semaphore>,
    tx: &mpsc::Sender<Read>,
    mut set_aside: impl FnMut(&Value) -> bool,
) -> Leftover {
    let mut left = Leftover::default();
    for (kind, path) in files.iter().enumerate() {
        match read_kind(kind, path, slots, tx, &mut set_aside, &mut left.deferred) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                left.error = Some(e);
                break;
            }
        }
    }
    left
}

/// Sends one kind's objects, each once it has a place in the window. False
/// when the restore stopped taking them.
fn read_kind(
    kind: usize,
    path: &std::path::Path,
    slots: &Arc<Semaphore>,
    tx: &mpsc::Sender<Read>,
    set_aside: &mut impl FnMut(&Value) -> bool,
    deferred: &mut Vec<(usize, Value)>,
) -> Result<bool, ClusterError> {
    let mut objects = manifest::read_objects(path)?;
    loop {
        // The place is taken before the object is read: the window counts the
        // object in the reader's hands too.
        let Some(slot) = take_slot(slots) else { return Ok(false) };
        let Some(object) = objects.next().transpose()? else { return Ok(true) };
        if set_aside(&object) {
            deferred.push((kind, object));
        } else if tx.blocking_send(Read { kind, object, slot }).is_err() {
            return Ok(false);
        }
    }
}

/// Waits for a place in the window; `None` only if the window was closed.
fn take_slot(slots: &Arc<Semaphore>) -> Option<Slot> {
    futures::executor::block_on(Arc::clone(slots).acquire_owned()).ok().map(|p| Slot { _permit: p })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures::StreamExt;
    use serde_json::json;

    use super::*;
    use crate::cluster::backup::writer::KindWriter;

    const KINDS: usize = 2;
    const PER_KIND: usize = 1_000;
    const CREATES: usize = 4;
    const WINDOW: usize = 16;

    /// `(kind, n)` of every fifth object of the first kind: those are owned by
    /// the object before them, which is in the backup.
    fn owned(kind: usize, n: usize) -> bool {
        kind == 0 && n % 5 == 4
    }

    fn object(kind: usize, n: usize) -> Value {
        let mut o = json!({
            "apiVersion": "example.com/v1",
            "kind": format!("K{kind}"),
            "metadata": {"name": format!("o-{n}"), "namespace": "ns", "uid": format!("{kind}-{n}")},
            "spec": {"n": n},
        });
        if owned(kind, n) {
            let owner = json!([{"apiVersion": "example.com/v1", "kind": "K0", "name": format!("o-{}", n - 1),
                                "uid": format!("{kind}-{}", n - 1)}]);
            o["metadata"]["ownerReferences"] = owner;
        }
        o
    }

    /// One backup file per kind, written as a backup writes them.
    fn backup(dir: &std::path::Path) -> Vec<PathBuf> {
        (0..KINDS)
            .map(|kind| {
                let path = dir.join(manifest::file_name(&format!("k{kind}.example.com")));
                let mut w = KindWriter::create(&path, "k.example.com").unwrap();
                for n in 0..PER_KIND {
                    w.write(object(kind, n)).unwrap();
                }
                assert_eq!(w.finish().unwrap().count, PER_KIND as u64);
                path
            })
            .collect()
    }

    fn id(kind: usize, object: &Value) -> (usize, String) {
        (kind, object["metadata"]["name"].as_str().unwrap().to_string())
    }

    /// Objects in memory, counted when the reader has read them and until the
    /// slow consumer below is done with them.
    #[derive(Default)]
    struct Alive {
        now: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Alive {
        fn read(&self) {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
        }

        fn done(&self) {
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The memory bound, pinned: however far the reader could run ahead of slow
    /// creates, objects read and not yet finished never exceed the window; every
    /// object comes exactly once, in file order, the owned ones set aside.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn objects_in_memory_never_exceed_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let files = backup(dir.path());
        let in_backup: std::collections::HashSet<String> =
            (0..KINDS).flat_map(|k| (0..PER_KIND).map(move |n| format!("{k}-{n}"))).collect();
        let alive = Arc::new(Alive::default());
        let counted = Arc::clone(&alive);
        let set_aside = move |o: &Value| {
            let owned = super::super::owners::has_owner_in(&in_backup, o);
            if !owned {
                counted.read();
            }
            owned
        };
        let (objects, reader) = open(files, WINDOW, set_aside);
        let arrived = Mutex::new(Vec::new());
        let slow = |read: Read| {
            arrived.lock().unwrap().push(id(read.kind, &read.object));
            let alive = Arc::clone(&alive);
            async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                alive.done();
                drop(read);
            }
        };
        objects.map(slow).buffer_unordered(CREATES).collect::<()>().await;
        let deferred = reader.finish().await.unwrap();

        let peak = alive.peak.load(Ordering::SeqCst);
        assert!(peak <= WINDOW, "{peak} objects were in memory at once, the window is {WINDOW}");
        // The reader did read ahead of the creates, up to the window.
        assert_eq!(peak, WINDOW);
        assert_eq!(alive.now.load(Ordering::SeqCst), 0);
        let all = (0..KINDS).flat_map(|k| (0..PER_KIND).map(move |n| (k, n)));
        let (want_aside, want_sent): (Vec<_>, Vec<_>) = all.partition(|&(k, n)| owned(k, n));
        let named = |v: Vec<(usize, usize)>| v.into_iter().map(|(k, n)| (k, format!("o-{n}"))).collect::<Vec<_>>();
        let deferred: Vec<_> = deferred.iter().map(|(k, o)| id(*k, o)).collect();
        let arrived = arrived.into_inner().unwrap();
        assert_eq!(deferred.len() + arrived.len(), 2_000);
        assert_eq!(deferred, named(want_aside));
        assert_eq!(arrived, named(want_sent));
    }

    /// A line that does not parse stops the reading: the objects before it
    /// come, the rest of that file and the later kinds do not, and the error
    /// comes from `finish`.
    #[tokio::test]
    async fn a_damaged_file_stops_the_reading_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let files = backup(dir.path());
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let damaged: Vec<&str> = text.lines().take(21).chain(["{\"apiVersion\": "]).collect();
        std::fs::write(&files[0], damaged.join("\n")).unwrap();
        let (objects, reader) = open(files, 8, |_| false);
        let arrived: Vec<_> = objects.map(|r| id(r.kind, &r.object)).collect().await;
        let err = reader.finish().await.unwrap_err();
        assert_eq!(arrived, (0..10).map(|n| (0, format!("o-{n}"))).collect::<Vec<_>>());
        assert!(err.to_string().contains("line 22 is not a complete object"), "{err}");
    }
}
