//! Runbooks: the data that tells stepwise how to upgrade each product.
//!
//! Pure: nothing here touches the network, the cluster or the terminal. Files are
//! read from the embedded copy or from directories the caller names.

pub mod arg;
pub mod catalog;
pub use crate::base::duration;
pub mod error;
pub mod hints;
pub mod load;
pub mod located;
pub mod model;
pub mod schema;
pub mod suggest;
pub mod template;
pub mod validate;
pub use crate::base::version;

pub use catalog::{Catalog, Facts, ProcedureEntry, ProductEntry};
pub use error::{Problem, RunbookError, SourceFile};

pub use version::{Version, VersionRange};
