//! Retrying API calls that failed for reasons that pass: throttling (429, with the
//! server's Retry-After), server errors, and a connection that dropped (an API
//! server restarting). Anything else fails at once.

use std::time::{Duration, Instant};

use super::error::api_status;

/// What to do about a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again, after at least this long if the server said so.
    Retry(Option<Duration>),
    Fail,
}

pub fn classify(e: &kube::Error) -> Verdict {
    match e {
        kube::Error::Api(status) => match status.code {
            429 => Verdict::Retry(
                status
                    .details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s))),
            ),
            500 | 502 | 503 | 504 => Verdict::Retry(None),
            _ => Verdict::Fail,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::HttpError(_) => Verdict::Retry(None),
        _ => Verdict::Fail,
    }
}

/// Exponential backoff with a total time budget.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    deadline: Instant,
}

impl Backoff {
    pub fn new(budget: Duration) -> Self {
        Backoff { next: Duration::from_millis(100), max: Duration::from_secs(5), deadline: Instant::now() + budget }
    }

    /// How long to wait before the next try, or `None` when the budget is spent.
    /// A server's Retry-After wins over the computed delay when it is longer.
    pub fn delay(&mut self, hint: Option<Duration>) -> Option<Duration> {
        let computed = self.next;
        self.next = (self.next * 2).min(self.max);
        let wait = hint.map_or(computed, |h| h.max(computed));
        let now = Instant::now();
        if now + wait > self.deadline { None } else { Some(wait) }
    }
}

/// Runs `call` until it succeeds, fails for good, or the budget runs out.
/// `on_retry` hears about each retry (for the operator's log).
pub async fn with_retry<T>(
    budget: Duration,
    mut on_retry: impl FnMut(&kube::Error, Duration),
    mut call: impl AsyncFnMut() -> Result<T, kube::Error>,
) -> Result<T, kube::Error> {
    let mut backoff = Backoff::new(budget);
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let Verdict::Retry(hint) = classify(&e) else { return Err(e) };
                let Some(wait) = backoff.delay(hint) else { return Err(e) };
                tracing::warn!(error = %e, ?wait, "an API call failed for a passing reason; trying again");
                on_retry(&e, wait);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// One look at something that becomes true in time (a kind the API server
/// serves, a CRD that is Established).
pub enum Look<T, E> {
    Ready(T),
    /// Not yet, and why.
    NotYet(String),
    /// Looking again will not help.
    Failed(E),
}

/// Looks every `every` until the thing is ready, looking fails, or `deadline`
/// passes: `Ok(Err(why))` is the last reason it was not ready. The first
/// reason is told to `on_wait` once, so the operator sees what is awaited.
/// A deadline already passed means one look and no waiting.
pub async fn poll_until<T, E>(
    deadline: tokio::time::Instant,
    every: Duration,
    mut on_wait: impl FnMut(&str),
    mut look: impl AsyncFnMut() -> Look<T, E>,
) -> Result<Result<T, String>, E> {
    let mut told = false;
    loop {
        match look().await {
            Look::Ready(v) => return Ok(Ok(v)),
            Look::Failed(e) => return Err(e),
            Look::NotYet(why) if tokio::time::Instant::now() >= deadline => return Ok(Err(why)),
            Look::NotYet(why) => {
                if !told {
                    on_wait(&why);
                    told = true;
                }
                tokio::time::sleep(every).await;
            }
        }
    }
}

/// A short description of a retried error for the log.
pub fn describe(e: &kube::Error) -> String {
    match api_status(e) {
        Some(429) => "the API server is throttling requests (429)".into(),
        Some(code) => format!("the API server answered {code}"),
        None => "the connection to the API server failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::{Status, response::StatusDetails};
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api_error(code: u16, retry_after: u32) -> kube::Error {
        let details = StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: Vec::new(),
            retry_after_seconds: retry_after,
        };
        kube::Error::Api(Status::failure("x", "y").with_code(code).with_details(details).boxed())
    }

    #[test]
    fn throttling_and_server_errors_are_retried_others_are_not() {
        assert_eq!(classify(&api_error(429, 2)), Verdict::Retry(Some(Duration::from_secs(2))));
        assert_eq!(classify(&api_error(429, 0)), Verdict::Retry(None));
        assert_eq!(classify(&api_error(503, 0)), Verdict::Retry(None));
        for code in [400, 403, 404, 409, 410, 422] {
            assert_eq!(classify(&api_error(code, 0)), Verdict::Fail, "{code}");
        }
    }

    #[test]
    fn backoff_grows_honours_retry_after_and_stops_at_the_budget() {
        let mut b = Backoff::new(Duration::from_secs(10));
        assert_eq!(b.delay(None), Some(Duration::from_millis(100)));
        assert_eq!(b.delay(None), Some(Duration::from_millis(200)));
        assert_eq!(b.delay(Some(Duration::from_secs(3))), Some(Duration::from_secs(3)));
        assert_eq!(b.delay(Some(Duration::from_secs(60))), None);
    }

    // A real API server will not produce a 429 storm on demand, so this test
    // stands in a call that is throttled a set number of times.
    #[tokio::test(start_paused = true)]
    async fn a_throttling_storm_slows_the_call_down_but_it_succeeds() {
        let calls = AtomicU32::new(0);
        let mut retries = Vec::new();
        let result = with_retry(
            Duration::from_secs(120),
            |_, wait| retries.push(wait),
            async || {
                if calls.fetch_add(1, Ordering::SeqCst) < 5 { Err(api_error(429, 1)) } else { Ok("done") }
            },
        )
        .await;
        assert_eq!(result.unwrap(), "done");
        assert_eq!(retries.len(), 5);
        assert!(retries.iter().all(|w| *w >= Duration::from_secs(1)), "Retry-After is honoured: {retries:?}");
    }

    // The lag between a CRD being Established and discovery listing its kind
    // cannot be produced on demand by a real API server, so these tests stand
    // in a discovery that answers "not served" a set number of times.
    #[tokio::test(start_paused = true)]
    async fn a_kind_missing_from_discovery_for_a_while_is_found_by_looking_again() {
        let looks = AtomicU32::new(0);
        let mut told = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let found: Result<Result<&str, String>, ()> = poll_until(
            deadline,
            Duration::from_millis(250),
            |why| told.push(why.to_string()),
            async || {
                if looks.fetch_add(1, Ordering::SeqCst) < 8 {
                    Look::NotYet("the cluster does not serve example.com/v1".into())
                } else {
                    Look::Ready("widgets")
                }
            },
        )
        .await;
        assert_eq!(found, Ok(Ok("widgets")));
        assert_eq!(looks.load(Ordering::SeqCst), 9);
        assert_eq!(told, ["the cluster does not serve example.com/v1"], "the wait is told once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_kind_never_served_ends_with_the_reason_at_the_deadline_and_a_passed_deadline_looks_once() {
        let looks = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let never = async || -> Look<(), ()> {
            looks.fetch_add(1, Ordering::SeqCst);
            Look::NotYet("not served".into())
        };
        let r = poll_until(start + Duration::from_secs(5), Duration::from_millis(500), |_| {}, never).await;
        assert_eq!(r, Ok(Err("not served".to_string())));
        assert!(tokio::time::Instant::now() >= start + Duration::from_secs(5));
        assert_eq!(looks.load(Ordering::SeqCst), 11);

        looks.store(0, Ordering::SeqCst);
        let r = poll_until(tokio::time::Instant::now(), Duration::from_millis(500), |_| {}, never).await;
        assert_eq!(r, Ok(Err("not served".to_string())));
        assert_eq!(looks.load(Ordering::SeqCst), 1);

        let failed: Result<Result<(), String>, &str> = poll_until(
            start + Duration::from_secs(60),
            Duration::from_millis(500),
            |_| {},
            async || Look::Failed("unreachable"),
        )
        .await;
        assert_eq!(failed, Err("unreachable"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lasting_outage_ends_in_the_error_once_the_budget_is_spent() {
        let result: Result<(), _> =
            with_retry(Duration::from_secs(3), |_, _| {}, async || Err(api_error(503, 0))).await;
        assert_eq!(result.map_err(|e| api_status(&e)), Err(Some(503)));
    }
}
