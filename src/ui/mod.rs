//! Front ends: they show what the engine reports and answer what it asks.
//! `headless` answers from flags, `plain` asks on the terminal line by line,
//! `tui` is the full-screen front end.

pub mod colour;
pub mod headless;
pub mod plain;
pub mod plan_text;
mod text;
pub mod tui;

pub use text::{describe_event, progress_text};
