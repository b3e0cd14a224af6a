//! Listing the live objects of a kind as metadata only (uid, key,
//! resourceVersion), page by page, in protobuf where the server offers it.

use std::time::Duration;

use kube::api::{DynamicObject, ListParams};
use serde::Deserialize;

use super::super::connect::Connection;
use super::super::error::ClusterError;
use super::super::manifest;
use super::super::resource;
use super::super::{protobuf, retry};
use super::PAGE;

/// uid, key and resourceVersion of every live object of a kind, listed as
/// metadata only, page by page.
pub(super) async fn live_versions(
    conn: &Connection,
    resolved: &resource::Resolved,
    namespaces: Option<&[String]>,
) -> Result<Vec<manifest::ObjectVersion>, ClusterError> {
    let mut out = Vec::new();
    for url in list_urls(resolved, namespaces) {
        let mut params = ListParams::default().limit(PAGE);
        loop {
            let page =
                retry::with_retry(Duration::from_secs(60), |_, _| {}, async || list_page(conn, &url, &params).await)
                    .await
                    .map_err(|e| conn.unreachable_or(e, &format!("list {}", resolved.name)))?;
            out.extend(page.items.into_iter().map(|m| manifest::ObjectVersion {
                key: match m.namespace {
                    Some(ns) => format!("{ns}/{}", m.name),
                    None => m.name,
                },
                uid: m.uid,
                resource_version: m.resource_version,
            }));
            match page.continue_token {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
    }
    Ok(out)
}

/// The Accept header of a metadata list in protobuf; a server that cannot
/// answer in protobuf (an aggregated API may not) answers the JSON one after it.
pub(super) const METADATA_LIST_ACCEPT: &str = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,\
                                    application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/// One page of a kind's metadata. Asked for in protobuf; a page that does not
/// come back as a protobuf list (an error status, a JSON answer) is asked for
/// again in JSON, whose errors kube reads.
pub(super) async fn list_page(
    conn: &Connection,
    url: &str,
    params: &ListParams,
) -> Result<protobuf::MetadataPage, kube::Error> {
    let request = kube::core::Request::new(url).list_metadata(params).map_err(kube::Error::BuildRequest)?;
    if let Some(page) = protobuf_page(conn, request.clone()).await {
        return Ok(page);
    }
    let page: MetadataList = conn.client.request(request).await?;
    Ok(protobuf::MetadataPage {
        items: page
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let m = item.metadata;
                protobuf::ItemMeta {
                    name: m.name.unwrap_or_default(),
                    namespace: m.namespace,
                    uid: m.uid.unwrap_or_default(),
                    resource_version: m.resource_version.unwrap_or_default(),
                }
            })
            .collect(),
        continue_token: page.metadata.and_then(|m| m.continue_).filter(|t| !t.is_empty()),
    })
}

/// The page in protobuf, or `None` when the server did not answer with one.
/// Public so the test bed can check it reads what the real server sends.
pub async fn protobuf_page(conn: &Connection, mut request: http::Request<Vec<u8>>) -> Option<protobuf::MetadataPage> {
    use http_body_util::BodyExt;
    request.headers_mut().insert(http::header::ACCEPT, http::HeaderValue::from_static(METADATA_LIST_ACCEPT));
    let response = conn.client.send(request.map(kube::client::Body::from)).await.ok()?;
    let protobuf = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/vnd.kubernetes.protobuf"));
    if !response.status().is_success() || !protobuf {
        tracing::debug!("metadata list answered {} without protobuf; listing again in JSON", response.status());
        return None;
    }
    let body = response.into_body().collect().await.ok()?.to_bytes();
    match protobuf::metadata_list(&body) {
        Ok(page) => Some(page),
        Err(e) => {
            tracing::warn!("{e}; listing again in JSON");
            None
        }
    }
}

/// A page of a metadata list in JSON, read for what the proof compares: every
/// other field of each object (labels, annotations, managedFields) is skipped
/// while parsing, never built.
#[derive(Deserialize)]
pub(super) struct MetadataList {
    pub(super) metadata: Option<ListMeta>,
    /// `null` when the list is empty.
    pub(super) items: Option<Vec<MetadataItem>>,
}

#[derive(Deserialize)]
pub(super) struct ListMeta {
    #[serde(rename = "continue")]
    pub(super) continue_: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct MetadataItem {
    pub(super) metadata: ItemMeta,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ItemMeta {
    pub(super) name: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) uid: Option<String>,
    pub(super) resource_version: Option<String>,
}

/// Where a kind is listed, in the given namespaces or in all.
pub(super) fn list_urls(resolved: &resource::Resolved, namespaces: Option<&[String]>) -> Vec<String> {
    use kube::Resource;
    match namespaces.filter(|_| resolved.namespaced) {
        Some(list) => list.iter().map(|ns| DynamicObject::url_path(&resolved.api, Some(ns))).collect(),
        None => vec![DynamicObject::url_path(&resolved.api, None)],
    }
}

#[cfg(test)]
mod tests {
    use super::MetadataList;

    #[test]
    fn a_metadata_list_is_read_for_what_the_proof_compares_and_may_be_empty() {
        let page: MetadataList = serde_json::from_str(
            r#"{"kind":"PartialObjectMetadataList","metadata":{"resourceVersion":"9","continue":"abc"},
                "items":[{"metadata":{"name":"a","namespace":"ns","uid":"u1","resourceVersion":"7",
                "labels":{"x":"y"},"managedFields":[{"manager":"m","fieldsV1":{"f:spec":{}}}]}}]}"#,
        )
        .unwrap();
        let items = page.items.unwrap();
        let m = &items[0].metadata;
        assert_eq!((m.name.as_deref(), m.namespace.as_deref()), (Some("a"), Some("ns")));
        assert_eq!((m.uid.as_deref(), m.resource_version.as_deref()), (Some("u1"), Some("7")));
        assert_eq!(page.metadata.and_then(|l| l.continue_).as_deref(), Some("abc"));

        let empty: MetadataList = serde_json::from_str(r#"{"metadata":{"resourceVersion":"9"},"items":null}"#).unwrap();
        assert!(empty.items.is_none() && empty.metadata.and_then(|l| l.continue_).is_none());
    }
}
