//! The one string escaper outside the engine: writes a value as a quoted string with random
//! escapes, for template source (a JSONata string literal) and for JSON input text. The engine's
//! own escaping (`template::json`) is what these strings test, so it is never used here.

use super::rng::Rng;

/// Which grammar the quoted string follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quoting {
    /// A JSONata string literal: `"..."` or `'...'`; control characters, tabs and newlines may
    /// stand raw.
    Jsonata,
    /// A JSON string token: `"..."`; control characters must be escaped.
    Json,
}

/// Writes `value` quoted as `quoting` says, with random escapes: the short ones (`\n`, `\"`,
/// `\/`, ...), `\uXXXX` with either case of hex, surrogate pairs for astral characters (never a
/// lone surrogate), and characters left raw wherever the grammar allows.
pub fn write_quoted(rng: &mut Rng, out: &mut String, quoting: Quoting, value: &str) {
    let (quote, rates): (char, &[u32]) = match quoting {
        Quoting::Jsonata => (if rng.chance(65) { '"' } else { '\'' }, &[0, 0, 10, 40]),
        Quoting::Json => ('"', &[0, 0, 5, 40]),
    };
    out.push(quote);
    let escape_rate = *rng.pick(rates);
    for c in value.chars() {
        let must = c == quote || c == '\\' || (quoting == Quoting::Json && (c as u32) < 0x20);
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
                        let hex = format!("{unit:04x}");
                        out.push_str("\\u");
                        if rng.chance(50) { out.push_str(&hex) } else { out.push_str(&hex.to_uppercase()) }
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the escapes chosen, a JSON string reads back as the value (serde_json is the
    /// independent judge), and a JSONata literal parses to one string literal of that value.
    #[test]
    fn quoted_strings_read_back() {
        let values = ["", "a", "\"'\\/", "\u{0}\u{1f}\t\n\r\u{8}\u{c}", "é中😀𝄞", "\u{2028}\u{feff}\u{10ffff}"];
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            for value in values {
                let mut json = String::new();
                write_quoted(&mut rng, &mut json, Quoting::Json, value);
                assert_eq!(serde_json::from_str::<String>(&json).unwrap(), value, "{json}");

                let mut literal = String::new();
                write_quoted(&mut rng, &mut literal, Quoting::Jsonata, value);
                let parsed = crate::template::parser::parse(&literal);
                match parsed.expr.map(|e| e.kind) {
                    Some(crate::template::ast::ExprKind::String(s)) => assert_eq!(s, value, "{literal}"),
                    other => panic!("{literal:?} parsed as {other:?}"),
                }
            }
        }
    }
}
