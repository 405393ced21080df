//! Lowers the object of a streaming `.{ ... }` step to a [`Block`]: a flat list of pieces that
//! writes one item's object by reading the item's fields directly.
//!
//! Works on compiled instructions, after [`super::compile`], so constants are already
//! serialised. Literal runs are merged, and a comma whose need is known when compiling (a pair
//! that is always written came before) is folded into the literal bytes; only a comma after
//! pairs that may all be omitted is decided when rendering. For the seed's sample template a
//! record is eight pieces: four literal runs and four field pairs.

use super::program::{Block, Bytes, Comma, NO_BLOCK, NO_SLOT, Op, Piece, Program};

/// Lowers every streaming path's object that can be, recording the block in the path.
pub fn lower_blocks(program: &mut Program) {
    for pc in 0..program.ops.len() {
        let Op::Path { steps, streams: true, .. } = program.ops[pc] else { continue };
        let mut last = pc + 1;
        for _ in 1..steps {
            last += program.ops[last].size();
        }
        let Some((block, bytes)) = Lowerer::run(program, last) else { continue };
        let base = program.bytes.len() as u32;
        program.bytes.extend_from_slice(&bytes);
        let relocate = |b: Bytes| Bytes { start: b.start + base, len: b.len };
        let mut block = block;
        for piece in &mut block.pieces {
            match piece {
                Piece::Lit(b) | Piece::SepLit(b) => *b = relocate(*b),
                Piece::Pair { key, .. } | Piece::Number { key, .. } => *key = relocate(*key),
                Piece::Item { .. } => {}
            }
        }
        let index = program.blocks.len() as u32;
        program.blocks.push(block);
        if let Op::Path { block, .. } = &mut program.ops[pc] {
            *block = index;
        }
    }
    debug_assert!(
        program.ops.iter().all(|op| !matches!(op, Op::Path { streams: false, block, .. } if *block != NO_BLOCK))
    );
}

/// What has been written into the container being lowered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Written {
    Nothing,
    Maybe,
    Surely,
}

impl Written {
    fn comma(self) -> Comma {
        match self {
            Written::Nothing => Comma::No,
            Written::Maybe => Comma::Check,
            Written::Surely => Comma::Yes,
        }
    }

    /// After a part that may or may not write.
    fn after_maybe(self) -> Written {
        if self == Written::Surely { Written::Surely } else { Written::Maybe }
    }
}

struct Lowerer<'p> {
    p: &'p Program,
    block: Block,
    /// The block's own bytes; `Bytes` in pieces index this until relocated.
    bytes: Vec<u8>,
}

impl<'p> Lowerer<'p> {
    fn run(p: &'p Program, object_pc: usize) -> Option<(Block, Vec<u8>)> {
        let mut l = Lowerer {
            p,
            block: Block { pieces: Vec::with_capacity(16), ..Block::default() },
            bytes: Vec::with_capacity(256),
        };
        l.object(object_pc)?;
        l.bound();
        Some((l.block, l.bytes))
    }

    /// Fills in what the cursor writer needs: whether it applies, the literal bytes an item
    /// writes at most, and the fields whose values add to that.
    fn bound(&mut self) {
        let block = &mut self.block;
        block.direct = true;
        for piece in &block.pieces {
            let (fixed, read) = match *piece {
                Piece::Lit(b) => (b.len as usize, None),
                Piece::SepLit(b) => (1 + b.len as usize, None),
                Piece::Pair { key, field, comma } => (usize::from(comma != Comma::No) + key.len as usize, Some(field)),
                Piece::Item { field, comma } => (usize::from(comma != Comma::No), Some(field)),
                Piece::Number { .. } => {
                    block.direct = false;
                    (0, None)
                }
            };
            block.fixed_len += fixed;
            block.reads.extend(read);
        }
    }

    fn intern(&mut self, b: &[u8]) -> Bytes {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(b);
        Bytes { start, len: b.len() as u32 }
    }

    /// Appends literal bytes, merged into the previous piece when that ends in literal bytes.
    fn lit(&mut self, b: &[u8]) {
        self.block.min_len += b.len();
        let end = self.bytes.len() as u32;
        if let Some(Piece::Lit(prev) | Piece::SepLit(prev)) = self.block.pieces.last_mut()
            && prev.start + prev.len == end
        {
            self.bytes.extend_from_slice(b);
            prev.len += b.len() as u32;
            return;
        }
        let bytes = self.intern(b);
        self.block.pieces.push(Piece::Lit(bytes));
    }

    /// Literal bytes that a comma goes before, as `comma` says.
    fn lit_after(&mut self, comma: Comma, b: &[u8]) {
        match comma {
            Comma::No => self.lit(b),
            Comma::Yes => {
                self.lit(b",");
                self.lit(b);
            }
            Comma::Check => {
                self.block.min_len += b.len();
                let bytes = self.intern(b);
                self.block.pieces.push(Piece::SepLit(bytes));
            }
        }
    }

    /// The item field read by a one-step path at `pc`, if that is what `pc` holds.
    fn field(&mut self, pc: usize) -> Option<u32> {
        let Op::Path { steps: 1, .. } = self.p.ops[pc] else { return None };
        let Op::Field { name, slot } = self.p.ops[pc + 1] else { return None };
        let name = self.p.name(name);
        if let Some(i) = self.block.fields.iter().position(|f| &**f == name) {
            return Some(i as u32);
        }
        self.block.fields.push(name.into());
        self.block.slots.push(slot);
        Some(self.block.fields.len() as u32 - 1)
    }

    /// `$number(field)` at `pc`: its field.
    fn number(&mut self, pc: usize) -> Option<u32> {
        match self.p.ops[pc] {
            Op::Number { .. } => self.field(pc + 1),
            _ => None,
        }
    }

    fn object(&mut self, pc: usize) -> Option<()> {
        let Op::Object { pairs, ordered: true, .. } = self.p.ops[pc] else { return None };
        self.lit(b"{");
        let mut written = Written::Nothing;
        let mut pc = pc + 1;
        for _ in 0..pairs {
            let Op::Pair { key, .. } = self.p.ops[pc] else { return None };
            let key = self.p.bytes(key);
            let value = pc + 1;
            written = self.value(value, key, written)?;
            pc = value + self.p.ops[value].size();
        }
        self.lit(b"}");
        Some(())
    }

    /// A pair's value (`key` is the serialised key) or, with an empty key, an array item.
    fn value(&mut self, pc: usize, key: &[u8], written: Written) -> Option<Written> {
        let comma = written.comma();
        match self.p.ops[pc] {
            Op::Const { bytes, .. } => {
                self.lit_after(comma, key);
                self.lit(self.p.bytes(bytes));
                Some(Written::Surely)
            }
            Op::Object { .. } => {
                self.lit_after(comma, key);
                self.object(pc)?;
                Some(Written::Surely)
            }
            Op::Array { .. } => {
                self.lit_after(comma, key);
                self.array(pc)?;
                Some(Written::Surely)
            }
            Op::Number { .. } => {
                let field = self.number(pc)?;
                let key = self.intern(key);
                self.block.pieces.push(Piece::Number { key, field, comma, op: pc as u32 });
                Some(written.after_maybe())
            }
            _ => {
                let field = self.field(pc)?;
                if key.is_empty() {
                    self.block.pieces.push(Piece::Item { field, comma });
                } else if comma == Comma::Yes {
                    // A comma known to be needed travels with the key.
                    let key = self.intern(&[b",", key].concat());
                    self.block.pieces.push(Piece::Pair { key, field, comma: Comma::No });
                } else {
                    let key = self.intern(key);
                    self.block.pieces.push(Piece::Pair { key, field, comma });
                }
                Some(written.after_maybe())
            }
        }
    }

    fn array(&mut self, pc: usize) -> Option<()> {
        let Op::Array { items, .. } = self.p.ops[pc] else { return None };
        self.lit(b"[");
        let mut written = Written::Nothing;
        let mut pc = pc + 1;
        for _ in 0..items {
            written = self.value(pc, b"", written)?;
            pc += self.p.ops[pc].size();
        }
        self.lit(b"]");
        Some(())
    }
}

/// Whether every field of `block` has a record slot, so that batch records can feed it.
pub fn has_slots(block: &Block) -> bool {
    block.slots.iter().all(|&s| s != NO_SLOT)
}
