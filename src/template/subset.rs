//! The expression subset (docs/design/template-language.md §1): the allowlist every expression passes
//! before it is compiled, whether a request-body template or an `audience render` expression.
//!
//! [`check_subset`] allows literals, object constructors with string-literal keys, array
//! constructors, paths that start with `$$` or a field name and go on with names and `.{ ... }`
//! steps, `$$`, and `$number(x)`. Everything else gets one error with its own code at the
//! construct itself (an operator's token, a call's `$name(`, a filter's `[...]`), and the walk
//! goes on into its children, so independent violations are each reported once.
//!
//! The walk recurses over the tree; the parser bounds its height by `MAX_DEPTH`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::ast::{BinOp, Expr, ExprKind, Pair};
use super::diagnostic::{Code, Diagnostic, Label};
use super::span::Span;

/// Keys the reference refuses to build an object with (D1013, since jsonata 2.2.1): it keeps
/// them for its own functions. Rejected when checking, like literal duplicate keys.
const RESERVED_KEYS: &[&str] = &["_jsonata_function", "_jsonata_lambda"];

/// Applies the expression subset, appending one error per construct outside it.
pub fn check_subset(expr: &Expr, diags: &mut Vec<Diagnostic>) {
    Subset { diags, bound: Vec::new() }.expr(expr);
}

/// How a message names a construct that stands where it may not (a path start or a step).
fn describe(e: &Expr) -> &'static str {
    match &e.kind {
        ExprKind::String(_) => "a string literal",
        ExprKind::Number(_) => "a number",
        ExprKind::Bool(_) | ExprKind::Null => "a literal value",
        ExprKind::Name { .. } => "a field name",
        ExprKind::Variable(v) if v == "$" => "`$$`",
        ExprKind::Variable(_) => "a variable",
        ExprKind::Object(_) => "an object constructor",
        ExprKind::Array(_) => "an array constructor",
        ExprKind::Call { .. } => "a function call",
        ExprKind::Block(_) => "a parenthesised expression",
        _ => "this expression",
    }
}

/// The code and the name of a binary operator outside the subset.
fn binary_code(op: BinOp) -> (Code, &'static str) {
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => (Code::Arithmetic, "arithmetic"),
        BinOp::Concat => (Code::Concatenation, "string concatenation"),
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => (Code::Comparison, "comparison"),
        BinOp::In => (Code::Membership, "membership test"),
        BinOp::And | BinOp::Or => (Code::Boolean, "boolean operator"),
        BinOp::Range => (Code::Range, "range"),
        BinOp::Apply => (Code::Chain, "function chain"),
        BinOp::Elvis | BinOp::Coalesce => (Code::DefaultOperator, "default operator"),
    }
}

fn binary_hint(op: BinOp) -> Option<&'static str> {
    match op {
        BinOp::Elvis | BinOp::Coalesce => Some("a field that is missing is left out of the object anyway"),
        BinOp::Concat => Some("send the parts as separate fields"),
        _ => None,
    }
}

/// The span of a call's `$name(`.
fn call_head(callee: &Expr, paren: Span) -> Span {
    callee.span.to(paren)
}

struct Subset<'d> {
    diags: &'d mut Vec<Diagnostic>,
    /// Variables bound where the walk is (lambda parameters, `:=`, `@$v`, `#$v`). Their uses
    /// belong to the binding construct, which is reported; they are not reported again.
    bound: Vec<String>,
}

impl Subset<'_> {
    fn error(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(code, span, message));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn not_allowed(&mut self, code: Code, span: Span, what: &str) -> &mut Diagnostic {
        self.error(code, span, format!("{what} is not allowed in templates"))
    }

    /// Runs `f` in a scope: variables bound inside it are forgotten after it.
    fn scoped(&mut self, f: impl FnOnce(&mut Self)) {
        let outer = self.bound.len();
        f(self);
        self.bound.truncate(outer);
    }

    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|b| b == name)
    }

    /// An expression in value position.
    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::String(_) | ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null => {}
            ExprKind::Name { .. } | ExprKind::Placeholder => {}
            ExprKind::Variable(name) => self.variable(name, e.span),
            ExprKind::Object(pairs) => self.pairs(pairs),
            ExprKind::Array(items) => items.iter().for_each(|item| self.expr(item)),
            ExprKind::Path(steps) => self.scoped(|s| s.path(steps)),
            ExprKind::Call { callee, args, paren } => self.call(callee, args, *paren, 0),
            _ => self.disallowed(e, Self::expr),
        }
    }

    /// A construct that is never allowed: its diagnostic, then its children. `inner` checks
    /// the expression a postfix construct applies to (as a value, or as a path step).
    fn disallowed(&mut self, e: &Expr, inner: fn(&mut Self, &Expr)) {
        match &e.kind {
            ExprKind::Binary { op, op_span, lhs, rhs } => {
                let (code, what) = binary_code(*op);
                let d = self.not_allowed(code, *op_span, &format!("{what} `{}`", op.as_str()));
                if let Some(hint) = binary_hint(*op) {
                    d.hint = Some(hint.to_string());
                }
                self.expr(lhs);
                match &rhs.kind {
                    // `a ~> $f(b)` calls `$f(a, b)`.
                    ExprKind::Call { callee, args, paren } if *op == BinOp::Apply => self.call(callee, args, *paren, 1),
                    _ => self.expr(rhs),
                }
            }
            ExprKind::Negate(operand) => {
                let minus = Span { start: e.span.start, end: e.span.start + 1 };
                let d = self.not_allowed(Code::Arithmetic, minus, "negation `-`");
                d.hint = Some("only a number literal may carry a minus sign (`-1`)".into());
                self.expr(operand);
            }
            ExprKind::Condition { cond, then, otherwise, question } => {
                self.not_allowed(Code::Conditional, *question, "the conditional `? :`");
                self.expr(cond);
                self.expr(then);
                otherwise.iter().for_each(|o| self.expr(o));
            }
            ExprKind::Bind { var, value, op_span } => {
                self.not_allowed(Code::Binding, *op_span, "variable binding `:=`");
                self.expr(value);
                if let ExprKind::Variable(name) = &var.kind {
                    self.bound.push(name.clone());
                }
            }
            ExprKind::Wildcard => {
                self.not_allowed(Code::Wildcard, e.span, "the wildcard `*`").hint = Some("name each field".into());
            }
            ExprKind::Descendants => {
                self.not_allowed(Code::Descendants, e.span, "the descendants operator `**`").hint =
                    Some("write the whole path to the field".into());
            }
            ExprKind::Parent => {
                self.not_allowed(Code::Parent, e.span, "the parent operator `%`");
            }
            ExprKind::Group { expr, pairs, brace } => {
                self.not_allowed(Code::Grouping, *brace, "grouping `path{...}`").hint =
                    Some("write `path.{...}` to build one object per item".into());
                inner(self, expr);
                self.pairs(pairs);
            }
            ExprKind::Filter { expr, predicate, bracket } => {
                self.not_allowed(Code::Predicate, *bracket, "a predicate `[...]`");
                inner(self, expr);
                self.expr(predicate);
            }
            ExprKind::KeepArray { expr, bracket } => {
                self.not_allowed(Code::KeepArray, *bracket, "keep-array `[]`");
                inner(self, expr);
            }
            ExprKind::Sort { expr, terms, caret } => {
                self.not_allowed(Code::Sort, *caret, "sorting `^(...)`");
                inner(self, expr);
                terms.iter().for_each(|t| self.expr(&t.expr));
            }
            ExprKind::Focus { expr, at, var } => {
                self.not_allowed(Code::Focus, *at, "a focus binding `@$var`");
                inner(self, expr);
                self.bound.push(var.clone());
            }
            ExprKind::Index { expr, hash, var } => {
                self.not_allowed(Code::Index, *hash, "an index binding `#$var`");
                inner(self, expr);
                self.bound.push(var.clone());
            }
            ExprKind::Block(items) => {
                self.error(Code::Block, e.span, "parentheses `( ... )` are not allowed in templates");
                self.scoped(|s| items.iter().for_each(|item| s.expr(item)));
            }
            ExprKind::Transform { pattern, update, delete } => {
                self.not_allowed(Code::Transform, e.span, "a transform `| ... | ... |`");
                self.expr(pattern);
                self.expr(update);
                delete.iter().for_each(|d| self.expr(d));
            }
            ExprKind::Lambda { params, body } => {
                self.not_allowed(Code::Lambda, e.span, "a function definition");
                self.scoped(|s| {
                    s.bound.extend(params.iter().cloned());
                    s.expr(body);
                });
            }
            ExprKind::Regex { .. } => {
                self.not_allowed(Code::Regex, e.span, "a regular expression `/.../`");
            }
            // Allowed constructs are never passed here; checked as values they report nothing
            // or their own problems.
            _ => self.expr(e),
        }
    }

    fn variable(&mut self, name: &str, span: Span) {
        match name {
            "$" => {}
            _ if self.is_bound(name) => {}
            "" => {
                self.not_allowed(Code::Context, span, "the context variable `$`").hint =
                    Some("write the field name (`email`) or a `$$.` path".into());
            }
            _ => {
                self.not_allowed(Code::Variable, span, &format!("the variable `${name}`")).hint =
                    Some("read the input with `$$.` paths, and record fields by name".into());
            }
        }
    }

    /// The pairs of an object constructor (or of a `.{}` step or a grouping): string-literal
    /// keys, each at most once.
    fn pairs(&mut self, pairs: &[Pair]) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for pair in pairs {
            match &pair.key.kind {
                ExprKind::String(key) if RESERVED_KEYS.contains(&key.as_str()) => {
                    let message = format!("the key {key:?} is reserved by JSONata and cannot be built");
                    self.error(Code::ReservedKey, pair.key.span, message).hint =
                        Some("rename the key; JSONata refuses to build an object with it".into());
                }
                ExprKind::String(key) => match seen.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(pair.key.span);
                    }
                    Entry::Occupied(first) => self.duplicate(key, pair.key.span, *first.get()),
                },
                _ => self.computed_key(&pair.key),
            }
            self.expr(&pair.value);
        }
    }

    fn duplicate(&mut self, key: &str, span: Span, first: Span) {
        let message = format!("the key {key:?} is defined twice in one object");
        let d = self.error(Code::DuplicateKey, span, message);
        d.hint = Some("keep one of the two pairs".into());
        d.labels.push(Label { span: first, message: "first defined here".into() });
    }

    fn computed_key(&mut self, key: &Expr) {
        let hint = match &key.kind {
            ExprKind::Name { name, .. } => {
                format!("write {name:?} for the key itself; unquoted, `{name}` is the value of the field `{name}`")
            }
            _ => "write the key as a string literal, such as \"email\"".to_string(),
        };
        self.error(Code::ComputedKey, key.span, "object keys must be string literals in templates").hint = Some(hint);
        self.expr(key);
    }

    fn path(&mut self, steps: &[Expr]) {
        let Some((first, rest)) = steps.split_first() else { return };
        self.first_step(first);
        for step in rest {
            self.step(step);
        }
    }

    /// The first step: `$$` or a field name. An allowed construct that cannot start a path
    /// gets X0131; a construct that is never allowed reports itself.
    fn first_step(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Name { .. } => {}
            ExprKind::Variable(v) if v == "$" => {}
            ExprKind::Call { callee, .. } if !is_number_function(callee) => self.expr(e),
            ExprKind::Object(_) | ExprKind::Array(_) | ExprKind::String(_) | ExprKind::Call { .. } => {
                let message = format!("a path must start with `$$` or a field name, not {}", describe(e));
                self.error(Code::PathStart, e.span, message);
                self.expr(e);
            }
            _ => self.disallowed(e, Self::first_step),
        }
    }

    /// A later step: a field name or `.{ ... }`.
    fn step(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Name { .. } => {}
            ExprKind::Object(pairs) => self.pairs(pairs),
            ExprKind::Array(items) => {
                let d = self.not_allowed(Code::ArrayStep, e.span, "an array constructor as a path step `.[...]`");
                d.hint = Some(
                    "its shape changes with the number of items (`[1,2]` for one, `[[1,2],[3,4]]` for two); \
                     put the array around the path instead"
                        .into(),
                );
                items.iter().for_each(|item| self.expr(item));
            }
            ExprKind::Variable(v) if v == "$" => self.bad_step(e, e.span),
            ExprKind::Call { callee, args, paren } if is_number_function(callee) => {
                self.bad_step(e, call_head(callee, *paren));
                args.iter().for_each(|arg| self.expr(arg));
            }
            ExprKind::Block(items) => {
                self.bad_step(e, e.span);
                items.iter().for_each(|item| self.expr(item));
            }
            ExprKind::String(_) | ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null => self.bad_step(e, e.span),
            ExprKind::Path(steps) => steps.iter().for_each(|s| self.step(s)),
            ExprKind::Variable(_) | ExprKind::Call { .. } | ExprKind::Placeholder => self.expr(e),
            _ => self.disallowed(e, Self::step),
        }
    }

    fn bad_step(&mut self, e: &Expr, span: Span) {
        let message = format!("{} is not allowed as a path step", describe(e));
        self.error(Code::StepKind, span, message).hint = Some("a step is a field name or `.{ ... }`".into());
    }

    /// A call: `$number(x)` only. `implicit` counts arguments passed by a chain `~>`.
    fn call(&mut self, callee: &Expr, args: &[Expr], paren: Span, implicit: usize) {
        let head = call_head(callee, paren);
        let count = args.len() + implicit;
        match &callee.kind {
            ExprKind::Variable(name) if name == "number" => {
                if !args.iter().any(|a| matches!(a.kind, ExprKind::Placeholder)) && count != 1 {
                    let message = format!("`$number` takes exactly one argument, not {count}");
                    self.error(Code::NumberArity, head, message);
                }
            }
            // A function bound in the template: its definition is what gets reported.
            ExprKind::Variable(name) if self.is_bound(name) => {}
            ExprKind::Variable(name) if !name.is_empty() && name != "$" => {
                let message = format!("the function `${name}` is not allowed in templates; only `$number` is");
                self.error(Code::Function, head, message).hint =
                    Some("shape the data in the warehouse query; a template only places it".into());
            }
            _ => {
                let message = format!("only a function named `$name` can be called, not {}", describe(callee));
                self.error(Code::Call, head, message);
                self.expr(callee);
            }
        }
        if let Some(q) = args.iter().find(|a| matches!(a.kind, ExprKind::Placeholder)) {
            self.not_allowed(Code::Partial, q.span, "partial application `?`");
        }
        args.iter().for_each(|arg| self.expr(arg));
    }
}

fn is_number_function(callee: &Expr) -> bool {
    matches!(&callee.kind, ExprKind::Variable(name) if name == "number")
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;

    fn subset(src: &str) -> Vec<String> {
        let parsed = parse(src);
        assert!(parsed.diagnostics.is_empty(), "{src}: {:?}", parsed.diagnostics);
        let mut diags = Vec::new();
        check_subset(&parsed.expr.unwrap(), &mut diags);
        diags.iter().map(|d| format!("{}@{}", d.code, &src[d.span.range()])).collect()
    }

    #[test]
    fn the_subset_is_accepted() {
        for src in [
            "\"a\"",
            "-1.5e3",
            "true",
            "null",
            "{ \"a\": 1, 'b': x }",
            "[1, [2, 3], x]",
            "$$.connection.audienceId",
            "addr.city",
            "`first name`",
            "\"email\".x",
            "a.\"b c\".`d`",
            "$$.records.{ \"e\": email }",
            "$number($$.connection.audienceId)",
            "$$",
            "blah.{}",
        ] {
            assert_eq!(subset(src), Vec::<String>::new(), "{src}");
        }
    }

    #[test]
    fn each_construct_is_named_at_itself() {
        assert_eq!(subset("a + 1"), ["X0101@+"]);
        assert_eq!(subset("-a"), ["X0101@-"]);
        assert_eq!(subset("first & \" \" & last"), ["X0102@&", "X0102@&"]);
        assert_eq!(subset("a.b[0].c"), ["X0114@[0]"]);
        assert_eq!(subset("$string(a)"), ["X0125@$string("]);
        assert_eq!(subset("$number()"), ["X0126@$number("]);
        assert_eq!(subset("$number(a, b)"), ["X0126@$number("]);
        assert_eq!(subset("$number(?)"), ["X0132@?"]);
        assert_eq!(subset("a ~> $number()"), ["X0109@~>"]);
        assert_eq!(subset("a ~> $number(b)"), ["X0109@~>", "X0126@$number("]);
        assert_eq!(subset("a{\"k\": b}"), ["X0127@{\"k\": b}"]);
        assert_eq!(subset("a.[b]"), ["X0128@[b]"]);
        assert_eq!(subset("{ key: 1 }"), ["X0129@key"]);
        assert_eq!(subset("a.$number(b)"), ["X0130@$number("]);
        assert_eq!(subset("a.(b)"), ["X0130@(b)"]);
        assert_eq!(subset("a.$$"), ["X0130@$$"]);
        assert_eq!(subset("[1].a"), ["X0131@[1]"]);
        assert_eq!(subset("$x.a"), ["X0123@$x"]);
        assert_eq!(subset("$.a"), ["X0124@$"]);
        assert_eq!(subset("(a)(b)"), ["X0134@(a)(", "X0119@(a)"]);
        assert_eq!(subset("function($x){ $x }"), ["X0121@function($x){ $x }"]);
    }

    #[test]
    fn independent_violations_are_each_reported_once() {
        assert_eq!(subset("{\"a\": x & y, \"b\": $string(z = 1)}"), ["X0102@&", "X0125@$string(", "X0103@="]);
        assert_eq!(subset("$x[$y]"), ["X0114@[$y]", "X0123@$x", "X0123@$y"]);
        assert_eq!(subset("a.b@$o.c"), ["X0117@@$o"]);
        // uses of a bound variable belong to its binding
        assert_eq!(subset("a@$o.{\"x\": $o.y}"), ["X0117@@$o"]);
        assert_eq!(
            subset("($f := function($x){ $x }; $f(1))"),
            ["X0119@($f := function($x){ $x }; $f(1))", "X0108@:=", "X0121@function($x){ $x }"]
        );
        assert_eq!(subset("($a := 1; $a) & $a"), ["X0102@&", "X0119@($a := 1; $a)", "X0108@:=", "X0123@$a"]);
    }

    #[test]
    fn duplicate_keys_point_at_the_first() {
        let parsed = parse("{\"a\": 1, 'b': 2, \"\\u0061\": 3}");
        let mut diags = Vec::new();
        check_subset(&parsed.expr.unwrap(), &mut diags);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::DuplicateKey);
        assert_eq!(diags[0].span, Span::new(17, 25));
        assert_eq!(diags[0].labels[0].span, Span::new(1, 4));
    }
}
