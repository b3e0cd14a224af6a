//! The runbook format: what a product file and a procedure file may say.
//!
//! These types are the format's single source of truth: the loader reads YAML into
//! them, and `assets/runbook.schema.json` is generated from them. Every struct
//! rejects unknown fields so a misspelt key is an error, not a silently ignored line.
//!
//! Steps name their kind by the one action key they carry (`backup:`, `command:`,
//! ...) rather than by a `kind:` tag: the YAML reader can then keep exact positions
//! for everything inside a step.
//!
//! The product file's types are in [`product`], the procedure file's in
//! [`procedure`], the step kinds in [`action`].

mod action;
mod procedure;
mod product;

pub use action::*;
pub use procedure::*;
pub use product::*;
