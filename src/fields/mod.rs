//! The field pipeline: from a warehouse row to the slots of a template record. Pure: no I/O,
//! no async, no SQL. It feeds [`crate::template`], never the reverse.
//!
//! ```text
//!  [FieldSpec] + hash_pii ──FieldPlan::compile──▶ FieldPlan   (once per action; static values
//!                                                    │         are processed here, once)
//!  row: impl Row ─────────────── FieldPlan::process ─┴──▶ one record of a RecordBatch
//!   (WarehouseValue per column)   map → drop null/"" → hash-state check → normalise
//!                                 → required → hash          or a FieldError for the log
//! ```
//!
//! * [`settings`]: [`FieldSettings`], a field's `[destination.fields.X]` table.
//! * [`hash`]: [`HashAlgorithm`], "looks hashed", hashing to lowercase hex on the stack.
//! * [`normalize`]: [`Normalization`] presets and the platform rules they follow.
//! * [`value`]: [`WarehouseValue`] (borrowed), [`OwnedValue`], the [`Row`] trait.
//! * [`numeric`]: when a decimal's text becomes a JSON number.
//! * [`plan`]: [`FieldPlan`], built from [`FieldSpec`]s.
//! * [`pipeline`]: [`FieldPlan::process`], per record.
//! * [`error`]: [`FieldError`] (a record's reason) and [`PlanError`].
//!
//! Choices where docs/design/sync.md and docs/design/interface.md are silent:
//!
//! * Normalisation is a text operation. A hashed field normalises the text it is about to hash,
//!   whatever the value's kind; an unhashed field normalises text and timestamps only, and sends
//!   numbers, booleans and JSON unchanged, so they keep their JSON type.
//! * A value with no JSON form (bytes; a float NaN or infinity) fails the record even in a
//!   hashed field: there is no agreed text to hash it as.
//! * Numeric/decimal text is a JSON number when no digit is lost (see [`numeric`]); `NaN` and
//!   `Infinity` of PostgreSQL numeric are sent as strings.
//! * When several fields fail, the reason is the one of the earliest step of docs/design/sync.md's list,
//!   then of the first field in template order.
//! * Static values are processed once, when the plan is built; a static value that fails fails
//!   every record with the same reason, and [`FieldPlan::static_error`] reports it up front.
//! * A value that normalises to empty is counted in [`Processed::emptied`] of its record.
//! * Error messages never quote a value (it is PII and the reason goes to the sync log).
//!
//! ```
//! use audience::fields::{FieldPlan, FieldSettings, FieldSpec, HashAlgorithm, Normalization};
//! use audience::fields::{Scratch, Source, WarehouseValue};
//! use audience::template::RecordBatch;
//! use audience::template::batch::FieldValue;
//!
//! let email = FieldSettings {
//!     required: true,
//!     hash: HashAlgorithm::Sha256,
//!     normalize: Normalization::Email,
//!     ..FieldSettings::default()
//! };
//! let specs = [FieldSpec::new("email", email, Source::Column(0))];
//! let plan = FieldPlan::compile(&specs, true).unwrap();
//! let (mut batch, mut scratch) = (RecordBatch::new(plan.width()), Scratch::default());
//!
//! plan.process(&[WarehouseValue::Text(" Ada@Example.com ")], &mut batch, &mut scratch).unwrap();
//! // sha256("ada@example.com"): trimmed and lower-cased first.
//! let digest = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72";
//! assert_eq!(batch.get(0, 0), FieldValue::Str(digest));
//! ```

pub mod error;
pub mod hash;
pub mod normalize;
pub mod numeric;
pub mod pipeline;
pub mod plan;
pub mod settings;
pub mod value;

pub use error::{FieldError, PlanError};
pub use hash::{HashAlgorithm, HexBuf};
pub use normalize::{Normalization, PhoneProblem};
pub use pipeline::{Processed, Scratch};
pub use plan::{FieldPlan, FieldSpec, Source};
pub use settings::FieldSettings;
pub use value::{OwnedValue, Row, WarehouseValue};
