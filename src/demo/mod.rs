//! `audience demo`: the whole job on one machine with nothing else installed.
//!
//! ```text
//!  files::prepare ─▶ api::AudienceApi (127.0.0.1, ephemeral port, in this process)
//!       │                         ▲ POST/PATCH/DELETE /audiences/{id}/members
//!       ▼                         │
//!  files::write (audience.toml + templates) ─▶ data::create (SQLite: sample users)
//!       ─▶ destination::check_file (as `sync` reads it) ─▶ sync::run_sync (run 1: adds)
//!       ─▶ data::change (update, delete, insert users) ─▶ sync::run_sync (run 2: the delta)
//!       ─▶ the API's members == the model's rows?
//! ```
//!
//! * [`api`]: the local audience API (hyper 1), which keeps members in memory and tallies what
//!   it received.
//! * [`data`]: the sample users (a fixed seed) and the changes between the runs, whose exact
//!   effect on the model is known, so the demo checks each run sent what it should.
//! * [`files`]: the folder (a fresh temporary one, or `--dir`, reusable), the config and the
//!   templates.
//! * [`flow`]: the steps and the [`Report`] (`demo --format json`).
//!
//! Nothing here is a shortcut: the config is a file read by the same loader as `audience sync`,
//! the runs are [`crate::sync::run_sync`] over the real delivery client and SQLite connector,
//! and the sync state stays in the warehouse for `audience logs` and `sync --dry-run`.

pub mod api;
pub mod data;
pub mod files;
pub mod flow;

pub use flow::{DemoError, Options, Report, RunReport, run};
