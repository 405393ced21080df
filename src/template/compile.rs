//! Lowers a checked expression to a [`Program`].
//!
//! The input must have passed `subset::check_subset`: anything outside the subset is a bug in
//! the checker and panics here rather than being miscompiled.

use super::TemplateField;
use super::ast::{Expr, ExprKind, Pair};
use super::json;
use super::lower;
use super::program::{Bytes, NO_BLOCK, NO_SLOT, Op, Program};
use super::span::Span;
use serde_json::{Map, Number, Value};

/// Compiles `expr`. With `fields` (a template), relative paths inside `[$$.records.{ ... }]`
/// blocks read their first step from the record slot of that field.
pub fn compile(expr: &Expr, src: &str, fields: Option<&[TemplateField]>) -> Program {
    // Sized from the source so that the program's vectors rarely grow while compiling.
    let program = Program {
        ops: Vec::with_capacity(src.len() / 4 + 8),
        spans: Vec::with_capacity(src.len() / 4 + 8),
        bytes: Vec::with_capacity(src.len() * 2),
        ..Program::default()
    };
    let mut c = Compiler {
        program,
        fields: fields.map(|f| f.iter().map(|f| f.name.clone()).collect()).unwrap_or_default(),
        template: fields.is_some(),
    };
    c.expr(expr, Ctx::Other);
    c.program.fields = c.fields;
    lower::lower_blocks(&mut c.program);
    c.program
}

/// What the context item is where an expression is compiled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// A record of a `$$.records` block: first steps of relative paths read record slots.
    Record,
    Other,
}

struct Compiler {
    program: Program,
    fields: Vec<String>,
    template: bool,
}

impl Compiler {
    fn push(&mut self, op: Op, span: Span) -> usize {
        self.program.ops.push(op);
        self.program.spans.push(span);
        self.program.ops.len() - 1
    }

    fn name(&mut self, name: &str) -> u32 {
        match self.program.names.iter().position(|n| &**n == name) {
            Some(i) => i as u32,
            None => {
                self.program.names.push(name.into());
                self.program.names.len() as u32 - 1
            }
        }
    }

    fn bytes(&mut self, b: &[u8]) -> Bytes {
        let start = self.program.bytes.len() as u32;
        self.program.bytes.extend_from_slice(b);
        Bytes { start, len: b.len() as u32 }
    }

    /// Patches the `len` of the head at `at` to cover everything emitted since.
    fn close(&mut self, at: usize) {
        let n = (self.program.ops.len() - at) as u32;
        match &mut self.program.ops[at] {
            Op::Object { len, .. } | Op::Array { len, .. } | Op::Path { len, .. } | Op::Number { len } => *len = n,
            _ => unreachable!("only heads with operands are closed"),
        }
    }

    fn expr(&mut self, e: &Expr, ctx: Ctx) {
        if let Some(value) = is_const(e).then(|| const_value(e)).flatten() {
            let mut text = Vec::new();
            json::write_value(&mut text, &value);
            let bytes = self.bytes(&text);
            let index = self.program.consts.len() as u32;
            self.program.consts.push(value);
            self.push(Op::Const { bytes, value: index }, e.span);
            return;
        }
        match &e.kind {
            ExprKind::Object(pairs) => self.object(pairs, e.span, ctx),
            ExprKind::Array(items) => {
                let at = self.push(Op::Array { items: items.len() as u32, len: 0 }, e.span);
                for item in items {
                    self.expr(item, ctx);
                }
                self.close(at);
            }
            ExprKind::Variable(v) if v == "$" => {
                self.push(Op::Root, e.span);
            }
            ExprKind::Name { .. } => self.path(std::slice::from_ref(e), e.span, ctx),
            ExprKind::Path(steps) => self.path(steps, e.span, ctx),
            ExprKind::Call { args, .. } if args.len() == 1 => {
                let at = self.push(Op::Number { len: 0 }, e.span);
                self.expr(&args[0], ctx);
                self.close(at);
            }
            other => unreachable!("the checker lets no {other:?} through"),
        }
    }

    fn object(&mut self, pairs: &[Pair], span: Span, ctx: Ctx) {
        let keys: Vec<&str> = pairs.iter().map(|p| key_text(&p.key)).collect();
        let ordered = json::js_key_order(keys.iter().copied()).is_none();
        let at = self.push(Op::Object { pairs: pairs.len() as u32, len: 0, ordered }, span);
        for (pair, key) in pairs.iter().zip(keys) {
            let mut text = Vec::with_capacity(key.len() + 3);
            json::write_str(&mut text, key);
            text.push(b':');
            let key_bytes = self.bytes(&text);
            let name = self.name(key);
            self.push(Op::Pair { key: key_bytes, name }, pair.key.span);
            self.expr(&pair.value, ctx);
        }
        self.close(at);
    }

    fn path(&mut self, steps: &[Expr], span: Span, ctx: Ctx) {
        let streams = steps.len() > 1 && matches!(steps[steps.len() - 1].kind, ExprKind::Object(_));
        let at = self.push(Op::Path { steps: steps.len() as u32, len: 0, streams, block: NO_BLOCK }, span);
        // `$$.records.{ ... }` in a template: the object step's context is a record.
        let records_block = self.template
            && steps.len() == 3
            && steps[0].is_root()
            && matches!(&steps[1].kind, ExprKind::Name { name, .. } if name == "records")
            && matches!(steps[2].kind, ExprKind::Object(_));
        // `$$.records.PATH` in a template (a list of one field's values): the step after
        // `records` reads the record's slot.
        let records_list = self.template
            && steps.len() >= 3
            && steps[0].is_root()
            && matches!(&steps[1].kind, ExprKind::Name { name, .. } if name == "records");
        for (i, step) in steps.iter().enumerate() {
            match &step.kind {
                ExprKind::Variable(v) if v == "$" && i == 0 => {
                    self.push(Op::Root, step.span);
                }
                ExprKind::Name { name, .. } => {
                    let slot = if (i == 0 && ctx == Ctx::Record) || (i == 2 && records_list) {
                        self.fields.iter().position(|f| f == name).map_or(NO_SLOT, |s| s as u32)
                    } else {
                        NO_SLOT
                    };
                    let name = self.name(name);
                    self.push(Op::Field { name, slot }, step.span);
                }
                ExprKind::Object(pairs) if i > 0 => {
                    let inner = if records_block { Ctx::Record } else { Ctx::Other };
                    self.object(pairs, step.span, inner);
                }
                other => unreachable!("the checker lets no {other:?} step through"),
            }
        }
        self.close(at);
    }
}

/// The text of a string-literal key (the checker allows no other keys).
fn key_text(key: &Expr) -> &str {
    match &key.kind {
        ExprKind::String(s) => s,
        other => unreachable!("the checker lets no {other:?} key through"),
    }
}

/// Whether an expression is made only of literals, object and array constructors (checked
/// without building anything, since most subtrees of a template are not).
fn is_const(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::String(_) | ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null => true,
        ExprKind::Array(items) => items.iter().all(is_const),
        ExprKind::Object(pairs) => {
            pairs.iter().all(|p| matches!(p.key.kind, ExprKind::String(_)) && is_const(&p.value))
        }
        _ => false,
    }
}

/// The value of an expression made only of literals, object and array constructors.
fn const_value(e: &Expr) -> Option<Value> {
    Some(match &e.kind {
        ExprKind::String(s) => Value::String(s.clone()),
        ExprKind::Number(n) => Value::Number(Number::from_f64(*n)?),
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Null => Value::Null,
        ExprKind::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match (&item.kind, const_value(item)?) {
                    // An item that is not itself an array constructor is spliced one level.
                    (ExprKind::Array(_), v) => out.push(v),
                    (_, Value::Array(v)) => out.extend(v),
                    (_, v) => out.push(v),
                }
            }
            Value::Array(out)
        }
        ExprKind::Object(pairs) => {
            let mut map = Map::new();
            for pair in pairs {
                let ExprKind::String(key) = &pair.key.kind else { return None };
                map.insert(key.clone(), const_value(&pair.value)?);
            }
            Value::Object(map)
        }
        _ => return None,
    })
}
