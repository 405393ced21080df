//! What generated text is made of: the name pools shared by the expression and the input
//! generators (so that paths find data), the number tables, random strings, and the filter
//! that keeps strings away from deviation 2.

use super::rng::Rng;

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

/// Record field names templates use, with sub-keys for `addr.city`-like paths.
pub const RECORD_FIELDS: &[&str] = &["email", "phone", "a", "b", "tags", "addr", "first name", "0", "é", "x", "and"];
/// Sub-field names, for the second step of a path (`addr.city`).
pub const SUB_FIELDS: &[&str] = &["city", "zip", "0", "a", "b c"];

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
}
