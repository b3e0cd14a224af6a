//! Preparing a listed object for re-creation: removing what the server sets and
//! what a create must not carry, and keeping everything else exactly as it was.

use serde_json::{Map, Value};

/// Metadata fields the server owns; a create that carries them fails or lies.
/// `uid` is kept: a create ignores it (the server assigns a new one), and it lets a
/// restore re-link owner references between objects of the same backup.
const SERVER_METADATA: &[&str] = &[
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Removes server-set fields in place. `status` goes too: it is written by
/// controllers through its own subresource and a create ignores or rejects it.
pub fn strip_server_fields(object: &mut Value) {
    let Some(obj) = object.as_object_mut() else { return };
    obj.remove("status");
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
        // The kubectl "last applied" annotation would make a later `kubectl apply`
        // compare against a stale copy; it is kept, because it is the operator's data.
    }
}

/// An owner reference, reduced to what identifies the owner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

/// The owner references of an object, in order.
pub fn owner_refs(object: &Value) -> Vec<OwnerRef> {
    let refs = object.pointer("/metadata/ownerReferences").and_then(Value::as_array);
    refs.into_iter()
        .flatten()
        .map(|r| OwnerRef {
            api_version: text(r, "apiVersion"),
            kind: text(r, "kind"),
            name: text(r, "name"),
            uid: text(r, "uid"),
        })
        .collect()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The parts of an object that say what it is, for comparing a backed-up object
/// with the one in the cluster: everything but server-set metadata and status.
pub fn comparable(object: &Value) -> Value {
    let mut copy = object.clone();
    strip_server_fields(&mut copy);
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("uid");
        meta.remove("ownerReferences");
        // Empty maps and absent maps mean the same to the API server.
        for key in ["labels", "annotations"] {
            if meta.get(key).and_then(Value::as_object).is_some_and(Map::is_empty) {
                meta.remove(key);
            }
        }
        if meta.get("finalizers").and_then(Value::as_array).is_some_and(Vec::is_empty) {
            meta.remove("finalizers");
        }
    }
    copy
}

/// Compares what matters: spec and every other field, labels, annotations,
/// finalizers; not server-set metadata or owner references (their uids change).
pub fn same_object(live: &Value, saved: &Value) -> bool {
    let (mut a, mut b) = (comparable(live), comparable(saved));
    for v in [&mut a, &mut b] {
        if let Some(map) = v.as_object_mut() {
            // The list gave no apiVersion/kind to some saved objects, and GET always does.
            map.remove("apiVersion");
            map.remove("kind");
        }
    }
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed() -> Value {
        json!({
            "apiVersion": "split.smi-spec.io/v1alpha3",
            "kind": "TrafficSplit",
            "metadata": {
                "name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42",
                "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 3, "selfLink": "/x",
                "managedFields": [{"manager": "kubectl"}],
                "deletionTimestamp": "2026-01-02T00:00:00Z", "deletionGracePeriodSeconds": 0,
                "labels": {"app": "web", "long": "a".repeat(63)},
                "annotations": {"note": "héllo \"quoted\" 'single' ✓"},
                "finalizers": ["example.com/keep"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "o-1"}]
            },
            "spec": {"service": "web", "backends": [{"service": "v1", "weight": 90}, {"service": "v2", "weight": 10.5}]},
            "status": {"observed": true}
        })
    }

    #[test]
    fn server_fields_go_and_the_rest_stays_byte_for_byte() {
        let mut obj = listed();
        strip_server_fields(&mut obj);
        let meta = &obj["metadata"];
        for gone in SERVER_METADATA {
            assert!(meta.get(*gone).is_none(), "{gone} should be stripped");
        }
        assert_eq!(meta["uid"], "u-1", "the uid stays to re-link owners");
        assert!(obj.get("status").is_none());
        let original = listed();
        assert_eq!(meta["labels"], original["metadata"]["labels"]);
        assert_eq!(meta["annotations"], original["metadata"]["annotations"]);
        assert_eq!(meta["finalizers"], original["metadata"]["finalizers"]);
        assert_eq!(meta["ownerReferences"], original["metadata"]["ownerReferences"]);
        assert_eq!(obj["spec"], original["spec"]);
        assert_eq!(serde_json::to_string(&obj["spec"]).unwrap(), serde_json::to_string(&original["spec"]).unwrap());
    }

    #[test]
    fn owner_refs_are_read_whole() {
        let refs = owner_refs(&listed());
        assert_eq!(
            refs,
            [OwnerRef { api_version: "v1".into(), kind: "ConfigMap".into(), name: "owner".into(), uid: "o-1".into() }]
        );
        assert!(owner_refs(&json!({"metadata": {}})).is_empty());
    }

    #[test]
    fn comparison_ignores_server_fields_and_empty_maps() {
        let mut live = listed();
        live["metadata"]["resourceVersion"] = json!("99");
        live["metadata"]["uid"] = json!("u-2");
        let mut saved = listed();
        strip_server_fields(&mut saved);
        assert_eq!(comparable(&live), comparable(&saved));
        live["spec"]["service"] = json!("other");
        assert_ne!(comparable(&live), comparable(&saved));
        let a = json!({"metadata": {"name": "x", "labels": {}}, "spec": {}});
        let b = json!({"metadata": {"name": "x"}, "spec": {}});
        assert_eq!(comparable(&a), comparable(&b));
    }
}
