//! The field pipeline of docs/design/sync.md, per record: values in, template slots out.
//!
//! Each field goes through the steps in order: (1) map (column or static value; a value with no
//! JSON form fails), (2) drop null and `""`, (3) hash-state check on the raw value, (4)
//! normalise, dropping and counting a value that becomes empty, (5) required check, (6) hash
//! or pass a digest through in lower case.
//!
//! Fields are processed one after the other, but the reason a record fails is the one the
//! steps taken in order would give: the failure of the earliest step, and within a step, of the
//! first field. A record is written to the batch only once every field has succeeded, so a
//! failed record leaves the batch as it was.

use super::error::FieldError;
use super::hash::{HashAlgorithm, HexBuf};
use super::normalize::Normalization;
use super::numeric::{NumericJson, numeric_json};
use super::plan::{CompiledField, FieldPlan, Origin, StaticOut};
use super::settings::FieldSettings;
use super::value::{Row, WarehouseValue};
use crate::template::RecordBatch;
use crate::template::json::write_value;

/// Buffers reused from record to record, so that steady-state processing allocates nothing.
/// Keep one per worker and pass it to every [`FieldPlan::process`] call.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    /// The record's string outputs, copied into the batch once the record has succeeded.
    pub(super) text: String,
    /// A normalised value on its way to the hash.
    norm: String,
    /// The compact JSON text of a JSON value being hashed.
    json: Vec<u8>,
    /// One output per field of the current record.
    outs: Vec<Out>,
}

/// What a record that passed the pipeline reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Processed {
    /// Values that normalisation made empty, and which were therefore dropped (step 4): to be
    /// counted, since they are data-quality problems the user cannot see in the request.
    pub emptied: u32,
}

/// One field's output for the record being processed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Out {
    /// Dropped (unmapped, null, `""`): the key is omitted.
    Missing,
    /// Dropped because normalisation made it empty; counted.
    Emptied,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// `Scratch::text[start..start + len]`
    Str {
        start: u32,
        len: u32,
    },
    /// The row's JSON value, cloned into the batch at commit (it cannot be borrowed across).
    Json,
    /// The field's precomputed static output.
    Static,
}

/// The step of docs/design/sync.md's pipeline a failure belongs to; failures of earlier steps win.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Step {
    Map = 1,
    HashState = 3,
    Normalize = 4,
    Required = 5,
}

/// A field's failure, with the step it happened at.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Failure {
    pub step: Step,
    pub error: FieldError,
}

impl FieldPlan {
    /// Runs the pipeline for one record read from `row` and, when every field succeeds,
    /// appends it to `batch` (whose width must be [`FieldPlan::width`]). On failure the batch is
    /// untouched and the error says why; the caller logs it and goes on with the next record.
    ///
    /// # Panics
    ///
    /// When `batch` is narrower than the plan (a batch made for another template): a bug of
    /// the caller, not of the data.
    pub fn process<R: Row + ?Sized>(
        &self,
        row: &R,
        batch: &mut RecordBatch,
        scratch: &mut Scratch,
    ) -> Result<Processed, FieldError> {
        scratch.text.clear();
        let mut outs = std::mem::take(&mut scratch.outs);
        outs.clear();
        let mut failure: Option<Failure> = None;
        let mut emptied = 0;
        for field in &self.fields {
            let result = match &field.origin {
                Origin::Column(index) => match row.value(*index) {
                    Some(value) => {
                        value_out(&field.name, &field.settings, self.hash_pii, value, scratch).map_err(|mut f| {
                            // The value's column, which only the plan knows.
                            if let FieldError::InvalidUtf8 { column, .. } = &mut f.error {
                                column.clone_from(&field.column);
                            }
                            f
                        })
                    }
                    None => Err(Failure {
                        step: Step::Map,
                        error: FieldError::NoSuchColumn { field: field.name.clone(), column: *index },
                    }),
                },
                Origin::Unmapped => Ok(Out::Missing),
                Origin::Static(Ok(StaticOut::Missing)) => Ok(Out::Missing),
                Origin::Static(Ok(StaticOut::Emptied)) => Ok(Out::Emptied),
                Origin::Static(Ok(_)) => Ok(Out::Static),
                Origin::Static(Err(failure)) => Err(failure.clone()),
            };
            let out = match result {
                Ok(out) => out,
                Err(f) if f.step == Step::Map => {
                    // Nothing fails earlier than mapping, and earlier fields had no mapping
                    // failure (they would have returned): this is the record's reason.
                    scratch.outs = outs;
                    return Err(f.error);
                }
                Err(f) => {
                    if failure.as_ref().is_none_or(|worst| f.step < worst.step) {
                        failure = Some(f);
                    }
                    Out::Missing
                }
            };
            if out == Out::Emptied {
                emptied += 1;
            }
            // 5. Required: missing after steps 2 and 4. A later step than any other failure,
            // so it only becomes the reason when nothing else failed.
            if matches!(out, Out::Missing | Out::Emptied) && field.settings.required && failure.is_none() {
                failure =
                    Some(Failure { step: Step::Required, error: FieldError::Required { field: field.name.clone() } });
            }
            outs.push(out);
        }
        let result = match failure {
            Some(f) => Err(f.error),
            None => {
                commit(&self.fields, &outs, row, &scratch.text, batch);
                Ok(Processed { emptied })
            }
        };
        scratch.outs = outs;
        result
    }
}

/// Appends the record to the batch, one slot per field.
fn commit<R: Row + ?Sized>(fields: &[CompiledField], outs: &[Out], row: &R, text: &str, batch: &mut RecordBatch) {
    batch.push_record();
    for (slot, (field, out)) in fields.iter().zip(outs).enumerate() {
        match *out {
            Out::Missing | Out::Emptied => {}
            Out::Bool(b) => batch.set_bool(slot, b),
            Out::Int(i) => batch.set_i64(slot, i),
            Out::UInt(u) => batch.set_u64(slot, u),
            Out::Float(f) => batch.set_f64(slot, f),
            Out::Str { start, len } => batch.set_str(slot, &text[start as usize..(start + len) as usize]),
            Out::Json => {
                if let Origin::Column(index) = field.origin
                    && let Some(WarehouseValue::Json(v)) = row.value(index)
                {
                    batch.set_json(slot, v.clone());
                }
            }
            Out::Static => match &field.origin {
                Origin::Static(Ok(StaticOut::Bool(b))) => batch.set_bool(slot, *b),
                Origin::Static(Ok(StaticOut::Int(i))) => batch.set_i64(slot, *i),
                Origin::Static(Ok(StaticOut::UInt(u))) => batch.set_u64(slot, *u),
                Origin::Static(Ok(StaticOut::Float(f))) => batch.set_f64(slot, *f),
                Origin::Static(Ok(StaticOut::Str(s))) => batch.set_str(slot, s),
                Origin::Static(Ok(StaticOut::Json(v))) => batch.set_json(slot, v.clone()),
                _ => {}
            },
        }
    }
}

/// Steps 1 to 4 and 6 for one value (the caller does step 5, which needs the field's outcome).
/// String outputs are appended to `scratch.text`.
pub(super) fn value_out(
    name: &std::sync::Arc<str>,
    settings: &FieldSettings,
    hash_pii: bool,
    value: WarehouseValue<'_>,
    scratch: &mut Scratch,
) -> Result<Out, Failure> {
    let fail = |step, error| Err(Failure { step, error });
    let field = || name.clone();
    let Scratch { text, norm, json, .. } = scratch;

    // 1. Map: a value with no JSON form fails the record.
    match value {
        WarehouseValue::Bytes(_) => return fail(Step::Map, FieldError::Bytes { field: field() }),
        WarehouseValue::InvalidText(bytes) => {
            let offset = std::str::from_utf8(bytes).err().map_or(bytes.len(), |e| e.valid_up_to());
            return fail(Step::Map, FieldError::InvalidUtf8 { field: field(), column: None, offset });
        }
        WarehouseValue::Float(f) if !f.is_finite() => {
            return fail(Step::Map, FieldError::NotFinite { field: field() });
        }
        _ => {}
    }

    // 2. Drop null and the empty string (JSON's too: the seed works on JSON values).
    if is_null_or_empty(value) {
        return Ok(Out::Missing);
    }

    let algorithm = settings.hash;
    if algorithm == HashAlgorithm::None {
        // 4. Normalise: a text operation, applied to values sent as strings. Numbers, booleans
        // and JSON keep their type and value.
        return Ok(match value {
            WarehouseValue::Text(s) | WarehouseValue::Timestamp(s) => {
                let normalized = normalize(settings.normalize, s, norm, name)?;
                if normalized.is_empty() { Out::Emptied } else { push(text, normalized) }
            }
            WarehouseValue::Int(i) => Out::Int(i),
            WarehouseValue::Float(f) => Out::Float(f),
            WarehouseValue::Bool(b) => Out::Bool(b),
            WarehouseValue::Numeric(s) => match numeric_json(s) {
                NumericJson::Int(i) => Out::Int(i),
                NumericJson::UInt(u) => Out::UInt(u),
                NumericJson::Float(f) => Out::Float(f),
                NumericJson::Text => push(text, s),
            },
            WarehouseValue::Json(_) => Out::Json,
            // Handled by steps 1 and 2.
            WarehouseValue::Null | WarehouseValue::Bytes(_) | WarehouseValue::InvalidText(_) => Out::Missing,
        });
    }

    // 3. Hash-state check, on the raw value's text (what it would be hashed as).
    let mut int_buf = itoa::Buffer::new();
    let mut float_buf = ryu_js::Buffer::new();
    let raw: &str = match value {
        WarehouseValue::Text(s) | WarehouseValue::Timestamp(s) | WarehouseValue::Numeric(s) => s,
        WarehouseValue::Int(i) => int_buf.format(i),
        // JavaScript prints -0 as 0; ryu-js keeps the sign. (A float pattern compares with
        // `==`, so this arm takes -0.0 too.)
        WarehouseValue::Float(0.0) => "0",
        WarehouseValue::Float(f) => float_buf.format_finite(f),
        WarehouseValue::Bool(b) => {
            if b {
                "true"
            } else {
                "false"
            }
        }
        WarehouseValue::Json(v) => {
            json.clear();
            write_value(json, v);
            // `write_value` copies `str`s and writes ASCII, so this holds.
            std::str::from_utf8(json).expect("JSON text is UTF-8")
        }
        WarehouseValue::Null | WarehouseValue::Bytes(_) | WarehouseValue::InvalidText(_) => return Ok(Out::Missing),
    };
    let looks_hashed = algorithm.looks_hashed(raw);

    if hash_pii {
        if looks_hashed {
            return fail(Step::HashState, FieldError::AlreadyHashed { field: field() });
        }
        // 4. Normalise what is about to be hashed.
        let normalized = normalize(settings.normalize, raw, norm, name)?;
        if normalized.is_empty() {
            return Ok(Out::Emptied);
        }
        // 6. Hash, to lowercase hex on the stack, then into the record's text.
        let mut hex: HexBuf = [0; 128];
        let digest = algorithm.hash_hex(normalized.as_bytes(), &mut hex).unwrap_or_default();
        Ok(push(text, digest))
    } else {
        if !looks_hashed {
            return fail(Step::HashState, FieldError::NotHashed { field: field() });
        }
        // 6. A digest passes through, not normalised (it is not the PII itself), in lower case.
        let out = push(text, raw);
        let start = text.len() - raw.len();
        text[start..].make_ascii_lowercase();
        Ok(out)
    }
}

fn is_null_or_empty(value: WarehouseValue<'_>) -> bool {
    match value {
        WarehouseValue::Null => true,
        WarehouseValue::Text(s) | WarehouseValue::Timestamp(s) | WarehouseValue::Numeric(s) => s.is_empty(),
        WarehouseValue::Json(v) => v.is_null() || v.as_str() == Some(""),
        _ => false,
    }
}

fn normalize<'a>(
    preset: Normalization,
    input: &'a str,
    buf: &'a mut String,
    name: &std::sync::Arc<str>,
) -> Result<&'a str, Failure> {
    preset
        .apply(input, buf)
        .map_err(|problem| Failure { step: Step::Normalize, error: FieldError::Phone { field: name.clone(), problem } })
}

/// Appends `s` to the record's text and answers the slot output for it.
#[inline]
fn push(text: &mut String, s: &str) -> Out {
    let start = text.len() as u32;
    text.push_str(s);
    Out::Str { start, len: s.len() as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{FieldSpec, Source};

    #[test]
    fn outputs_stay_small() {
        // One per field per record, kept in the scratch: two words at most.
        assert_eq!(size_of::<Out>(), 16);
    }

    #[test]
    fn steps_rank_in_sync_md_order() {
        assert!(Step::Map < Step::HashState);
        assert!(Step::HashState < Step::Normalize);
        assert!(Step::Normalize < Step::Required);
    }

    #[test]
    fn scratch_buffers_are_reused() {
        let settings = FieldSettings { hash: HashAlgorithm::Sha256, ..FieldSettings::default() };
        let plan = FieldPlan::compile(&[FieldSpec::new("e", settings, Source::Column(0))], true).unwrap();
        let mut batch = RecordBatch::new(1);
        let mut scratch = Scratch::default();
        plan.process(&[WarehouseValue::Text("a@b.c")], &mut batch, &mut scratch).unwrap();
        let capacity = (scratch.text.capacity(), scratch.outs.capacity());
        for _ in 0..100 {
            plan.process(&[WarehouseValue::Text("a@b.c")], &mut batch, &mut scratch).unwrap();
        }
        assert_eq!((scratch.text.capacity(), scratch.outs.capacity()), capacity);
        assert_eq!(scratch.text.len(), 64, "only the last record's text is kept");
    }
}
