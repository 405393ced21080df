//! `audience` keeps an audience list in your own HTTP API in step with a SQL model in your data
//! warehouse (a "Custom Audience" reverse-ETL destination).
//!
//! Request bodies are templates in an allowlisted subset of JSONata, checked with precise
//! diagnostics, compiled to bytecode and rendered for whole batches of records by a VM whose
//! output is byte-identical to the reference JSONata.

pub mod destination;
pub mod fields;
pub mod template;

#[doc(hidden)]
pub mod fuzzing;

#[cfg(feature = "cli")]
pub mod delivery;

#[cfg(feature = "cli")]
pub mod warehouse;

#[cfg(feature = "cli")]
pub mod sync;

#[cfg(feature = "cli")]
pub mod schedule;

#[cfg(feature = "cli")]
pub mod demo;

#[cfg(feature = "cli")]
pub mod authoring;

#[cfg(feature = "cli")]
pub mod studio;

#[cfg(feature = "cli")]
pub mod cli;
