//! stepwise: a terminal wizard that upgrades products on Kubernetes one confirmed step at a time.

pub mod base;
pub mod catalog_files;
pub mod cli;
pub mod cluster;
pub mod commands;
pub(crate) mod durable;
pub mod engine;
pub mod journal;
pub mod plan;
pub(crate) mod process;
pub(crate) mod redact;
pub mod runbook;
pub mod ui;
