//! Which cluster of the suite's one test bed a test gets, and when it is cleaned.
//!
//! The suite is one binary with one test bed of two clusters (lanes 1 and 2).
//! Each module was once a binary of its own with a fresh cluster, and its tests
//! still assume that: a journey expects no mesh but its own, a drill lists
//! every object of its kind. So a cluster belongs to one module at a time:
//!
//! - The first [`super::cluster`] call on a test's thread takes one lane for
//!   the test's module (the first part of the test's name, which libtest gives
//!   the thread); [`super::multi_cluster`] takes both. A module's tests share
//!   its lane, at most [`PER_MODULE`] at once, as they did in their own binary
//!   on two cores; other modules wait for a free lane.
//! - The lane is held until the test's thread ends (however the test ended),
//!   and stays the module's while more of its tests wait for it. Then it is
//!   free, and marked dirty: the next module to take it first gets it back to
//!   how the bed started ([`super::reset`]).
//! - The tests of [`ONE_TEST_A_CLUSTER`] each need a whole cluster (they stop
//!   its API server, or deploy and remove the one mesh): each of them is an
//!   owner of its own, so two of them run at once on the two clusters, each on
//!   a clean one.
//! - A test that wants both lanes takes them once both are free. A single free
//!   lane goes to whoever wants one, so no lane idles while a test waits for
//!   the other; the tests that want both end up last, when nothing else waits.
//!
//! Two views keep the one-module-per-cluster promise visible in the code: a
//! lane's [`TestCluster`] holds only its own contexts, and asking for a
//! cluster from any thread but the test's own panics.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

use super::TestCluster;

/// A module's tests on its lane at once.
pub const PER_MODULE: usize = 2;

/// Modules whose every test needs a cluster of its own.
pub const ONE_TEST_A_CLUSTER: &[&str] = &["apiserver_restart", "drills_targeting", "e2e_nginx_paths", "e2e_resume"];

/// One cluster or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    One,
    Both,
}

#[derive(Debug, Default)]
struct Lane {
    /// The module (and what it wants) whose tests run here.
    owner: Option<String>,
    users: usize,
    /// A module used it since the last reset.
    dirty: bool,
    /// Its new owner is resetting it; nobody joins until that is done.
    resetting: bool,
    /// Since when the owner has it, how many of its tests came, and how long
    /// the reset before them took: for the run's timings.
    since: Option<std::time::Instant>,
    tests: usize,
    reset_seconds: f64,
}

#[derive(Debug, Default)]
struct Lanes {
    lanes: [Lane; 2],
    /// Tests waiting, by owner key.
    waiting: BTreeMap<String, usize>,
}

static LANES: Mutex<Lanes> = Mutex::new(Lanes { lanes: [const_lane(), const_lane()], waiting: BTreeMap::new() });
static FREED: Condvar = Condvar::new();

const fn const_lane() -> Lane {
    Lane { owner: None, users: 0, dirty: false, resetting: false, since: None, tests: 0, reset_seconds: 0.0 }
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The lanes a test holds; given back when its thread ends.
struct Held {
    want: Want,
    key: String,
    lanes: Vec<usize>,
    view: &'static TestCluster,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut state = lock();
        let more_waiting = state.waiting.get(&self.key).copied().unwrap_or(0) > 0;
        for &i in &self.lanes {
            let lane = &mut state.lanes[i];
            lane.users -= 1;
            if lane.users == 0 && !more_waiting {
                record_turn(i, lane);
                lane.owner = None;
                lane.dirty = true;
            }
        }
        FREED.notify_all();
    }
}

/// The whole bed: two clusters, started on first use.
pub fn bed() -> &'static TestCluster {
    static BED: OnceLock<Result<TestCluster, String>> = OnceLock::new();
    match BED.get_or_init(|| TestCluster::start(2).and_then(|bed| super::reset::record_baseline(&bed).map(|()| bed))) {
        Ok(bed) => bed,
        Err(e) => panic!("the test bed is not available: {e}"),
    }
}

/// Each cluster of the bed on its own.
fn views() -> &'static [TestCluster; 2] {
    static VIEWS: OnceLock<Result<[TestCluster; 2], String>> = OnceLock::new();
    let made = VIEWS.get_or_init(|| {
        let bed = bed();
        Ok([bed.view(1)?, bed.view(2)?])
    });
    match made {
        Ok(views) => views,
        Err(e) => panic!("the test bed's clusters cannot be told apart: {e}"),
    }
}

/// The cluster(s) this test holds, taking them on the first call.
pub fn take(want: Want) -> &'static TestCluster {
    let held = HELD.with(|h| h.borrow().as_ref().map(|held| (held.want, held.view)));
    if let Some((had, view)) = held {
        assert_eq!(had, want, "a test asks for both support::cluster() and support::multi_cluster(): use one");
        return view;
    }
    let thread = std::thread::current();
    let Some((module, name)) = thread.name().and_then(|name| name.split_once("::").map(|(module, _)| (module, name)))
    else {
        panic!(
            "support::cluster() was called on thread {:?}, not on a test's own thread: call it first in the test \
             and pass the cluster on",
            thread.name()
        )
    };
    let owner = if ONE_TEST_A_CLUSTER.contains(&module) { name } else { module };
    let key = format!("{owner}/{want:?}");
    let lanes = acquire(&key, want);
    let view = match want {
        Want::Both => bed(),
        Want::One => &views()[lanes[0]],
    };
    HELD.with(|h| *h.borrow_mut() = Some(Held { want, key, lanes, view }));
    view
}

/// A line for the run's timings (`STEPWISE_TESTBED_TIMINGS`, which tests/run
/// prints at the end): which module had the cluster, for how long.
fn record_turn(i: usize, lane: &Lane) {
    let Some(file) = std::env::var_os("STEPWISE_TESTBED_TIMINGS").filter(|f| !f.is_empty()) else { return };
    let (Some(owner), Some(since)) = (&lane.owner, lane.since) else { return };
    let line = format!(
        "cluster {}: {owner} for {:.1}s ({} tests; cleaning it first took {:.1}s)\n",
        i + 1,
        since.elapsed().as_secs_f64(),
        lane.tests,
        lane.reset_seconds
    );
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = f.write_all(line.as_bytes());
    }
}

fn lock() -> MutexGuard<'static, Lanes> {
    LANES.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits for the lanes, then resets those that need it.
fn acquire(key: &str, want: Want) -> Vec<usize> {
    let bed = bed();
    let mut state = lock();
    *state.waiting.entry(key.to_string()).or_default() += 1;
    let taken = loop {
        if let Some(taken) = state.try_take(key, want) {
            break taken;
        }
        state = FREED.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
    };
    *state.waiting.entry(key.to_string()).or_default() -= 1;
    let to_reset: Vec<usize> = taken.iter().copied().filter(|&i| state.lanes[i].resetting).collect();
    drop(state);
    for i in to_reset {
        let started = std::time::Instant::now();
        let outcome = super::reset::reset(bed, i as u8 + 1);
        let mut state = lock();
        state.lanes[i].resetting = false;
        if let Err(e) = outcome {
            // Give back what was taken: the next module tries the reset again.
            for &j in &taken {
                state.lanes[j].users -= 1;
                if state.lanes[j].users == 0 {
                    state.lanes[j].owner = None;
                }
            }
            FREED.notify_all();
            drop(state);
            panic!("cluster {} could not be cleaned for {key}: {e}", i + 1);
        }
        state.lanes[i].dirty = false;
        state.lanes[i].reset_seconds = started.elapsed().as_secs_f64();
        FREED.notify_all();
    }
    taken
}

impl Lanes {
    fn joinable(&self, i: usize, key: &str) -> bool {
        let lane = &self.lanes[i];
        lane.owner.as_deref() == Some(key) && !lane.resetting && lane.users < PER_MODULE
    }

    fn take(&mut self, i: usize, key: &str) {
        let lane = &mut self.lanes[i];
        if lane.owner.is_none() {
            lane.owner = Some(key.to_string());
            lane.resetting = lane.dirty;
            lane.since = Some(std::time::Instant::now());
            lane.tests = 0;
            lane.reset_seconds = 0.0;
        }
        lane.users += 1;
        lane.tests += 1;
    }

    /// The lanes `key` may take now, taken; `None` to wait.
    fn try_take(&mut self, key: &str, want: Want) -> Option<Vec<usize>> {
        let taken = match want {
            Want::One => {
                if let Some(i) = (0..2).find(|&i| self.joinable(i, key)) {
                    vec![i]
                } else if (0..2).any(|i| self.lanes[i].owner.as_deref() == Some(key)) {
                    return None;
                } else {
                    // A clean free lane first: no reset to wait for.
                    let mut free: Vec<usize> = (0..2).filter(|&i| self.lanes[i].owner.is_none()).collect();
                    free.sort_by_key(|&i| self.lanes[i].dirty);
                    vec![*free.first()?]
                }
            }
            Want::Both => {
                let ready = (0..2).all(|i| self.lanes[i].owner.is_none() || self.joinable(i, key));
                if !ready {
                    return None;
                }
                vec![0, 1]
            }
        };
        for &i in &taken {
            self.take(i, key);
        }
        Some(taken)
    }
}
