//! JSON text exactly as JavaScript writes it: `JSON.stringify` string escaping, ECMAScript
//! `Number::toString` for numbers, and the property order of JavaScript objects (array-index
//! keys first). Also the `$number` string grammar.
// Unsafe: SSE2 intrinsics scan sixteen bytes of a string at a time for characters to escape.
#![allow(unsafe_code)]

use serde_json::Value;

/// For each byte: 0 when `JSON.stringify` copies it, otherwise the character after the
/// backslash of its escape (`u` for `\u00xx`).
pub(crate) static ESCAPE: [u8; 256] = {
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

/// Whether any of the eight bytes of `w` needs escaping (a control character, `"` or `\`).
/// Exact as a yes/no answer: the borrow of the subtractions can only mark bytes above one
/// that really matches.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn word_needs_escape(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(LO * 0x20) & !w;
    let q = w ^ (LO * b'"' as u64);
    let quote = q.wrapping_sub(LO) & !q;
    let b = w ^ (LO * b'\\' as u64);
    let backslash = b.wrapping_sub(LO) & !b;
    (control | quote | backslash) & HI != 0
}

/// Appends `s` as a JSON string literal, escaped as `JSON.stringify` escapes it: `"` and `\`,
/// `\b \t \n \f \r`, other controls as `\u00xx` (lowercase hex); everything else raw (`/`, DEL,
/// U+2028, non-ASCII). Clean runs are found eight bytes at a time and copied whole.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_str_bytes(out, s.as_bytes())
}

/// [`write_str`] on the bytes of a `str` (UTF-8, which the escaper copies as it is).
#[inline(always)]
pub fn write_str_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0; // first byte not yet copied
    let chunks = bytes.chunks_exact(16);
    let tail = chunks.remainder();
    for (k, chunk) in chunks.enumerate() {
        if block_needs_escape(chunk.try_into().expect("sixteen bytes")) {
            for j in k * 16..k * 16 + 16 {
                escape_at(out, bytes, &mut start, j);
            }
        }
    }
    if !tail.is_empty() {
        // The last bytes, padded with a byte that needs no escape, as one more block.
        let mut block = [b'a'; 16];
        block[..tail.len()].copy_from_slice(tail);
        if block_needs_escape(&block) {
            for j in bytes.len() - tail.len()..bytes.len() {
                escape_at(out, bytes, &mut start, j);
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of sixteen bytes needs escaping: one SSE2 comparison per class on x86_64
/// (SSE2 is part of the architecture), two 8-byte words elsewhere.
#[inline(always)]
pub(crate) fn block_needs_escape(block: &[u8; 16]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of x86_64, so these intrinsics are always available; `block` is
        // 16 readable bytes, and `_mm_loadu_si128` needs no alignment.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // An unsigned byte is at most 0x1f exactly when max(byte, 0x1f) is 0x1f.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) != 0
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (a, b) = block.split_at(8);
        word_needs_escape(u64::from_le_bytes(a.try_into().expect("eight bytes")))
            || word_needs_escape(u64::from_le_bytes(b.try_into().expect("eight bytes")))
    }
}

/// Escapes `bytes[j]` if it needs it, first copying the clean run before it.
#[inline(always)]
fn escape_at(out: &mut Vec<u8>, bytes: &[u8], start: &mut usize, j: usize) {
    let b = bytes[j];
    let e = ESCAPE[b as usize];
    if e == 0 {
        return;
    }
    out.extend_from_slice(&bytes[*start..j]);
    if e == b'u' {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
    } else {
        out.extend_from_slice(&[b'\\', e]);
    }
    *start = j + 1;
}

/// Appends a double as JavaScript prints it (`1`, `1e+21`, `1e-7`, `0.000001`; `-0` as `0`).
/// NaN and the infinities are `null`, as in `JSON.stringify`.
#[inline]
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
    } else if f == 0.0 {
        out.push(b'0');
    } else {
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
    }
}

/// Appends the decimal digits of `i`: every digit, as the reference prints an integer token.
#[inline]
pub fn write_i64(out: &mut Vec<u8>, i: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
}

/// Appends the decimal digits of `u`: every digit, as the reference prints an integer token.
#[inline]
pub fn write_u64(out: &mut Vec<u8>, u: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
}

/// Appends a JSON number from the input. Integer tokens keep all 64 bits (a deliberate
/// deviation: the reference rounds beyond 2^53); everything else prints as JavaScript prints it.
#[inline]
pub fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        write_i64(out, i)
    } else if let Some(u) = n.as_u64() {
        write_u64(out, u)
    } else {
        write_f64(out, n.as_f64().unwrap_or(f64::NAN))
    }
}

/// The numeric value of a canonical array-index key ("0" up to "4294967294", no leading zero,
/// no sign), which JavaScript objects list before every other key in ascending order.
#[inline]
pub fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || !b[0].is_ascii_digit() || (b[0] == b'0' && b.len() > 1) {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u64;
    }
    (n <= 4_294_967_294).then_some(n as u32)
}

/// The order in which JavaScript enumerates the given keys: positions of array-index keys by
/// ascending value, then the rest in insertion order. `None` when that is insertion order.
pub fn js_key_order<'k>(keys: impl Iterator<Item = &'k str> + Clone) -> Option<Vec<usize>> {
    if !keys.clone().any(|k| array_index(k).is_some()) {
        return None;
    }
    let mut indexed: Vec<(u32, usize)> = Vec::new();
    let mut rest = Vec::new();
    for (pos, k) in keys.enumerate() {
        match array_index(k) {
            Some(n) => indexed.push((n, pos)),
            None => rest.push(pos),
        }
    }
    indexed.sort_unstable();
    let order: Vec<usize> = indexed.into_iter().map(|(_, p)| p).chain(rest).collect();
    if order.iter().enumerate().all(|(i, &p)| i == p) { None } else { Some(order) }
}

/// Appends a JSON value from the input (or a constant) as `JSON.stringify` would.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
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
        Value::Object(map) => {
            out.push(b'{');
            match js_key_order(map.keys().map(String::as_str)) {
                None => {
                    for (i, (k, v)) in map.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        write_str(out, k);
                        out.push(b':');
                        write_value(out, v);
                    }
                }
                Some(order) => {
                    let entries: Vec<(&String, &Value)> = map.iter().collect();
                    for (i, pos) in order.into_iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        let (k, v) = entries[pos];
                        write_str(out, k);
                        out.push(b':');
                        write_value(out, v);
                    }
                }
            }
            out.push(b'}');
        }
    }
}

/// Why `$number` could not cast a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotANumber;

/// `$number` on a string: the JSON decimal grammar (`-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?`,
/// finite), or a whole `0x`/`0o`/`0b` literal. Anything else, including text after such a
/// prefix's digits, is not a number (the reference's mis-anchored pattern returns NaN there: a
/// deliberate deviation).
pub fn parse_number(s: &str) -> Result<f64, NotANumber> {
    let b = s.as_bytes();
    if is_decimal(b) {
        let f: f64 = s.parse().map_err(|_| NotANumber)?;
        return if f.is_finite() { Ok(f) } else { Err(NotANumber) };
    }
    if b.len() > 2 && b[0] == b'0' {
        let bits = match b[1] {
            b'x' | b'X' => 4,
            b'o' | b'O' => 3,
            b'b' | b'B' => 1,
            _ => return Err(NotANumber),
        };
        return radix_to_f64(&b[2..], bits).ok_or(NotANumber);
    }
    Err(NotANumber)
}

fn is_decimal(b: &[u8]) -> bool {
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// Digits of base 2^`bits` to the nearest double (ties to even), as JavaScript's `Number()`
/// converts `0x...` literals; infinity when too large. `None` on a digit outside the base.
fn radix_to_f64(digits: &[u8], bits: u32) -> Option<f64> {
    let mut mantissa: u64 = 0; // the leading (up to) 64 significant bits
    let mut used = 0u32; // significant bits in `mantissa`
    let mut exponent: i64 = 0; // bits dropped below `mantissa`
    let mut sticky = false; // any dropped bit set
    for &d in digits {
        let v = (d as char).to_digit(1 << bits)? as u64;
        for k in (0..bits).rev() {
            let bit = (v >> k) & 1;
            if used == 0 && bit == 0 {
                continue; // leading zero
            }
            if used < 64 {
                mantissa = (mantissa << 1) | bit;
                used += 1;
            } else {
                exponent += 1;
                sticky |= bit == 1;
            }
        }
    }
    if used == 0 {
        return Some(0.0);
    }
    // Round the `used`-bit mantissa to 53 bits, ties to even (dropped bits feed the sticky bit).
    let extra = used.saturating_sub(53);
    let mut m = mantissa >> extra;
    if extra > 0 {
        let half = 1u64 << (extra - 1);
        let rest = mantissa & ((1u64 << extra) - 1);
        let above = rest > half || (rest == half && (sticky || m & 1 == 1));
        if above {
            m += 1;
        }
    }
    let e = exponent + extra as i64;
    if e > 1100 {
        return Some(f64::INFINITY);
    }
    Some(m as f64 * 2f64.powi(e as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.5e-7), "1.5e-7");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(f(f64::NAN), "null");
        assert_eq!(f(f64::INFINITY), "null");
    }

    #[test]
    fn strings_escape_as_json_stringify() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"\\/\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}\u{2028}é😀");
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"\\\\/\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}\u{2028}é😀\"");
    }

    #[test]
    fn every_byte_at_every_offset_escapes_alike() {
        // The word-at-a-time scan must find an escape wherever it falls in a word.
        for len in 0..20 {
            for pos in 0..len {
                for c in (0u8..0x80).chain([0xc3]) {
                    let mut s: Vec<u8> = vec![b'a'; len];
                    s[pos] = c;
                    if c == 0xc3 {
                        s.insert(pos + 1, 0xa9); // é
                    }
                    let s = String::from_utf8(s).unwrap();
                    let mut out = Vec::new();
                    write_str(&mut out, &s);
                    let expected = serde_json::to_string(&s).unwrap();
                    // serde_json writes DEL raw and controls like JSON.stringify, but `\u007f`
                    // never; the two agree on everything ASCII.
                    assert_eq!(String::from_utf8(out).unwrap(), expected, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn array_index_keys_are_canonical_and_bounded() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        for k in ["", "01", "-1", "1.5", "4294967295", "99999999999", "1a", " 1"] {
            assert_eq!(array_index(k), None, "{k:?}");
        }
        let keys = ["b", "2", "a", "1", "01"];
        assert_eq!(js_key_order(keys.iter().copied()), Some(vec![3, 1, 0, 2, 4]));
        assert_eq!(js_key_order(["a", "b"].iter().copied()), None);
        assert_eq!(js_key_order(["1", "2", "a"].iter().copied()), None);
    }

    #[test]
    fn number_strings_follow_the_reference_table() {
        for (s, v) in [("12", 12.0), ("00012", 12.0), ("1.50", 1.5), ("-12", -12.0), ("1e3", 1000.0), ("1E+3", 1000.0)]
        {
            assert_eq!(parse_number(s), Ok(v), "{s}");
        }
        assert!(parse_number("-0").unwrap().is_sign_negative());
        for (s, v) in [("0x1F", 31.0), ("0X1f", 31.0), ("0b101", 5.0), ("0o17", 15.0)] {
            assert_eq!(parse_number(s), Ok(v), "{s}");
        }
        assert_eq!(parse_number("9007199254740993"), Ok(9007199254740992.0));
        assert_eq!(parse_number("0x20000000000001"), Ok(9007199254740992.0)); // tie to even
        assert_eq!(parse_number("0x20000000000003"), Ok(9007199254740996.0));
        assert_eq!(parse_number(&format!("0x{}", "F".repeat(257))), Ok(f64::INFINITY));
        for s in [
            " 12 ", "12 ", "12\n", " ", "", "+12", ".5", "1.", "1_000", "Infinity", "NaN", "1e400", "abc", "-0x1F",
            "0x", " 0x1F", "0x1Fzz", "0x1F ", "[1]",
        ] {
            assert_eq!(parse_number(s), Err(NotANumber), "{s:?}");
        }
    }
}
