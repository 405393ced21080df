//! Authoring: a config and its templates edited in memory, checked, listed and previewed with
//! positions, and saved back as the author wrote it. The front ends (`audience studio`'s page,
//! a language server) call this module; it calls the same checks and preview as `audience
//! check` and `audience preview`, so every front end gets one answer.
//!
//! ```text
//!   page / editor ──Draft──▶ Workspace::analyse ──▶ destination::check_text ──▶ diagnostics, fields
//!                                   │                 (the file's text with the draft spliced in
//!                                   │                  by document::ConfigDocument, toml_edit)
//!                                   └──────────────▶ destination::preview  ──▶ the request
//!   Workspace::save: the same check, refused on an error; else template files and the config
//!   written, comments, layout and `${NAME}`s kept.
//! ```

pub mod document;
pub mod locate;
pub mod service;

pub use document::{ConfigDocument, FieldSettingsText, TemplateSlot};
pub use locate::ProblemPlaces;
pub use service::{Analysis, Draft, NEW_CONFIG, PreviewRequest, SaveOutcome, Workspace};
