//! Hand-written renderers of T1 and T2: the "physical limit" references of docs/design/performance.md.
//!
//! They write the bytes that `JSON.stringify(await jsonata(T).evaluate(doc))` gives, straight
//! into a `Vec<u8>`, with no interpretation: the template's layout is code, its constant parts
//! are byte literals, and each record is written through a raw cursor after one `reserve` of an
//! upper bound of its size. Strings go through an SSE2 (16 bytes at a time) or SWAR (8 bytes at
//! a time) escaper that copies optimistically and only stops at a byte that needs escaping;
//! integers are formatted two digits at a time straight into the output; floats go through
//! `ryu-js`, as JavaScript prints them.
//!
//! Two sources, as the engine has two paths:
//! * a [`RecordBatch`] read through its public `get()` (the sync runner's representation);
//! * a `serde_json::Value` document `{"records": [...], "connection": {...}}` walked once per
//!   record (one pass over each record's entries, no hashing), as `audience render` would.
//!
//! They cover the workload's shapes (records that are objects, scalar or JSON field values, a
//! missing field omits its key); they are not general JSONata evaluators.

use audience::template::Connection;
use audience::template::RecordBatch;
use audience::template::batch::FieldValue;
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------------------------
// Scalars straight into memory. Every `unsafe fn` here writes at `d`, which must have room for
// the value's `bound`, and returns the position after what it wrote.

/// What follows a backslash for each byte that JSON.stringify escapes; `u` means `\u00XX`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = b'u';
        c += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// "00" "01" ... "99"
static DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Whether any byte of `x` is below 0x20, a `"` or a `\` (exact as a yes/no answer; see
/// "Determine if a word has a byte less than n" in Bit Twiddling Hacks).
#[inline(always)]
fn swar_needs_escape(x: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let control = x.wrapping_sub(LO * 0x20) & !x;
    let q = x ^ (LO * b'"' as u64);
    let quote = q.wrapping_sub(LO) & !q;
    let b = x ^ (LO * b'\\' as u64);
    let backslash = b.wrapping_sub(LO) & !b;
    (control | quote | backslash) & HI != 0
}

#[inline(always)]
unsafe fn escape_byte(d: *mut u8, c: u8) -> *mut u8 {
    unsafe {
        match ESCAPE[c as usize] {
            0 => {
                *d = c;
                d.add(1)
            }
            b'u' => {
                d.copy_from_nonoverlapping(b"\\u00".as_ptr(), 4);
                *d.add(4) = HEX[(c >> 4) as usize];
                *d.add(5) = HEX[(c & 15) as usize];
                d.add(6)
            }
            e => {
                *d = b'\\';
                *d.add(1) = e;
                d.add(2)
            }
        }
    }
}

#[cold]
#[inline(never)]
unsafe fn escape_scalar(mut d: *mut u8, s: &[u8]) -> *mut u8 {
    for &c in s {
        d = unsafe { escape_byte(d, c) };
    }
    d
}

/// Strings shorter than 16 bytes: two overlapping loads cover the string; if neither holds a
/// byte to escape, two overlapping stores copy it.
#[inline(always)]
unsafe fn escape_short(d: *mut u8, s: &[u8]) -> *mut u8 {
    let n = s.len();
    let p = s.as_ptr();
    unsafe {
        if n >= 8 {
            let a = p.cast::<u64>().read_unaligned();
            let b = p.add(n - 8).cast::<u64>().read_unaligned();
            if !swar_needs_escape(a) && !swar_needs_escape(b) {
                d.cast::<u64>().write_unaligned(a);
                d.add(n - 8).cast::<u64>().write_unaligned(b);
                return d.add(n);
            }
        } else if n >= 4 {
            let a = p.cast::<u32>().read_unaligned();
            let b = p.add(n - 4).cast::<u32>().read_unaligned();
            if !swar_needs_escape(a as u64 | (b as u64) << 32) {
                d.cast::<u32>().write_unaligned(a);
                d.add(n - 4).cast::<u32>().write_unaligned(b);
                return d.add(n);
            }
        } else if n > 0 {
            let (a, b, c) = (*p, *p.add(n / 2), *p.add(n - 1));
            let x = u64::from_le_bytes([a, b, c, c, c, c, c, c]);
            if !swar_needs_escape(x) {
                *d = a;
                *d.add(n / 2) = b;
                *d.add(n - 1) = c;
                return d.add(n);
            }
        } else {
            return d;
        }
        escape_scalar(d, s)
    }
}

/// The escaped body of `s` (no quotes). Room needed: `6 * s.len()`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn escape_body(mut d: *mut u8, s: &[u8]) -> *mut u8 {
    use std::arch::x86_64::*;
    let n = s.len();
    if n < 16 {
        return unsafe { escape_short(d, s) };
    }
    let p = s.as_ptr();
    // SSE2 is part of x86_64.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let control = _mm_set1_epi8(0x1f);
        let special = |v: __m128i| -> u32 {
            let q = _mm_cmpeq_epi8(v, quote);
            let b = _mm_cmpeq_epi8(v, backslash);
            // v <= 0x1f (unsigned) exactly when min(v, 0x1f) == v.
            let c = _mm_cmpeq_epi8(_mm_min_epu8(v, control), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), c)) as u32
        };
        let mut i = 0;
        while i + 16 <= n {
            let v = _mm_loadu_si128(p.add(i).cast());
            // Copy first, look after: the output has room for at least 16 more bytes.
            _mm_storeu_si128(d.cast(), v);
            let m = special(v);
            if m == 0 {
                i += 16;
                d = d.add(16);
            } else {
                let k = m.trailing_zeros() as usize;
                d = escape_byte(d.add(k), *p.add(i + k));
                i += k + 1;
            }
        }
        if i < n {
            // The last 16 bytes, overlapping what is done: if none of them needs escaping, the
            // done part was copied one to one and storing them all again is right.
            let v = _mm_loadu_si128(p.add(n - 16).cast());
            if special(v) == 0 {
                let rest = n - i;
                _mm_storeu_si128(d.sub(16 - rest).cast(), v);
                return d.add(rest);
            }
            return escape_scalar(d, &s[i..]);
        }
        d
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
unsafe fn escape_body(mut d: *mut u8, s: &[u8]) -> *mut u8 {
    let n = s.len();
    let p = s.as_ptr();
    let mut i = 0;
    unsafe {
        while i + 8 <= n {
            let x = p.add(i).cast::<u64>().read_unaligned();
            if swar_needs_escape(x) {
                return escape_scalar(d, &s[i..]);
            }
            d.cast::<u64>().write_unaligned(x);
            i += 8;
            d = d.add(8);
        }
        escape_short(d, &s[i..])
    }
}

/// A JSON string literal. Room needed: `2 + 6 * s.len()`.
#[inline(always)]
unsafe fn put_str(d: *mut u8, s: &str) -> *mut u8 {
    unsafe {
        *d = b'"';
        let d = escape_body(d.add(1), s.as_bytes());
        *d = b'"';
        d.add(1)
    }
}

/// Decimal digits of `n`, two at a time from the end. Room needed: 20.
#[inline(always)]
unsafe fn put_u64(d: *mut u8, mut n: u64) -> *mut u8 {
    let len = if n < 10 { 1 } else { n.ilog10() as usize + 1 };
    unsafe {
        let end = d.add(len);
        let mut e = end;
        while n >= 100 {
            let r = (n % 100) as usize;
            n /= 100;
            e = e.sub(2);
            e.copy_from_nonoverlapping(DIGIT_PAIRS.as_ptr().add(2 * r), 2);
        }
        if n >= 10 {
            e.sub(2).copy_from_nonoverlapping(DIGIT_PAIRS.as_ptr().add(2 * n as usize), 2);
        } else {
            *e.sub(1) = b'0' + n as u8;
        }
        end
    }
}

/// Room needed: 20.
#[inline(always)]
unsafe fn put_i64(d: *mut u8, n: i64) -> *mut u8 {
    unsafe {
        if n < 0 {
            *d = b'-';
            put_u64(d.add(1), n.unsigned_abs())
        } else {
            put_u64(d, n as u64)
        }
    }
}

/// As JavaScript prints a number (`1e+21`, `1e-7`, `-0` as `0`); JSON.stringify prints
/// NaN and the infinities as `null`. Room needed: 25.
#[inline(never)]
unsafe fn put_f64(d: *mut u8, f: f64) -> *mut u8 {
    let mut buf = ryu_js::Buffer::new();
    let s: &[u8] = if f.is_finite() { if f == 0.0 { b"0" } else { buf.format_finite(f).as_bytes() } } else { b"null" };
    unsafe { put_bytes(d, s) }
}

#[inline(always)]
unsafe fn put_bytes(d: *mut u8, b: &[u8]) -> *mut u8 {
    unsafe {
        d.copy_from_nonoverlapping(b.as_ptr(), b.len());
        d.add(b.len())
    }
}

/// An upper bound of the bytes [`put_scalar`] writes for `v` (0 for JSON values, which go
/// through the `Vec` path).
#[inline(always)]
fn bound(v: &FieldValue<'_>) -> usize {
    match v {
        FieldValue::Str(s) => 2 + 6 * s.len(),
        FieldValue::Int(_) | FieldValue::UInt(_) => 20,
        FieldValue::Float(_) => 25,
        FieldValue::Null | FieldValue::Bool(_) => 5,
        FieldValue::Missing | FieldValue::Json(_) => 0,
    }
}

#[inline(always)]
unsafe fn put_scalar(d: *mut u8, v: &FieldValue<'_>) -> *mut u8 {
    unsafe {
        match *v {
            FieldValue::Str(s) => put_str(d, s),
            FieldValue::Int(i) => put_i64(d, i),
            FieldValue::UInt(u) => put_u64(d, u),
            FieldValue::Float(f) => put_f64(d, f),
            FieldValue::Null => put_bytes(d, b"null"),
            FieldValue::Bool(true) => put_bytes(d, b"true"),
            FieldValue::Bool(false) => put_bytes(d, b"false"),
            FieldValue::Missing | FieldValue::Json(_) => unreachable!("not a scalar"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sinks: a record's layout is written once, generic over where it goes.

trait Sink {
    fn raw(&mut self, b: &'static [u8]);
    fn value(&mut self, v: &FieldValue<'_>);
}

/// Writes through a raw cursor into room reserved beforehand.
struct RawSink(*mut u8);

impl Sink for RawSink {
    #[inline(always)]
    fn raw(&mut self, b: &'static [u8]) {
        self.0 = unsafe { put_bytes(self.0, b) };
    }
    #[inline(always)]
    fn value(&mut self, v: &FieldValue<'_>) {
        self.0 = unsafe { put_scalar(self.0, v) };
    }
}

/// The general path, for records that hold a JSON value.
struct VecSink<'a>(&'a mut Vec<u8>);

impl Sink for VecSink<'_> {
    fn raw(&mut self, b: &'static [u8]) {
        self.0.extend_from_slice(b);
    }
    fn value(&mut self, v: &FieldValue<'_>) {
        match v {
            FieldValue::Json(j) => write_value(self.0, j),
            v => write_scalar(self.0, v),
        }
    }
}

fn write_scalar(out: &mut Vec<u8>, v: &FieldValue<'_>) {
    out.reserve(bound(v));
    unsafe {
        let start = out.as_mut_ptr().add(out.len());
        let end = put_scalar(start, v);
        out.set_len(out.len() + end.offset_from(start) as usize);
    }
}

/// A JSON string literal appended to `out`.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_scalar(out, &FieldValue::Str(s));
}

/// A `serde_json::Number` as JavaScript prints it; integer tokens keep all 64 bits (the
/// project's deliberate deviation 1).
fn number_value(n: &Number) -> FieldValue<'static> {
    if let Some(i) = n.as_i64() {
        FieldValue::Int(i)
    } else if let Some(u) = n.as_u64() {
        FieldValue::UInt(u)
    } else {
        FieldValue::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// A JSON value as a field value (scalars unpacked, so that they take the fast path).
#[inline(always)]
fn field_value(v: &Value) -> FieldValue<'_> {
    match v {
        Value::String(s) => FieldValue::Str(s),
        Value::Number(n) => number_value(n),
        Value::Null => FieldValue::Null,
        Value::Bool(b) => FieldValue::Bool(*b),
        v => FieldValue::Json(v),
    }
}

/// Whether `k` is a canonical array index ("0" to "4294967294"): JavaScript puts such keys
/// first, in ascending order.
fn is_array_index(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && b.len() <= 10
        && b.iter().all(u8::is_ascii_digit)
        && (b[0] != b'0' || b.len() == 1)
        && k.parse::<u64>().is_ok_and(|n| n < u32::MAX as u64)
}

/// Any JSON value as JSON.stringify prints it.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
        v => write_scalar(out, &field_value(v)),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'{');
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if entries.iter().any(|(k, _)| is_array_index(k)) {
        // Stable: the other keys keep their insertion order.
        entries.sort_by_key(|(k, _)| if is_array_index(k) { k.parse::<u64>().unwrap() } else { u64::MAX });
    }
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

// ---------------------------------------------------------------------------------------------
// The two layouts.

/// T1's record: `{"userIds":[{"idType":"SHA256_EMAIL","idValue":…},{"idType":"GOOGLE_AID",
/// "idValue":…}],"firstName":…,"lastName":…,"nested":{"org":"static_value"}}`; a missing field
/// omits its key.
#[inline(always)]
fn t1_layout<S: Sink>(s: &mut S, v: &[FieldValue<'_>; 4], comma: bool) {
    if comma {
        s.raw(br#",{"userIds":[{"idType":"SHA256_EMAIL""#);
    } else {
        s.raw(br#"{"userIds":[{"idType":"SHA256_EMAIL""#);
    }
    if !matches!(v[0], FieldValue::Missing) {
        s.raw(br#","idValue":"#);
        s.value(&v[0]);
    }
    s.raw(br#"},{"idType":"GOOGLE_AID""#);
    if !matches!(v[1], FieldValue::Missing) {
        s.raw(br#","idValue":"#);
        s.value(&v[1]);
    }
    s.raw(b"}]");
    if !matches!(v[2], FieldValue::Missing) {
        s.raw(br#","firstName":"#);
        s.value(&v[2]);
    }
    if !matches!(v[3], FieldValue::Missing) {
        s.raw(br#","lastName":"#);
        s.value(&v[3]);
    }
    s.raw(br#","nested":{"org":"static_value"}}"#);
}

/// Upper bound of T1's constant bytes per record (comma included).
const T1_CONSTANT: usize = 160;

/// T2's record: `{"email":…,"user_id":…}`.
#[inline(always)]
fn t2_layout<S: Sink>(s: &mut S, v: &[FieldValue<'_>; 2], comma: bool) {
    if comma {
        s.raw(b",{");
    } else {
        s.raw(b"{");
    }
    let email = !matches!(v[0], FieldValue::Missing);
    if email {
        s.raw(br#""email":"#);
        s.value(&v[0]);
    }
    if !matches!(v[1], FieldValue::Missing) {
        if email {
            s.raw(b",");
        }
        s.raw(br#""user_id":"#);
        s.value(&v[1]);
    }
    s.raw(b"}");
}

const T2_CONSTANT: usize = 32;

macro_rules! record_writer {
    ($name:ident, $layout:ident, $n:literal, $constant:expr) => {
        #[inline(always)]
        fn $name(out: &mut Vec<u8>, v: &[FieldValue<'_>; $n], comma: bool) {
            if v.iter().any(|v| matches!(v, FieldValue::Json(_))) {
                return $layout(&mut VecSink(out), v, comma);
            }
            let room = $constant + v.iter().map(bound).sum::<usize>();
            out.reserve(room);
            // SAFETY: `room` bounds what the layout writes; every byte up to the cursor is
            // written before `set_len`.
            unsafe {
                let start = out.as_mut_ptr().add(out.len());
                let mut sink = RawSink(start);
                $layout(&mut sink, v, comma);
                out.set_len(out.len() + sink.0.offset_from(start) as usize);
            }
        }
    };
}

record_writer!(t1_record, t1_layout, 4, T1_CONSTANT);
record_writer!(t2_record, t2_layout, 2, T2_CONSTANT);

/// `$number(s)` for the workload's decimal strings, printed as JavaScript prints numbers.
fn write_number_of(out: &mut Vec<u8>, v: &FieldValue<'_>) {
    let f = match v {
        FieldValue::Str(s) => s.parse::<f64>().expect("a decimal audienceId"),
        FieldValue::Int(i) => *i as f64,
        FieldValue::UInt(u) => *u as f64,
        FieldValue::Float(f) => *f,
        other => panic!("$number of {other:?} is outside the workload"),
    };
    write_scalar(out, &FieldValue::Float(f));
}

// ---------------------------------------------------------------------------------------------
// From a RecordBatch.

/// T1's slots in a batch, looked up by name in the template's fields.
#[derive(Clone, Copy, Debug)]
pub struct T1Slots {
    pub sha256_email: usize,
    pub google_aid: usize,
    pub first_name: usize,
    pub last_name: usize,
}

/// T2's slots in a batch.
#[derive(Clone, Copy, Debug)]
pub struct T2Slots {
    pub email: usize,
    pub user_id: usize,
}

impl T1Slots {
    /// The slots of T1's fields in a template's field list.
    pub fn of(fields: &[audience::template::TemplateField]) -> T1Slots {
        T1Slots {
            sha256_email: super::slot(fields, "sha256_email"),
            google_aid: super::slot(fields, "google_aid"),
            first_name: super::slot(fields, "first_name"),
            last_name: super::slot(fields, "last_name"),
        }
    }
}

impl T2Slots {
    /// The slots of T2's fields in a template's field list.
    pub fn of(fields: &[audience::template::TemplateField]) -> T2Slots {
        T2Slots { email: super::slot(fields, "email"), user_id: super::slot(fields, "user_id") }
    }
}

/// T1 over `batch`, appended to `out`.
pub fn t1_batch(batch: &RecordBatch, connection: &Connection, s: T1Slots, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"audience_id":"#);
    write_str(out, &connection.audience_id);
    out.extend_from_slice(br#","elements":["#);
    for r in 0..batch.len() {
        let v = [
            batch.get(r, s.sha256_email),
            batch.get(r, s.google_aid),
            batch.get(r, s.first_name),
            batch.get(r, s.last_name),
        ];
        t1_record(out, &v, r > 0);
    }
    out.extend_from_slice(b"]}");
}

/// T2 over `batch`, appended to `out`.
pub fn t2_batch(batch: &RecordBatch, connection: &Connection, s: T2Slots, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"audienceId":"#);
    write_number_of(out, &FieldValue::Str(&connection.audience_id));
    out.extend_from_slice(br#","users":["#);
    for r in 0..batch.len() {
        let v = [batch.get(r, s.email), batch.get(r, s.user_id)];
        t2_record(out, &v, r > 0);
    }
    out.extend_from_slice(b"]}");
}

// ---------------------------------------------------------------------------------------------
// From a serde_json::Value document.

/// The records of `doc`: `$$.records` maps over an array and applies once to an object.
fn records_of(doc: &Value) -> &[Value] {
    match doc.get("records") {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(v @ Value::Object(_)) => std::slice::from_ref(v),
        Some(other) => panic!("records {other} is outside the workload's shape"),
    }
}

fn connection_key<'a>(doc: &'a Value, key: &str) -> FieldValue<'a> {
    doc.get("connection").and_then(|c| c.get(key)).map_or(FieldValue::Missing, field_value)
}

fn record_object(r: &Value) -> &Map<String, Value> {
    match r {
        Value::Object(m) => m,
        other => panic!("record {other} is outside the workload's shape"),
    }
}

/// T1 over the document `doc`, appended to `out`.
pub fn t1_value(doc: &Value, out: &mut Vec<u8>) {
    out.push(b'{');
    let id = connection_key(doc, "audienceId");
    if !matches!(id, FieldValue::Missing) {
        out.extend_from_slice(br#""audience_id":"#);
        VecSink(out).value(&id);
        out.push(b',');
    }
    out.extend_from_slice(br#""elements":["#);
    for (i, r) in records_of(doc).iter().enumerate() {
        let mut v = [FieldValue::Missing; 4];
        // One pass over the record's entries instead of four hashed look-ups.
        for (k, value) in record_object(r) {
            let slot = match k.as_str() {
                "sha256_email" => 0,
                "google_aid" => 1,
                "first_name" => 2,
                "last_name" => 3,
                _ => continue,
            };
            v[slot] = field_value(value);
        }
        t1_record(out, &v, i > 0);
    }
    out.extend_from_slice(b"]}");
}

/// T2 over the document `doc`, appended to `out`.
pub fn t2_value(doc: &Value, out: &mut Vec<u8>) {
    out.push(b'{');
    let id = connection_key(doc, "audienceId");
    if !matches!(id, FieldValue::Missing) {
        out.extend_from_slice(br#""audienceId":"#);
        write_number_of(out, &id);
        out.push(b',');
    }
    out.extend_from_slice(br#""users":["#);
    for (i, r) in records_of(doc).iter().enumerate() {
        let mut v = [FieldValue::Missing; 2];
        for (k, value) in record_object(r) {
            let slot = match k.as_str() {
                "email" => 0,
                "user_id" => 1,
                _ => continue,
            };
            v[slot] = field_value(value);
        }
        t2_record(out, &v, i > 0);
    }
    out.extend_from_slice(b"]}");
}
