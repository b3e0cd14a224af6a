//! Watching one object until a judge says the awaited state is met, and which
//! watch errors are worth waiting through.

use std::fmt::Debug;
use std::pin::pin;

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watch_object};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::error::{ClusterError, api_status};
use super::workload::Verdict;

pub(crate) enum Ended {
    TimedOut(String),
    Fatal(ClusterError),
}

/// Watches the object `name` until `judge` says the state is met or the
/// deadline passes. Reports each new state once.
pub(crate) async fn watch_until<K>(
    api: Api<K>,
    name: &str,
    deadline: Instant,
    judge: impl Fn(Option<&K>) -> Verdict,
    on_change: &mut impl FnMut(&str),
) -> Result<String, Ended>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut stream = pin!(watch_object(api, name).default_backoff());
    let mut last = "nothing seen yet (the first list has not answered)".to_string();
    loop {
        let event = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => return Err(Ended::TimedOut(last)),
        };
        let state = match event {
            Ok(obj) => match judge(obj.as_ref()) {
                Verdict::Met(state) => return Ok(state),
                Verdict::Pending(state) => state,
            },
            Err(e) if is_fatal(&e) => return Err(Ended::Fatal(watch_error(e, name))),
            Err(e) => format!("the watch failed ({e}); watching again"),
        };
        if state != last {
            on_change(&state);
            last = state;
        }
    }
}

/// Errors that waiting longer will not cure: no permission, or a kind the server
/// does not serve. Everything else the watcher retries.
pub(crate) fn is_fatal(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(inner) | watcher::Error::WatchStartFailed(inner) => {
            matches!(api_status(inner), Some(401 | 403 | 404))
        }
        _ => false,
    }
}

pub(crate) fn watch_error(e: watcher::Error, what: &str) -> ClusterError {
    let action = format!("watch {what}");
    match e {
        watcher::Error::InitialListFailed(inner)
        | watcher::Error::WatchStartFailed(inner)
        | watcher::Error::WatchFailed(inner) => ClusterError::api(action, inner),
        other => ClusterError::Other(format!("{action} failed: {other}")),
    }
}
