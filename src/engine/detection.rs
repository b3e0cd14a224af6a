//! Detection as the product file describes it, rendered into the plain
//! requests the cluster layer answers: which version is installed (see
//! [`crate::cluster::detect`]), and which facts the cluster tells.

use std::collections::BTreeMap;

use crate::cluster::ClusterError;
use crate::cluster::Connection;
use crate::cluster::detect::{self, DetectError, DetectRequest, Detected, FactProbe, Look, ReleaseField, Source};
use crate::runbook::model::{Detect, HelmVersionField, Product};
use crate::runbook::template::TemplateError;

/// Detects the installed version of `product`. `values` override the product's
/// variable defaults.
pub async fn detect(
    conn: &Connection,
    product: &Product,
    values: &BTreeMap<String, String>,
) -> Result<Detected, DetectError> {
    detect::detect(conn, &request(product, values)?).await
}

/// The facts of `product` that the cluster itself tells, with why, for the
/// facts the operator has not given.
pub async fn detect_facts(
    conn: &Connection,
    product: &Product,
    given: &BTreeMap<String, String>,
) -> Result<Vec<(String, String, String)>, ClusterError> {
    let wanted = product
        .facts
        .iter()
        .filter(|f| !given.contains_key(&f.name.value))
        .filter_map(|f| {
            let d = f.detect.as_ref()?;
            Some(FactProbe { name: f.name.value.clone(), api_group: d.api_group.clone(), value: d.value.clone() })
        })
        .collect();
    detect::detect_facts(conn, wanted).await
}

/// The detection request for `product`, its templates rendered with the
/// product's variable defaults overridden by `values`.
pub fn request(product: &Product, values: &BTreeMap<String, String>) -> Result<DetectRequest, DetectError> {
    let mut all = default_values(product);
    all.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
    let sources = product
        .detect
        .iter()
        .map(|entry| Ok(Source { look: look(entry, &all)?, sets: entry.sets.clone() }))
        .collect::<Result<Vec<_>, TemplateError>>()
        .map_err(|source| DetectError::Settings { product: product.name.clone(), source: Box::new(source) })?;
    Ok(DetectRequest { product: product.name.clone(), sources, format: product.version_format() })
}

/// Where one detection entry looks, rendered.
fn look(entry: &Detect, values: &BTreeMap<String, String>) -> Result<Look, TemplateError> {
    if let Some(d) = &entry.deployment_image {
        return Ok(Look::DeploymentImage {
            namespace: d.namespace.render(values)?,
            name: d.name.render(values)?,
            container: d.container.clone(),
        });
    }
    if let Some(h) = &entry.helm_release {
        let field = match h.version_from {
            HelmVersionField::AppVersion => ReleaseField::AppVersion,
            HelmVersionField::ChartVersion => ReleaseField::ChartVersion,
        };
        return Ok(Look::HelmRelease {
            namespace: h.namespace.render(values)?,
            release: h.release.render(values)?,
            field,
        });
    }
    Ok(Look::Nothing)
}

/// The product's variables with their defaults rendered, each default able to
/// use the variables before it.
fn default_values(product: &Product) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for v in &product.variables {
        if let Some(rendered) = v.default.as_ref().and_then(|d| d.render(&values).ok()) {
            values.insert(v.name.value.clone(), rendered);
        }
    }
    values
}
