//! Byte spans into template source, and the line/column arithmetic done only when reporting.

use serde::Serialize;

/// A half-open byte range `start..end` into the template source. Byte offsets are the truth
/// everywhere in the engine; lines and columns are derived from them by [`LineIndex`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte (`start` for an empty span).
    pub end: u32,
}

impl Span {
    /// The span `start..end`. Offsets fit `u32`: sources are at most
    /// [`MAX_SOURCE_BYTES`](super::MAX_SOURCE_BYTES) long.
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// The span as a range, for slicing the source.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span covers no byte (a position, such as the end of input).
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// A 1-based line and a 1-based column counted in Unicode scalar values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineCol {
    /// Line number, from 1.
    pub line: u32,
    /// Column number, from 1, in Unicode scalar values.
    pub column: u32,
}

/// Maps byte offsets to lines and columns. Lines end at LF, CRLF or a lone CR and at nothing
/// else: a form feed or U+2028 does not start a line (the same rule the human report uses, so
/// both agree on every position).
#[derive(Clone, Debug)]
pub struct LineIndex<'s> {
    src: &'s str,
    /// Byte offset at which each line starts.
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    /// Indexes the line starts of `src` (one pass over its bytes).
    pub fn new(src: &'s str) -> LineIndex<'s> {
        let bytes = src.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    starts.push(i + 2);
                    i += 1;
                }
                b'\r' => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { src, starts }
    }

    /// Line and column of a byte offset. An offset inside a multi-byte character or past the
    /// end is clamped to the nearest character boundary before it.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let mut offset = offset.min(self.src.len());
        while !self.src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.src[self.starts[line]..offset].chars().count();
        LineCol { line: line as u32 + 1, column: column as u32 + 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_lines_end_at_lf_crlf_and_cr() {
        let src = "ab\r\né\tx\ry\u{c}z\u{2028}w";
        let idx = LineIndex::new(src);
        assert_eq!(idx.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(idx.line_col(4), LineCol { line: 2, column: 1 });
        // after `é` (2 bytes) and a tab: column 3
        assert_eq!(idx.line_col(7), LineCol { line: 2, column: 3 });
        // a lone CR ends a line; a form feed and U+2028 do not
        let y = src.find('y').unwrap();
        assert_eq!(idx.line_col(y), LineCol { line: 3, column: 1 });
        let w = src.find('w').unwrap();
        assert_eq!(idx.line_col(w), LineCol { line: 3, column: 5 });
    }
}
