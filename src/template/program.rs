//! The compiled form of a template: a flat instruction array in prefix order.
//!
//! Every expression is one head instruction followed by its operands' instructions; a head that
//! has operands records how many instructions its whole expression spans (`len`), so the VM can
//! step over an operand without decoding it. Constant parts (literals, and object and array
//! constructors made only of literals) are serialised once, at compile time, into `bytes`.
//! Spans live in a side table parallel to `ops`, read only when an error is reported.

use super::span::Span;
use serde_json::Value;
use std::fmt::Write as _;

/// A range of [`Program::bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes {
    /// Offset of the first byte.
    pub start: u32,
    /// Number of bytes.
    pub len: u32,
}

/// One instruction. In the stack-effect notes, "emits" means it appends a JSON value to the
/// output (or nothing when the value is undefined), and "yields" means it produces a run-time
/// value when evaluated for another instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Emits the constant `bytes` (always defined); yields `consts[value]`. Length 1.
    Const {
        /// The constant's JSON text.
        bytes: Bytes,
        /// Index of the constant's value in [`Program::consts`].
        value: u32,
    },
    /// An object constructor; the next instructions are `pairs` × ([`Op::Pair`], value).
    /// `ordered` is false when JavaScript's key order (array-index keys first) differs from the
    /// source order: the object is then built in source order and written in key order.
    Object {
        /// Number of pairs.
        pairs: u32,
        /// Instructions the whole expression spans, this one included.
        len: u32,
        /// Whether source order is also JavaScript's key order.
        ordered: bool,
    },
    /// A pair of the enclosing object: `key` is the serialised `"key":`, `name` the key itself
    /// (an index into [`Program::names`]). The value expression follows. Length 1 (the value
    /// is counted separately).
    Pair {
        /// The serialised `"key":`.
        key: Bytes,
        /// Index of the key in [`Program::names`].
        name: u32,
    },
    /// An array constructor; the next instructions are `items` expressions. Items that are
    /// not array constructors are spliced one level when they yield an array.
    Array {
        /// Number of item expressions.
        items: u32,
        /// Instructions the whole expression spans, this one included.
        len: u32,
    },
    /// A path; the next instructions are `steps` steps ([`Op::Root`], [`Op::Field`], or an
    /// [`Op::Object`] for a `.{ ... }` step). `streams` when the last step is a `.{ ... }`
    /// step: its objects are then written one by one as they are built, through
    /// `blocks[block]` when the object could be lowered to one ([`NO_BLOCK`] otherwise).
    Path {
        /// Number of steps.
        steps: u32,
        /// Instructions the whole expression spans, this one included.
        len: u32,
        /// Whether the last step is a `.{ ... }` step whose objects are written as built.
        streams: bool,
        /// Index of the lowered step in [`Program::blocks`], or [`NO_BLOCK`].
        block: u32,
    },
    /// Step `$$`: the input root. Also an expression on its own. Length 1.
    Root,
    /// Step: the field `names[name]`; `slot` is its record slot inside a `$$.records` block of
    /// a template ([`NO_SLOT`] when none). Length 1.
    Field {
        /// Index of the field's name in [`Program::names`].
        name: u32,
        /// The field's record slot, or [`NO_SLOT`].
        slot: u32,
    },
    /// `$number(arg)`; the argument expression follows. Errors point at this instruction's span.
    Number {
        /// Instructions the whole expression spans, this one included.
        len: u32,
    },
}

/// No record slot.
pub const NO_SLOT: u32 = u32::MAX;
/// No lowered block.
pub const NO_BLOCK: u32 = u32::MAX;

/// Whether a comma goes before the next pair or item of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comma {
    /// Nothing was written before it.
    No,
    /// Something surely was.
    Yes,
    /// Only if something was: the last byte written is not the container's opening bracket.
    Check,
}

/// One step of a lowered block's per-item writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Appends the bytes.
    Lit(Bytes),
    /// Appends a comma unless the last byte opens a container, then the bytes.
    SepLit(Bytes),
    /// A pair whose value is the item's field `field`: nothing when it is undefined; otherwise
    /// the comma, `key` (the serialised `"key":`) and the value.
    Pair {
        /// The serialised `"key":`.
        key: Bytes,
        /// Index of the item field in [`Block::fields`].
        field: u32,
        /// Whether a comma goes first.
        comma: Comma,
    },
    /// An array item that is the item's field `field`: nothing when undefined; an array value
    /// is spliced one level (the reference's `fn.append`); otherwise the comma and the value.
    Item {
        /// Index of the item field in [`Block::fields`].
        field: u32,
        /// Whether a comma goes first.
        comma: Comma,
    },
    /// `$number(field)` as a pair (`key.len > 0`) or an item; `op` is the [`Op::Number`]
    /// instruction, whose span errors report.
    Number {
        /// The serialised `"key":`, or empty for an array item.
        key: Bytes,
        /// Index of the item field in [`Block::fields`].
        field: u32,
        /// Whether a comma goes first.
        comma: Comma,
        /// Index of the [`Op::Number`] instruction in [`Program::ops`].
        op: u32,
    },
    /// A value that reads only `$$` (such as `$$.connection.audienceId`), the same for every
    /// item: evaluated once per sequence of items, as `invariants[index]`, and written like a
    /// literal (nothing when it is undefined). A pair when `key.len > 0`, else an item.
    Invariant {
        /// The serialised `"key":`, or empty for an array item.
        key: Bytes,
        /// Index of the expression in [`Block::invariants`].
        index: u32,
        /// Whether a comma goes first.
        comma: Comma,
    },
}

/// The object of a streaming `.{ ... }` step lowered to a flat list of pieces, for items whose
/// fields it reads directly: the records of a batch, and JSON objects. It applies when the
/// object holds only literals, one-step field paths, `$number` of those, and nested object and
/// array constructors of the same (the shape of nearly every request body); other objects run
/// through the general instructions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// What each item writes, in order.
    pub pieces: Vec<Piece>,
    /// The names of the item fields the pieces read, indexed by `field`.
    pub fields: Vec<Box<str>>,
    /// For each field, its record slot in a template's [`crate::template::RecordBatch`]
    /// ([`NO_SLOT`] when the block is not a template's `$$.records` block).
    pub slots: Vec<u32>,
    /// Bytes each item writes at least (reserved once per item).
    pub min_len: usize,
    /// Whether every piece is a literal, a pair or an item, so that an item whose fields are
    /// all scalars can be written through the VM's cursor over reserved room (a `$number`
    /// piece, which can fail, goes through the general writer).
    pub direct: bool,
    /// Bytes of literal runs, keys and commas an item writes at most.
    pub fixed_len: usize,
    /// The field each pair and item piece writes, in piece order: an item's size is bounded by
    /// `fixed_len` plus the bound of each of these fields' values.
    pub reads: Vec<u32>,
    /// The most pieces that read one same field (a value written twice counts twice).
    pub max_uses: usize,
    /// The expressions of [`Piece::Invariant`]s: the instruction each starts at, and whether
    /// it is an array item (spliced one level) rather than a pair's value.
    pub invariants: Vec<(u32, bool)>,
}

impl Op {
    /// Instructions spanned by the expression that starts with this one.
    pub fn size(&self) -> usize {
        match *self {
            Op::Const { .. } | Op::Root | Op::Field { .. } | Op::Pair { .. } => 1,
            Op::Object { len, .. } | Op::Array { len, .. } | Op::Path { len, .. } | Op::Number { len } => len as usize,
        }
    }
}

/// A compiled template or expression.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// The instructions, in prefix order; the program's expression starts at index 0.
    pub ops: Vec<Op>,
    /// Source span of each instruction (parallel to `ops`).
    pub spans: Vec<Span>,
    /// Serialised constants, keys and field names.
    pub bytes: Vec<u8>,
    /// Constant values, for instructions that yield them (`$number` arguments, `.{}` steps
    /// followed by more steps).
    pub consts: Vec<Value>,
    /// Record slot names (the template fields), empty for a plain expression.
    pub fields: Vec<String>,
    /// Field and key names, indexed by [`Op::Field`] and [`Op::Pair`].
    pub names: Vec<Box<str>>,
    /// Lowered `.{ ... }` steps, indexed by [`Op::Path`]'s `block`.
    pub blocks: Vec<Block>,
}

impl Program {
    /// The bytes of range `b` of [`Program::bytes`].
    pub fn bytes(&self, b: Bytes) -> &[u8] {
        &self.bytes[b.start as usize..(b.start + b.len) as usize]
    }

    /// Name `index` of [`Program::names`].
    pub fn name(&self, index: u32) -> &str {
        &self.names[index as usize]
    }

    /// A readable listing, one instruction a line, indented by nesting (used by the disassembly
    /// snapshots of `tests/cases.rs` and by `audience render --disassemble`).
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        let mut ends: Vec<usize> = Vec::new();
        for (pc, op) in self.ops.iter().enumerate() {
            while ends.last().is_some_and(|&e| e <= pc) {
                ends.pop();
            }
            let _ = write!(out, "{pc:4}  {}", "  ".repeat(ends.len()));
            let text = |b: Bytes| String::from_utf8_lossy(self.bytes(b)).into_owned();
            let _ = match *op {
                Op::Const { bytes, .. } => writeln!(out, "const {}", text(bytes)),
                Op::Object { pairs, ordered, .. } => {
                    writeln!(out, "object pairs={pairs}{}", if ordered { "" } else { " reordered" })
                }
                Op::Pair { key, .. } => writeln!(out, "pair {}", text(key)),
                Op::Array { items, .. } => writeln!(out, "array items={items}"),
                Op::Path { steps, streams, block, .. } => {
                    let block = if block == NO_BLOCK { String::new() } else { format!(" block={block}") };
                    writeln!(out, "path steps={steps}{}{block}", if streams { " streams" } else { "" })
                }
                Op::Root => writeln!(out, "root"),
                Op::Field { name, slot } if slot == NO_SLOT => writeln!(out, "field {:?}", self.name(name)),
                Op::Field { name, slot } => writeln!(out, "field {:?} slot={slot}", self.name(name)),
                Op::Number { .. } => writeln!(out, "number"),
            };
            if op.size() > 1 {
                ends.push(pc + op.size());
            }
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let _ = writeln!(out, "block {i} fields={:?} slots={:?}", block.fields, block.slots);
            let text = |b: Bytes| String::from_utf8_lossy(self.bytes(b)).into_owned();
            for piece in &block.pieces {
                let _ = match *piece {
                    Piece::Lit(b) => writeln!(out, "      lit {}", text(b)),
                    Piece::SepLit(b) => writeln!(out, "      seplit {}", text(b)),
                    Piece::Pair { key, field, comma } => {
                        writeln!(out, "      pair {} field={field} comma={comma:?}", text(key))
                    }
                    Piece::Item { field, comma } => writeln!(out, "      item field={field} comma={comma:?}"),
                    Piece::Number { key, field, comma, .. } => {
                        writeln!(out, "      number {} field={field} comma={comma:?}", text(key))
                    }
                    Piece::Invariant { key, index, comma } => {
                        let (op, _) = block.invariants[index as usize];
                        writeln!(out, "      invariant {} op={op} comma={comma:?}", text(key))
                    }
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_stay_small() {
        // The VM reads these in its inner loop: keep them at two words.
        assert_eq!(std::mem::size_of::<Op>(), 16);
    }
}
