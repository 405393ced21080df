//! Records for [`RecordBatch`]: field values as the sync runner sets them, and the JSON
//! document a batch renders as.

use serde_json::Value;

use super::input::{write_json_array, write_json_object};
use super::pools::{NUMBER_STRINGS, gen_string_value, gen_text};
use super::rng::Rng;
use crate::template::{Connection, RecordBatch};

/// A value of one record field, as the sync runner would set it.
#[derive(Clone, Debug)]
pub enum FieldVal {
    /// No value: the slot is left missing.
    Missing,
    /// SQL NULL: [`RecordBatch::set_null`].
    Null,
    /// [`RecordBatch::set_bool`].
    Bool(bool),
    /// [`RecordBatch::set_i64`].
    I64(i64),
    /// [`RecordBatch::set_u64`], always above `i64::MAX`.
    U64(u64),
    /// [`RecordBatch::set_f64`], always finite.
    F64(f64),
    /// [`RecordBatch::set_str`].
    Str(String),
    /// [`RecordBatch::set_json`], an object or an array.
    Json(Value),
}

/// Finite float edges (NaN and infinities have no JSON document equivalent).
#[rustfmt::skip]
#[allow(clippy::excessive_precision)] // written as in JSON on purpose
pub const FLOAT_EDGES: &[f64] = &[
    0.0, -0.0, 0.1, 1.0, -1.5, 1e21, 1e-7, 1e-6, 5e-324, f64::MAX, f64::MIN, f64::MIN_POSITIVE, 9007199254740992.0,
    9007199254740993.0, 123456789.123456789, 1e300, 0.30000000000000004, 4294967295.0, 1e20,
];

/// A random field value: every kind, with integer and float edges (64-bit limits, 2^53 ± 1).
pub fn gen_field_value(rng: &mut Rng) -> FieldVal {
    match rng.weighted(&[2, 1, 1, 3, 1, 3, 4, 2]) {
        0 => FieldVal::Missing,
        1 => FieldVal::Null,
        2 => FieldVal::Bool(rng.chance(50)),
        3 => FieldVal::I64(match rng.below(6) {
            0 => rng.below(100) as i64,
            1 => -(rng.below(100_000) as i64),
            2 => *rng.pick(&[i64::MIN, i64::MAX, (1 << 53) + 1, -(1 << 53) - 1, 1 << 53, -1, 0]),
            _ => rng.next_u64() as i64,
        }),
        4 => FieldVal::U64(if rng.chance(30) { u64::MAX } else { (i64::MAX as u64) + 1 + rng.next_u64() % (1 << 62) }),
        5 => FieldVal::F64(if rng.chance(50) {
            *rng.pick(FLOAT_EDGES)
        } else {
            let v = f64::from_bits(rng.next_u64());
            if v.is_finite() { v } else { rng.next_u64() as f64 / 7.0 }
        }),
        6 => FieldVal::Str(gen_string_value(rng)),
        _ => {
            let mut text = String::new();
            if rng.chance(50) {
                write_json_object(rng, &mut text, 2);
            } else {
                write_json_array(rng, &mut text, 2, true);
            }
            FieldVal::Json(serde_json::from_str(&text).unwrap_or_else(|e| panic!("generated bad JSON {text:?}: {e}")))
        }
    }
}

impl FieldVal {
    /// The JSON value the record document holds for this field (`None`: the key is absent).
    pub fn to_json(&self) -> Option<Value> {
        Some(match self {
            FieldVal::Missing => return None,
            FieldVal::Null => Value::Null,
            FieldVal::Bool(b) => Value::Bool(*b),
            FieldVal::I64(i) => Value::from(*i),
            FieldVal::U64(u) => Value::from(*u),
            FieldVal::F64(f) => Value::Number(serde_json::Number::from_f64(*f).expect("finite")),
            FieldVal::Str(s) => Value::String(s.clone()),
            FieldVal::Json(v) => v.clone(),
        })
    }

    /// Sets field `field` of `batch`'s last record to this value.
    pub fn set(&self, batch: &mut RecordBatch, field: usize) {
        match self {
            FieldVal::Missing => {}
            FieldVal::Null => batch.set_null(field),
            FieldVal::Bool(b) => batch.set_bool(field, *b),
            FieldVal::I64(i) => batch.set_i64(field, *i),
            FieldVal::U64(u) => batch.set_u64(field, *u),
            FieldVal::F64(f) => batch.set_f64(field, *f),
            FieldVal::Str(s) => batch.set_str(field, s),
            FieldVal::Json(v) => batch.set_json(field, v.clone()),
        }
    }
}

/// Random connection metadata.
pub fn gen_connection(rng: &mut Rng) -> Connection {
    let id = if rng.chance(50) { rng.pick(NUMBER_STRINGS).to_string() } else { gen_text(rng) };
    Connection { audience_id: id, audience_name: gen_text(rng) }
}

/// The JSON document a batch renders as: `{"records": [...], "connection": {...}}`.
pub fn batch_doc(fields: &[String], records: &[Vec<FieldVal>], conn: &Connection) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|rec| {
            let mut m = serde_json::Map::new();
            for (name, v) in fields.iter().zip(rec) {
                if let Some(j) = v.to_json() {
                    m.insert(name.clone(), j);
                }
            }
            Value::Object(m)
        })
        .collect();
    serde_json::json!({
        "records": records,
        "connection": { "audienceId": conn.audience_id, "audienceName": conn.audience_name },
    })
}

/// Record counts: zero, one and many.
fn record_count(rng: &mut Rng) -> usize {
    *rng.pick(&[0, 1, 1, 2, 3, 7, 20])
}

/// A batch's worth of records, each with `width` field values.
pub fn gen_records(rng: &mut Rng, width: usize) -> Vec<Vec<FieldVal>> {
    (0..record_count(rng)).map(|_| (0..width).map(|_| gen_field_value(rng)).collect()).collect()
}

/// Fills `batch` (cleared first) with `records`.
pub fn fill_batch(batch: &mut RecordBatch, records: &[Vec<FieldVal>]) {
    batch.clear();
    for rec in records {
        batch.push_record();
        for (i, v) in rec.iter().enumerate() {
            v.set(batch, i);
        }
    }
}
