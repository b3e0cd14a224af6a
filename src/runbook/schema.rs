//! JSON Schemas for the runbook format, generated from the model types so they
//! cannot drift. Shipped as `assets/schema/*.schema.json` for editor validation.

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
