//! Records as the sync runner holds them: a batch of fixed-width slot records, one slot per
//! template field, reused from batch to batch so that steady-state rendering allocates nothing.

use serde_json::Value;

/// The sync's connection metadata, seen by templates as `$$.connection`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// `$$.connection.audienceId`
    pub audience_id: String,
    /// `$$.connection.audienceName`
    pub audience_name: String,
}

/// One slot of a record. Strings live in the batch's shared text buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Slot {
    /// The field has no value: the key is omitted from the body.
    Missing,
    Null,
    Bool(bool),
    /// An exact integer (warehouse integers and JSON integer tokens keep all 64 bits).
    Int(i64),
    UInt(u64),
    Float(f64),
    /// `text[start..start + len]`
    Str {
        start: u32,
        len: u32,
    },
    /// `json[index]`: an arbitrary JSON value (a PostgreSQL json column, for example).
    Json(u32),
}

/// A value read out of a slot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// The field has no value: the key is omitted from the body.
    Missing,
    /// JSON `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An exact integer that fits `i64`.
    Int(i64),
    /// An exact integer above `i64::MAX` that fits `u64`.
    UInt(u64),
    /// A double, printed as JavaScript prints it.
    Float(f64),
    /// A string, borrowed from the batch's text buffer.
    Str(&'a str),
    /// An arbitrary JSON value (array or object), borrowed from the batch.
    Json(&'a Value),
}

impl FieldValue<'_> {
    /// The value as text, as an API's answer quotes it to name a record (an action's `response`
    /// with `field` and `value`): a string as it is, a number or a boolean as JSON writes it.
    /// `None` for no value, null, and JSON values.
    pub fn quoted_text(&self) -> Option<String> {
        match *self {
            FieldValue::Missing | FieldValue::Null | FieldValue::Json(_) => None,
            FieldValue::Bool(v) => Some(v.to_string()),
            FieldValue::Int(v) => Some(v.to_string()),
            FieldValue::UInt(v) => Some(v.to_string()),
            FieldValue::Float(v) => serde_json::Number::from_f64(v).map(|n| n.to_string()),
            FieldValue::Str(v) => Some(v.to_owned()),
        }
    }
}

/// A batch of records, each with `width` slots (the template's fields, in order).
///
/// Build it with [`RecordBatch::push_record`] and the `set_*` methods, which fill the last
/// record; [`RecordBatch::clear`] keeps every buffer's capacity for the next batch.
#[derive(Clone, Debug, Default)]
pub struct RecordBatch {
    width: usize,
    /// Number of records (kept apart from `slots` so that zero-width records count too).
    count: usize,
    slots: Vec<Slot>,
    text: String,
    /// Where each record's strings start in `text` (a record's strings are contiguous).
    text_starts: Vec<u32>,
    json: Vec<Value>,
}

impl RecordBatch {
    /// An empty batch whose records have `width` fields.
    pub fn new(width: usize) -> RecordBatch {
        RecordBatch { width, ..RecordBatch::default() }
    }

    /// Number of slots per record: the template's field count.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every record, keeping the buffers.
    pub fn clear(&mut self) {
        self.count = 0;
        self.slots.clear();
        self.text.clear();
        self.text_starts.clear();
        self.json.clear();
    }

    /// Appends a record whose fields are all missing.
    pub fn push_record(&mut self) {
        self.count += 1;
        self.text_starts.push(self.text.len() as u32);
        self.slots.extend(std::iter::repeat_n(Slot::Missing, self.width));
    }

    fn last(&mut self, field: usize) -> &mut Slot {
        assert!(field < self.width, "field {field} out of range for a batch of width {}", self.width);
        assert!(self.count > 0, "push_record before setting a field");
        let n = self.slots.len();
        &mut self.slots[n - self.width + field]
    }

    /// Sets field `field` of the last record to JSON `null`.
    pub fn set_null(&mut self, field: usize) {
        *self.last(field) = Slot::Null;
    }

    /// Sets field `field` of the last record to a boolean.
    pub fn set_bool(&mut self, field: usize, v: bool) {
        *self.last(field) = Slot::Bool(v);
    }

    /// Sets field `field` of the last record to an exact integer.
    pub fn set_i64(&mut self, field: usize, v: i64) {
        *self.last(field) = Slot::Int(v);
    }

    /// Sets field `field` of the last record to an exact integer beyond `i64`.
    pub fn set_u64(&mut self, field: usize, v: u64) {
        *self.last(field) = Slot::UInt(v);
    }

    /// Sets field `field` of the last record to a double.
    pub fn set_f64(&mut self, field: usize, v: f64) {
        *self.last(field) = Slot::Float(v);
    }

    /// Sets field `field` of the last record to a string, copied into the shared text buffer.
    pub fn set_str(&mut self, field: usize, v: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(v);
        *self.last(field) = Slot::Str { start, len: v.len() as u32 };
    }

    /// Sets an arbitrary JSON value. Numbers, strings, booleans and null are stored as the
    /// matching scalar slot.
    pub fn set_json(&mut self, field: usize, v: Value) {
        match v {
            Value::Null => self.set_null(field),
            Value::Bool(b) => self.set_bool(field, b),
            Value::String(s) => self.set_str(field, &s),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    self.set_i64(field, i)
                } else if let Some(u) = n.as_u64() {
                    self.set_u64(field, u)
                } else {
                    self.set_f64(field, n.as_f64().unwrap_or(f64::NAN))
                }
            }
            v => {
                let index = self.json.len() as u32;
                self.json.push(v);
                *self.last(field) = Slot::Json(index);
            }
        }
    }

    /// Field `field` of record `record`.
    pub fn get(&self, record: usize, field: usize) -> FieldValue<'_> {
        self.read(self.slots[record * self.width + field])
    }

    /// The bytes of a string slot.
    #[inline(always)]
    pub(crate) fn text_bytes(&self, start: u32, len: u32) -> &[u8] {
        &self.text.as_bytes()[start as usize..(start + len) as usize]
    }

    /// Bytes of all of record `record`'s strings.
    #[inline(always)]
    pub(crate) fn text_len(&self, record: usize) -> usize {
        let end = self.text_starts.get(record + 1).map_or(self.text.len(), |&e| e as usize);
        end - self.text_starts[record] as usize
    }

    /// Whether any record holds a [`Slot::Json`] value.
    #[inline(always)]
    pub(crate) fn has_json(&self) -> bool {
        !self.json.is_empty()
    }

    /// The slots of record `record`.
    #[inline]
    pub(crate) fn record(&self, record: usize) -> &[Slot] {
        &self.slots[record * self.width..(record + 1) * self.width]
    }

    #[inline]
    pub(crate) fn read(&self, slot: Slot) -> FieldValue<'_> {
        match slot {
            Slot::Missing => FieldValue::Missing,
            Slot::Null => FieldValue::Null,
            Slot::Bool(b) => FieldValue::Bool(b),
            Slot::Int(i) => FieldValue::Int(i),
            Slot::UInt(u) => FieldValue::UInt(u),
            Slot::Float(f) => FieldValue::Float(f),
            Slot::Str { start, len } => FieldValue::Str(&self.text[start as usize..(start + len) as usize]),
            Slot::Json(i) => FieldValue::Json(&self.json[i as usize]),
        }
    }
}
