//! The template profile (docs/design/template-language.md §2): the request-body rules applied to a tree
//! that passed the [subset](super::subset), and the extraction of the template fields.
//!
//! A body is an object or array constructor; records are read only through
//! `[$$.records.{ ... }]` blocks, inside which relative names are the template fields, or
//! `[$$.records.PATH]` lists (one field's values: PATH's first name is the template field); the
//! connection is read as `$$.connection.audienceId` or `.audienceName`.
//!
//! The walk recurses over the tree; the parser bounds its height by `MAX_DEPTH`.

use super::TemplateField;
use super::ast::{Expr, ExprKind, Pair};
use super::diagnostic::{Code, Diagnostic};
use super::span::Span;

/// Applies the template profile to a tree that passed
/// [`check_subset`](super::subset::check_subset), and returns the
/// template fields: the distinct first names of the relative paths inside the records block,
/// in order of first appearance, each with the span of its first use.
///
/// When `diags` already holds an error (a tree the parser had to patch), rules that judge what
/// is *missing* from the template are skipped: the missing part may be the broken one.
pub fn check_profile(expr: &Expr, diags: &mut Vec<Diagnostic>) -> Vec<TemplateField> {
    let partial = diags.iter().any(Diagnostic::is_error);
    let mut profile = Profile { diags, fields: Vec::new(), saw_records: false };
    profile.top(expr);
    if !profile.saw_records && !partial {
        // The opening `{` or `[` (ASCII) of a body; any other top level is X0201 and shown whole.
        let at = match expr.kind {
            ExprKind::Object(_) | ExprKind::Array(_) => Span { start: expr.span.start, end: expr.span.start + 1 },
            _ => expr.span,
        };
        let message = "this template never iterates `$$.records`, so every request body is the same";
        let hint = "send one item per record with `[$$.records.{ ... }]`";
        profile.diags.push(Diagnostic::warning(Code::NoRecords, at, message).with_hint(hint));
    }
    profile.fields
}

/// How a relative field path is treated where it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Relative {
    /// Outside the records block: an error (X0203).
    Report,
    /// Inside the block: a template field.
    Collect,
    /// Inside a `.{}` step of some other path, where a name is relative to that step's items
    /// (already reported with the path).
    Ignore,
}

/// Where the walk is.
#[derive(Clone, Copy, Debug)]
struct Context {
    in_block: bool,
    relative: Relative,
}

const OUTSIDE: Context = Context { in_block: false, relative: Relative::Report };
const BLOCK: Context = Context { in_block: true, relative: Relative::Collect };

/// What a path's first steps make of it.
enum Root {
    /// `$$.records...`
    Records,
    /// `$$.connection...`
    Connection,
    /// `$$.anything-else...`
    Other,
    /// A field of the context (`email`, `addr.city`).
    Relative,
}

fn name_of(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Name { name, .. } => Some(name),
        _ => None,
    }
}

fn root(steps: &[Expr]) -> Root {
    match steps {
        [first, second, ..] if first.is_root() => match name_of(second) {
            Some("records") => Root::Records,
            Some("connection") => Root::Connection,
            _ => Root::Other,
        },
        _ => Root::Relative,
    }
}

/// The steps and the object of a well-formed records block `$$.records.{ ... }` (the path
/// alone, without its brackets).
fn records_block(e: &Expr) -> Option<(&[Expr], &[Pair])> {
    let ExprKind::Path(steps) = &e.kind else { return None };
    match steps.as_slice() {
        [_, _, Expr { kind: ExprKind::Object(pairs), .. }] if matches!(root(steps), Root::Records) => {
            Some((steps, pairs))
        }
        _ => None,
    }
}

/// The field path of a records list `$$.records.PATH` (the path alone, without its brackets):
/// PATH is names only, its first name the template field.
fn records_list(e: &Expr) -> Option<&[Expr]> {
    let ExprKind::Path(steps) = &e.kind else { return None };
    let list =
        steps.len() >= 3 && matches!(root(steps), Root::Records) && steps[2..].iter().all(|s| name_of(s).is_some());
    list.then(|| &steps[2..])
}

/// The span of `$$.records`, `$$.connection`, ... : the first two steps.
fn head_span(steps: &[Expr]) -> Span {
    match steps {
        [first, second, ..] => first.span.to(second.span),
        [only] => only.span,
        [] => Span::default(),
    }
}

/// The pairs of every `.{}` step of a path.
fn object_steps(steps: &[Expr]) -> impl Iterator<Item = (&Expr, &[Pair])> {
    steps.iter().filter_map(|s| match &s.kind {
        ExprKind::Object(pairs) => Some((s, pairs.as_slice())),
        _ => None,
    })
}

struct Profile<'d> {
    diags: &'d mut Vec<Diagnostic>,
    fields: Vec<TemplateField>,
    /// Whether `$$.records` appears anywhere (well used or not).
    saw_records: bool,
}

impl Profile<'_> {
    fn error(&mut self, code: Code, span: Span, message: impl Into<String>, hint: &str) {
        self.diags.push(Diagnostic::error(code, span, message).with_hint(hint));
    }

    fn top(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Object(_) | ExprKind::Array(_) => self.walk(e, OUTSIDE),
            _ => {
                let message = "the top level of a request body must be an object or an array constructor";
                let hint = "a body is never empty: wrap it in `{ ... }` or `[ ... ]`";
                self.error(Code::TopLevel, e.span, message, hint);
                // The rest is checked as if the body were wrapped in `[ ]`, the fix the hint gives.
                match (records_block(e), records_list(e)) {
                    (Some((_, pairs)), _) => self.block(pairs),
                    (None, Some(path)) => self.list(path),
                    (None, None) => self.walk(e, OUTSIDE),
                }
            }
        }
    }

    fn block(&mut self, pairs: &[Pair]) {
        self.saw_records = true;
        self.pairs(pairs, BLOCK);
    }

    /// `[$$.records.PATH]`: the first name of PATH is a template field.
    fn list(&mut self, path: &[Expr]) {
        self.saw_records = true;
        if let Some(name) = path.first().and_then(name_of) {
            self.relative(name, path[0].span, BLOCK);
        }
    }

    fn pairs(&mut self, pairs: &[Pair], ctx: Context) {
        pairs.iter().for_each(|p| self.walk(&p.value, ctx));
    }

    fn walk(&mut self, e: &Expr, ctx: Context) {
        match &e.kind {
            ExprKind::Array(items) => self.array(items, ctx),
            ExprKind::Object(pairs) => self.pairs(pairs, ctx),
            ExprKind::Path(steps) => self.path(steps, ctx),
            ExprKind::Name { name, .. } => self.relative(name, e.span, ctx),
            ExprKind::Variable(v) if v == "$" => self.bare_root(e.span),
            ExprKind::Call { args, .. } => args.iter().for_each(|a| self.walk(a, ctx)),
            // Literals; nothing else passes the subset.
            _ => {}
        }
    }

    fn array(&mut self, items: &[Expr], ctx: Context) {
        if let [only] = items
            && let Some((steps, pairs)) = records_block(only)
        {
            if ctx.in_block {
                self.saw_records = true;
                self.nested_iteration(steps);
                self.pairs(pairs, Context { in_block: true, relative: Relative::Ignore });
            } else {
                self.block(pairs);
            }
            return;
        }
        if let [only] = items
            && let Some(path) = records_list(only)
            && let ExprKind::Path(steps) = &only.kind
        {
            if ctx.in_block {
                self.saw_records = true;
                self.nested_iteration(steps);
            } else {
                self.list(path);
            }
            return;
        }
        items.iter().for_each(|item| self.walk(item, ctx));
    }

    /// X0204 at the head of an iterating path (`$$.records.{`, `addr.{`).
    fn nested_iteration(&mut self, steps: &[Expr]) {
        let message = "iteration inside the records block is not allowed";
        let hint = "inside `[$$.records.{ ... }]` each record is the context: read its fields by name";
        self.error(Code::NestedIteration, iteration_head(steps), message, hint);
    }

    fn relative(&mut self, name: &str, span: Span, ctx: Context) {
        match ctx.relative {
            Relative::Report => {
                let message = format!("the field `{name}` is read outside the records block");
                let hint = "record fields are read inside `[$$.records.{ ... }]`; the connection is `$$.connection`";
                self.error(Code::FieldOutsideBlock, span, message, hint);
            }
            Relative::Collect => {
                if !self.fields.iter().any(|f| f.name == name) {
                    self.fields.push(TemplateField { name: name.to_string(), span });
                }
            }
            Relative::Ignore => {}
        }
    }

    fn bare_root(&mut self, span: Span) {
        let message = "`$$` must be followed by `.records` or `.connection`";
        self.error(Code::RootPath, span, message, "the input has `records` and `connection`");
    }

    fn path(&mut self, steps: &[Expr], ctx: Context) {
        let inner = Context { in_block: ctx.in_block, relative: Relative::Ignore };
        match root(steps) {
            Root::Records => {
                self.saw_records = true;
                if ctx.in_block {
                    self.nested_iteration(steps);
                    object_steps(steps).for_each(|(_, pairs)| self.pairs(pairs, inner));
                } else {
                    self.records_misuse(steps);
                    // Inside, the records are the context, as in a block: no second error there.
                    object_steps(steps).for_each(|(_, pairs)| self.pairs(pairs, BLOCK));
                }
                return;
            }
            Root::Connection => self.connection(steps),
            Root::Other => {
                let message = match steps.get(1).and_then(name_of) {
                    Some(key) => {
                        format!("`$$.{key}` is not part of the input; only `$$.records` and `$$.connection` are")
                    }
                    None => "`$$` must be followed by `.records` or `.connection`".to_string(),
                };
                self.error(Code::RootPath, head_span(steps), message, "the input has `records` and `connection`");
            }
            Root::Relative => self.relative_path(steps, ctx),
        }
        object_steps(steps).for_each(|(_, pairs)| self.pairs(pairs, inner));
    }

    fn records_misuse(&mut self, steps: &[Expr]) {
        let message = "`$$.records` may only be used as `[$$.records.{ ... }]` or `[$$.records.FIELD]`";
        let alone = steps.len() >= 3 && steps[2..].iter().all(|s| name_of(s).is_some());
        let hint = if alone || matches!(steps, [_, _, Expr { kind: ExprKind::Object(_), .. }]) {
            "make it the only item of an array constructor, so that one record still gives an array"
        } else {
            "iterate with `[$$.records.{ ... }]` and read record fields by name inside it, or list one field's values with `[$$.records.FIELD]`"
        };
        self.error(Code::RecordsUsage, head_span(steps), message, hint);
    }

    fn connection(&mut self, steps: &[Expr]) {
        let ok = matches!(steps, [_, _, key] if matches!(name_of(key), Some("audienceId" | "audienceName")));
        if !ok {
            let message = "`$$.connection` must be followed by exactly one of `.audienceId` and `.audienceName`";
            let span = whole(steps);
            self.error(Code::ConnectionKey, span, message, "the connection has `audienceId` and `audienceName`");
        }
    }

    /// A relative path: its first name is the field; a `.{}` step on it iterates.
    fn relative_path(&mut self, steps: &[Expr], ctx: Context) {
        let Some((first, name)) = steps.first().and_then(|f| Some((f, name_of(f)?))) else { return };
        // An error shows the field path read (`addr.city`); a field is known by its first name.
        let span = match ctx.relative {
            Relative::Report => leading_names(steps),
            _ => first.span,
        };
        self.relative(name, span, ctx);
        if ctx.relative == Relative::Collect && object_steps(steps).next().is_some() {
            self.nested_iteration(steps);
        }
    }
}

/// The span of the names a path starts with (`addr.city` of `addr.city.{...}`).
fn leading_names(steps: &[Expr]) -> Span {
    let mut names = steps.iter().take_while(|s| name_of(s).is_some());
    let Some(first) = names.next() else { return Span::default() };
    names.fold(first.span, |span, s| span.to(s.span))
}

/// The span of a path up to and including the `{` of its first `.{}` step (or the whole path).
fn iteration_head(steps: &[Expr]) -> Span {
    let Some(first) = steps.first() else { return Span::default() };
    match object_steps(steps).next() {
        Some((step, _)) => Span { start: first.span.start, end: step.span.start + 1 },
        None => whole(steps),
    }
}

/// The span of a whole path.
fn whole(steps: &[Expr]) -> Span {
    match (steps.first(), steps.last()) {
        (Some(first), Some(last)) => first.span.to(last.span),
        _ => Span::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::super::subset::check_subset;
    use super::*;

    fn profile(src: &str) -> (Vec<String>, Vec<String>) {
        let parsed = parse(src);
        let expr = parsed.expr.unwrap();
        let mut diags = Vec::new();
        check_subset(&expr, &mut diags);
        assert!(diags.is_empty(), "{src}: {diags:?}");
        let fields = check_profile(&expr, &mut diags);
        let diags = diags.iter().map(|d| format!("{}@{}", d.code, &src[d.span.range()])).collect();
        (diags, fields.into_iter().map(|f| format!("{}@{}", f.name, &src[f.span.range()])).collect())
    }

    #[test]
    fn the_profile_extracts_fields_in_order() {
        let src = "{\"id\": $$.connection.audienceId, \"users\": [$$.records.{\"e\": email, \"a\": addr.city, \
                   \"n\": $number(age), \"x\": [email, `first name`]}]}";
        let (diags, fields) = profile(src);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(fields, ["email@email", "addr@addr", "age@age", "first name@`first name`"]);
    }

    #[test]
    fn lists_of_one_fields_values() {
        assert_eq!(profile("[$$.records.email]"), (vec![], vec!["email@email".to_owned()]));
        let (diags, fields) = profile(
            "{\"ids\": [$$.records.user_id], \"cities\": [$$.records.addr.city], \"u\": [$$.records.{\"e\": email, \"i\": user_id}]}",
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(fields, ["user_id@user_id", "addr@addr", "email@email"]);
        assert_eq!(profile("[$$.records.`first name`]").1, ["first name@`first name`"]);
    }

    #[test]
    fn profile_rules() {
        assert_eq!(
            profile("$$.connection.audienceId").0,
            ["X0201@$$.connection.audienceId", "X0207@$$.connection.audienceId"]
        );
        assert_eq!(profile("$$.records.{\"e\": email}").0, ["X0201@$$.records.{\"e\": email}"]);
        assert_eq!(profile("{\"u\": $$.records.{\"e\": email}}").0, ["X0202@$$.records"]);
        assert_eq!(profile("[$$.records.{\"e\": email}, 1]").0, ["X0202@$$.records"]);
        assert_eq!(profile("[$$.records.{\"e\": email}, $$.records.id]").0, ["X0202@$$.records", "X0202@$$.records"]);
        assert_eq!(profile("{\"ids\": $$.records.id}").0, ["X0202@$$.records"]);
        assert_eq!(profile("[$$.records.`id`.{\"a\": b}]").0, ["X0202@$$.records"]);
        assert_eq!(profile("[$$.records.{\"x\": [$$.records.id]}]").0, ["X0204@$$.records.id"]);
        assert_eq!(profile("$$.records.id").0, ["X0201@$$.records.id"]);
        assert_eq!(profile("{\"e\": email}").0, ["X0203@email", "X0207@{"]);
        assert_eq!(profile("[{\"c\": addr.city}, $$.records.x]").0, ["X0203@addr.city", "X0202@$$.records"]);
        assert_eq!(profile("[addr.{\"c\": city}]").0, ["X0203@addr", "X0207@["]);
        assert_eq!(profile("[$$.records.{\"x\": [$$.records.{\"e\": email}]}]").0, ["X0204@$$.records.{"]);
        assert_eq!(profile("[$$.records.{\"x\": addr.{\"c\": city}}]").0, ["X0204@addr.{"]);
        assert_eq!(profile("[$$.records.{\"x\": $$.other}]").0, ["X0205@$$.other"]);
        assert_eq!(profile("[$$.records.{\"x\": $$}]").0, ["X0205@$$"]);
        assert_eq!(profile("[$$.records.{\"x\": $$.connection.id}]").0, ["X0206@$$.connection.id"]);
        assert_eq!(profile("[$$.records.{\"x\": $$.connection}]").0, ["X0206@$$.connection"]);
        assert_eq!(profile("{\"a\": 1}").0, ["X0207@{"]);
    }
}
