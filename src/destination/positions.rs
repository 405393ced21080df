//! From a position inside a TOML string value to a position in the file: a template written
//! inline in a config is located by its diagnostics in the template's own text (byte offsets
//! into the decoded string), while an editor jumps to a line and column of the TOML file.
//!
//! [`StringPositions`] decodes the string literal at a value's span once, noting for every byte
//! of the decoded text the file offset it came from, so that any number of positions map in
//! constant time. All four TOML string forms are handled: basic strings with their escapes
//! (`\n`, `\"`, `\\`, `\uXXXX`, `\UXXXXXXXX`, ...), literal strings, and the multi-line forms,
//! whose newline right after the opening delimiter is trimmed and (basic only) whose
//! line-ending backslash drops the white space that follows it. A decoded byte that an escape
//! produced maps to the escape's backslash.
//!
//! Used by `check`'s reports and by anything else that shows template positions in a config
//! (an editor's language server).

use std::ops::Range;

use crate::template::span::{LineCol, LineIndex};

/// The file offset of every byte of a decoded TOML string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringPositions {
    /// `offsets[i]` is the file offset of decoded byte `i`; one more entry, for the end of the
    /// text, is where the closing delimiter starts.
    offsets: Vec<usize>,
}

impl StringPositions {
    /// Decodes the string literal that spans `span` of `config` (delimiters included, as the
    /// TOML parser gives a value's span). `None` when the span does not hold a string literal,
    /// or when it decodes to something other than `expected` (the value the config was read
    /// with): a position is never mapped by guesswork.
    pub fn new(config: &str, span: Range<usize>, expected: &str) -> Option<StringPositions> {
        let raw = config.get(span.clone())?;
        let (decoded, offsets) = decode(raw)?;
        if decoded != expected {
            return None;
        }
        Some(StringPositions { offsets: offsets.into_iter().map(|o| o + span.start).collect() })
    }

    /// The file offset of byte `offset` of the decoded text (past the end: the closing
    /// delimiter).
    pub fn file_offset(&self, offset: usize) -> usize {
        let last = self.offsets.len() - 1;
        self.offsets[offset.min(last)]
    }

    /// The 1-based line and column (in characters) in the file of byte `offset` of the decoded
    /// text; `index` is the file's line index.
    pub fn file_line_col(&self, index: &LineIndex<'_>, offset: usize) -> LineCol {
        index.line_col(self.file_offset(offset))
    }
}

/// The decoded text of a TOML string literal and the offset in `raw` of each of its bytes (plus
/// the end); `None` when `raw` is not a well-formed string literal.
fn decode(raw: &str) -> Option<(String, Vec<usize>)> {
    let (open, basic) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else {
        return None;
    };
    let body_end = raw.len().checked_sub(open).filter(|&e| e >= open)?;
    if raw[body_end..] != raw[..open] {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut i = open;
    if open == 3 {
        // The newline right after the opening delimiter is not part of the value.
        if raw[i..].starts_with("\r\n") {
            i += 2;
        } else if raw[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut text = String::with_capacity(body_end - i);
    let mut offsets = Vec::with_capacity(body_end - i + 1);
    let mut push = |text: &mut String, c: char, at: usize| {
        let before = text.len();
        text.push(c);
        offsets.extend(std::iter::repeat_n(at, text.len() - before));
    };
    while i < body_end {
        let c = raw[i..].chars().next()?;
        if !(basic && c == '\\') {
            // A CRLF inside a multi-line string stays a CRLF, as the TOML parser gives it.
            push(&mut text, c, i);
            i += c.len_utf8();
            continue;
        }
        let at = i;
        let next = *bytes.get(i + 1)?;
        i += 2;
        let simple = match next {
            b'b' => Some('\u{8}'),
            b't' => Some('\t'),
            b'n' => Some('\n'),
            b'f' => Some('\u{c}'),
            b'r' => Some('\r'),
            b'e' => Some('\u{1b}'),
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            _ => None,
        };
        if let Some(c) = simple {
            push(&mut text, c, at);
            continue;
        }
        let digits = match next {
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            b' ' | b'\t' | b'\r' | b'\n' if open == 3 => {
                // A line-ending backslash: white space up to and past the line end is dropped.
                i -= 1;
                let rest = &raw[i..body_end];
                let ws = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                if !rest[ws..].starts_with(['\n', '\r']) {
                    return None;
                }
                let rest = &raw[i..body_end];
                i += rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
                continue;
            }
            _ => return None,
        };
        let hex = raw.get(i..i + digits)?;
        let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
        i += digits;
        push(&mut text, c, at);
    }
    offsets.push(body_end);
    Some((text, offsets))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `key = <literal>` as the TOML parser reads it, and its mapping.
    fn mapped(literal: &str) -> (String, String, StringPositions) {
        let config = format!("# a comment\nkey = {literal}\n");
        let value: toml::Table = toml::from_str(&config).unwrap();
        let value = value["key"].as_str().unwrap().to_owned();
        let start = config.find(" = ").unwrap() + 3;
        let end = config.len() - 1;
        let positions = StringPositions::new(&config, start..end, &value)
            .unwrap_or_else(|| panic!("{literal} did not map to {value:?}"));
        (config, value, positions)
    }

    /// The file text at the position of each decoded character `of` in the value.
    fn at(literal: &str, of: &str) -> String {
        let (config, value, positions) = mapped(literal);
        let offset = value.find(of).unwrap_or_else(|| panic!("{of:?} not in {value:?}"));
        config[positions.file_offset(offset)..].chars().take(of.chars().count().max(2)).collect()
    }

    #[test]
    fn every_string_form_maps_back_to_its_source() {
        assert_eq!(at(r#""a b""#, "b"), "b\"");
        assert_eq!(at(r#"'x\n y'"#, "y"), "y'");
        assert_eq!(at(r#""x\ny""#, "\n"), "\\n");
        assert_eq!(at(r#""x\ny""#, "y"), "y\"");
        assert_eq!(at(r#""q\"z\\w""#, "z"), "z\\");
        assert_eq!(at(r#""q\"z\\w""#, "w"), "w\"");
        assert_eq!(at(r#""\u00e9t\U0001F600!""#, "t"), "t\\");
        assert_eq!(at(r#""\u00e9t\U0001F600!""#, "!"), "!\"");
        assert_eq!(at(r#""\u00e9t\U0001F600!""#, "😀"), "\\U");
        assert_eq!(at("\"\"\"\n{\n  \"a\": b\n}\"\"\"", "b"), "b\n");
        assert_eq!(at("'''\r\nfirst\r\nsecond'''", "second"), "second");
        assert_eq!(at("\"\"\"one \\\n    two\"\"\"", "two"), "two");
        assert_eq!(at("\"\"\"one \\  \n\n  two\\tthree\"\"\"", "three"), "three");
    }

    #[test]
    fn lines_and_columns_are_the_files() {
        let (config, _, positions) = mapped("'''\n{\n  \"email\": email\n}'''");
        let index = LineIndex::new(&config);
        // Decoded: `{\n  "email": email\n}`; byte 13 is the `e` of the field.
        assert_eq!(positions.file_line_col(&index, 13), LineCol { line: 4, column: 12 });
        // The end maps to the closing delimiter.
        assert_eq!(positions.file_line_col(&index, 1000), LineCol { line: 5, column: 2 });
    }

    #[test]
    fn anything_else_is_refused() {
        let config = "k = 12\nj = \"a\\qb\"\n";
        assert_eq!(StringPositions::new(config, 4..6, "12"), None);
        assert_eq!(StringPositions::new(config, 11..18, "a"), None);
        assert_eq!(StringPositions::new("k = 'ab'", 4..8, "ba"), None);
        assert_eq!(StringPositions::new("k = 'ab'", 4..80, "ab"), None);
    }
}
