//! One driver per cluster and product: a `coordination.k8s.io/v1` Lease in
//! `kube-system`, named for the product, held by the real session that is
//! changing it. Another session — from another state folder, another machine,
//! another operator — finds it held and is refused before it changes anything.
//! The holder renews it while it runs; one that died stops renewing, and its
//! lease may be taken over once it has expired (or at once, when the operator
//! says so and confirms).

use crate::process::{boot_id, host};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};

use super::connect::Connection;
use super::error::{ClusterError, api_status};
use super::preflight::AccessNeed;

/// Where the leases live: every cluster has it, and operators who may upgrade
/// a mesh may usually write there.
pub const NAMESPACE: &str = "kube-system";
/// How long a lease lasts without renewal.
pub const DURATION_SECONDS: i32 = 60;
/// How often the holder renews it: three renewals fit in one duration.
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// The lease's name for a product.
pub fn name(product: &str) -> String {
    let safe: String = product
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    format!("stepwise-{safe}")
}

/// Who holds a lease: written into `holderIdentity` so that whoever is refused
/// can tell the operator which session, where, and whose.
pub fn holder_identity(session: &str) -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    format!("session={session} host={} user={user} pid={} boot={}", host(), std::process::id(), boot_id())
}

/// One `key=value` field of a holder identity.
fn field<'a>(holder: &'a str, key: &str) -> Option<&'a str> {
    holder.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The session id a holder identity names.
fn session_of(holder: &str) -> Option<&str> {
    field(holder, "session")
}

/// True when the holder is this very process.
fn holder_is_this_process(holder: &str) -> bool {
    field(holder, "host") == Some(host().as_str())
        && field(holder, "boot") == Some(boot_id().as_str())
        && field(holder, "pid") == Some(std::process::id().to_string().as_str())
}

/// True when the holder ran on this machine, in this boot, and its process is
/// no longer a stepwise: it was killed and cannot renew, so waiting for the
/// lease to expire would only keep the operator waiting. A holder on another
/// machine (or whose machine cannot be told apart) is never judged gone.
fn holder_gone_here(holder: &str) -> bool {
    let (Some(h), Some(boot), Some(pid)) = (field(holder, "host"), field(holder, "boot"), field(holder, "pid")) else {
        return false;
    };
    if h != host() || boot.is_empty() || boot != boot_id() {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else { return false };
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => !String::from_utf8_lossy(&cmdline).contains("stepwise"),
        Err(_) => true,
    }
}

/// The permissions a session needs for its lease.
pub fn access_needs() -> Vec<AccessNeed> {
    ["get", "create", "update", "delete"]
        .iter()
        .map(|verb| AccessNeed::new(verb, "leases.coordination.k8s.io", Some(NAMESPACE)))
        .collect()
}

/// How a lease was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Nobody held it.
    Free,
    /// This very process already held it.
    Again,
    /// Another holder's lease had expired: it is taken over.
    Expired { previous: String, renewed: String },
    /// Another holder on this machine whose process is gone (killed): taken over.
    Gone { previous: String, renewed: String },
    /// Another holder's lease was live, and the operator broke it.
    Broken { previous: String, renewed: String },
}

/// Someone else's live lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub holder: String,
    /// When it was last renewed (RFC 3339), and how long ago.
    pub renewed: String,
    pub seconds_ago: i64,
    pub expires_in: i64,
}

/// What the API says about `name` now.
pub enum State {
    Free,
    Ours,
    Expired { previous: String, renewed: String },
    Gone { previous: String, renewed: String },
    Held(Held),
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

fn api(conn: &Connection) -> Api<Lease> {
    Api::namespaced(conn.client.clone(), NAMESPACE)
}

fn describe_renewal(spec: &LeaseSpec) -> (String, i64, i64) {
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()).map(|t| t.0);
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(DURATION_SECONDS));
    match renewed {
        Some(at) => {
            let ago = Timestamp::now().duration_since(at).as_secs();
            (at.to_string(), ago, duration - ago)
        }
        None => ("never".into(), i64::MAX, -1),
    }
}

/// Reads the lease and says whether `session` may take it.
pub async fn state(conn: &Connection, name: &str, session: &str) -> Result<(State, Option<Lease>), ClusterError> {
    let lease =
        api(conn).get_opt(name).await.map_err(|e| conn.unreachable_or(e, &format!("read lease {NAMESPACE}/{name}")))?;
    let Some(lease) = lease else { return Ok((State::Free, None)) };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder.is_empty() {
        return Ok((State::Free, Some(lease)));
    }
    // Session ids are only unique within a state folder, so the id alone does
    // not make a lease ours: only this very process does. A resume after a
    // kill finds its old process gone (below) or waits for the expiry.
    if session_of(&holder) == Some(session) && holder_is_this_process(&holder) {
        return Ok((State::Ours, Some(lease)));
    }
    let (renewed, seconds_ago, expires_in) = describe_renewal(&spec);
    if expires_in < 0 {
        return Ok((State::Expired { previous: holder, renewed }, Some(lease)));
    }
    if holder_gone_here(&holder) {
        return Ok((State::Gone { previous: holder, renewed }, Some(lease)));
    }
    Ok((State::Held(Held { holder, renewed, seconds_ago, expires_in }), Some(lease)))
}

/// Takes the lease for `holder` (whose session is `session`). A live lease of
/// another session is only taken when `break_live` says so.
pub async fn acquire(
    conn: &Connection,
    name: &str,
    session: &str,
    holder: &str,
    break_live: bool,
) -> Result<Result<Taken, Held>, ClusterError> {
    let (state, existing) = state(conn, name, session).await?;
    let taken = match state {
        State::Free => Taken::Free,
        State::Ours => Taken::Again,
        State::Expired { previous, renewed } => Taken::Expired { previous, renewed },
        State::Gone { previous, renewed } => Taken::Gone { previous, renewed },
        State::Held(held) if !break_live => return Ok(Err(held)),
        State::Held(held) => Taken::Broken { previous: held.holder, renewed: held.renewed },
    };
    let spec = |transitions: i32| LeaseSpec {
        holder_identity: Some(holder.to_string()),
        lease_duration_seconds: Some(DURATION_SECONDS),
        acquire_time: Some(now()),
        renew_time: Some(now()),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    let leases = api(conn);
    let what = format!("take lease {NAMESPACE}/{name}");
    match existing {
        None => {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(name.to_string()), ..ObjectMeta::default() },
                spec: Some(spec(0)),
            };
            leases.create(&PostParams::default(), &lease).await.map_err(|e| lost_race(conn, e, &what))?;
        }
        Some(mut lease) => {
            // Replacing with the resourceVersion read above: if anybody else
            // took it meanwhile, the server answers 409 and we do not have it.
            let transitions = lease.spec.as_ref().and_then(|s| s.lease_transitions).unwrap_or(0);
            let next = if taken == Taken::Again { transitions } else { transitions + 1 };
            lease.spec = Some(spec(next));
            leases.replace(name, &PostParams::default(), &lease).await.map_err(|e| lost_race(conn, e, &what))?;
        }
    }
    Ok(Ok(taken))
}

fn lost_race(conn: &Connection, e: kube::Error, what: &str) -> ClusterError {
    if api_status(&e) == Some(409) {
        return ClusterError::Other(format!(
            "{what}: another stepwise took it at the same moment; run `stepwise sessions` and try again"
        ));
    }
    conn.unreachable_or(e, what)
}

/// Renews the lease if `holder` still holds it; says so when somebody else does.
pub async fn renew(conn: &Connection, name: &str, holder: &str) -> Result<(), ClusterError> {
    let leases = api(conn);
    let what = format!("renew lease {NAMESPACE}/{name}");
    let mut lease = leases.get(name).await.map_err(|e| conn.unreachable_or(e, &what))?;
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(holder) {
        return Err(ClusterError::Other(format!(
            "{what}: it is now held by {}; another session broke it",
            spec.holder_identity.as_deref().unwrap_or("nobody")
        )));
    }
    spec.renew_time = Some(now());
    leases.replace(name, &PostParams::default(), &lease).await.map_err(|e| conn.unreachable_or(e, &what))?;
    Ok(())
}

/// Gives the lease up (deletes it) if `holder` still holds it.
pub async fn release(conn: &Connection, name: &str, holder: &str) -> Result<(), ClusterError> {
    let leases = api(conn);
    let what = format!("release lease {NAMESPACE}/{name}");
    let Some(lease) = leases.get_opt(name).await.map_err(|e| conn.unreachable_or(e, &what))? else { return Ok(()) };
    if lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) != Some(holder) {
        return Ok(());
    }
    let preconditions =
        Preconditions { uid: lease.metadata.uid.clone(), resource_version: lease.metadata.resource_version.clone() };
    let params = DeleteParams { preconditions: Some(preconditions), ..DeleteParams::default() };
    match leases.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(e) if matches!(api_status(&e), Some(404 | 409)) => Ok(()),
        Err(e) => Err(conn.unreachable_or(e, &what)),
    }
}

/// How long ago a renewal was, for people.
pub fn ago(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s => format!("{} h ago", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_for_every_product() {
        assert_eq!(name("nginx-service-mesh"), "stepwise-nginx-service-mesh");
        assert_eq!(name("Kong_Mesh"), "stepwise-kong-mesh");
    }

    #[test]
    fn a_holder_names_its_session_host_and_user() {
        let holder = holder_identity("20261130-nsm");
        assert_eq!(session_of(&holder), Some("20261130-nsm"));
        assert!(holder.contains(" host=") && holder.contains(" user=") && holder.contains(" pid="), "{holder}");
    }

    #[test]
    fn a_holder_is_this_process_only_with_its_host_boot_and_pid() {
        let me = holder_identity("s");
        assert!(holder_is_this_process(&me));
        assert!(!holder_is_this_process(&me.replace(&format!("pid={}", std::process::id()), "pid=1")));
    }

    #[test]
    fn only_a_holder_of_this_machine_whose_process_is_gone_counts_as_gone() {
        let me = holder_identity("s");
        assert!(!holder_gone_here(&me), "this very process is alive: {me}");
        // A pid far above any pid_max: no such process.
        let dead = me.replace(&format!("pid={}", std::process::id()), "pid=999999999");
        assert!(holder_gone_here(&dead), "{dead}");
        let elsewhere = dead.replace(&format!("host={}", host()), "host=another-bastion");
        assert!(!holder_gone_here(&elsewhere), "another machine's holder is never judged here");
        let other_boot = dead.replace(&format!("boot={}", boot_id()), "boot=0000");
        assert!(!holder_gone_here(&other_boot), "nor one from before a reboot");
        assert!(!holder_gone_here("session=s host=x"), "nor one that does not say");
    }
}
