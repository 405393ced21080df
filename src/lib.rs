//! `audience` keeps an audience list in your own HTTP API in step with a SQL model in your data
//! warehouse (a "Custom Audience" reverse-ETL destination).
//!
//! Request bodies are templates in an allowlisted subset of JSONata, checked with precise
//! diagnostics, compiled to bytecode and rendered for whole batches of records by a VM whose
//! output is byte-identical to the reference JSONata.
//!
//! `unsafe` is denied here and allowed, each with its reason, only in the modules that need it:
//! the template engine's output writers (`template::cursor`, `template::vm`, `template::json`),
//! two libc calls of the warehouse (`warehouse::lock`, `warehouse::sqlite::writeback`), the
//! SIGPIPE reset at the start of `cli::main` and the mapping of `render`'s input file
//! (`cli::input_file`).
//!
//! Every public item carries a doc comment: `missing_docs` warns, and CI denies warnings.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod destination;
pub mod fields;
pub mod http;
pub mod percent;
pub mod template;

#[doc(hidden)]
pub mod fuzzing;

#[doc(hidden)]
pub mod generate;

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
pub mod lsp;

#[cfg(feature = "cli")]
pub mod cli;
