//! Front ends: they show what the engine reports and answer what it asks.
//! `headless` answers from flags, `plain` asks on the terminal line by line.

pub mod headless;
pub mod plain;
mod text;

pub use text::{describe_event, progress_text};
