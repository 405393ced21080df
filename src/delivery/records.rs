//! The records delivery sends, as the sync layer hands them over: a batch that knows each
//! record's primary key and renders the body of any run of its records. Requests always hold a
//! contiguous run (packing and halving both cut runs), so a range is all a renderer is asked for.

use std::ops::Range;
use std::sync::Arc;

use crate::template::batch::FieldValue;
use crate::template::{Connection, RecordBatch, Template};

/// A batch of records of one action, ready to render.
///
/// Delivery keeps the batch (in an `Arc`) until every record has an outcome, because the halves
/// of a rejected request are rendered again from the records they hold.
pub trait RenderBatch: Send + Sync + 'static {
    /// Number of records; they are numbered from 0.
    fn len(&self) -> usize;

    /// Whether the batch holds no record.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `index`'s primary key as the sync log writes it: it goes into the
    /// `Idempotency-Key`. Out of range, any bytes (delivery only asks within `0..len()`).
    fn key(&self, index: usize) -> &[u8];

    /// Appends to `out` the request body of the records `records` (within `0..len()`,
    /// possibly empty). An error fails those records with the message as their reason (split
    /// down to the record that causes it), so it must quote no record value.
    fn render(&self, records: Range<usize>, out: &mut Vec<u8>) -> Result<(), String>;

    /// The value of template field `field` of each record of `records`, as sent (after
    /// normalising and hashing), as text: what an action's `response` setting compares an
    /// entry's value with. `None` for a record without one. The default knows no field.
    fn values(&self, records: Range<usize>, field: &str) -> Vec<Option<String>> {
        let _ = field;
        vec![None; records.len()]
    }
}

/// The primary keys of a batch's records, in order, in one buffer: a batch of 5,000 records
/// makes two allocations for them rather than 5,000.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    text: String,
    /// Where each key ends in `text`.
    ends: Vec<usize>,
}

impl Keys {
    /// Room for `keys` keys of about `bytes` bytes in all.
    pub fn with_capacity(keys: usize, bytes: usize) -> Keys {
        Keys { text: String::with_capacity(bytes), ends: Vec::with_capacity(keys) }
    }

    /// Appends the next record's key.
    pub fn push(&mut self, key: &str) {
        self.text.push_str(key);
        self.ends.push(self.text.len());
    }

    /// Key `index`, if there are that many.
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        self.text.get(start..end)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Keys {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Keys {
        let mut keys = Keys::default();
        for key in iter {
            keys.push(key.as_ref());
        }
        keys
    }
}

impl From<Vec<String>> for Keys {
    fn from(keys: Vec<String>) -> Keys {
        keys.into_iter().collect()
    }
}

/// A [`RecordBatch`] rendered by a compiled [`Template`]: the adapter from the field pipeline's
/// output to delivery.
#[derive(Clone, Debug)]
pub struct TemplateBatch {
    template: Arc<Template>,
    connection: Arc<Connection>,
    records: RecordBatch,
    keys: Keys,
}

impl TemplateBatch {
    /// Key `i` of `keys` is the primary key of record `i` of `records`. Should the counts
    /// differ, the batch holds the records that have both.
    pub fn new(
        template: Arc<Template>,
        connection: Arc<Connection>,
        records: RecordBatch,
        keys: impl Into<Keys>,
    ) -> Self {
        TemplateBatch { template, connection, records, keys: keys.into() }
    }

    /// The records the batch renders.
    pub fn records(&self) -> &RecordBatch {
        &self.records
    }

    /// Record `index`'s primary key.
    pub fn key_str(&self, index: usize) -> Option<&str> {
        self.keys.get(index)
    }
}

impl RenderBatch for TemplateBatch {
    fn len(&self) -> usize {
        self.records.len().min(self.keys.len())
    }

    fn key(&self, index: usize) -> &[u8] {
        self.keys.get(index).map_or(&[], str::as_bytes)
    }

    fn render(&self, records: Range<usize>, out: &mut Vec<u8>) -> Result<(), String> {
        let all = records.start == 0 && records.end == self.records.len();
        let result = if all {
            self.template.render(&self.records, &self.connection, out)
        } else {
            let part = copy_records(&self.records, records);
            self.template.render(&part, &self.connection, out)
        };
        // The engine's message may quote a value (PII): the reason names the code and the
        // construct's place in the template instead.
        result.map_err(|d| {
            format!(
                "the template failed on this record: {} at bytes {}..{} of the template",
                d.code, d.span.start, d.span.end
            )
        })
    }

    fn values(&self, records: Range<usize>, field: &str) -> Vec<Option<String>> {
        let slot = self.template.fields().iter().position(|f| f.name == field);
        records
            .map(|i| slot.filter(|_| i < self.records.len()).and_then(|s| self.records.get(i, s).quoted_text()))
            .collect()
    }
}

/// A new batch holding copies of `records` of `batch` (the records of a split request).
fn copy_records(batch: &RecordBatch, records: Range<usize>) -> RecordBatch {
    let width = batch.width();
    let mut part = RecordBatch::new(width);
    for record in records.start..records.end.min(batch.len()) {
        part.push_record();
        for field in 0..width {
            match batch.get(record, field) {
                FieldValue::Missing => {}
                FieldValue::Null => part.set_null(field),
                FieldValue::Bool(v) => part.set_bool(field, v),
                FieldValue::Int(v) => part.set_i64(field, v),
                FieldValue::UInt(v) => part.set_u64(field, v),
                FieldValue::Float(v) => part.set_f64(field, v),
                FieldValue::Str(v) => part.set_str(field, v),
                FieldValue::Json(v) => part.set_json(field, v.clone()),
            }
        }
    }
    part
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> TemplateBatch {
        let template =
            Template::compile(r#"{"id": $$.connection.audienceId, "users": [$$.records.{"e": email, "n": n}]}"#)
                .expect("valid template");
        let mut records = RecordBatch::new(template.fields().len());
        let mut keys = Vec::new();
        for i in 0..5i64 {
            records.push_record();
            records.set_str(0, &format!("u{i}@example.com"));
            if i != 2 {
                records.set_i64(1, i);
            }
            keys.push(i.to_string());
        }
        let connection = Connection { audience_id: "42".into(), audience_name: "A".into() };
        TemplateBatch::new(Arc::new(template), Arc::new(connection), records, keys)
    }

    fn render(b: &TemplateBatch, r: Range<usize>) -> String {
        let mut out = Vec::new();
        b.render(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keys_in_one_buffer() {
        let keys: Keys = ["", "a", "ünï", "", "42"].into_iter().collect();
        assert_eq!(keys.len(), 5);
        let all: Vec<Option<&str>> = (0..6).map(|i| keys.get(i)).collect();
        assert_eq!(all, [Some(""), Some("a"), Some("ünï"), Some(""), Some("42"), None]);
        assert!(Keys::default().is_empty() && Keys::default().get(0).is_none());
    }

    #[test]
    fn renders_any_run_of_records() {
        let b = batch();
        assert_eq!(b.len(), 5);
        assert_eq!(b.key(3), b"3");
        assert_eq!(b.key(9), b"");
        assert_eq!(render(&b, 0..0), r#"{"id":"42","users":[]}"#);
        assert_eq!(render(&b, 1..3), r#"{"id":"42","users":[{"e":"u1@example.com","n":1},{"e":"u2@example.com"}]}"#);
        let whole = render(&b, 0..5);
        assert!(whole.starts_with(r#"{"id":"42","users":[{"e":"u0@example.com","n":0},"#), "{whole}");
        // A body is linear in its records: what byte packing relies on.
        let (base, one, two) = (render(&b, 0..0).len(), render(&b, 0..1).len(), render(&b, 1..2).len());
        assert_eq!(render(&b, 0..2).len(), base + (one - base) + (two - base) + 1);
    }
}
