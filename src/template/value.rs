//! Run-time values of the VM, borrowed from the input wherever possible.
//!
//! JSONata distinguishes an *undefined* result from `null`, and a *sequence* (the result of
//! evaluating a path, collapsed to its one item or to undefined when it has fewer than two) from
//! an *array* (data from the input, or an array constructor, never collapsed). [`Val`] keeps both
//! distinctions, which the reference's output depends on.

use super::batch::{Connection, FieldValue, RecordBatch};
use super::input::{Input, Item, NodeId};
use serde_json::Value;

/// A value during evaluation. `'a` borrows the program's constants and the input.
#[derive(Clone, Debug)]
pub enum Val<'a> {
    /// JSONata's undefined: no value (a missing key, an empty sequence); never written out.
    Undef,
    /// JSON `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A double: a literal, a `$number` result or a warehouse float.
    Num(f64),
    /// Exact integers from the input (JSON integer tokens, warehouse integers).
    Int(i64),
    /// An exact integer above `i64::MAX` that fits `u64`.
    UInt(u64),
    /// A string, borrowed from the input, a record batch or the program's constants.
    Str(&'a str),
    /// Any JSON value from the input or the program's constants.
    J(&'a Value),
    /// An array or object of a parsed [`Input`] (its scalars are unwrapped by
    /// [`Val::from_node`]).
    D(&'a Input<'a>, NodeId),
    /// The root of a record batch: `{"records": [...], "connection": {...}}`.
    Root(&'a RecordBatch, &'a Connection),
    /// `$$.records` of a record batch: a data array of records.
    Records(&'a RecordBatch),
    /// One record of a batch: an object keyed by the template's fields.
    Record(&'a RecordBatch, u32),
    /// `$$.connection`.
    Conn(&'a Connection),
    /// A sequence: what a path yields.
    Seq(Vec<Val<'a>>),
    /// A constructed array (an array constructor's value).
    Arr(Vec<Val<'a>>),
    /// A constructed object, its pairs in output order.
    Obj(Vec<(&'a str, Val<'a>)>),
}

impl<'a> Val<'a> {
    /// Whether this is undefined.
    pub fn is_undef(&self) -> bool {
        matches!(self, Val::Undef)
    }

    /// `Array.isArray` in the reference: sequences, constructed and data arrays.
    pub fn is_array(&self) -> bool {
        match self {
            Val::Seq(_) | Val::Arr(_) | Val::Records(_) | Val::J(Value::Array(_)) => true,
            Val::D(doc, id) => matches!(doc.get(*id), Item::Arr(_)),
            _ => false,
        }
    }

    /// The number of items when this is an array of any kind.
    pub fn array_len(&self) -> Option<usize> {
        match self {
            Val::Seq(v) | Val::Arr(v) => Some(v.len()),
            Val::Records(b) => Some(b.len()),
            Val::J(Value::Array(v)) => Some(v.len()),
            Val::D(doc, id) => match doc.get(*id) {
                Item::Arr(n) => Some(n),
                _ => None,
            },
            _ => None,
        }
    }

    /// Item `i` of an array of any kind (`i < array_len()`).
    pub fn item(&self, i: usize) -> Val<'a> {
        match self {
            Val::Seq(v) | Val::Arr(v) => v[i].clone(),
            Val::Records(b) => Val::Record(b, i as u32),
            Val::J(Value::Array(v)) => Val::from_json(&v[i]),
            Val::D(doc, id) => Val::from_node(doc, doc.item(*id, i)),
            _ => unreachable!("item of a non-array"),
        }
    }

    /// A JSON value as a [`Val`]: scalars unwrapped, containers borrowed.
    #[inline]
    pub fn from_json(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::String(s) => Val::Str(s),
            _ => Val::J(v),
        }
    }

    /// Node `id` of a parsed input as a [`Val`]: scalars unwrapped, containers borrowed.
    #[inline]
    pub fn from_node(doc: &'a Input<'a>, id: NodeId) -> Val<'a> {
        match doc.get(id) {
            Item::Null => Val::Null,
            Item::Bool(b) => Val::Bool(b),
            Item::Int(i) => Val::Int(i),
            Item::UInt(u) => Val::UInt(u),
            Item::Num(f) => Val::Num(f),
            Item::Str(s) => Val::Str(s),
            Item::Arr(_) | Item::Obj(_) => Val::D(doc, id),
        }
    }

    /// A record field's value as a [`Val`]: a missing field is undefined.
    #[inline]
    pub fn from_field(v: FieldValue<'a>) -> Val<'a> {
        match v {
            FieldValue::Missing => Val::Undef,
            FieldValue::Null => Val::Null,
            FieldValue::Bool(b) => Val::Bool(b),
            FieldValue::Int(i) => Val::Int(i),
            FieldValue::UInt(u) => Val::UInt(u),
            FieldValue::Float(f) => Val::Num(f),
            FieldValue::Str(s) => Val::Str(s),
            FieldValue::Json(j) => Val::from_json(j),
        }
    }

    /// JSONata's `lookup`: the field `name` of an object; over an array, the field of every
    /// item, nested arrays searched too and array results spliced; otherwise undefined.
    /// `slot` is the field's record slot when the compiler knows it, and `fields` the names of
    /// all record slots.
    pub fn lookup(&self, name: &str, slot: Option<u32>, fields: &[String]) -> Val<'a> {
        match self {
            Val::J(Value::Object(map)) => map.get(name).map_or(Val::Undef, Val::from_json),
            Val::D(doc, id) if matches!(doc.get(*id), Item::Obj(_)) => {
                doc.field(*id, name).map_or(Val::Undef, |v| Val::from_node(doc, v))
            }
            Val::Record(batch, r) => {
                let slot = match slot {
                    Some(s) => Some(s as usize),
                    None => fields.iter().position(|f| f == name),
                };
                match slot {
                    Some(s) if s < batch.width() => Val::from_field(batch.get(*r as usize, s)),
                    _ => Val::Undef,
                }
            }
            Val::Root(batch, conn) => match name {
                "records" => Val::Records(batch),
                "connection" => Val::Conn(conn),
                _ => Val::Undef,
            },
            Val::Conn(conn) => match name {
                "audienceId" => Val::Str(&conn.audience_id),
                "audienceName" => Val::Str(&conn.audience_name),
                _ => Val::Undef,
            },
            Val::Obj(pairs) => pairs.iter().find(|(k, _)| *k == name).map_or(Val::Undef, |(_, v)| v.clone()),
            v if v.is_array() => {
                let mut out = Vec::new();
                for i in 0..v.array_len().unwrap_or(0) {
                    match v.item(i).lookup(name, slot, fields) {
                        Val::Undef => {}
                        r if r.is_array() => r.spread_into(&mut out),
                        r => out.push(r),
                    }
                }
                Val::Seq(out)
            }
            _ => Val::Undef,
        }
    }

    /// Pushes every item of this array onto `out` (one level).
    pub fn spread_into(self, out: &mut Vec<Val<'a>>) {
        match self {
            Val::Seq(v) | Val::Arr(v) => out.extend(v),
            other => {
                for i in 0..other.array_len().unwrap_or(0) {
                    out.push(other.item(i));
                }
            }
        }
    }

    /// The reference's normalisation of every evaluation result: an empty sequence is
    /// undefined, a one-item sequence is its item.
    pub fn collapse(self) -> Val<'a> {
        match self {
            Val::Seq(mut v) if v.len() <= 1 => v.pop().unwrap_or(Val::Undef),
            v => v,
        }
    }
}
