//! What runs beside a product's control plane, read from the cluster: every
//! container (init containers too: newer sidecars are native sidecars) whose
//! image has a given name, with the version its tag names.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::connect::Connection;
use super::detect::image_tag;
use super::error::ClusterError;
use crate::base::Version;

/// Pods per page when listing.
const PAGE: u32 = 500;

/// The pods (`namespace/name`) running containers of image `name`, by the
/// version of their tag. Tags that are not versions are left out.
pub async fn running_versions(conn: &Connection, name: &str) -> Result<BTreeMap<Version, Vec<String>>, ClusterError> {
    let api: Api<Pod> = Api::all(conn.client.clone());
    let mut found: BTreeMap<Version, Vec<String>> = BTreeMap::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api.list(&params).await.map_err(|e| conn.unreachable_or(e, "list the pods"))?;
        for pod in &page.items {
            let at = format!(
                "{}/{}",
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default()
            );
            for version in versions_in(pod, name) {
                let pods = found.entry(version).or_default();
                if pods.last() != Some(&at) {
                    pods.push(at.clone());
                }
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(found),
        }
    }
}

/// The versions of the pod's containers whose image is `name`.
fn versions_in(pod: &Pod, name: &str) -> Vec<Version> {
    let Some(spec) = &pod.spec else { return Vec::new() };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|c| c.image.as_deref())
        .filter(|image| image_name(image) == name)
        .filter_map(|image| Version::parse(image_tag(image)?).ok())
        .collect()
}

/// An image's name: the last part of its path, without tag or digest.
pub fn image_name(image: &str) -> &str {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let last = &without_digest[without_digest.rfind('/').map_or(0, |i| i + 1)..];
    last.split_once(':').map_or(last, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_name_is_the_last_path_part_without_tag_or_digest() {
        assert_eq!(image_name("docker.io/kong/kuma-dp:2.7.3"), "kuma-dp");
        assert_eq!(image_name("registry.local:5000/kumahq/kuma-dp:2.7.3@sha256:ab"), "kuma-dp");
        assert_eq!(image_name("kuma-dp"), "kuma-dp");
        assert_eq!(image_name("kong/kuma-dp-init:2.7.3"), "kuma-dp-init");
    }
}
