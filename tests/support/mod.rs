//! Shared helpers for the randomised tests (`tests/differential.rs`, `tests/two_modes.rs`): a
//! seeded PRNG and generators of
//!
//! * subset expressions, as source text ([`gen_expression`]),
//! * profile-valid request-body templates ([`gen_template`]),
//! * JSON input as *text* ([`gen_input_text`], [`gen_doc_text`]), so that the reference parses
//!   the numbers with `JSON.parse` exactly as written,
//! * record values for [`audience::template::RecordBatch`] ([`gen_field_value`]).
//!
//! Everything is a pure function of the [`Rng`], so a printed seed (and case index) replays a
//! case exactly. No new dependency: the PRNG is splitmix64.
//!
//! What the generators deliberately never produce, because the engine differs from the
//! reference there *on purpose* (template-language.md §5):
//!
//! 1. integer tokens beyond ±2^53 in JSON input (deviation 1: we keep 64-bit integers exact,
//!    the reference rounds them to doubles). Template *literals* beyond 2^53 are generated: they
//!    follow the reference;
//! 2. strings that `$number` would see with junk around a `0x`/`0o`/`0b` prefix (deviation 2: the
//!    reference's mis-anchored regex gives NaN, printed `null`; we give D3030). See
//!    [`number_string_deviates`]; every generated string goes through it, since any string can
//!    reach `$number` through a path;
//! 3. lone surrogates, in templates or in input (deviation 3: Rust strings cannot hold them);
//! 4. input numbers beyond the f64 range (deviation 4: an input error for us, `null` for the
//!    reference);
//! 5. two literally equal keys in one object constructor, and the keys `_jsonata_lambda` and
//!    `_jsonata_function` (deviation 5: rejected when checking; the reference raises D1009 /
//!    D1013 only when that object is evaluated, so not at all with zero records);
//! 6. deviation 6 (which of two failing parts of one constructor is reported) cannot be avoided
//!    by construction; the differential harness tolerates a differing error code when the
//!    expression has several `$number` calls and both codes are `$number` errors.
//! 7. an empty array as the input root or as an item of an array (deviation 7: when an object
//!    constructor's context is an empty array, the reference pushes `undefined` onto that input
//!    array, which then prints as `[null]` wherever else it is used; we leave the input alone).
//!    Empty arrays as object field values are generated: no constructor gets them as context
//!    except through a path step, which does not mutate;

#![allow(dead_code)]
// `*rng.pick(&[...])` is needed: without the `*` inference picks `T = str` and fails.
#![allow(clippy::explicit_auto_deref)]

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// PRNG

/// splitmix64: tiny, fast, good enough for test generation, and stable across platforms.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// An independent stream for case `index` of `seed`, so one case replays without the others.
    pub fn for_case(seed: u64, index: u64) -> Rng {
        let mut r = Rng::new(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F));
        r.next_u64();
        Rng::new(r.next_u64() ^ index)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Index chosen with the given weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as usize) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        unreachable!()
    }
}

/// A seed for "one fresh seed per run": from the clock and the process id.
pub fn fresh_seed() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut r = Rng::new(nanos ^ ((std::process::id() as u64) << 32));
    // Keep it short enough to type.
    r.next_u64() % 1_000_000_000_000
}

/// `name` parsed as a u64 from the environment, if set.
pub fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

// ---------------------------------------------------------------------------------------------
// Pools shared by the expression and the input generators, so that paths hit.

/// Field names written unquoted in expressions. They follow the reference's name rule: a run of
/// characters up to whitespace (`' \t\n\r\v'`) or an operator character, not starting with a
/// digit, `$`, a quote or a backtick. A form feed and a no-break space are *part* of a name;
/// `'` and `$` inside a name do not end it; `and`/`or`/`in` in operand position are names.
#[rustfmt::skip]
pub const PLAIN_NAMES: &[&str] = &[
    "a", "b", "c", "email", "tags", "addr", "city", "zip", "records", "connection", "audienceId", "x", "and", "or",
    "in", "é", "_x", "a$b", "a'b", "length", "constructor", "function", "\u{c}f", "\u{a0}n", "中文", "__proto__",
];

/// Field names that need a backtick or a quoted step.
#[rustfmt::skip]
pub const QUOTED_NAMES: &[&str] = &[
    "a b", "0", "10", "01", "-1", "1.5", "", "first name", "x.y", "😀", "true", "null", "4294967295", "4294967294",
    "a\"b", "tab\there", "$$", "{}", "\u{2028}",
];

/// The names most paths use, so that generated paths meet generated inputs often.
pub const HOT_NAMES: &[&str] = &["a", "b", "records", "email", "tags", "0", "a b"];

/// Object-constructor keys: array-index edges, the empty key, unicode, names of the pools.
#[rustfmt::skip]
pub const KEYS: &[&str] = &[
    "0", "1", "2", "10", "01", "-1", "4294967294", "4294967295", "1.5", "", "a", "b", "z", "é", "😀", "e", "email",
    "key with space", "\u{0}", "\u{1f}", "\u{2028}", "\"", "\\", "__proto__", "toString", "9", "007", "1e3",
];

/// Strings for `$number`: everything in the reference's table except deviation 2 (junk around a
/// `0x`/`0o`/`0b` prefix). Includes D3030 cases.
#[rustfmt::skip]
pub const NUMBER_STRINGS: &[&str] = &[
    "12", "00012", "1.50", "-12", "-0", "0", "1e3", "1E+3", "1e-7", "1.5e-3", " 12", "12 ", " 12 ", "12\n", " ", "",
    "0x1F", "0X1f", "0b101", "0B11", "0o17", "0O7", "0x0", "0xFFFFFFFFFFFFFFFFFFFF", "0x1FFFFFFFFFFFFF",
    "0x20000000000001", "1.", ".5", "+1", "+12", "abc", "1_000", "Infinity", "-Infinity", "NaN", "1e400", "10e500",
    "-1e400", "1e-400", "-0x1F", "0x", "0b", "0o", "0o8", "0b2", " 0x1F", "9007199254740993",
    "123456789012345678901234567890", "0.000001", "1e21", "123456789.123456789", "0.1", "5e-324",
    "1.7976931348623157e308", "1,5", "1/2", "[1]", "true", "null", "١٢", "１２", "12e", "1e+", "-", "--1",
    "0.30000000000000004", "4294967295",
];

/// Number literals for templates (JSON grammar; a minus is added separately). Literals beyond
/// 2^53 follow the reference (only *input* integers deviate), so they are here.
#[rustfmt::skip]
pub const LITERAL_NUMBERS: &[&str] = &[
    "0", "1", "2", "42", "1e21", "1e+21", "1e20", "1e-7", "1E-7", "0.000001", "0.0000001", "5e-324",
    "1.7976931348623157e308", "2.2250738585072014e-308", "9007199254740992", "9007199254740993",
    "18446744073709551615", "18446744073709551616", "123456789012345678901234567890", "100000000000000000000",
    "0.1", "0.30000000000000004", "123456789.123456789", "1E+3", "1.5e-3", "2.5E-8", "4294967295", "1e-400", "0.0",
    "1.0", "1.50", "0e0", "100", "1e2", "999999999999999999999", "1e308",
];

/// Number tokens for JSON input: formatting edges, all within ±2^53 when they are integer
/// tokens (deviation 1) and within the f64 range (deviation 4).
#[rustfmt::skip]
pub const INPUT_NUMBERS: &[&str] = &[
    "0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "-0.1", "1e21", "1e+21", "-1e21", "1e20", "1e-7", "1E-7",
    "0.000001", "0.0000001", "5e-324", "-5e-324", "1.7976931348623157e308", "-1.7976931348623157e308",
    "9007199254740992", "-9007199254740992", "9007199254740991", "123456789.123456789", "1e300",
    "2.2250738585072014e-308", "1.0", "1.50", "1e2", "1E+2", "12.5", "1e-400", "0.30000000000000004",
    "100000000000000000000.5", "4294967295", "4294967296", "-4294967297", "1e23", "123e-20",
    "100000000000000000000000.0",
];

/// Picks a field name: mostly a hot one, else from all the pools.
pub fn pick_field(rng: &mut Rng) -> &'static str {
    if rng.chance(55) {
        *rng.pick(HOT_NAMES)
    } else if rng.chance(65) {
        *rng.pick(PLAIN_NAMES)
    } else {
        *rng.pick(QUOTED_NAMES)
    }
}

/// Whether `s` is an identifier the reference reads as one plain name token.
pub fn is_plain_name(s: &str) -> bool {
    PLAIN_NAMES.contains(&s)
}

// ---------------------------------------------------------------------------------------------
// Text and the `$number` deviation filter

/// Characters strings are made of: ASCII, quotes and backslashes, controls, DEL and C1, non-ASCII,
/// astral, U+2028/U+2029, BOM, characters that are operators in JSONata.
#[rustfmt::skip]
const CHARS: &[char] = &[
    'a', 'b', 'c', 'x', 'o', 'Z', '0', '1', '7', '9', ' ', ' ', '"', '\'', '\\', '/', '`', '$', '.', '{', '}', '[',
    '*', '\t', '\n', '\r', '\u{0}', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1f}', '\u{7f}', '\u{80}', '\u{85}',
    '\u{9f}', 'é', 'ß', '中', '😀', '𝄞', '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffd}', '\u{e000}', '\u{10ffff}',
    '<', '&',
];

/// A short random string (never deviating under `$number`).
pub fn gen_text(rng: &mut Rng) -> String {
    loop {
        let n = rng.weighted(&[2, 5, 6, 4, 2]);
        let len = [0, 1, 3, 6, 12][n];
        let s: String = (0..len).map(|_| *rng.pick(CHARS)).collect();
        if !number_string_deviates(&s) {
            return s;
        }
    }
}

/// A string value: random text, a `$number` string, a key or a name.
pub fn gen_string_value(rng: &mut Rng) -> String {
    match rng.weighted(&[5, 3, 1, 1]) {
        0 => gen_text(rng),
        1 => rng.pick(NUMBER_STRINGS).to_string(),
        2 => rng.pick(KEYS).to_string(),
        _ => pick_field(rng).to_string(),
    }
}

/// Whether `$number(s)` would hit deviation 2: the decimal regex fails, the reference's
/// mis-anchored `/^(0[xX][0-9A-Fa-f]+)|(0[oO][0-7]+)|(0[bB][0-1]+)$/` matches somewhere, and the
/// string is not exactly one of the three anchored forms (where we agree with the reference).
pub fn number_string_deviates(s: &str) -> bool {
    if is_decimal(s) {
        return false;
    }
    let b = s.as_bytes();
    let hex_at_start = b.len() >= 3 && b[0] == b'0' && matches!(b[1], b'x' | b'X') && b[2].is_ascii_hexdigit();
    let octal_anywhere =
        b.windows(3).any(|w| w[0] == b'0' && matches!(w[1], b'o' | b'O') && (b'0'..=b'7').contains(&w[2]));
    let binary_at_end = {
        let digits = b.iter().rev().take_while(|c| matches!(c, b'0' | b'1')).count();
        let n = b.len();
        // `0[bB][01]+$`: the maximal run of binary digits at the end, preceded by `0b` (a
        // shorter run would be preceded by a digit, not by `b`).
        digits >= 1 && n >= digits + 2 && matches!(b[n - digits - 1], b'b' | b'B') && b[n - digits - 2] == b'0'
    };
    if !(hex_at_start || octal_anywhere || binary_at_end) {
        return false;
    }
    let exact = |prefix: &[u8], ok: fn(u8) -> bool| {
        b.len() > 2 && b[0] == b'0' && prefix.contains(&b[1]) && b[2..].iter().all(|&c| ok(c))
    };
    let exactly = exact(b"xX", |c| c.is_ascii_hexdigit())
        || exact(b"oO", |c| (b'0'..=b'7').contains(&c))
        || exact(b"bB", |c| c == b'0' || c == b'1');
    !exactly
}

/// `^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$`
fn is_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && b[i] == b'-' {
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
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

// ---------------------------------------------------------------------------------------------
// Source text: whitespace, comments, literals

/// Maybe whitespace and comments between two tokens. The reference's whitespace is exactly
/// space, tab, CR, LF and vertical tab; comments are `/* ... */`, not nested.
fn ws(rng: &mut Rng, out: &mut String) {
    if !rng.chance(25) {
        return;
    }
    for _ in 0..rng.range(1, 2) {
        if rng.chance(20) {
            let body = rng.pick(&["", " c ", "/* not nested ", "*", " \u{2028} é ", "**", "\n", "{\"k\": 1}", "/"]);
            out.push_str("/*");
            out.push_str(body);
            out.push_str("*/");
        } else {
            for _ in 0..rng.range(1, 3) {
                out.push(*rng.pick(&[' ', ' ', '\t', '\n', '\r', '\u{b}']));
            }
        }
    }
}

fn hex4(rng: &mut Rng, out: &mut String, unit: u32) {
    let s = format!("{unit:04x}");
    if rng.chance(50) { out.push_str(&s) } else { out.push_str(&s.to_uppercase()) }
}

/// Writes `value` as a JSONata string literal, with a random quote and random escapes (`\uXXXX`
/// with either case of hex, surrogate pairs for astral characters, the short escapes) and
/// raw characters (controls, tabs and newlines are allowed raw inside literals).
pub fn write_string_literal(rng: &mut Rng, out: &mut String, value: &str) {
    let quote = if rng.chance(65) { '"' } else { '\'' };
    out.push(quote);
    let escape_rate = *rng.pick(&[0u32, 0, 10, 40]);
    for c in value.chars() {
        let must = c == quote || c == '\\';
        if must || rng.chance(escape_rate) {
            let short = match c {
                '"' if quote == '"' => Some("\\\""),
                '"' => None, // `\"` is an escape in both quotes, but keep it varied
                '\\' => Some("\\\\"),
                '/' => Some("\\/"),
                '\u{8}' => Some("\\b"),
                '\u{c}' => Some("\\f"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                _ => None,
            };
            match short {
                Some(s) if rng.chance(70) => out.push_str(s),
                _ => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str("\\u");
                        hex4(rng, out, *unit as u32);
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out.push(quote);
}

/// Writes a number literal (JSON grammar, never negative: see [`write_number`]).
fn number_literal(rng: &mut Rng) -> String {
    if rng.chance(45) {
        return rng.pick(LITERAL_NUMBERS).to_string();
    }
    if rng.chance(15) {
        return format!("{:e}", random_double(rng).abs());
    }
    let mut s = String::new();
    if rng.chance(25) {
        s.push('0');
    } else {
        s.push((b'1' + rng.below(9) as u8) as char);
        for _ in 0..rng.pick(&[0usize, 1, 2, 5, 10, 17]).to_owned() {
            s.push((b'0' + rng.below(10) as u8) as char);
        }
    }
    if rng.chance(35) {
        s.push('.');
        for _ in 0..rng.range(1, 12) {
            s.push((b'0' + rng.below(10) as u8) as char);
        }
    }
    if rng.chance(25) {
        s.push(*rng.pick(&['e', 'E']));
        s.push_str(*rng.pick(&["", "", "+", "-"]));
        // Small exponents keep every literal finite (at most 18 digits before `e29`).
        s.push_str(&rng.below(30).to_string());
    }
    s
}

/// A number literal, sometimes with a unary minus (which the reference folds into the literal,
/// also across whitespace and comments).
///
/// `out_of_range`: sometimes a literal beyond the f64 range (S0102 on both sides); never in
/// templates, which must compile.
fn write_number(rng: &mut Rng, out: &mut String, out_of_range: bool) {
    if rng.chance(25) {
        out.push('-');
        ws(rng, out);
    }
    if out_of_range && rng.chance(2) {
        out.push_str(*rng.pick(&["1e309", "1.8e308", "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"]));
    } else {
        out.push_str(&number_literal(rng));
    }
}

fn write_name_step(rng: &mut Rng, out: &mut String, name: &str, allow_plain: bool) {
    let plain = allow_plain && is_plain_name(name);
    let backtick_ok = !name.contains('`');
    match rng.weighted(&[if plain { 6 } else { 0 }, if backtick_ok { 3 } else { 0 }, 2]) {
        0 => out.push_str(name),
        1 => {
            out.push('`');
            out.push_str(name);
            out.push('`');
        }
        _ => write_string_literal(rng, out, name),
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions of the subset

/// Where an expression sits, for the template profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// Any subset expression.
    Free,
    /// A template outside the iteration block: no relative paths.
    TemplateTop,
    /// Inside `[$$.records.{ ... }]`: relative paths, no iteration.
    Block,
}

struct Gen<'r> {
    rng: &'r mut Rng,
    out: String,
    /// Template fields seen, in order of first appearance (templates only).
    fields: Vec<String>,
}

/// A random subset expression, as source text.
pub fn gen_expression(rng: &mut Rng) -> String {
    let depth = rng.range(0, 4);
    let mut g = Gen { rng, out: String::new(), fields: Vec::new() };
    ws(g.rng, &mut g.out);
    g.expr(depth, Scope::Free);
    ws(g.rng, &mut g.out);
    g.out
}

/// Expressions built from paths that walk the actual `input` (so that deep paths hit: nested
/// arrays, singleton arrays, arrays of records), wrapped in constructors and `$number`.
pub fn gen_walk_expression(rng: &mut Rng, input: Option<&Value>) -> String {
    let mut out = String::new();
    let shape = rng.weighted(&[3, 2, 2, 1, 1, 2, 1]);
    let path = |rng: &mut Rng, out: &mut String| write_walk_path(rng, out, input);
    match shape {
        0 => path(rng, &mut out),
        1 => {
            out.push('[');
            path(rng, &mut out);
            out.push(']');
        }
        2 => {
            out.push_str("{\"k\": ");
            path(rng, &mut out);
            out.push_str(", \"j\": [");
            path(rng, &mut out);
            out.push_str("]}");
        }
        3 => {
            out.push_str("[[");
            path(rng, &mut out);
            out.push_str("], ");
            path(rng, &mut out);
            out.push(']');
        }
        4 => {
            out.push_str("$number(");
            path(rng, &mut out);
            out.push(')');
        }
        5 => {
            // An object step over the walked sequence, with relative paths inside.
            path(rng, &mut out);
            out.push_str(".{\"v\": ");
            let sub = rng.pick(&["a", "b", "`0`", "tags", "email", "records", "`a b`"]).to_string();
            out.push_str(&sub);
            out.push_str(", \"w\": [");
            out.push_str(*rng.pick(&["a", "b", "`0`", "tags", "email"]));
            out.push_str("], \"r\": $$.a}");
        }
        _ => {
            out.push_str("{\"n\": ");
            path(rng, &mut out);
            out.push_str(".{\"0\": 0, \"10\": 10, \"b\": b, \"1\": 1, \"a\": a}}");
        }
    }
    out
}

fn write_walk_path(rng: &mut Rng, out: &mut String, input: Option<&Value>) {
    let mut at: Vec<&Value> = input.into_iter().collect();
    let relative = rng.chance(25);
    if !relative {
        out.push_str("$$");
    }
    for steps in 0..rng.range(1, 5) {
        // Step into arrays (paths map over them) until an object offers keys.
        let mut keys: Vec<&str> = Vec::new();
        let mut stack = at.clone();
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    keys.extend(m.keys().map(String::as_str));
                }
                Value::Array(items) => stack.extend(items.iter()),
                _ => {}
            }
        }
        if keys.is_empty() && steps > 0 && rng.chance(80) {
            break;
        }
        let name: String =
            if keys.is_empty() || rng.chance(8) { pick_field(rng).to_string() } else { rng.pick(&keys).to_string() };
        if steps > 0 || !relative {
            out.push('.');
        }
        if steps == 0 && relative {
            // A quoted first step would be a string, not a name, when it is the only step.
            if is_plain_name(&name) {
                out.push_str(&name);
            } else if !name.contains('`') {
                out.push('`');
                out.push_str(&name);
                out.push('`');
            } else {
                out.push('a');
            }
        } else if name.contains('`') {
            write_string_literal(rng, out, &name);
        } else {
            write_name_step(rng, out, &name, true);
        }
        // Follow the values under that key.
        let mut vals = Vec::new();
        let mut stack = at;
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => vals.extend(m.get(&name)),
                Value::Array(items) => stack.extend(items.iter()),
                _ => {}
            }
        }
        at = vals;
    }
}

/// A `$number(...)` call over a literal, a constructor or a path of the input.
pub fn gen_number_call(rng: &mut Rng) -> String {
    let mut g = Gen { rng, out: String::new(), fields: Vec::new() };
    g.number_call(1, Scope::Free);
    g.out
}

/// A template that satisfies the template profile, with the template fields it reads (distinct
/// first names of the relative paths in its blocks, in order of first appearance).
pub fn gen_template(rng: &mut Rng) -> (String, Vec<String>) {
    let depth = rng.range(1, 4);
    let mut g = Gen { rng, out: String::new(), fields: Vec::new() };
    ws(g.rng, &mut g.out);
    match g.rng.weighted(&[5, 2, 3]) {
        0 => g.object(depth, Scope::TemplateTop, true),
        1 => g.array(depth, Scope::TemplateTop, true),
        // The common shape: `{ ..., "data": [$$.records.{ ... }], ... }`.
        _ => {
            g.out.push('{');
            g.ws();
            let before = g.rng.chance(40);
            if before {
                write_string_literal(g.rng, &mut g.out, "audience");
                g.out.push(':');
                g.connection_path();
                g.out.push(',');
                g.ws();
            }
            write_string_literal(g.rng, &mut g.out, "data");
            g.ws();
            g.out.push(':');
            g.ws();
            g.block(depth);
            g.ws();
            g.out.push('}');
        }
    }
    ws(g.rng, &mut g.out);
    (g.out, g.fields)
}

/// Record field names templates use, with sub-keys for `addr.city`-like paths.
pub const RECORD_FIELDS: &[&str] = &["email", "phone", "a", "b", "tags", "addr", "first name", "0", "é", "x", "and"];
pub const SUB_FIELDS: &[&str] = &["city", "zip", "0", "a", "b c"];

impl Gen<'_> {
    fn ws(&mut self) {
        ws(self.rng, &mut self.out);
    }

    fn expr(&mut self, depth: usize, scope: Scope) {
        let leaf = depth == 0;
        let w_path = match scope {
            Scope::Free => 8,
            Scope::TemplateTop => 2,
            Scope::Block => 8,
        };
        let choice = self.rng.weighted(&[
            3,                                                        // string
            3,                                                        // number
            1,                                                        // true/false/null
            if leaf { 0 } else { 3 },                                 // object
            if leaf { 0 } else { 3 },                                 // array
            w_path,                                                   // path
            if leaf { 1 } else { 2 },                                 // $number
            if scope == Scope::TemplateTop && !leaf { 7 } else { 0 }, // iteration block
        ]);
        match choice {
            0 => {
                let s = gen_string_value(self.rng);
                write_string_literal(self.rng, &mut self.out, &s);
            }
            1 => write_number(self.rng, &mut self.out, scope == Scope::Free),
            2 => self.out.push_str(*self.rng.pick(&["true", "false", "null"])),
            3 => self.object(depth - 1, scope, false),
            4 => self.array(depth - 1, scope, false),
            5 => self.path(depth, scope),
            6 => self.number_call(depth.saturating_sub(1), scope),
            _ => self.block(depth - 1),
        }
    }

    /// `{ "k": v, ... }` with distinct keys. `top`: never empty at the top of a template, so
    /// the template says something.
    fn object(&mut self, depth: usize, scope: Scope, top: bool) {
        self.out.push('{');
        self.ws();
        let n = if top { self.rng.range(1, 5) } else { self.rng.weighted(&[2, 4, 4, 2, 1]) };
        let mut keys: Vec<String> = Vec::new();
        for i in 0..n {
            let key = loop {
                let k = if self.rng.chance(1) {
                    // Close to the reserved keys, but not one of them (see deviation 5 above).
                    self.rng.pick(&["_jsonata_x", "_jsonata_lambd", "jsonata_lambda"]).to_string()
                } else if self.rng.chance(70) {
                    self.rng.pick(KEYS).to_string()
                } else {
                    gen_text(self.rng)
                };
                if !keys.contains(&k) {
                    break k;
                }
            };
            if i > 0 {
                self.out.push(',');
                self.ws();
            }
            write_string_literal(self.rng, &mut self.out, &key);
            keys.push(key);
            self.ws();
            self.out.push(':');
            self.ws();
            self.expr(depth, scope);
            self.ws();
        }
        self.out.push('}');
    }

    fn array(&mut self, depth: usize, scope: Scope, top: bool) {
        self.out.push('[');
        self.ws();
        let n = if top { self.rng.range(1, 4) } else { self.rng.weighted(&[2, 4, 4, 2, 1]) };
        for i in 0..n {
            if i > 0 {
                self.out.push(',');
                self.ws();
            }
            self.expr(depth, scope);
            self.ws();
        }
        self.out.push(']');
    }

    /// `$number(arg)`; whitespace may separate the name from `(`.
    fn number_call(&mut self, depth: usize, scope: Scope) {
        self.out.push_str("$number");
        self.ws();
        self.out.push('(');
        self.ws();
        match self.rng.weighted(&[4, 1, 1, 1, if scope == Scope::TemplateTop { 1 } else { 5 }]) {
            0 => {
                let s =
                    if self.rng.chance(80) { self.rng.pick(NUMBER_STRINGS).to_string() } else { gen_text(self.rng) };
                write_string_literal(self.rng, &mut self.out, &s);
            }
            1 => write_number(self.rng, &mut self.out, scope == Scope::Free),
            2 => self.out.push_str(*self.rng.pick(&["true", "false", "null"])),
            // Constructors only where they cannot carry an iteration block into `$number`.
            3 if depth > 0 && scope != Scope::TemplateTop => {
                if self.rng.chance(50) {
                    self.object(depth - 1, scope, false)
                } else {
                    self.array(depth - 1, scope, false)
                }
            }
            3 => self.out.push_str(*self.rng.pick(&["{}", "[]", "[\"2\"]", "[1]"])),
            _ => self.path(depth, scope),
        }
        self.ws();
        self.out.push(')');
    }

    fn path(&mut self, depth: usize, scope: Scope) {
        match scope {
            Scope::Free => self.free_path(depth),
            Scope::TemplateTop => self.connection_path(),
            Scope::Block => {
                if self.rng.chance(15) {
                    self.connection_path()
                } else {
                    self.relative_path()
                }
            }
        }
    }

    /// `$$.connection.audienceId` / `audienceName`, in any of the step spellings.
    fn connection_path(&mut self) {
        self.out.push_str("$$");
        for name in ["connection", if self.rng.chance(50) { "audienceId" } else { "audienceName" }] {
            self.ws();
            self.out.push('.');
            self.ws();
            write_name_step(self.rng, &mut self.out, name, true);
        }
    }

    /// A relative path inside the block: a record field, maybe a sub-key or two.
    fn relative_path(&mut self) {
        let field = *self.rng.pick(RECORD_FIELDS);
        let steps = self.rng.weighted(&[6, 3, 1]);
        // A quoted first step is a field only when a step follows (else it is a string).
        if steps > 0 && self.rng.chance(25) {
            write_string_literal(self.rng, &mut self.out, field);
        } else {
            let plain = is_plain_name(field) || ["phone"].contains(&field);
            if plain && self.rng.chance(75) {
                self.out.push_str(field);
            } else {
                self.out.push('`');
                self.out.push_str(field);
                self.out.push('`');
            }
        }
        if !self.fields.iter().any(|f| f == field) {
            self.fields.push(field.to_string());
        }
        for _ in 0..steps {
            self.ws();
            self.out.push('.');
            self.ws();
            let sub = *self.rng.pick(SUB_FIELDS);
            write_name_step(self.rng, &mut self.out, sub, true);
        }
    }

    /// Any path: a first step that is `$$`, a name, a backtick name or a quoted string (which
    /// is a name only when more steps follow), then name steps and `.{ ... }` steps.
    fn free_path(&mut self, depth: usize) {
        let first = self.rng.weighted(&[5, 4, 2, 2]);
        let mut steps = self.rng.weighted(&[3, 4, 3, 1]);
        if first == 3 && steps == 0 {
            steps = 1;
        }
        match first {
            0 => self.out.push_str("$$"),
            1 => {
                let name = loop {
                    let n = pick_field(self.rng);
                    if is_plain_name(n) {
                        break n;
                    }
                };
                self.out.push_str(name);
            }
            2 => {
                let name = pick_field(self.rng);
                self.out.push('`');
                self.out.push_str(name);
                self.out.push('`');
            }
            _ => {
                let name = pick_field(self.rng);
                write_string_literal(self.rng, &mut self.out, name);
            }
        }
        for _ in 0..steps {
            self.ws();
            self.out.push('.');
            self.ws();
            if depth > 0 && self.rng.chance(20) {
                self.object(depth - 1, Scope::Free, false);
            } else {
                let name = pick_field(self.rng);
                write_name_step(self.rng, &mut self.out, name, true);
            }
        }
    }

    /// `[$$.records.{ ... }]`, the iteration block of the template profile.
    fn block(&mut self, depth: usize) {
        self.out.push('[');
        self.ws();
        self.out.push_str("$$");
        self.ws();
        self.out.push('.');
        self.ws();
        write_name_step(self.rng, &mut self.out, "records", true);
        self.ws();
        self.out.push('.');
        self.ws();
        self.object(depth, Scope::Block, false);
        self.ws();
        self.out.push(']');
    }
}

// ---------------------------------------------------------------------------------------------
// JSON input text

/// Writes `s` as a JSON string token with random escaping (controls always escaped, as JSON
/// requires; astral characters sometimes as surrogate pairs; never a lone surrogate).
pub fn write_json_string(rng: &mut Rng, out: &mut String, s: &str) {
    out.push('"');
    let escape_rate = *rng.pick(&[0u32, 0, 5, 40]);
    for c in s.chars() {
        let must = c == '"' || c == '\\' || (c as u32) < 0x20;
        if must || rng.chance(escape_rate) {
            let short = match c {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '/' => Some("\\/"),
                '\u{8}' => Some("\\b"),
                '\u{c}' => Some("\\f"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                _ => None,
            };
            match short {
                Some(e) if rng.chance(70) => out.push_str(e),
                _ => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str("\\u");
                        hex4(rng, out, *unit as u32);
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

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
            write_json_string(rng, out, &s);
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
        write_json_string(rng, out, &key);
        keys.push(key);
        json_ws(rng, out);
        out.push(':');
        json_ws(rng, out);
        write_json_value(rng, out, depth, true);
    }
    out.push('}');
}

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
        write_json_string(rng, out, &id);
        out.push_str(",\"audienceName\":");
        let name = gen_text(rng);
        write_json_string(rng, out, &name);
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
        write_json_string(rng, out, f);
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
                write_json_string(rng, out, sub);
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

// ---------------------------------------------------------------------------------------------
// Record batch values (for the two-modes property)

/// A value of one record field, as the sync runner would set it.
#[derive(Clone, Debug)]
pub enum FieldVal {
    Missing,
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    Json(Value),
}

/// Finite float edges (NaN and infinities have no JSON document equivalent).
#[rustfmt::skip]
#[allow(clippy::excessive_precision)] // written as in JSON on purpose
pub const FLOAT_EDGES: &[f64] = &[
    0.0, -0.0, 0.1, 1.0, -1.5, 1e21, 1e-7, 1e-6, 5e-324, f64::MAX, f64::MIN, f64::MIN_POSITIVE, 9007199254740992.0,
    9007199254740993.0, 123456789.123456789, 1e300, 0.30000000000000004, 4294967295.0, 1e20,
];

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

    pub fn set(&self, batch: &mut audience::template::RecordBatch, field: usize) {
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
pub fn gen_connection(rng: &mut Rng) -> audience::template::Connection {
    let id = if rng.chance(50) { rng.pick(NUMBER_STRINGS).to_string() } else { gen_text(rng) };
    audience::template::Connection { audience_id: id, audience_name: gen_text(rng) }
}

/// The JSON document a batch renders as: `{"records": [...], "connection": {...}}`.
pub fn batch_doc(fields: &[String], records: &[Vec<FieldVal>], conn: &audience::template::Connection) -> Value {
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

/// `text` (JSON) with every escaped lone surrogate replaced by `\ufffd`: serde_json cannot hold
/// lone surrogates (deviation 3), and the suite file has a few, all in out-of-subset cases.
pub fn without_lone_surrogates(text: &str) -> String {
    let b = text.as_bytes();
    let unit = |i: usize| -> Option<u16> {
        let esc = b.get(i..i + 6)?;
        if &esc[..2] != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&esc[2..]).ok()?, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit(i) {
            Some(0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => i += 12,
            Some(0xD800..=0xDFFF) => {
                out.push_str(&text[copied..i]);
                out.push_str("\\ufffd");
                i += 6;
                copied = i;
            }
            // Any other escape is skipped whole, so that `\\u...` is not read as `\u`.
            _ => i += 2,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Shows a string for a failure report: Rust debug escaping, so controls and U+2028 are visible.
pub fn show(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviation_filter() {
        for s in ["0x1F", "0b101", "0o17", "12", "abc", "", " 12", "0x", "-0x1F", " 0x1F", "0o8", "0b2", "1 0"] {
            assert!(!number_string_deviates(s), "{s:?}");
        }
        for s in ["0x1F ", "0x1Fzz", "abc0o7", "1 0b1", "0x1F\n", "x0o1", "0b1x0b1"] {
            assert!(number_string_deviates(s), "{s:?}");
        }
        for s in NUMBER_STRINGS {
            assert!(!number_string_deviates(s), "{s:?}");
        }
    }

    #[test]
    fn lone_surrogates_replaced() {
        let t = r#"["\ud800", "\\ud800", "\ud83d\ude00", "\udc00x", "\n\ud83d"]"#;
        assert_eq!(without_lone_surrogates(t), r#"["\ufffd", "\\ud800", "\ud83d\ude00", "\ufffdx", "\n\ufffd"]"#);
    }
}
