//! Reading a document a product keeps its deploy settings in: one key of a
//! ConfigMap, from `data` or `binaryData`. What the document means is the
//! engine's business; this only fetches the bytes.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

use super::connect::Connection;
use super::error::ClusterError;

/// One key of one ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMapKey {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

impl std::fmt::Display for ConfigMapKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key {} of ConfigMap {}/{}", self.key, self.namespace, self.name)
    }
}

/// The key's value, or `None` when the ConfigMap or the key is not there.
pub async fn read(conn: &Connection, at: &ConfigMapKey) -> Result<Option<Vec<u8>>, ClusterError> {
    let api: Api<ConfigMap> = Api::namespaced(conn.client.clone(), &at.namespace);
    let found = api
        .get_opt(&at.name)
        .await
        .map_err(|e| conn.unreachable_or(e, &format!("read ConfigMap {}/{}", at.namespace, at.name)))?;
    Ok(found.and_then(|cm| value_of(cm, &at.key)))
}

fn value_of(cm: ConfigMap, key: &str) -> Option<Vec<u8>> {
    let text = cm.data.and_then(|mut d| d.remove(key)).map(String::into_bytes);
    text.or_else(|| cm.binary_data.and_then(|mut d| d.remove(key)).map(|b| b.0))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::value_of;

    #[test]
    fn a_key_is_read_from_data_or_binary_data() {
        let text = ConfigMap { data: Some(BTreeMap::from([("a".into(), "{}".into())])), ..Default::default() };
        assert_eq!(value_of(text, "a").as_deref(), Some(&b"{}"[..]));
        let binary = ConfigMap {
            binary_data: Some(BTreeMap::from([("a".into(), ByteString(b"[1]".to_vec()))])),
            ..Default::default()
        };
        assert_eq!(value_of(binary.clone(), "a").as_deref(), Some(&b"[1]"[..]));
        assert_eq!(value_of(binary, "b"), None);
    }
}
