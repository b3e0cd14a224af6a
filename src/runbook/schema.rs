//! JSON Schemas for the runbook format, generated from the model types so they
//! cannot drift. Shipped as `assets/schema/*.schema.json` for editor validation.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::model::{Procedure, Product};

/// Which kind of runbook file a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    Product,
    Procedure,
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 2] = [SchemaKind::Product, SchemaKind::Procedure];

    /// The file name under `assets/schema/`.
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaKind::Product => "product.schema.json",
            SchemaKind::Procedure => "procedure.schema.json",
        }
    }
}

/// The schema as pretty JSON with a trailing newline.
pub fn json(kind: SchemaKind) -> String {
    let schema = match kind {
        SchemaKind::Product => schemars::schema_for!(Product),
        SchemaKind::Procedure => schemars::schema_for!(Procedure),
    };
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// For each key of the format, the keys the mapping under it may hold (a union
/// when one key name appears in several places); the file's own top-level keys
/// are under `""`. Used to tell an author that a key sits one level off.
pub type FieldTable = BTreeMap<String, BTreeSet<String>>;

/// The field table of one kind of file, read from its JSON Schema.
pub fn field_table(kind: SchemaKind) -> FieldTable {
    let schema = match kind {
        SchemaKind::Product => schemars::schema_for!(Product),
        SchemaKind::Procedure => schemars::schema_for!(Procedure),
    };
    let root = schema.as_value();
    let mut table = FieldTable::new();
    collect_fields("", root, root, &mut table, &mut BTreeSet::new());
    table
}

/// Records the keys `node` allows under `key`, then does the same for each of them.
fn collect_fields(key: &str, node: &Value, root: &Value, table: &mut FieldTable, seen: &mut BTreeSet<String>) {
    let mut properties = Vec::new();
    object_properties(node, root, &mut properties, &mut BTreeSet::new());
    for (name, child) in properties {
        table.entry(key.to_string()).or_default().insert(name.clone());
        if seen.insert(format!("{name}\u{0}{}", child)) {
            collect_fields(&name, child, root, table, seen);
        }
    }
}

/// The properties of the objects `node` may be: through references, array
/// items, the alternatives of an enum, and the entries of a map.
fn object_properties<'a>(
    node: &'a Value,
    root: &'a Value,
    out: &mut Vec<(String, &'a Value)>,
    refs: &mut BTreeSet<String>,
) {
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        if let Some(def) = root.get("$defs").and_then(|d| d.get(name)).filter(|_| refs.insert(name.to_string())) {
            object_properties(def, root, out, refs);
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        out.extend(props.iter().map(|(k, v)| (k.clone(), v)));
    }
    for list in ["anyOf", "oneOf", "allOf"] {
        for alternative in node.get(list).and_then(Value::as_array).into_iter().flatten() {
            object_properties(alternative, root, out, refs);
        }
    }
    if let Some(items) = node.get("items") {
        object_properties(items, root, out, refs);
    }
}
