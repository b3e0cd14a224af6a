//! The variable dialogue before a session starts: each variable without a
//! value is asked for (with what discovery found), checked, and kept secret
//! when the runbook says so.

use std::collections::BTreeMap;

use super::discover;
use super::error::EngineError;
use super::events::{self, Answer, Msg, Outbox, Question};
use super::work::{self, Resolved};
use crate::cluster::Connection;
use crate::runbook::model::Variable;
use crate::runbook::template::Template;

/// Registers the values of the variables the runbooks mark secret, so that no
/// screen, transcript or log shows them.
pub(super) fn mask_secrets(resolved: &Resolved<'_>, values: &BTreeMap<String, String>) {
    for var in resolved.variables().into_iter().filter(|v| v.secret) {
        if let Some(value) = values.get(&var.name.value) {
            crate::redact::add(value);
        }
    }
}

/// Asks for every variable without a value. Defaults that name the session's
/// folders are rendered once the session exists; those are returned.
pub(super) async fn ask_variables(
    resolved: &Resolved<'_>,
    values: &mut BTreeMap<String, String>,
    conn: &Connection,
    out: &Outbox,
) -> Result<Vec<(String, Template)>, EngineError> {
    let mut deferred = Vec::new();
    for var in resolved.variables() {
        if let Some(given) = values.get(&var.name.value) {
            if var.secret {
                crate::redact::add(given);
            }
            work::check_value(var, given)
                .map_err(|why| EngineError::Refused(format!("--set {}: {why}", var.name.value)))?;
            continue;
        }
        let uses_session =
            var.default.as_ref().is_some_and(|d| d.variables().any(|n| n == "session_dir" || n == "backup_dir"));
        let mut default = var.default.as_ref().map(|d| d.render_partial(values));
        let mut var = var.clone();
        let mut discovered = None;
        if let Some(discover) = &var.discover {
            let (found, said) = discover::discovered(conn, discover, values).await;
            var.description = format!("{}\n{said}", var.description.trim());
            discovered = Some(events::Discovery { found: found.is_some(), said });
            default = match (found, discover.config_map.is_some()) {
                (Some(found), _) => Some(found),
                // A setting the product runs with is never guessed: the
                // operator gives it, or a headless run stops and asks for --set.
                (None, true) => {
                    if let Some(d) = &default {
                        var.description = format!("{}\nThe runbook's default would be `{d}`.", var.description);
                    }
                    None
                }
                (None, false) => default,
            };
        }
        let answer = ask_one(&var, default.clone(), discovered, out).await?;
        if var.secret {
            crate::redact::add(&answer);
        }
        if uses_session
            && Some(&answer) == default.as_ref()
            && let Some(template) = &var.default
        {
            deferred.push((var.name.value.clone(), template.clone()));
            continue;
        }
        values.insert(var.name.value.clone(), answer);
    }
    Ok(deferred)
}

async fn ask_one(
    var: &Variable,
    default: Option<String>,
    discovered: Option<events::Discovery>,
    out: &Outbox,
) -> Result<String, EngineError> {
    let mut problem = None;
    for _ in 0..5 {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let question = Question::Variable {
            name: var.name.value.clone(),
            description: var.description.trim().to_string(),
            default: default.clone(),
            pattern: var.pattern.as_ref().map(|p| p.value.clone()),
            choices: var.choices.clone(),
            problem: problem.take(),
            secret: var.secret,
            discovered: discovered.clone(),
        };
        out.send(Msg::Ask(question, tx)).map_err(|_| EngineError::NoFrontEnd)?;
        let answer = match rx.await.map_err(|_| EngineError::NoFrontEnd)? {
            Answer::Text(t) if t.is_empty() => default.clone().unwrap_or_default(),
            Answer::Text(t) => t,
            Answer::Stop => {
                return Err(EngineError::Refused(format!(
                    "`{}` has no value; give it with --set {}=VALUE",
                    var.name.value, var.name.value
                )));
            }
            _ => default.clone().unwrap_or_default(),
        };
        if answer.is_empty() && !work::may_be_empty(var) {
            problem = Some(format!("`{}` needs a value", var.name.value));
            continue;
        }
        match work::check_value(var, &answer) {
            Ok(()) => return Ok(answer),
            Err(why) => problem = Some(why),
        }
    }
    Err(EngineError::Refused(format!(
        "no valid value for `{}`; give one with --set {}=VALUE",
        var.name.value, var.name.value
    )))
}
