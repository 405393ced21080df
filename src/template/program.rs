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
    pub start: u32,
    pub len: u32,
}

/// One instruction. In the stack-effect notes, "emits" means it appends a JSON value to the
/// output (or nothing when the value is undefined), and "yields" means it produces a run-time
/// value when evaluated for another instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Emits the constant `bytes` (always defined); yields `consts[value]`. Length 1.
    Const { bytes: Bytes, value: u32 },
    /// An object constructor; the next instructions are `pairs` × ([`Op::Pair`], value).
    /// `ordered` is false when JavaScript's key order (array-index keys first) differs from the
    /// source order: the object is then built in source order and written in key order.
    Object { pairs: u32, len: u32, ordered: bool },
    /// A pair of the enclosing object: `key` is the serialised `"key":`, `name` the key itself.
    /// The value expression follows. Length 1 (the value is counted separately).
    Pair { key: Bytes, name: Bytes },
    /// An array constructor; the next instructions are `items` expressions. Items that are
    /// not array constructors are spliced one level when they yield an array.
    Array { items: u32, len: u32 },
    /// A path; the next instructions are `steps` steps ([`Op::Root`], [`Op::Field`], or an
    /// [`Op::Object`] for a `.{ ... }` step). `streams` when the last step is a `.{ ... }`
    /// step: its objects are then written one by one as they are built.
    Path { steps: u32, len: u32, streams: bool },
    /// Step `$$`: the input root. Also an expression on its own. Length 1.
    Root,
    /// Step: the field `name`; `slot` is its record slot inside a `$$.records` block of a
    /// template (`u32::MAX` when none). Length 1.
    Field { name: Bytes, slot: u32 },
    /// `$number(arg)`; the argument expression follows. Errors point at this instruction's span.
    Number { len: u32 },
}

/// No record slot.
pub const NO_SLOT: u32 = u32::MAX;

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
}

impl Program {
    pub fn bytes(&self, b: Bytes) -> &[u8] {
        &self.bytes[b.start as usize..(b.start + b.len) as usize]
    }

    pub fn str(&self, b: Bytes) -> &str {
        // Only ever built from `&str` pieces by the compiler.
        std::str::from_utf8(self.bytes(b)).expect("program strings are UTF-8")
    }

    /// A readable listing, one instruction a line, indented by nesting (used by snapshot tests
    /// and `audience render --disassemble`).
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
                Op::Path { steps, streams, .. } => {
                    writeln!(out, "path steps={steps}{}", if streams { " streams" } else { "" })
                }
                Op::Root => writeln!(out, "root"),
                Op::Field { name, slot } if slot == NO_SLOT => writeln!(out, "field {}", text(name)),
                Op::Field { name, slot } => writeln!(out, "field {} slot={slot}", text(name)),
                Op::Number { .. } => writeln!(out, "number"),
            };
            if op.size() > 1 {
                ends.push(pc + op.size());
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
        // The VM's inner loop reads these; keep them within two words.
        assert_eq!(std::mem::size_of::<Op>(), 20);
    }
}
