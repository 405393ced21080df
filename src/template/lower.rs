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
                Piece::Pair { key, .. } | Piece::Number { key, .. } | Piece::Invariant { key, .. } => {
                    *key = relocate(*key)
                }
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
                // The value's own length is added when it is known, once per sequence.
                Piece::Invariant { key, comma, .. } => (usize::from(comma != Comma::No) + key.len as usize, None),
            };
            block.fixed_len += fixed;
            block.reads.extend(read);
        }
        block.max_uses =
            (0..block.fields.len() as u32).map(|f| block.reads.iter().filter(|&&r| r == f).count()).max().unwrap_or(0);
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
        if reads_only_root(self.p, pc) {
            let index = self.block.invariants.len() as u32;
            self.block.invariants.push((pc as u32, key.is_empty()));
            let key = self.intern(key);
            self.block.pieces.push(Piece::Invariant { key, index, comma });
            return Some(written.after_maybe());
        }
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

/// Whether the expression at `pc` reads nothing but `$$`: `$$` itself, a path that starts
/// there (every later step is relative to it), or `$number` of one.
fn reads_only_root(p: &Program, pc: usize) -> bool {
    match p.ops[pc] {
        Op::Root => true,
        Op::Path { .. } => matches!(p.ops[pc + 1], Op::Root),
        Op::Number { .. } => reads_only_root(p, pc + 1),
        _ => false,
    }
}

/// Whether every field of `block` has a record slot, so that batch records can feed it.
pub fn has_slots(block: &Block) -> bool {
    block.slots.iter().all(|&s| s != NO_SLOT)
}

#[cfg(test)]
mod tests {
    use crate::template::Template;
    use crate::template::program::Piece;

    fn pieces(src: &str) -> Vec<&'static str> {
        let template = Template::compile(src).unwrap_or_else(|d| panic!("{d:?}"));
        let blocks = &template.program().blocks;
        assert_eq!(blocks.len(), 1, "one lowered block in {src}");
        blocks[0]
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(_) => "lit",
                Piece::SepLit(_) => "seplit",
                Piece::Pair { .. } => "pair",
                Piece::Item { .. } => "item",
                Piece::Number { .. } => "number",
                Piece::Invariant { .. } => "invariant",
            })
            .collect()
    }

    #[test]
    fn the_seed_sample_is_four_literal_runs_and_four_pairs() {
        let t1 = r#"{"audience_id": $$.connection.audienceId, "elements": [$$.records.{
            "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256_email},
                        {"idType": "GOOGLE_AID", "idValue": google_aid}],
            "firstName": first_name, "lastName": last_name, "nested": {"org": "static_value"}}]}"#;
        assert_eq!(pieces(t1), ["lit", "pair", "lit", "pair", "lit", "pair", "pair", "lit"]);
    }

    #[test]
    fn root_paths_inside_a_block_are_invariants_and_keep_it_direct() {
        let src = r#"{"users": [$$.records.{"audience": $$.connection.audienceId, "n": $number($$.connection.audienceId),
            "ids": [$$.connection.audienceName, email]}]}"#;
        assert_eq!(pieces(src), ["lit", "invariant", "invariant", "seplit", "invariant", "item", "lit"]);
        let template = Template::compile(src).unwrap();
        assert!(template.program().blocks[0].direct);
    }

    #[test]
    fn number_of_a_field_goes_through_the_checked_writer() {
        let template = Template::compile(r#"{"users": [$$.records.{"id": $number(user_id)}]}"#).unwrap();
        assert!(!template.program().blocks[0].direct);
    }
}
