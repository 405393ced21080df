//! `audience studio`: the authoring page, served by the binary on 127.0.0.1.
//!
//! The page (`assets/`, compiled into the binary; nothing is fetched from the network) speaks
//! to [`server`] through a small JSON API over the [`crate::authoring`] service:
//!
//! | request | answer |
//! |---|---|
//! | `GET /?token=T` | the page |
//! | `POST /api/analyse?token=T` `{draft, request}` | [`crate::authoring::Analysis`]: diagnostics, fields, syncs, preview |
//! | `POST /api/save?token=T` `{draft, request}` | [`crate::authoring::SaveOutcome`]: refused while an error shows |
//! | `POST /api/rows?token=T` `{draft, request, limit}` | [`crate::sync::peek::ModelSample`]: the chosen sync's first rows as sample records |
//! | `POST /api/dry-run?token=T` `{draft, request}` | `{syncs: [summary], text, notices}`: the chosen sync's next run, as `audience sync --dry-run` gives it (`--format json`, and for people) |
//! | `GET /explain/CODE?token=T` | what the docs say about a diagnostic code |
//!
//! The two warehouse calls ([`warehouse`]) check the draft as `sync --dry-run` does (a sync's
//! `source` variable must be set) and answer an error as `{error}`: 409 for a config with
//! errors, 404 for no such sync, 502 when the warehouse cannot be read.
//!
//! Safe on a shared machine: it binds 127.0.0.1 only; every call needs the random token of the
//! URL printed at start (403 without it); the `Host` header must name the loopback address
//! (a page on another site that rebinds its DNS name to 127.0.0.1 sends its own host name);
//! the page never receives a secret (previews mask them, connection values from the
//! environment show `***`, the config text itself is never sent); and it writes only the
//! config file it was started with and that config's template files.

pub mod explain;
pub mod page;
pub mod server;
pub mod warehouse;

pub use server::Studio;
