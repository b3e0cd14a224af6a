//! The session's lease on its cluster and product (see [`crate::cluster::lease`]):
//! taken once the preflight has passed and before the first step, renewed
//! while the session runs, given up when this process ends the session in any
//! way it can record. A real session only; rehearsals take none and are never
//! blocked by one.

use serde::Serialize;
use tokio::task::JoinHandle;

use super::EngineError;
use super::events::{Answer, Event, Msg, Question, Tee};
use super::runner::Runner;
use crate::cluster::Connection;
use crate::cluster::lease::{self, Held, Taken};

/// How long giving the lease up may take before the session ends without it.
const RELEASE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// A lease this process holds, with the task renewing it.
pub struct LeaseGuard {
    conn: Connection,
    name: String,
    holder: String,
    renewing: JoinHandle<()>,
}

/// What the transcript keeps about the lease.
#[derive(Serialize)]
struct Record<'a> {
    lease: String,
    holder: &'a str,
    how: &'a str,
    previous: Option<&'a str>,
    previous_renewed: Option<&'a str>,
}

/// Takes the lease, asking before breaking a live one when `break_lease` is
/// set, and starts renewing it. Refuses (exit 4) when another session holds it.
pub async fn take(runner: &mut Runner<'_>, break_lease: bool) -> Result<LeaseGuard, EngineError> {
    let conn = runner.ctx.conn.clone();
    let product = runner.journal.meta().product.clone();
    let name = lease::name(&product);
    let session = runner.journal.id().to_string();
    let holder = lease::holder_identity(&session);
    let taken = match lease::acquire(&conn, &name, &session, &holder, false).await? {
        Ok(taken) => taken,
        Err(held) if break_lease && confirm_break(runner, &product, &name, &held).await? => {
            match lease::acquire(&conn, &name, &session, &holder, true).await? {
                Ok(taken) => taken,
                Err(held) => return Err(refusal(&product, &name, &held)),
            }
        }
        Err(held) => return Err(refusal(&product, &name, &held)),
    };
    let (how, previous, renewed) = match &taken {
        Taken::Free => ("taken", None, None),
        Taken::Again => ("taken again by the same session", None, None),
        Taken::Expired { previous, renewed } => ("taken over after it expired", Some(previous), Some(renewed)),
        Taken::Gone { previous, renewed } => {
            ("taken over: its holder's process on this machine is gone", Some(previous), Some(renewed))
        }
        Taken::Broken { previous, renewed } => ("broken with --break-lease", Some(previous), Some(renewed)),
    };
    let record = Record {
        lease: format!("{}/{name}", lease::NAMESPACE),
        holder: &holder,
        how,
        previous: previous.map(String::as_str),
        previous_renewed: renewed.map(String::as_str),
    };
    runner.journal.append_transcript("lease", &record)?;
    let mut text = format!("lease {}/{name} {how}: this session drives {product} on this cluster", lease::NAMESPACE);
    if let (Some(p), Some(r)) = (previous, renewed) {
        text.push_str(&format!(" (it was held by {p}, last renewed {r})"));
    }
    runner.send(Event::Notice { text });
    let renewing = spawn_renewal(conn.clone(), name.clone(), holder.clone(), runner.out.clone());
    Ok(LeaseGuard { conn, name, holder, renewing })
}

impl LeaseGuard {
    /// Stops renewing and gives the lease up. A cluster slow to answer does not
    /// keep the operator waiting: after [`RELEASE_PATIENCE`] the lease is left to
    /// expire on its own.
    pub async fn release(self) {
        self.renewing.abort();
        match tokio::time::timeout(RELEASE_PATIENCE, lease::release(&self.conn, &self.name, &self.holder)).await {
            Ok(Ok(())) => tracing::debug!(lease = %self.name, "lease released"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not release the lease; it expires on its own"),
            Err(_) => tracing::warn!("the cluster did not answer the lease release in time; it expires on its own"),
        }
    }
}

fn refusal(product: &str, name: &str, held: &Held) -> EngineError {
    EngineError::Refused(format!(
        "{product} is being upgraded on this cluster by another stepwise session: lease {}/{name} is held by {} \
         (renewed {}, {}; it expires in {} s unless renewed). Nothing was changed. Let that session finish; if \
         its process is gone, the lease expires {} s after its last renewal, or `--break-lease` takes it now",
        lease::NAMESPACE,
        held.holder,
        lease::ago(held.seconds_ago),
        held.renewed,
        held.expires_in.max(0),
        lease::DURATION_SECONDS
    ))
}

/// Breaking a live lease can put two sessions on one cluster: the operator
/// types the product's name, with its holder in front of them.
async fn confirm_break(runner: &mut Runner<'_>, product: &str, name: &str, held: &Held) -> Result<bool, EngineError> {
    let question = Question::Confirm {
        index: runner.journal.first_unfinished().unwrap_or(0),
        title: format!("Break the lease {}/{name}", lease::NAMESPACE),
        does: vec![
            format!("{} holds it, renewed {} ({})", held.holder, lease::ago(held.seconds_ago), held.renewed),
            "if that session still runs, two sessions will change this cluster at once".into(),
        ],
        destructive: true,
        word: Some(product.to_string()),
        skippable: false,
        unlocked_by: None,
    };
    Ok(runner.ask(question).await? == Answer::Yes)
}

fn spawn_renewal(conn: Connection, name: String, holder: String, out: Tee) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut warned = false;
        loop {
            tokio::time::sleep(lease::RENEW_EVERY).await;
            match lease::renew(&conn, &name, &holder).await {
                Ok(()) => warned = false,
                Err(e) if !warned => {
                    warned = true;
                    let text = format!("could not renew the session's lease: {e}");
                    let _ = out.send(Msg::Event(Event::Warning { index: None, text }));
                }
                Err(_) => {}
            }
        }
    })
}
