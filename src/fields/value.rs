//! Warehouse values as the pipeline reads them, and the [`Row`] trait that hands them over.
//!
//! Values borrow from the row (text, JSON, bytes), so reading a row copies nothing; the
//! warehouse layer can implement [`Row`] over its own row type without building a vector.

use serde_json::Value;

/// One warehouse value, borrowed from its row. Each kind becomes JSON and is hashed as the
/// table "Warehouse values as JSON" of docs/design/sync.md says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WarehouseValue<'a> {
    /// SQL NULL: dropped (the key is omitted).
    Null,
    /// SQLite INTEGER, PostgreSQL int2/4/8: a JSON number exact to 64 bits; hashed as its
    /// decimal digits.
    Int(i64),
    /// SQLite REAL, PostgreSQL float4/8: a JSON number printed as JavaScript prints it, and
    /// hashed as that text. NaN and the infinities have no JSON form: the record fails.
    Float(f64),
    /// PostgreSQL numeric/decimal as the warehouse prints it (`"19.99"`): a JSON number when
    /// it is an integer that fits 64 bits or when the nearest double prints back as the same
    /// decimal value, otherwise the JSON string of this text; hashed as this text.
    Numeric(&'a str),
    /// text, varchar, uuid: a JSON string, hashed as is. An empty string is dropped.
    Text(&'a str),
    /// date, timestamp, timestamptz already printed as RFC 3339 (timestamps in UTC) by the
    /// warehouse layer: a JSON string, hashed as is.
    Timestamp(&'a str),
    /// boolean: `true`/`false` (false is kept, never dropped); hashed as `true`/`false`.
    Bool(bool),
    /// PostgreSQL json/jsonb: the JSON value itself (objects usable as `addr.city`); hashed as
    /// its compact JSON text, as `JSON.stringify` writes it. A JSON null or `""` is dropped.
    Json(&'a Value),
    /// BLOB, bytea: there is no JSON form, so the record fails with a reason.
    Bytes(&'a [u8]),
    /// Text that is not valid UTF-8 (SQLite stores whatever it is given): no JSON string can
    /// carry it unchanged, so the record fails with where the first invalid byte is.
    InvalidText(&'a [u8]),
}

impl<'a> From<&'a Value> for WarehouseValue<'a> {
    /// A sample value from a JSON record (`audience preview --records`): strings are text,
    /// integers that fit `i64` are integers, other numbers and every array or object stay JSON.
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Null => WarehouseValue::Null,
            Value::Bool(b) => WarehouseValue::Bool(*b),
            Value::String(s) => WarehouseValue::Text(s),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => WarehouseValue::Int(i),
                (None, Some(_)) => WarehouseValue::Json(v),
                _ => WarehouseValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::Array(_) | Value::Object(_) => WarehouseValue::Json(v),
        }
    }
}

impl WarehouseValue<'_> {
    /// The value's JSON form, as the table "Warehouse values as JSON" of docs/design/sync.md
    /// gives it (a sample record made from a model row); `None` for a value that has none
    /// (bytes, text that is not UTF-8, a float NaN or infinity: the pipeline fails such a
    /// record).
    pub fn to_json(&self) -> Option<Value> {
        use super::numeric::{NumericJson, numeric_json};
        Some(match *self {
            WarehouseValue::Null => Value::Null,
            WarehouseValue::Int(i) => Value::from(i),
            WarehouseValue::Float(f) => Value::Number(serde_json::Number::from_f64(f)?),
            WarehouseValue::Numeric(text) => match numeric_json(text) {
                NumericJson::Int(i) => Value::from(i),
                NumericJson::UInt(u) => Value::from(u),
                NumericJson::Float(f) => Value::Number(serde_json::Number::from_f64(f)?),
                NumericJson::Text => Value::String(text.to_owned()),
            },
            WarehouseValue::Text(s) | WarehouseValue::Timestamp(s) => Value::String(s.to_owned()),
            WarehouseValue::Bool(b) => Value::Bool(b),
            WarehouseValue::Json(v) => v.clone(),
            WarehouseValue::Bytes(_) | WarehouseValue::InvalidText(_) => return None,
        })
    }
}

/// A warehouse value that owns its data: a static field's literal, or a test row.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    /// SQL NULL: [`WarehouseValue::Null`].
    Null,
    /// An integer: [`WarehouseValue::Int`].
    Int(i64),
    /// A double: [`WarehouseValue::Float`].
    Float(f64),
    /// Numeric/decimal text such as `"19.99"`: [`WarehouseValue::Numeric`].
    Numeric(String),
    /// Text: [`WarehouseValue::Text`].
    Text(String),
    /// A date or timestamp printed as RFC 3339: [`WarehouseValue::Timestamp`].
    Timestamp(String),
    /// A boolean: [`WarehouseValue::Bool`].
    Bool(bool),
    /// A json/jsonb value: [`WarehouseValue::Json`].
    Json(Value),
    /// A BLOB/bytea: [`WarehouseValue::Bytes`].
    Bytes(Vec<u8>),
}

impl OwnedValue {
    /// The borrowed view the pipeline reads.
    pub fn as_value(&self) -> WarehouseValue<'_> {
        match self {
            OwnedValue::Null => WarehouseValue::Null,
            OwnedValue::Int(i) => WarehouseValue::Int(*i),
            OwnedValue::Float(f) => WarehouseValue::Float(*f),
            OwnedValue::Numeric(s) => WarehouseValue::Numeric(s),
            OwnedValue::Text(s) => WarehouseValue::Text(s),
            OwnedValue::Timestamp(s) => WarehouseValue::Timestamp(s),
            OwnedValue::Bool(b) => WarehouseValue::Bool(*b),
            OwnedValue::Json(v) => WarehouseValue::Json(v),
            OwnedValue::Bytes(b) => WarehouseValue::Bytes(b),
        }
    }
}

impl From<&str> for OwnedValue {
    fn from(s: &str) -> Self {
        OwnedValue::Text(s.to_owned())
    }
}

impl From<String> for OwnedValue {
    fn from(s: String) -> Self {
        OwnedValue::Text(s)
    }
}

impl From<i64> for OwnedValue {
    fn from(i: i64) -> Self {
        OwnedValue::Int(i)
    }
}

impl From<f64> for OwnedValue {
    fn from(f: f64) -> Self {
        OwnedValue::Float(f)
    }
}

impl From<bool> for OwnedValue {
    fn from(b: bool) -> Self {
        OwnedValue::Bool(b)
    }
}

impl From<&WarehouseValue<'_>> for OwnedValue {
    fn from(v: &WarehouseValue<'_>) -> Self {
        match *v {
            WarehouseValue::Null => OwnedValue::Null,
            WarehouseValue::Int(i) => OwnedValue::Int(i),
            WarehouseValue::Float(f) => OwnedValue::Float(f),
            WarehouseValue::Numeric(s) => OwnedValue::Numeric(s.to_owned()),
            WarehouseValue::Text(s) => OwnedValue::Text(s.to_owned()),
            WarehouseValue::Timestamp(s) => OwnedValue::Timestamp(s.to_owned()),
            WarehouseValue::Bool(b) => OwnedValue::Bool(b),
            WarehouseValue::Json(v) => OwnedValue::Json(v.clone()),
            // Owned values are literals and test rows; invalid text kept as its bytes.
            WarehouseValue::Bytes(b) | WarehouseValue::InvalidText(b) => OwnedValue::Bytes(b.to_vec()),
        }
    }
}

/// A row of the model (or of a removal's old row image), read by column index.
pub trait Row {
    /// The value of column `index`, or `None` when the row has no such column (a plan built for
    /// another query: the record fails rather than the process).
    fn value(&self, index: usize) -> Option<WarehouseValue<'_>>;
}

impl Row for [WarehouseValue<'_>] {
    #[inline]
    fn value(&self, index: usize) -> Option<WarehouseValue<'_>> {
        self.get(index).copied()
    }
}

impl Row for Vec<WarehouseValue<'_>> {
    #[inline]
    fn value(&self, index: usize) -> Option<WarehouseValue<'_>> {
        self.get(index).copied()
    }
}

impl<const N: usize> Row for [WarehouseValue<'_>; N] {
    #[inline]
    fn value(&self, index: usize) -> Option<WarehouseValue<'_>> {
        self.get(index).copied()
    }
}

impl Row for [OwnedValue] {
    #[inline]
    fn value(&self, index: usize) -> Option<WarehouseValue<'_>> {
        self.get(index).map(OwnedValue::as_value)
    }
}

impl Row for Vec<OwnedValue> {
    #[inline]
    fn value(&self, index: usize) -> Option<WarehouseValue<'_>> {
        self.get(index).map(OwnedValue::as_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_value_has_the_json_form_of_the_table() {
        let object = json!({"city": "Oslo"});
        let table = [
            (WarehouseValue::Null, Some(Value::Null)),
            (WarehouseValue::Int(i64::MIN), Some(json!(i64::MIN))),
            (WarehouseValue::Float(1.5), Some(json!(1.5))),
            (WarehouseValue::Float(f64::NAN), None),
            (WarehouseValue::Numeric("19.99"), Some(json!(19.99))),
            (WarehouseValue::Numeric("18446744073709551615"), Some(json!(u64::MAX))),
            (WarehouseValue::Numeric("0.1000000000000000000001"), Some(json!("0.1000000000000000000001"))),
            (WarehouseValue::Numeric("NaN"), Some(json!("NaN"))),
            (WarehouseValue::Text("{\"a\":1}"), Some(json!("{\"a\":1}"))),
            (WarehouseValue::Timestamp("2024-05-01T12:00:00Z"), Some(json!("2024-05-01T12:00:00Z"))),
            (WarehouseValue::Bool(false), Some(json!(false))),
            (WarehouseValue::Json(&object), Some(object.clone())),
            (WarehouseValue::Bytes(b"x"), None),
            (WarehouseValue::InvalidText(b"\xff"), None),
        ];
        for (value, json) in table {
            assert_eq!(value.to_json(), json, "{value:?}");
        }
    }
}
