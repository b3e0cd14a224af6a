//! What is checked before a session's steps run, beyond the preflight: no
//! unfinished real session of the product on the cluster beside a new one, and
//! on a resume the steps remapped after changed runbooks, every completed
//! backup intact, and where the journal and the cluster now disagree.

use std::collections::BTreeMap;
use std::path::Path;

use super::detection;
use super::error::EngineError;
use super::events::{Answer, Event, Msg, Outbox, Question};
use super::runner::Runner;
use super::step;
use super::work::{self, Resolved};
use crate::base::ClusterIdentity;
use crate::cluster::manifest;
use crate::journal::{Journal, StepRecord, StepState};
use crate::runbook::model::Action;

/// After the runbooks changed, matches what the journal recorded to the new
/// plan by hop, step id and item — never by position, which an inserted step
/// would shift. A new step starts pending; a recorded step that is gone, or
/// whose kind changed (it starts pending again), is listed, and the operator
/// confirms before the journal is rewritten.
pub(super) async fn remap_steps(
    journal: &mut Journal,
    resolved: &work::Resolved<'_>,
    work: &[work::WorkItem],
    values: &BTreeMap<String, String>,
    out: &Outbox,
) -> Result<(), EngineError> {
    let recorded = journal.steps().to_vec();
    let mut used = vec![false; recorded.len()];
    let mut next = Vec::with_capacity(work.len());
    let mut notes = Vec::new();
    for w in work {
        let step = resolved.step(w);
        let kind = step.action().kind();
        let fresh = StepRecord::pending(
            w.hop,
            step.id.value.clone(),
            w.item.clone(),
            resolved.title(values, w),
            kind,
            step.destructive,
        );
        let found = recorded
            .iter()
            .enumerate()
            .position(|(i, r)| !used[i] && r.hop == w.hop && r.step == step.id.value && r.item == w.item);
        match found {
            Some(i) if recorded[i].kind == kind => {
                used[i] = true;
                next.push(StepRecord { title: fresh.title, destructive: fresh.destructive, ..recorded[i].clone() });
            }
            Some(i) => {
                used[i] = true;
                notes.push(format!(
                    "`{}` is now a {kind} step (was {}, {}): it runs again",
                    step.id.value, recorded[i].kind, recorded[i].state
                ));
                next.push(fresh);
            }
            None => {
                notes.push(format!("`{}` is new: it runs in its turn", step.id.value));
                next.push(fresh);
            }
        }
    }
    for (r, _) in recorded.iter().zip(&used).filter(|(_, u)| !**u) {
        notes.push(format!("`{}` is no longer in the runbooks (it was {})", r.step, r.state));
    }
    if !notes.is_empty() {
        // Said as a notice too, so that a log or a headless run keeps the list.
        let text = format!("the changed runbooks change these steps:\n  {}", notes.join("\n  "));
        let _ = out.send(Msg::Event(Event::Notice { text }));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let question = Question::Confirm {
            index: next.iter().position(|r| !r.state.is_settled()).unwrap_or(0),
            title: "Continue with the changed steps".into(),
            does: notes,
            destructive: false,
            word: None,
            skippable: false,
            unlocked_by: None,
        };
        out.send(Msg::Ask(question, tx)).map_err(|_| EngineError::NoFrontEnd)?;
        if rx.await.map_err(|_| EngineError::NoFrontEnd)? != Answer::Yes {
            return Err(EngineError::Refused("stopped before the changed steps; nothing was changed".into()));
        }
    }
    journal.replace_steps(next)?;
    Ok(())
}

/// A real session that did not finish holds what the operator needs next: its
/// backups, and the steps it already took. Starting another one for the same
/// product on the same cluster would back up what is left (after a removal,
/// nothing) and carry on as if that were all, so it is refused, naming the
/// session to resume. So is one that another stepwise process is driving right
/// now, even before its first step. Only a session that stopped before any
/// step began (a failed preflight) does not count. Rehearsals never block, and
/// `--new-session` overrides.
pub(super) fn refuse_beside_unfinished(
    state_dir: &Path,
    product: &str,
    cluster: &ClusterIdentity,
) -> Result<(), EngineError> {
    let sessions = Journal::list(state_dir)?;
    let same_cluster = |uid: &str, server: &str| {
        if uid.is_empty() || cluster.kube_system_uid.is_empty() {
            server == cluster.server
        } else {
            uid == cluster.kube_system_uid
        }
    };
    let Some(open) = sessions.into_iter().find(|s| {
        s.damaged.is_none()
            && s.status.is_unfinished()
            && !s.mode.is_rehearsal()
            && s.product == product
            && same_cluster(&s.kube_system_uid, &s.server)
            && (s.last_step.is_some() || s.held)
    }) else {
        return Ok(());
    };
    let last = open.last_step.map(|l| format!(", last step: {l}")).unwrap_or_default();
    Err(EngineError::Refused(format!(
        "session {} ({product} {} -> {}, {}{last}) is unfinished on this cluster; nothing was started. \
         `stepwise resume {}` continues it, or pass --new-session to start another one beside it",
        open.id, open.from, open.to, open.status, open.id
    )))
}

/// Every completed backup must still match its manifest; a damaged one stops the
/// resume before any step that depends on it.
pub(super) fn check_backups(
    journal: &Journal,
    work: &[work::WorkItem],
    resolved: &Resolved,
    out: &Outbox,
) -> Result<(), EngineError> {
    for (i, w) in work.iter().enumerate() {
        let step = resolved.step(w);
        if !matches!(step.action(), Action::Backup(_)) || journal.steps()[i].state != StepState::Done {
            continue;
        }
        let dir = step::backup_dir(journal, step, w.item.as_deref());
        match manifest::verify_files(&dir) {
            Ok(m) => {
                let text = format!("backup `{}` verified: {} objects, SHA-256 sums match", step.id.value, m.total());
                let _ = out.send(Msg::Event(Event::Notice { text }));
            }
            Err(e) => {
                return Err(EngineError::Refused(format!(
                    "the backup taken by step `{}` is damaged, so nothing that depends on it may run: {e}. \
                     The files are in {}; keep them, and compare with any other copy you hold",
                    step.id.value,
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// Says where the journal and the cluster disagree: the installed version, and
/// custom-resource counts against completed backups.
pub(super) async fn compare_with_cluster(runner: &Runner<'_>) {
    let product = &runner.resolved.product.product;
    let notice = |text: String| runner.send(Event::Notice { text });
    match detection::detect(&runner.ctx.conn, product, &runner.values).await {
        Ok(found) => notice(format!("the cluster now runs {} {} ({})", product.name, found.version, found.source)),
        Err(e) => notice(format!("installed version: {e}")),
    }
    for (i, w) in runner.work.iter().enumerate() {
        let step = runner.resolved.step(w);
        if !matches!(step.action(), Action::Backup(_)) || runner.journal.steps()[i].state != StepState::Done {
            continue;
        }
        let dir = step::backup_dir(&runner.journal, step, w.item.as_deref());
        let Ok(m) = manifest::Manifest::read(&dir) else { continue };
        for kind in &m.kinds {
            let live = match crate::cluster::resource::resolve(&runner.ctx.conn.client, &kind.resource).await {
                Ok(r) => crate::cluster::restore::live_count(&runner.ctx.conn, &r, m.namespaces.as_deref()).await.ok(),
                Err(_) => None,
            };
            let text = match live {
                Some(n) if n == kind.count => continue,
                Some(n) => format!("{}: the cluster holds {n}, the backup {}", kind.resource, kind.count),
                None => format!("{}: not served by the cluster now (the backup holds {})", kind.resource, kind.count),
            };
            notice(text);
        }
    }
}
