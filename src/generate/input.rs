//! JSON input as *text*, so that the reference parses the numbers with `JSON.parse` exactly as
//! written: any input ([`gen_input_text`]) or a template's `{"records": [...], "connection":
//! {...}}` document ([`gen_doc_text`]).

use super::pools::{INPUT_NUMBERS, KEYS, NUMBER_STRINGS, SUB_FIELDS, gen_string_value, gen_text, pick_field};
use super::quote::{Quoting, write_quoted};
use super::rng::Rng;

/// A number token for JSON input: an edge, or a random integer within ±2^53 (deviation 1), or a
/// random fraction or exponent form within the f64 range (deviation 4).
pub fn input_number(rng: &mut Rng) -> String {
    match rng.weighted(&[4, 4, 3, 2]) {
        0 => rng.pick(INPUT_NUMBERS).to_string(),
        1 => {
            let limit: u64 = 1 << 53;
            let v = match rng.weighted(&[5, 3, 2]) {
                0 => rng.below(1000) as u64,
                1 => rng.next_u64() % 100_000_000,
                _ => rng.next_u64() % (limit + 1),
            };
            if rng.chance(25) { format!("-{v}") } else { v.to_string() }
        }
        2 => {
            let mut s = String::new();
            if rng.chance(20) {
                s.push('-');
            }
            s.push_str(&(rng.next_u64() % 100_000).to_string());
            s.push('.');
            for _ in 0..rng.range(1, 18) {
                s.push((b'0' + rng.below(10) as u8) as char);
            }
            if rng.chance(30) {
                s.push_str(*rng.pick(&["e", "E", "e+", "e-", "E-"]));
                s.push_str(&rng.below(200).to_string());
            }
            s
        }
        // Any finite double, in Rust's shortest round-trip exponent form (always with an
        // exponent, so never an integer token: deviation 1 cannot apply).
        _ => format!("{:e}", random_double(rng)),
    }
}

/// A finite double from random bits: every exponent, subnormals, both signs.
pub fn random_double(rng: &mut Rng) -> f64 {
    loop {
        let v = f64::from_bits(rng.next_u64());
        if v.is_finite() {
            return v;
        }
    }
}

/// Writes a random JSON value. Object keys come from the shared pools; sometimes a key repeats
/// (JSON.parse keeps the first position and the last value).
/// `empty_ok`: whether an array here may be empty (see deviation 7 above: only object field
/// values may be `[]`).
pub fn write_json_value(rng: &mut Rng, out: &mut String, depth: usize, empty_ok: bool) {
    let choice = rng.weighted(&[1, 1, 3, 4, if depth > 0 { 3 } else { 0 }, if depth > 0 { 3 } else { 0 }]);
    match choice {
        0 => out.push_str("null"),
        1 => out.push_str(*rng.pick(&["true", "false"])),
        2 => out.push_str(&input_number(rng)),
        3 => {
            let s = gen_string_value(rng);
            write_quoted(rng, out, Quoting::Json, &s);
        }
        4 => write_json_object(rng, out, depth - 1),
        _ => write_json_array(rng, out, depth - 1, empty_ok),
    }
}

fn json_ws(rng: &mut Rng, out: &mut String) {
    if rng.chance(10) {
        out.push_str(*rng.pick(&[" ", "\n", "\t", "\r\n  "]));
    }
}

/// Writes a random JSON object of up to four pairs, its values nested at most `depth` more
/// levels; keys come mostly from the field-name pools, and sometimes one repeats.
pub fn write_json_object(rng: &mut Rng, out: &mut String, depth: usize) {
    out.push('{');
    let n = rng.weighted(&[1, 3, 4, 3, 2]);
    let mut keys: Vec<String> = Vec::new();
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        json_ws(rng, out);
        let key = if !keys.is_empty() && rng.chance(8) {
            rng.pick(&keys).clone()
        } else if rng.chance(85) {
            pick_field(rng).to_string()
        } else {
            rng.pick(KEYS).to_string()
        };
        write_quoted(rng, out, Quoting::Json, &key);
        keys.push(key);
        json_ws(rng, out);
        out.push(':');
        json_ws(rng, out);
        write_json_value(rng, out, depth, true);
    }
    out.push('}');
}

/// Writes a random JSON array of up to four items (records, arrays, or both), nested at most
/// `depth` more levels; `empty_ok` as in [`write_json_value`].
pub fn write_json_array(rng: &mut Rng, out: &mut String, depth: usize, empty_ok: bool) {
    out.push('[');
    let n = rng.weighted(&[if empty_ok { 2 } else { 0 }, 3, 3, 2, 1]);
    // Arrays of records (objects), arrays of arrays, or mixed.
    let kind = rng.weighted(&[3, 1, 3]);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        json_ws(rng, out);
        match kind {
            0 if depth > 0 => write_json_object(rng, out, depth - 1),
            1 if depth > 0 => write_json_array(rng, out, depth - 1, false),
            _ => write_json_value(rng, out, depth, false),
        }
    }
    out.push(']');
}

/// Random JSON input text, or `None` for undefined input.
pub fn gen_input_text(rng: &mut Rng) -> Option<String> {
    let mut out = String::new();
    match rng.weighted(&[1, 6, 2, 1, 2]) {
        0 => return None,
        1 => {
            let depth = rng.range(1, 3);
            write_json_object(rng, &mut out, depth)
        }
        2 => {
            let depth = rng.range(1, 3);
            write_json_array(rng, &mut out, depth, false)
        }
        3 => write_json_value(rng, &mut out, 0, false),
        _ => {
            let n = rng.range(0, 4);
            let fields: Vec<String> = (0..n).map(|_| pick_field(rng).to_string()).collect();
            write_doc(rng, &mut out, &fields, true);
        }
    }
    Some(out)
}

/// A `{"records": [...], "connection": {...}}` document for a template that reads `fields`.
/// `weird`: records may also be null, scalars, arrays of records or a single object, and
/// `records` may be missing.
pub fn gen_doc_text(rng: &mut Rng, fields: &[String], weird: bool) -> String {
    let mut out = String::new();
    write_doc(rng, &mut out, fields, weird);
    out
}

fn write_doc(rng: &mut Rng, out: &mut String, fields: &[String], weird: bool) {
    out.push('{');
    let records_first = rng.chance(70);
    let mut wrote = false;
    let records = |rng: &mut Rng, out: &mut String, wrote: &mut bool| {
        let shape = if weird { rng.weighted(&[12, 1, 1, 1]) } else { 0 };
        if shape == 1 {
            return; // no records at all
        }
        if *wrote {
            out.push(',');
        }
        *wrote = true;
        out.push_str("\"records\":");
        match shape {
            0 => {
                out.push('[');
                let n = [0usize, 1, 1, 2, 3, 5][rng.below(6)];
                for i in 0..n {
                    if i > 0 {
                        out.push(',');
                    }
                    if weird && rng.chance(10) {
                        match rng.below(3) {
                            0 => out.push_str("null"),
                            1 => write_json_value(rng, out, 1, false),
                            _ => {
                                out.push('[');
                                for j in 0..rng.range(1, 2) {
                                    if j > 0 {
                                        out.push(',');
                                    }
                                    write_record(rng, out, fields);
                                }
                                out.push(']');
                            }
                        }
                    } else {
                        write_record(rng, out, fields);
                    }
                }
                out.push(']');
            }
            2 => write_record(rng, out, fields),
            _ => write_json_value(rng, out, 1, true),
        }
    };
    if records_first {
        records(rng, out, &mut wrote);
    }
    if !weird || rng.chance(90) {
        if wrote {
            out.push(',');
        }
        wrote = true;
        out.push_str("\"connection\":{\"audienceId\":");
        let id = if rng.chance(50) { rng.pick(NUMBER_STRINGS).to_string() } else { gen_text(rng) };
        write_quoted(rng, out, Quoting::Json, &id);
        out.push_str(",\"audienceName\":");
        let name = gen_text(rng);
        write_quoted(rng, out, Quoting::Json, &name);
        out.push('}');
    }
    if !records_first {
        records(rng, out, &mut wrote);
    }
    out.push('}');
}

/// One record object: each field present with probability 80%, with values of every kind;
/// objects under a field often carry the sub-keys templates read.
fn write_record(rng: &mut Rng, out: &mut String, fields: &[String]) {
    out.push('{');
    let mut first = true;
    for f in fields {
        if !rng.chance(80) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_quoted(rng, out, Quoting::Json, f);
        out.push(':');
        if rng.chance(25) {
            out.push('{');
            let mut first_sub = true;
            for sub in SUB_FIELDS {
                if !rng.chance(60) {
                    continue;
                }
                if !first_sub {
                    out.push(',');
                }
                first_sub = false;
                write_quoted(rng, out, Quoting::Json, sub);
                out.push(':');
                write_json_value(rng, out, 1, true);
            }
            out.push('}');
        } else {
            write_json_value(rng, out, 2, true);
        }
    }
    out.push('}');
}
