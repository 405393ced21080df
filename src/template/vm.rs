//! Runs a [`Program`], writing the result's JSON text into the caller's buffer.
//!
//! Constructors are *emitted*: written straight to the output, a pair or item rolled back by
//! truncating the buffer when its value turns out undefined. Paths and `$number` are
//! *evaluated* to a [`Val`] that borrows the input, and then written. A path that ends in a
//! `.{ ... }` step is streamed: one object per item of the sequence before it, with nothing
//! collected. The rules follow the reference's `evaluatePath`, `evaluateStep`, `lookup` and
//! `evaluateGroupExpression`; the comments name the rule each piece implements.
// Unsafe: the lowered block writer writes through the reserved room of a `Cursor` (its safety
// contract is in `cursor.rs`).
#![allow(unsafe_code)]

use super::batch::Slot;
use super::batch::{Connection, RecordBatch};
use super::cursor::{self, Cursor};
use super::diagnostic::{Code, Diagnostic};
use super::input::{Input, Item};
use super::json;
use super::lower::has_slots;
use super::program::{Block, Comma, NO_BLOCK, NO_SLOT, Op, Piece, Program};
use super::value::Val;
use serde_json::Value;

/// A run-time error. Boxed: results travel through every recursive call, and an unboxed
/// diagnostic would make each of them large.
type Fail = Box<Diagnostic>;

/// Runs one program; cheap to create per call.
pub struct Vm<'p> {
    program: &'p Program,
}

impl<'p> Vm<'p> {
    /// A VM that runs `program`.
    pub fn new(program: &'p Program) -> Vm<'p> {
        Vm { program }
    }

    /// Evaluates over a JSON input (`None`: undefined), appending the result. `Ok(false)` when
    /// the result is undefined (nothing appended). On error, `out` is left as it was.
    pub fn eval_json(&self, input: Option<&Value>, out: &mut Vec<u8>) -> Result<bool, Diagnostic> {
        let root = input.map_or(Val::Undef, Val::from_json);
        self.run(root, out)
    }

    /// Evaluates over a parsed JSON input (`None`: undefined), as [`Vm::eval_json`] does.
    pub fn eval_input(&self, input: Option<&Input<'_>>, out: &mut Vec<u8>) -> Result<bool, Diagnostic> {
        let root = input.map_or(Val::Undef, |doc| Val::from_node(doc, doc.root()));
        self.run(root, out)
    }

    /// Renders over a batch of slot records: the input is `{"records": [...], "connection":
    /// {...}}`. On error, `out` is left as it was.
    pub fn eval_batch(&self, batch: &RecordBatch, conn: &Connection, out: &mut Vec<u8>) -> Result<(), Diagnostic> {
        self.run(Val::Root(batch, conn), out).map(|_| ())
    }

    fn run<'a>(&self, root: Val<'a>, out: &mut Vec<u8>) -> Result<bool, Diagnostic>
    where
        'p: 'a,
    {
        if self.program.ops.is_empty() {
            return Ok(false);
        }
        // The reference wraps an array input in a one-item sequence, so that a top-level path
        // maps over it while `$$` still yields the array itself.
        let ctx = if root.is_array() { Val::Seq(vec![root.clone()]) } else { root.clone() };
        let run = Run { p: self.program, root };
        let mark = out.len();
        let result = run.emit(0, &ctx, out);
        if result.is_err() {
            out.truncate(mark);
        }
        result.map_err(|e| *e)
    }
}

/// The sequence a path step runs over.
enum Items<'a> {
    /// Exactly one item.
    One(Val<'a>),
    /// The items of this array value (not collected).
    Spread(Val<'a>),
    /// Collected items.
    Many(Vec<Val<'a>>),
}

impl<'a> Items<'a> {
    fn len(&self) -> usize {
        match self {
            Items::One(_) => 1,
            Items::Spread(v) => v.array_len().unwrap_or(0),
            Items::Many(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Val<'a> {
        match self {
            Items::One(v) => v.clone(),
            Items::Spread(v) => v.item(i),
            Items::Many(v) => v[i].clone(),
        }
    }
}

struct Run<'a> {
    p: &'a Program,
    /// `$$`.
    root: Val<'a>,
}

impl<'a> Run<'a> {
    fn error(&self, code: Code, pc: usize, message: String, hint: &str) -> Fail {
        Box::new(Diagnostic::error(code, self.p.spans[pc], message).with_hint(hint))
    }

    // ---- emitting ----

    /// Emits the expression at `pc`; false when it is undefined (nothing written).
    fn emit(&self, pc: usize, ctx: &Val<'a>, out: &mut Vec<u8>) -> Result<bool, Fail> {
        match self.p.ops[pc] {
            Op::Const { bytes, .. } => {
                out.extend_from_slice(self.p.bytes(bytes));
                Ok(true)
            }
            Op::Object { ordered: true, pairs, .. } => {
                let data = group_context(ctx);
                out.push(b'{');
                let mut pc = pc + 1;
                for _ in 0..pairs {
                    let Op::Pair { key, .. } = self.p.ops[pc] else { unreachable!("pair expected") };
                    let mark = out.len();
                    // A value never ends in `{`, so the last byte tells whether a pair precedes.
                    if out.last() != Some(&b'{') {
                        out.push(b',');
                    }
                    out.extend_from_slice(self.p.bytes(key));
                    if !self.emit(pc + 1, &data, out)? {
                        out.truncate(mark);
                    }
                    pc += 1 + self.p.ops[pc + 1].size();
                }
                out.push(b'}');
                Ok(true)
            }
            Op::Array { items, .. } => {
                out.push(b'[');
                let mut pc = pc + 1;
                for _ in 0..items {
                    self.emit_item(pc, ctx, out)?;
                    pc += self.p.ops[pc].size();
                }
                out.push(b']');
                Ok(true)
            }
            // A one-step path over one item is that item's field (the hot path of templates).
            Op::Path { steps: 1, .. } if !ctx.is_array() => {
                let v = self.step(pc + 1, ctx)?;
                Ok(write_val(out, &v, &self.p.fields))
            }
            Op::Path { steps, streams: true, block, .. } => {
                let (items, last) = self.path_items(pc, steps - 1, ctx)?;
                match items.len() {
                    0 => Ok(false),
                    1 => {
                        self.stream(last, block, &items, false, out)?;
                        Ok(true)
                    }
                    _ => {
                        out.push(b'[');
                        self.stream(last, block, &items, false, out)?;
                        out.push(b']');
                        Ok(true)
                    }
                }
            }
            _ => {
                let v = self.eval(pc, ctx)?;
                Ok(write_val(out, &v, &self.p.fields))
            }
        }
    }

    /// Emits an item of an array constructor. An item that is not itself an array constructor
    /// is spliced one level when it yields an array (the reference's `fn.append`).
    fn emit_item(&self, pc: usize, ctx: &Val<'a>, out: &mut Vec<u8>) -> Result<(), Fail> {
        let comma = |out: &mut Vec<u8>| {
            if out.last() != Some(&b'[') {
                out.push(b',');
            }
        };
        match self.p.ops[pc] {
            // Constants are literals or constructors: an array constant is an array constructor,
            // which is never spliced, and nothing else is an array.
            Op::Const { .. } | Op::Object { .. } | Op::Array { .. } => {
                comma(out);
                self.emit(pc, ctx, out)?;
            }
            Op::Path { steps, streams: true, block, .. } => {
                let (items, last) = self.path_items(pc, steps - 1, ctx)?;
                self.stream(last, block, &items, true, out)?;
            }
            _ => {
                let v = self.eval(pc, ctx)?;
                match v.array_len() {
                    Some(n) => {
                        for i in 0..n {
                            comma(out);
                            write_val(out, &v.item(i), &self.p.fields);
                        }
                    }
                    None if v.is_undef() => {}
                    None => {
                        comma(out);
                        write_val(out, &v, &self.p.fields);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the object of the `.{ ... }` step at `last` for every item, separated by commas
    /// (a comma before the first too when `comma_first` and something precedes it in the
    /// enclosing array). Items that the step's lowered block can read directly (batch records,
    /// JSON objects) go through it; the rest through the general instructions.
    fn stream(
        &self,
        last: usize,
        block: u32,
        items: &Items<'a>,
        comma_first: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        // Whether item `i` needs a comma before it.
        let lead = |out: &[u8], i: usize| i > 0 || (comma_first && !matches!(out.last(), Some(b'[' | b'{')));
        let sep = |out: &mut Vec<u8>, i: usize| {
            if lead(out, i) {
                out.push(b',');
            }
        };
        let block = (block != NO_BLOCK).then(|| &self.p.blocks[block as usize]);
        let fixed = match block {
            Some(b) if items.len() > 0 => self.invariants(b),
            _ => Fixed::default(),
        };
        match (block, items) {
            (Some(b), Items::Spread(Val::Records(batch))) if has_slots(b) => {
                for r in 0..batch.len() {
                    let record = BatchRecord { batch, index: r, slots: batch.record(r), map: &b.slots };
                    if !self.direct(b, &record, &fixed, lead(out, r), out) {
                        sep(out, r);
                        self.pieces(b, &record, &fixed, out)?;
                    }
                }
            }
            (Some(b), Items::Spread(Val::J(Value::Array(array)))) => {
                let mut fields: Vec<Option<&'a Value>> = vec![None; b.fields.len()];
                for (i, item) in array.iter().enumerate() {
                    match item {
                        Value::Object(map) => {
                            fill_fields(&b.fields, map, &mut fields);
                            let record = JsonRecord(&fields);
                            if !self.direct(b, &record, &fixed, lead(out, i), out) {
                                sep(out, i);
                                self.pieces(b, &record, &fixed, out)?;
                            }
                        }
                        other => {
                            sep(out, i);
                            self.emit(last, &Val::from_json(other), out)?;
                        }
                    }
                }
            }
            (Some(b), Items::Spread(Val::D(doc, array))) => {
                self.stream_nodes(last, b, doc, *array, &fixed, comma_first, out)?
            }
            _ => {
                for i in 0..items.len() {
                    sep(out, i);
                    self.emit(last, &items.get(i), out)?;
                }
            }
        }
        Ok(())
    }

    /// [`Run::stream`] over an array of a parsed input. Kept out of `stream` (never inlined) so
    /// that the other sources' loops there compile as they would without it.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn stream_nodes(
        &self,
        last: usize,
        b: &Block,
        doc: &'a Input<'a>,
        array: u32,
        fixed: &Fixed,
        comma_first: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        let lead = |out: &[u8], i: usize| i > 0 || (comma_first && !matches!(out.last(), Some(b'[' | b'{')));
        let sep = |out: &mut Vec<u8>, i: usize| {
            if lead(out, i) {
                out.push(b',');
            }
        };
        let Item::Arr(n) = doc.get(array) else { unreachable!("a spread input node is an array") };
        let mut fields: Vec<Option<Val<'a>>> = vec![None; b.fields.len()];
        for i in 0..n {
            let item = doc.item(array, i);
            if let Item::Obj(_) = doc.get(item) {
                fill_node_fields(&b.fields, doc, item, &mut fields);
                let record = NodeRecord(&fields);
                if !self.direct(b, &record, fixed, lead(out, i), out) {
                    sep(out, i);
                    self.pieces(b, &record, fixed, out)?;
                }
            } else {
                sep(out, i);
                self.emit(last, &Val::from_node(doc, item), out)?;
            }
        }
        Ok(())
    }

    /// Writes one item's object through a lowered block and a [`Cursor`], a comma first when
    /// `lead`: the hot path, taken when the block allows it and every field the item writes is
    /// a scalar. False, with nothing written, otherwise.
    #[inline(always)]
    fn direct(&self, block: &Block, item: &impl ItemFields<'a>, fixed: &Fixed, lead: bool, out: &mut Vec<u8>) -> bool {
        if !block.direct || fixed.failed.is_some() {
            return false;
        }
        let Some(values) = item.values_bound(block) else { return false };
        let bound = block.fixed_len + fixed.len + usize::from(lead) + values;
        let mut cur = Cursor::new(out, bound);
        // SAFETY: `bound` covers every byte the pieces write: the literal runs, keys and commas
        // are counted in `fixed_len`, each field value in `bound` (per use, by `reads`), the
        // invariant values in `fixed.len`.
        unsafe {
            if lead {
                cur.byte(b',');
            }
            for piece in &block.pieces {
                match *piece {
                    Piece::Lit(b) => cur.bytes(self.p.bytes(b)),
                    Piece::SepLit(b) => {
                        put_comma(&mut cur, Comma::Check);
                        cur.bytes(self.p.bytes(b));
                    }
                    Piece::Pair { key, field, comma: c } => item.put(field, c, self.p.bytes(key), &mut cur),
                    Piece::Item { field, comma: c } => item.put(field, c, b"", &mut cur),
                    Piece::Number { .. } => unreachable!("a block with `$number` is not direct"),
                    Piece::Invariant { key, index, comma: c } => {
                        if let Some(text) = fixed.get(index) {
                            put_comma(&mut cur, c);
                            cur.bytes(self.p.bytes(key));
                            cur.bytes(text);
                        }
                    }
                }
            }
        }
        cur.finish();
        true
    }

    /// Writes one item's object through a lowered block.
    #[inline]
    fn pieces(&self, block: &Block, item: &impl ItemFields<'a>, fixed: &Fixed, out: &mut Vec<u8>) -> Result<(), Fail> {
        out.reserve(block.min_len + 64);
        for piece in &block.pieces {
            match *piece {
                Piece::Lit(b) => out.extend_from_slice(self.p.bytes(b)),
                Piece::SepLit(b) => {
                    comma(out, Comma::Check);
                    out.extend_from_slice(self.p.bytes(b));
                }
                Piece::Pair { key, field, comma: c } => item.write_pair(field, c, self.p.bytes(key), out),
                Piece::Item { field, comma: c } => {
                    let v = item.field(field);
                    match v.array_len() {
                        Some(n) => {
                            for i in 0..n {
                                comma(out, if i == 0 { c } else { Comma::Yes });
                                write_val(out, &v.item(i), &self.p.fields);
                            }
                        }
                        None if v.is_undef() => {}
                        None => {
                            comma(out, c);
                            write_val(out, &v, &self.p.fields);
                        }
                    }
                }
                Piece::Number { key, field, comma: c, op } => {
                    let v = self.cast_number(op as usize, item.field(field))?;
                    if !v.is_undef() {
                        comma(out, c);
                        out.extend_from_slice(self.p.bytes(key));
                        write_val(out, &v, &self.p.fields);
                    }
                }
                Piece::Invariant { key, index, comma: c } => {
                    if let Some((failed, fail)) = &fixed.failed
                        && *failed == index
                    {
                        return Err(fail.clone());
                    }
                    if let Some(text) = fixed.get(index) {
                        comma(out, c);
                        out.extend_from_slice(self.p.bytes(key));
                        out.extend_from_slice(text);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the values of `block`'s invariant pieces, once for a whole sequence of items (a
    /// pair's value as a pair writes it; an item as an array constructor writes it, an array
    /// spliced into comma-separated items). An invariant's error is the first item's error at
    /// that piece, raised when the item reaches it: the pieces before it may fail first, and
    /// the error reported is the first in source order (docs/design/template-language.md,
    /// deviation 6). The invariants after a failed one are not evaluated: no item gets past it.
    fn invariants(&self, block: &Block) -> Fixed {
        let mut fixed = Fixed::default();
        for (index, &(op, item)) in block.invariants.iter().enumerate() {
            let start = fixed.bytes.len();
            // These expressions read only `$$`: the context they are given does not matter.
            let written = if item {
                // After an opening bracket, the first item takes no comma: the value starts
                // after the bracket.
                fixed.bytes.push(b'[');
                self.emit_item(op as usize, &Val::Undef, &mut fixed.bytes)
                    .map(|()| (start + 1, fixed.bytes.len() > start + 1))
            } else {
                self.emit(op as usize, &Val::Undef, &mut fixed.bytes).map(|defined| (start, defined))
            };
            let (start, defined) = match written {
                Ok(written) => written,
                Err(fail) => {
                    fixed.bytes.truncate(start);
                    fixed.failed = Some((index as u32, fail));
                    break;
                }
            };
            let len = fixed.bytes.len() - start;
            fixed.len += len;
            fixed.spans.push(defined.then_some((start, len)));
        }
        fixed
    }

    // ---- evaluating ----

    /// Evaluates the expression at `pc`, normalised as the reference normalises every result.
    fn eval(&self, pc: usize, ctx: &Val<'a>) -> Result<Val<'a>, Fail> {
        Ok(match self.p.ops[pc] {
            Op::Const { value, .. } => Val::from_json(&self.p.consts[value as usize]),
            Op::Object { .. } => self.eval_object(pc, ctx)?,
            Op::Array { items, .. } => {
                let mut out = Vec::new();
                let mut pc = pc + 1;
                for _ in 0..items {
                    let v = self.eval(pc, ctx)?;
                    let nested = matches!(self.p.ops[pc], Op::Array { .. })
                        || matches!(self.p.ops[pc], Op::Const { value, .. } if self.p.consts[value as usize].is_array());
                    match v {
                        Val::Undef => {}
                        v if v.is_array() && !nested => v.spread_into(&mut out),
                        v => out.push(v),
                    }
                    pc += self.p.ops[pc].size();
                }
                Val::Arr(out)
            }
            Op::Path { steps, .. } => self.eval_path(pc, steps, ctx)?,
            Op::Root => self.root.clone(),
            Op::Number { .. } => self.number(pc, ctx)?,
            Op::Pair { .. } | Op::Field { .. } => unreachable!("not an expression"),
        })
    }

    /// An object constructor's value: pairs evaluated in source order, then put in key order.
    fn eval_object(&self, pc: usize, ctx: &Val<'a>) -> Result<Val<'a>, Fail> {
        let Op::Object { pairs, .. } = self.p.ops[pc] else { unreachable!("object expected") };
        let data = group_context(ctx);
        let mut result: Vec<(&'a str, Val<'a>)> = Vec::with_capacity(pairs as usize);
        let mut pc = pc + 1;
        for _ in 0..pairs {
            let Op::Pair { name, .. } = self.p.ops[pc] else { unreachable!("pair expected") };
            let v = self.eval(pc + 1, &data)?;
            if !v.is_undef() {
                result.push((self.p.name(name), v));
            }
            pc += 1 + self.p.ops[pc + 1].size();
        }
        if let Some(order) = json::js_key_order(result.iter().map(|(k, _)| *k)) {
            let mut slots: Vec<Option<(&'a str, Val<'a>)>> = result.into_iter().map(Some).collect();
            result = order.into_iter().map(|i| slots[i].take().expect("each position once")).collect();
        }
        Ok(Val::Obj(result))
    }

    /// Runs the first `upto` steps of the path at `pc` (`evaluatePath`), returning the
    /// sequence that step `upto` would run over and that step's instruction.
    fn path_items(&self, pc: usize, upto: u32, ctx: &Val<'a>) -> Result<(Items<'a>, usize), Fail> {
        let mut spc = pc + 1;
        // A path that starts with a variable (`$$`) does not map over an array context.
        let mut items = if !matches!(self.p.ops[spc], Op::Root) && ctx.is_array() {
            Items::Spread(ctx.clone())
        } else {
            Items::One(ctx.clone())
        };
        for _ in 0..upto {
            items = match items {
                Items::One(item) => match self.step(spc, &item)? {
                    Val::Undef => return Ok((Items::Many(Vec::new()), spc)),
                    // `evaluateStep` flattens an array result into the sequence.
                    r if r.is_array() => Items::Spread(r),
                    r => Items::One(r),
                },
                items => Items::Many(self.flatten(self.step_each(spc, &items)?)),
            };
            if items.len() == 0 {
                return Ok((items, spc));
            }
            spc += self.p.ops[spc].size();
        }
        Ok((items, spc))
    }

    /// A whole path's value.
    fn eval_path(&self, pc: usize, steps: u32, ctx: &Val<'a>) -> Result<Val<'a>, Fail> {
        let (items, last) = self.path_items(pc, steps - 1, ctx)?;
        Ok(match items {
            // On one item, the last step's value is the path's value: a data array is kept as it
            // is, a sequence stays a sequence, and anything else is its own one-item sequence.
            Items::One(item) => self.step(last, &item)?,
            items => {
                let results = self.step_each(last, &items)?;
                // `evaluateStep`: a lone data array from the last step is returned unflattened.
                if results.len() == 1 && results[0].is_array() && !matches!(results[0], Val::Seq(_)) {
                    results.into_iter().next().expect("one result")
                } else {
                    Val::Seq(self.flatten(results)).collapse()
                }
            }
        })
    }

    /// Applies the step at `spc` to every item, keeping the defined results.
    fn step_each(&self, spc: usize, items: &Items<'a>) -> Result<Vec<Val<'a>>, Fail> {
        let mut results = Vec::with_capacity(items.len());
        for i in 0..items.len() {
            match self.step(spc, &items.get(i))? {
                Val::Undef => {}
                r => results.push(r),
            }
        }
        Ok(results)
    }

    /// `evaluateStep`'s flattening: array results are spliced one level.
    fn flatten(&self, results: Vec<Val<'a>>) -> Vec<Val<'a>> {
        if !results.iter().any(Val::is_array) {
            return results;
        }
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            if r.is_array() { r.spread_into(&mut out) } else { out.push(r) }
        }
        out
    }

    /// One step applied to one item, normalised.
    fn step(&self, spc: usize, item: &Val<'a>) -> Result<Val<'a>, Fail> {
        Ok(match self.p.ops[spc] {
            Op::Root => self.root.clone(),
            Op::Field { name, slot } => {
                let slot = (slot != NO_SLOT).then_some(slot);
                item.lookup(self.p.name(name), slot, &self.p.fields).collapse()
            }
            Op::Object { .. } => self.eval_object(spc, item)?,
            _ => unreachable!("not a step"),
        })
    }

    /// `$number(arg)`.
    fn number(&self, pc: usize, ctx: &Val<'a>) -> Result<Val<'a>, Fail> {
        let arg = self.eval(pc + 1, ctx)?;
        self.cast_number(pc, arg)
    }

    /// `$number` applied to a value; errors point at the call at `pc`.
    fn cast_number(&self, pc: usize, arg: Val<'a>) -> Result<Val<'a>, Fail> {
        let n = match &arg {
            Val::Undef => return Ok(Val::Undef),
            Val::Num(f) => *f,
            Val::Int(i) => *i as f64,
            Val::UInt(u) => *u as f64,
            Val::J(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Val::Bool(b) => f64::from(u8::from(*b)),
            Val::Str(s) => json::parse_number(s).map_err(|_| {
                self.error(
                    Code::NotANumber,
                    pc,
                    format!("`$number` cannot cast the string {} to a number", quoted(s)),
                    "the string must be a JSON number such as \"12\" or \"-1.5e3\", or 0x.., 0o.., 0b..",
                )
            })?,
            other => {
                return Err(self.error(
                    Code::ArgumentType,
                    pc,
                    format!("`$number` cannot take {} as its argument", describe(other)),
                    "`$number` takes a number, a string or a boolean",
                ));
            }
        };
        Ok(Val::Num(n))
    }
}

/// The values of a block's [`Piece::Invariant`]s for one sequence of items, written once.
#[derive(Default)]
struct Fixed {
    bytes: Vec<u8>,
    /// Each value's range in `bytes`; `None` when it is undefined.
    spans: Vec<Option<(usize, usize)>>,
    /// Bytes of all the values.
    len: usize,
    /// The invariant that failed, if one did, and its error (the later ones are not evaluated).
    failed: Option<(u32, Fail)>,
}

impl Fixed {
    #[inline(always)]
    fn get(&self, index: u32) -> Option<&[u8]> {
        self.spans[index as usize].map(|(start, len)| &self.bytes[start..start + len])
    }
}

/// The fields of one item, as a lowered block reads them.
trait ItemFields<'a> {
    /// Field `field` of the block's field table.
    fn field(&self, field: u32) -> Val<'a>;

    /// A pair whose value is field `field`: nothing when it is undefined, otherwise the comma,
    /// the serialised `key` and the value. (The hot path: sources write their common kinds
    /// without building a [`Val`].)
    fn write_pair(&self, field: u32, c: Comma, key: &[u8], out: &mut Vec<u8>);

    /// Most bytes field `field`'s value takes when written; `None` when it is not a scalar
    /// (an array or object, written by the general path).
    fn bound(&self, field: u32) -> Option<usize>;

    /// Most bytes the values of `block`'s pair and item pieces take; `None` when one is not a
    /// scalar.
    #[inline(always)]
    fn values_bound(&self, block: &Block) -> Option<usize> {
        bound_each(self, block)
    }

    /// Through the cursor: nothing when field `field` is undefined, otherwise the comma, `key`
    /// (empty for an array item) and the value.
    ///
    /// # Safety
    /// The field's [`ItemFields::bound`] must be `Some(n)`, with room for the comma, `key`
    /// and `n` bytes left in `cur`.
    unsafe fn put(&self, field: u32, c: Comma, key: &[u8], cur: &mut Cursor<'_>);
}

/// The sum of [`ItemFields::bound`] over the fields `block`'s pieces write, one term per use.
#[inline(always)]
fn bound_each<'a>(item: &(impl ItemFields<'a> + ?Sized), block: &Block) -> Option<usize> {
    block.reads.iter().try_fold(0, |sum, &field| Some(sum + item.bound(field)?))
}

/// A record of a batch: block fields map to record slots.
struct BatchRecord<'a, 'b> {
    batch: &'a RecordBatch,
    /// The record's index in the batch.
    index: usize,
    slots: &'a [Slot],
    map: &'b [u32],
}

impl<'a> ItemFields<'a> for BatchRecord<'a, '_> {
    #[inline(always)]
    fn field(&self, field: u32) -> Val<'a> {
        Val::from_field(self.batch.read(self.slots[self.map[field as usize] as usize]))
    }

    #[inline(always)]
    fn write_pair(&self, field: u32, c: Comma, key: &[u8], out: &mut Vec<u8>) {
        let slot = self.slots[self.map[field as usize] as usize];
        if slot == Slot::Missing {
            return;
        }
        comma(out, c);
        out.extend_from_slice(key);
        match slot {
            Slot::Str { start, len } => json::write_str_bytes(out, self.batch.text_bytes(start, len)),
            Slot::Int(i) => json::write_i64(out, i),
            other => {
                write_val(out, &Val::from_field(self.batch.read(other)), &[]);
            }
        }
    }

    /// Without reading a slot: every value is a number or a string of the record's text (a
    /// string of n bytes takes 2 + 6n, under a number's bound plus 6n), unless the batch holds
    /// JSON values.
    #[inline(always)]
    fn values_bound(&self, block: &Block) -> Option<usize> {
        if self.batch.has_json() {
            return bound_each(self, block);
        }
        Some(block.reads.len() * cursor::NUMBER_BOUND + 6 * block.max_uses * self.batch.text_len(self.index))
    }

    #[inline(always)]
    fn bound(&self, field: u32) -> Option<usize> {
        Some(match self.slots[self.map[field as usize] as usize] {
            Slot::Missing => 0,
            Slot::Str { len, .. } => cursor::str_bound(len as usize),
            Slot::Int(_) | Slot::UInt(_) | Slot::Float(_) => cursor::NUMBER_BOUND,
            Slot::Null | Slot::Bool(_) => cursor::WORD_BOUND,
            Slot::Json(_) => return None,
        })
    }

    #[inline(always)]
    unsafe fn put(&self, field: u32, c: Comma, key: &[u8], cur: &mut Cursor<'_>) {
        let slot = self.slots[self.map[field as usize] as usize];
        if slot == Slot::Missing {
            return;
        }
        // SAFETY: the caller left room for the comma, the key and the slot's bound.
        unsafe {
            put_comma(cur, c);
            cur.bytes(key);
            match slot {
                Slot::Str { start, len } => cur.str(self.batch.text_bytes(start, len)),
                Slot::Int(i) => cur.i64(i),
                Slot::UInt(u) => cur.u64(u),
                Slot::Float(f) => cur.f64(f),
                Slot::Null => cur.bytes(b"null"),
                Slot::Bool(b) => cur.bytes(if b { b"true" } else { b"false" }),
                Slot::Missing | Slot::Json(_) => unreachable!("bound is None or nothing is written"),
            }
        }
    }
}

/// A JSON object, its entries found by one pass over it.
struct JsonRecord<'a, 'b>(&'b [Option<&'a Value>]);

impl<'a> ItemFields<'a> for JsonRecord<'a, '_> {
    #[inline(always)]
    fn field(&self, field: u32) -> Val<'a> {
        self.0[field as usize].map_or(Val::Undef, Val::from_json)
    }

    #[inline(always)]
    fn write_pair(&self, field: u32, c: Comma, key: &[u8], out: &mut Vec<u8>) {
        if let Some(v) = self.0[field as usize] {
            comma(out, c);
            out.extend_from_slice(key);
            json::write_value(out, v);
        }
    }

    #[inline(always)]
    fn bound(&self, field: u32) -> Option<usize> {
        Some(match self.0[field as usize] {
            None => 0,
            Some(Value::String(s)) => cursor::str_bound(s.len()),
            Some(Value::Number(_)) => cursor::NUMBER_BOUND,
            Some(Value::Null | Value::Bool(_)) => cursor::WORD_BOUND,
            Some(Value::Array(_) | Value::Object(_)) => return None,
        })
    }

    #[inline(always)]
    unsafe fn put(&self, field: u32, c: Comma, key: &[u8], cur: &mut Cursor<'_>) {
        let Some(v) = self.0[field as usize] else { return };
        // SAFETY: the caller left room for the comma, the key and the value's bound.
        unsafe {
            put_comma(cur, c);
            cur.bytes(key);
            match v {
                Value::String(s) => cur.str(s.as_bytes()),
                Value::Number(n) => cur.number(n),
                Value::Null => cur.bytes(b"null"),
                Value::Bool(b) => cur.bytes(if *b { b"true" } else { b"false" }),
                Value::Array(_) | Value::Object(_) => unreachable!("bound is None"),
            }
        }
    }
}

/// An object of a parsed input, its block fields found by one pass over it.
struct NodeRecord<'a, 'b>(&'b [Option<Val<'a>>]);

impl<'a> ItemFields<'a> for NodeRecord<'a, '_> {
    #[inline(always)]
    fn field(&self, field: u32) -> Val<'a> {
        self.0[field as usize].clone().unwrap_or(Val::Undef)
    }

    #[inline(always)]
    fn write_pair(&self, field: u32, c: Comma, key: &[u8], out: &mut Vec<u8>) {
        if let Some(v) = &self.0[field as usize] {
            comma(out, c);
            out.extend_from_slice(key);
            write_val(out, v, &[]);
        }
    }

    #[inline(always)]
    fn bound(&self, field: u32) -> Option<usize> {
        Some(match &self.0[field as usize] {
            None => 0,
            Some(Val::Str(s)) => cursor::str_bound(s.len()),
            Some(Val::Int(_) | Val::UInt(_) | Val::Num(_)) => cursor::NUMBER_BOUND,
            Some(Val::Null | Val::Bool(_)) => cursor::WORD_BOUND,
            Some(_) => return None,
        })
    }

    #[inline(always)]
    unsafe fn put(&self, field: u32, c: Comma, key: &[u8], cur: &mut Cursor<'_>) {
        let Some(v) = &self.0[field as usize] else { return };
        // SAFETY: the caller left room for the comma, the key and the value's bound.
        unsafe {
            put_comma(cur, c);
            cur.bytes(key);
            match v {
                Val::Str(s) => cur.str(s.as_bytes()),
                Val::Int(i) => cur.i64(*i),
                Val::UInt(u) => cur.u64(*u),
                Val::Num(f) => cur.f64(*f),
                Val::Null => cur.bytes(b"null"),
                Val::Bool(b) => cur.bytes(if *b { b"true" } else { b"false" }),
                _ => unreachable!("bound is None"),
            }
        }
    }
}

/// [`fill_fields`] over an object node of a parsed input.
#[inline]
fn fill_node_fields<'a>(names: &[Box<str>], doc: &'a Input<'a>, object: u32, fields: &mut [Option<Val<'a>>]) {
    fields.fill(None);
    let mut missing = names.len();
    for (k, v) in doc.pairs(object) {
        let k = k.as_bytes();
        let found = names.iter().position(|name| same_bytes(name.as_bytes(), k));
        if let Some(f) = found {
            fields[f] = Some(Val::from_node(doc, v));
            missing -= 1;
            if missing == 0 {
                break;
            }
        }
    }
}

/// Finds the block's fields in a JSON object by one pass over its entries (cheaper than a hash
/// lookup per field for the handful of fields a body reads), stopping once all are found.
#[inline]
fn fill_fields<'a>(names: &[Box<str>], map: &'a serde_json::Map<String, Value>, fields: &mut [Option<&'a Value>]) {
    fields.fill(None);
    let mut missing = names.len();
    for (k, v) in map {
        let k = k.as_bytes();
        let found = names.iter().position(|name| same_bytes(name.as_bytes(), k));
        if let Some(f) = found {
            fields[f] = Some(v);
            missing -= 1;
            if missing == 0 {
                break;
            }
        }
    }
}

/// `a == b` for the short keys of records, with two overlapping word compares instead of a
/// `memcmp` call.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("four bytes"));
    match n {
        0 => true,
        1..4 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Writes the comma that `c` calls for.
#[inline(always)]
fn comma(out: &mut Vec<u8>, c: Comma) {
    match c {
        Comma::No => {}
        Comma::Yes => out.push(b','),
        // A value never ends in `{` or `[`: after one of those, nothing precedes in the container.
        Comma::Check => {
            if !matches!(out.last(), Some(b'{' | b'[')) {
                out.push(b',')
            }
        }
    }
}

/// Writes the comma that `c` calls for through the cursor.
///
/// # Safety
/// One byte of room must be left in `cur`.
#[inline(always)]
unsafe fn put_comma(cur: &mut Cursor<'_>, c: Comma) {
    let needed = match c {
        Comma::No => false,
        Comma::Yes => true,
        Comma::Check => !matches!(cur.last(), Some(b'{' | b'[')),
    };
    if needed {
        // SAFETY: the caller left the byte.
        unsafe { cur.byte(b',') }
    }
}

/// The context an object constructor evaluates its values in (`evaluateGroupExpression` with
/// string-literal keys): over an array, every pair sees all items, appended one level; an empty
/// array gives an undefined context.
fn group_context<'a>(ctx: &Val<'a>) -> Val<'a> {
    match ctx.array_len() {
        None => ctx.clone(),
        Some(0) => Val::Undef,
        Some(1) => ctx.item(0),
        Some(n) => {
            let mut data = Vec::with_capacity(n);
            for i in 0..n {
                match ctx.item(i) {
                    v if v.is_array() => v.spread_into(&mut data),
                    v => data.push(v),
                }
            }
            Val::Seq(data)
        }
    }
}

fn quoted(s: &str) -> String {
    let mut out = Vec::new();
    let short: String = s.chars().take(40).collect();
    json::write_str(&mut out, &short);
    let mut text = String::from_utf8(out).unwrap_or_default();
    if short.len() < s.len() {
        text.push('…');
    }
    text
}

fn describe(v: &Val<'_>) -> &'static str {
    match v {
        Val::Null | Val::J(Value::Null) => "null",
        v if v.is_array() => "an array",
        _ => "an object",
    }
}

/// Writes `v` as `JSON.stringify` would; false (nothing written) when it is undefined.
pub(crate) fn write_val(out: &mut Vec<u8>, v: &Val<'_>, fields: &[String]) -> bool {
    match v {
        Val::Undef => return false,
        Val::Null => out.extend_from_slice(b"null"),
        Val::Bool(true) => out.extend_from_slice(b"true"),
        Val::Bool(false) => out.extend_from_slice(b"false"),
        Val::Num(f) => json::write_f64(out, *f),
        Val::Int(i) => json::write_i64(out, *i),
        Val::UInt(u) => json::write_u64(out, *u),
        Val::Str(s) => json::write_str(out, s),
        Val::J(j) => json::write_value(out, j),
        Val::D(doc, id) => doc.write(out, *id),
        Val::Seq(items) | Val::Arr(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_val(out, item, fields);
            }
            out.push(b']');
        }
        Val::Records(batch) => {
            out.push(b'[');
            for i in 0..batch.len() {
                if i > 0 {
                    out.push(b',');
                }
                write_val(out, &Val::Record(batch, i as u32), fields);
            }
            out.push(b']');
        }
        Val::Obj(pairs) => write_pairs(out, pairs.iter().map(|(k, v)| (*k, v.clone())), fields),
        Val::Record(batch, r) => {
            let pairs = (0..batch.width().min(fields.len()))
                .map(|s| (fields[s].as_str(), Val::from_field(batch.get(*r as usize, s))));
            write_pairs_ordered(out, pairs.collect(), fields);
        }
        Val::Conn(c) => write_pairs(
            out,
            [("audienceId", Val::Str(&c.audience_id)), ("audienceName", Val::Str(&c.audience_name))].into_iter(),
            fields,
        ),
        Val::Root(batch, conn) => {
            write_pairs(out, [("records", Val::Records(batch)), ("connection", Val::Conn(conn))].into_iter(), fields)
        }
    }
    true
}

/// Writes pairs already in key order, skipping undefined values.
fn write_pairs<'a>(out: &mut Vec<u8>, pairs: impl Iterator<Item = (&'a str, Val<'a>)>, fields: &[String]) {
    out.push(b'{');
    for (k, v) in pairs {
        if v.is_undef() {
            continue;
        }
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
        json::write_str(out, k);
        out.push(b':');
        write_val(out, &v, fields);
    }
    out.push(b'}');
}

/// Writes pairs in JavaScript key order (array-index keys first).
fn write_pairs_ordered<'a>(out: &mut Vec<u8>, mut pairs: Vec<(&'a str, Val<'a>)>, fields: &[String]) {
    pairs.retain(|(_, v)| !v.is_undef());
    if let Some(order) = json::js_key_order(pairs.iter().map(|(k, _)| *k)) {
        let reordered: Vec<_> = order.into_iter().map(|i| pairs[i].clone()).collect();
        pairs = reordered;
    }
    write_pairs(out, pairs.into_iter(), fields);
}

#[cfg(test)]
mod tests {
    use super::same_bytes;
    use crate::template::{Connection, Expression, RecordBatch, Template};

    /// Records whose every byte escapes to six, with fields written twice, fill the bound the
    /// cursor writer reserves from a record's text length (debug builds check every write).
    #[test]
    fn worst_case_records_fit_the_reserved_bound() {
        let src = r#"{"u": [$$.records.{"a": a, "b": [a, b], "c": {"a": a, "n": n}, "id": $$.connection.audienceId}]}"#;
        let template = Template::compile(src).unwrap();
        let fields: Vec<&str> = template.fields().iter().map(|f| f.name.as_str()).collect();
        let mut batch = RecordBatch::new(fields.len());
        let mut records = Vec::new();
        for n in 0..40usize {
            batch.push_record();
            let mut record = serde_json::Map::new();
            for (i, name) in fields.iter().enumerate() {
                let value = match *name {
                    "n" => serde_json::json!(-1.2345678901234567e-300),
                    _ => serde_json::Value::String("\u{1}".repeat(n + i)),
                };
                batch.set_json(i, value.clone());
                record.insert((*name).to_owned(), value);
            }
            records.push(serde_json::Value::Object(record));
        }
        let connection = Connection { audience_id: "\u{2}\"".into(), audience_name: String::new() };
        let mut rendered = Vec::new();
        template.render(&batch, &connection, &mut rendered).unwrap();
        let doc = serde_json::json!({"records": records, "connection": {"audienceId": connection.audience_id}});
        let mut evaluated = Vec::new();
        Expression::compile(src).unwrap().evaluate(Some(&doc), &mut evaluated).unwrap();
        assert_eq!(String::from_utf8(rendered).unwrap(), String::from_utf8(evaluated).unwrap());
    }

    #[test]
    fn same_bytes_is_equality_at_every_length() {
        let a: Vec<u8> = (0..40u8).collect();
        for n in 0..40 {
            assert!(same_bytes(&a[..n], &a[..n]));
            for at in 0..n {
                let mut b = a[..n].to_vec();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a[..n], &b), "length {n}, differing at {at}");
            }
            assert!(!same_bytes(&a[..n], &a[..n + 1]));
        }
    }
}
