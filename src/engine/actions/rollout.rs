//! The `rollout_restart` step: restarts the workloads it selects the way
//! `kubectl rollout restart` does and waits for them; a rehearsal restarts as a
//! server-side dry run and waits for nothing.

use std::collections::BTreeMap;

use super::super::step::{StepCtx, StepError};
use crate::base::Mode;
use crate::cluster::preflight::{self as checks, AccessNeed};
use crate::cluster::rollout::{Criteria, DEFAULT_TIMEOUT, RolloutRequest, rollout_restart, split_namespaces};
use crate::runbook::model::RolloutRestartAction;
use crate::runbook::template::{Template, TemplateError};

/// Restarts the selected workloads; returns how many, and how many pods went.
pub async fn run(cx: &mut StepCtx<'_>, action: &RolloutRestartAction) -> Result<String, StepError> {
    let conn = cx.connection().await?;
    let mode = cx.ctx.mode;
    let request = request(action, cx.values, mode)?;
    let report = cx.reporter();
    let summary = cx.interruptible(rollout_restart(&conn, &request, report)).await??;
    let (verb, deleted) =
        if mode.is_rehearsal() { ("would restart", "would delete") } else { ("restarted", "deleted") };
    Ok(format!("{verb} {} workloads, {deleted} {} pods", summary.restarted.len(), summary.deleted_pods.len()))
}

/// What the operator must be allowed to do to list, restart and delete.
pub fn access_needs(rr: &RolloutRestartAction, values: &BTreeMap<String, String>) -> Vec<AccessNeed> {
    let ns = rr.namespaces.as_ref().map(|n| split_namespaces(&super::render_partial(n, values)));
    checks::rollout_restart_needs(ns.as_deref(), rr.kinds.as_deref().unwrap_or(&[]), rr.delete_unowned_pods)
}

/// Renders a runbook step's templates with the step's values.
pub fn request(
    action: &RolloutRestartAction,
    values: &BTreeMap<String, String>,
    mode: Mode,
) -> Result<RolloutRequest, TemplateError> {
    let namespaces = match &action.namespaces {
        Some(list) => Some(split_namespaces(&list.iter().map(|t| t.render(values)).collect::<Result<Vec<_>, _>>()?)),
        None => None,
    };
    let render = |t: &Option<Template>| t.as_ref().map(|t| t.render(values)).transpose();
    Ok(RolloutRequest {
        criteria: Criteria {
            namespaces,
            annotation: render(&action.annotation)?.filter(|a| !a.trim().is_empty()),
            kinds: action.kinds.clone().unwrap_or_default(),
            delete_unowned_pods: action.delete_unowned_pods,
        },
        selector: render(&action.selector)?.filter(|s| !s.trim().is_empty()),
        timeout: action.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
        mode,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::base::WorkloadKind;

    #[test]
    fn requests_render_from_the_runbook_step() {
        let action: RolloutRestartAction = serde_saphyr::from_str(
            "namespaces: ['{{ns}}']\nannotation: 'sidecar/{{what}}'\nkinds: [Deployment]\ntimeout: 90s\n",
        )
        .unwrap();
        let values =
            BTreeMap::from([("ns".to_string(), "mesh".to_string()), ("what".to_string(), "inject".to_string())]);
        let req = request(&action, &values, Mode::Rehearsal).unwrap();
        assert_eq!(req.criteria.namespaces, Some(vec!["mesh".to_string()]));
        assert_eq!(req.criteria.annotation.as_deref(), Some("sidecar/inject"));
        assert_eq!(req.criteria.kinds, vec![WorkloadKind::Deployment]);
        assert_eq!(req.timeout, Duration::from_secs(90));
        assert!(request(&action, &BTreeMap::new(), Mode::Real).is_err());
    }
}
