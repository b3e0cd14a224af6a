//! The `wait` step: renders the awaited state and waits until the cluster
//! reaches it; a rehearsal only says what it would wait for.

use std::collections::BTreeMap;

use super::super::step::{StepCtx, StepError};
use crate::cluster::preflight::{self as checks, AccessNeed};
use crate::cluster::wait::{DEFAULT_TIMEOUT, WaitTarget, wait};
use crate::runbook::model::{WaitAction, WaitFor};
use crate::runbook::template::TemplateError;

/// Waits until the step's state holds; returns how long that took.
pub async fn run(cx: &mut StepCtx<'_>, w: &WaitAction) -> Result<String, StepError> {
    let target = target(&w.condition, cx.values)?;
    if cx.ctx.mode.is_rehearsal() {
        return Ok(target.describe());
    }
    let conn = cx.connection().await?;
    let timeout = w.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let report = cx.reporter();
    let waited = cx.interruptible(wait(&conn, &target, timeout, report)).await??;
    Ok(format!("{} after {}s", target.condition(), waited.elapsed.as_secs()))
}

/// What the operator must be allowed to do for the wait (watch the object).
pub fn access_needs(w: &WaitAction, values: &BTreeMap<String, String>) -> Vec<AccessNeed> {
    target(&w.condition, values).map(|t| checks::wait_needs(&t)).unwrap_or_default()
}

/// Renders a runbook `wait.for` with the step's values.
pub fn target(condition: &WaitFor, values: &BTreeMap<String, String>) -> Result<WaitTarget, TemplateError> {
    Ok(match condition {
        WaitFor::Gone(g) => WaitTarget::Gone {
            resource: g.resource.render(values)?,
            namespace: g.namespace.as_ref().map(|n| n.render(values)).transpose()?.filter(|n| !n.is_empty()),
            name: g.name.render(values)?,
        },
        WaitFor::DeploymentAvailable(o) => {
            WaitTarget::DeploymentAvailable { namespace: o.namespace.render(values)?, name: o.name.render(values)? }
        }
        WaitFor::CrdEstablished(t) => WaitTarget::CrdEstablished { name: t.render(values)? },
        WaitFor::NamespaceGone(t) => WaitTarget::NamespaceGone { name: t.render(values)? },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_targets_render_from_the_runbook_step() {
        let w: WaitFor = serde_saphyr::from_str(
            "gone: {resource: jobs.batch, namespace: '{{namespace}}', name: csi-driver-sentinel}",
        )
        .unwrap();
        let values = BTreeMap::from([("namespace".to_string(), "nginx-mesh".to_string())]);
        let target = target(&w, &values).unwrap();
        assert_eq!(target.describe(), "would wait until jobs.batch nginx-mesh/csi-driver-sentinel is gone");
        assert!(super::target(&w, &BTreeMap::new()).is_err(), "a missing value is an error");
    }
}
