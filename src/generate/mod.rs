//! The one generator of the language, shared by the fuzz targets ([`crate::fuzzing`]) and the
//! randomised tests (`tests/differential.rs`, `tests/two_modes.rs`). Not part of the public API.
//!
//! * [`rng`]: the stream every choice is drawn from, seeded (tests) or steered by a fuzzer's
//!   bytes (fuzz targets);
//! * [`source`]: subset expressions, expressions that walk an input, `$number` calls and
//!   profile-valid request-body templates, as source text;
//! * [`input`]: JSON input as *text*, so that the reference parses the numbers with
//!   `JSON.parse` exactly as written;
//! * [`record`]: record values for a [`crate::template::RecordBatch`] and the equivalent JSON
//!   document;
//! * [`pools`]: the names, keys, numbers and characters all of them draw from;
//! * [`quote`]: the one string escaper outside the engine.
//!
//! Everything is a pure function of the [`Rng`], so a printed seed (and case index) replays a
//! case exactly.
//!
//! What the generators deliberately never produce, because the engine differs from the
//! reference there *on purpose* (docs/design/template-language.md §5):
//!
//! 1. integer tokens beyond ±2^53 in JSON input (deviation 1: we keep 64-bit integers exact,
//!    the reference rounds them to doubles). Template *literals* beyond 2^53 are generated: they
//!    follow the reference;
//! 2. strings that `$number` would see with junk around a `0x`/`0o`/`0b` prefix (deviation 2: the
//!    reference's mis-anchored regex gives NaN, printed `null`; we give D3030). See
//!    [`pools::number_string_deviates`]; every generated string goes through it, since any
//!    string can reach `$number` through a path;
//! 3. lone surrogates, in templates or in input (deviation 3: Rust strings cannot hold them);
//! 4. input numbers beyond the f64 range (deviation 4: an input error for us, `null` for the
//!    reference);
//! 5. two literally equal keys in one object constructor, and the keys `_jsonata_lambda` and
//!    `_jsonata_function` (deviation 5: rejected when checking; the reference raises D1009 /
//!    D1013 only when that object is evaluated, so not at all with zero records);
//! 6. deviation 6 (which of two failing parts of one constructor is reported) cannot be avoided
//!    by construction; the differential harness tolerates a differing error code when the
//!    expression has several `$number` calls and both codes are `$number` errors.
//! 7. an empty array as the input root or as an item of an array (deviation 7: when an object
//!    constructor's context is an empty array, the reference pushes `undefined` onto that input
//!    array, which then prints as `[null]` wherever else it is used; we leave the input alone).
//!    Empty arrays as object field values are generated: no constructor gets them as context
//!    except through a path step, which does not mutate.
#![cfg(feature = "fuzzing")]
// `*rng.pick(&[...])` is needed: without the `*` inference picks `T = str` and fails.
#![allow(clippy::explicit_auto_deref)]

pub mod input;
pub mod pools;
pub mod quote;
pub mod record;
pub mod rng;
pub mod source;

pub use input::{gen_doc_text, gen_input_text};
pub use quote::{Quoting, write_quoted};
pub use record::{FieldVal, batch_doc, fill_batch, gen_connection, gen_field_value, gen_records};
pub use rng::Rng;
pub use source::{gen_compilable_expression, gen_expression, gen_number_call, gen_template, gen_walk_expression};
