//! Positions as the editor counts them: a line and a character offset in UTF-8 bytes or in
//! UTF-16 code units, whichever was negotiated at `initialize` (UTF-8 when the client offers
//! it, else UTF-16, the protocol's default). Everything inside the server is byte offsets.

use lsp_types::{Position, Range};

/// The negotiated unit of a position's `character`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Bytes of UTF-8.
    Utf8,
    /// UTF-16 code units (an astral character counts two).
    Utf16,
}

/// A text's line starts, to turn byte offsets into positions and back.
#[derive(Clone, Debug)]
pub struct LineMap {
    starts: Vec<usize>,
}

impl LineMap {
    /// Indexes `text` (lines end at `\n`; a `\r` before it counts as a character of the line).
    pub fn new(text: &str) -> LineMap {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        LineMap { starts }
    }

    /// The position of byte `offset` of `text` (clamped to the text, and back to a character
    /// boundary).
    pub fn position(&self, text: &str, offset: usize, encoding: Encoding) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let before = &text[self.starts[line]..offset];
        let character = match encoding {
            Encoding::Utf8 => before.len(),
            Encoding::Utf16 => before.encode_utf16().count(),
        };
        Position::new(line as u32, character as u32)
    }

    /// The range of bytes `start..end` of `text`.
    pub fn range(&self, text: &str, start: usize, end: usize, encoding: Encoding) -> Range {
        Range::new(self.position(text, start, encoding), self.position(text, end.max(start), encoding))
    }

    /// The byte offset of `position` in `text`: a line past the end is the end of the text, a
    /// character past the end of its line the line's end, and one inside a character that
    /// character's start.
    pub fn offset(&self, text: &str, position: Position, encoding: Encoding) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else { return text.len() };
        let end = self.starts.get(position.line as usize + 1).map_or(text.len(), |&next| next - 1);
        let line = &text[start..end];
        let wanted = position.character as usize;
        let mut units = 0;
        for (i, c) in line.char_indices() {
            let width = match encoding {
                Encoding::Utf8 => c.len_utf8(),
                Encoding::Utf16 => c.len_utf16(),
            };
            if units + width > wanted {
                return start + i;
            }
            units += width;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_on_multi_byte_and_astral_text() {
        let text = "ab\né😀x\ny";
        let map = LineMap::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(map.position(text, x, Encoding::Utf8), Position::new(1, 6));
        assert_eq!(map.position(text, x, Encoding::Utf16), Position::new(1, 3));
        assert_eq!(map.offset(text, Position::new(1, 6), Encoding::Utf8), x);
        assert_eq!(map.offset(text, Position::new(1, 3), Encoding::Utf16), x);
        // Inside the astral character: its start.
        assert_eq!(map.offset(text, Position::new(1, 2), Encoding::Utf16), text.find('😀').unwrap());
        assert_eq!(map.offset(text, Position::new(0, 99), Encoding::Utf16), 2);
        assert_eq!(map.offset(text, Position::new(9, 0), Encoding::Utf8), text.len());
        assert_eq!(map.position(text, text.len(), Encoding::Utf16), Position::new(2, 1));
    }
}
