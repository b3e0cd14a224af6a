//! The `delete` step: deletes objects by name or label selector and waits until
//! they are gone; a rehearsal deletes as a server-side dry run.

use std::collections::BTreeMap;

use super::super::step::{StepCtx, StepError};
use crate::cluster::delete::{DeleteTarget, delete};
use crate::cluster::preflight::{self as checks, AccessNeed};
use crate::cluster::wait::DEFAULT_TIMEOUT;
use crate::runbook::model::DeleteAction;
use crate::runbook::template::TemplateError;

/// Deletes what the step names; returns what was (or would be) deleted.
pub async fn run(cx: &mut StepCtx<'_>, d: &DeleteAction) -> Result<String, StepError> {
    let target = target(d, cx.values)?;
    let conn = cx.connection().await?;
    let timeout = d.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let (mode, report) = (cx.ctx.mode, cx.reporter());
    let summary = cx.interruptible(delete(&conn, &target, mode, timeout, report)).await??;
    Ok(summary.line(&target, mode))
}

/// What the operator must be allowed to do for the delete.
pub fn access_needs(d: &DeleteAction, values: &BTreeMap<String, String>) -> Vec<AccessNeed> {
    target(d, values).map(|t| checks::delete_needs(&t)).unwrap_or_default()
}

/// Renders a runbook `delete` with the step's values; an empty namespace is none.
pub fn target(action: &DeleteAction, values: &BTreeMap<String, String>) -> Result<DeleteTarget, TemplateError> {
    let names = action.names.iter().map(|n| n.render(values)).collect::<Result<Vec<_>, _>>()?;
    Ok(DeleteTarget {
        resource: action.resource.render(values)?,
        namespace: action.namespace.as_ref().map(|n| n.render(values)).transpose()?.filter(|n| !n.is_empty()),
        names: names.into_iter().filter(|n| !n.is_empty()).collect(),
        selector: action.selector.as_ref().map(|s| s.render(values)).transpose()?,
        wait: action.wait,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Mode;
    use crate::cluster::delete::DeleteSummary;
    use crate::cluster::preflight::delete_needs;

    fn action(yaml: &str) -> DeleteAction {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn a_delete_step_renders_says_what_it_deletes_and_needs_those_permissions() {
        let values = BTreeMap::from([("namespace".to_string(), "acme".to_string())]);
        let named =
            target(&action("{resource: jobs.batch, namespace: '{{namespace}}', names: [migrate, seed]}"), &values)
                .unwrap();
        assert_eq!(named.describe(), "jobs.batch migrate, seed in namespace acme");
        assert!(named.wait, "a delete waits unless told not to");
        let needs = delete_needs(&named);
        assert!(needs.contains(&AccessNeed::new("delete", "jobs.batch", Some("acme"))));
        assert!(needs.contains(&AccessNeed::new("watch", "jobs.batch", Some("acme"))));
        let labelled = target(&action("{resource: configmaps, selector: app=old, wait: false}"), &values).unwrap();
        assert_eq!(labelled.describe(), "configmaps labelled app=old");
        let verbs: Vec<String> = delete_needs(&labelled).into_iter().map(|n| n.verb).collect();
        assert_eq!(verbs, ["delete", "list"]);
        let summary = DeleteSummary { served: true, ..DeleteSummary::default() };
        assert_eq!(summary.line(&labelled, Mode::Real), "deleted nothing: no configmaps labelled app=old matched");
    }
}
