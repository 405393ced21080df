//! `audience lsp`: a Language Server Protocol front end to the authoring service, so that an
//! editor shows what `audience check` says as the author types, where it is.
//!
//! ```text
//!  editor ──stdin──▶ transport (Content-Length frames) ──▶ server (one message at a time)
//!                                                           │  documents: open buffers, edits
//!                                                           │  (incremental), positions in the
//!                                                           │  negotiated encoding
//!                                                           ▼
//!                         analysis: destination::check_text + authoring::ProblemPlaces
//!                         (config), template::check_template (.jsonata)
//!                                                           │
//!  editor ◀──stdout── diagnostics (debounced), completion, hover, definition, code actions
//! ```
//!
//! Every answer comes from the code behind `audience check` (through the authoring service's
//! [`crate::authoring::ProblemPlaces`] for positions in a config file), so the editor, the
//! studio and the command line never disagree. The protocol's types are `lsp-types`; the
//! framing and the loop are here (see docs/design/decisions.md).

mod actions;
mod analysis;
mod completion;
mod definition;
mod diagnostics;
mod documents;
mod encoding;
mod hover;
mod keys;
mod server;
mod transport;

pub use server::{DEBOUNCE, MAX_WAIT, Server, serve};
