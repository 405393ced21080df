//! Source text of the language: subset expressions ([`gen_expression`]), expressions that walk
//! a given input ([`gen_walk_expression`]), `$number` calls ([`gen_number_call`]) and
//! profile-valid request-body templates ([`gen_template`]), with varied spacing, comments,
//! quoting and escapes.

use serde_json::Value;

use super::input::random_double;
use super::pools::{
    KEYS, LITERAL_NUMBERS, NUMBER_STRINGS, RECORD_FIELDS, SUB_FIELDS, gen_string_value, gen_text, is_plain_name,
    pick_field,
};
use super::quote::{Quoting, write_quoted};
use super::rng::Rng;

/// Maybe whitespace and comments between two tokens. The reference's whitespace is exactly
/// space, tab, CR, LF and vertical tab; comments are `/* ... */`, not nested.
fn ws(rng: &mut Rng, out: &mut String) {
    if !rng.chance(25) {
        return;
    }
    for _ in 0..rng.range(1, 2) {
        if rng.chance(20) {
            let body = rng.pick(&["", " c ", "/* not nested ", "*", " \u{2028} é ", "**", "\n", "{\"k\": 1}", "/"]);
            out.push_str("/*");
            out.push_str(body);
            out.push_str("*/");
        } else {
            for _ in 0..rng.range(1, 3) {
                out.push(*rng.pick(&[' ', ' ', '\t', '\n', '\r', '\u{b}']));
            }
        }
    }
}

/// Writes a number literal (JSON grammar, never negative: see [`write_number`]).
fn number_literal(rng: &mut Rng) -> String {
    if rng.chance(45) {
        return rng.pick(LITERAL_NUMBERS).to_string();
    }
    if rng.chance(15) {
        return format!("{:e}", random_double(rng).abs());
    }
    let mut s = String::new();
    if rng.chance(25) {
        s.push('0');
    } else {
        s.push((b'1' + rng.below(9) as u8) as char);
        for _ in 0..rng.pick(&[0usize, 1, 2, 5, 10, 17]).to_owned() {
            s.push((b'0' + rng.below(10) as u8) as char);
        }
    }
    if rng.chance(35) {
        s.push('.');
        for _ in 0..rng.range(1, 12) {
            s.push((b'0' + rng.below(10) as u8) as char);
        }
    }
    if rng.chance(25) {
        s.push(*rng.pick(&['e', 'E']));
        s.push_str(*rng.pick(&["", "", "+", "-"]));
        // Small exponents keep every literal finite (at most 18 digits before `e29`).
        s.push_str(&rng.below(30).to_string());
    }
    s
}

/// A number literal, sometimes with a unary minus (which the reference folds into the literal,
/// also across whitespace and comments).
///
/// `out_of_range`: sometimes a literal beyond the f64 range (S0102 on both sides); never in
/// templates, which must compile.
fn write_number(rng: &mut Rng, out: &mut String, out_of_range: bool) {
    if rng.chance(25) {
        out.push('-');
        ws(rng, out);
    }
    if out_of_range && rng.chance(2) {
        out.push_str(*rng.pick(&["1e309", "1.8e308", "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"]));
    } else {
        out.push_str(&number_literal(rng));
    }
}

fn write_name_step(rng: &mut Rng, out: &mut String, name: &str, allow_plain: bool) {
    let plain = allow_plain && is_plain_name(name);
    let backtick_ok = !name.contains('`');
    match rng.weighted(&[if plain { 6 } else { 0 }, if backtick_ok { 3 } else { 0 }, 2]) {
        0 => out.push_str(name),
        1 => {
            out.push('`');
            out.push_str(name);
            out.push('`');
        }
        _ => write_quoted(rng, out, Quoting::Jsonata, name),
    }
}

/// Where an expression sits, for the template profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// Any subset expression.
    Free,
    /// A template outside the iteration block: no relative paths.
    TemplateTop,
    /// Inside `[$$.records.{ ... }]`: relative paths, no iteration.
    Block,
}

struct Gen<'r> {
    rng: &'r mut Rng,
    out: String,
    /// Whether number literals may lie beyond the f64 range (an S0102 error, on both sides):
    /// only where the expression need not compile.
    out_of_range: bool,
    /// Template fields seen, in order of first appearance (templates only).
    fields: Vec<String>,
}

/// A random subset expression, as source text.
/// Number literals beyond the f64 range are among them (S0102, on both sides).
pub fn gen_expression(rng: &mut Rng) -> String {
    expression(rng, true)
}

/// A random subset expression that compiles: of the shapes the differential tests use (any
/// expression, a `$number` call, a walk over `input`), with every number literal within the
/// f64 range.
pub fn gen_compilable_expression(rng: &mut Rng, input: Option<&Value>) -> String {
    match rng.weighted(&[5, 1, 2]) {
        0 => expression(rng, false),
        1 => {
            let mut g = Gen { rng, out: String::new(), out_of_range: false, fields: Vec::new() };
            g.number_call(1, Scope::Free);
            g.out
        }
        _ => gen_walk_expression(rng, input),
    }
}

fn expression(rng: &mut Rng, out_of_range: bool) -> String {
    let depth = rng.range(0, 4);
    let mut g = Gen { rng, out: String::new(), out_of_range, fields: Vec::new() };
    ws(g.rng, &mut g.out);
    g.expr(depth, Scope::Free);
    ws(g.rng, &mut g.out);
    g.out
}

/// Expressions built from paths that walk the actual `input` (so that deep paths hit: nested
/// arrays, singleton arrays, arrays of records), wrapped in constructors and `$number`.
pub fn gen_walk_expression(rng: &mut Rng, input: Option<&Value>) -> String {
    let mut out = String::new();
    let shape = rng.weighted(&[3, 2, 2, 1, 1, 2, 1]);
    let path = |rng: &mut Rng, out: &mut String| write_walk_path(rng, out, input);
    match shape {
        0 => path(rng, &mut out),
        1 => {
            out.push('[');
            path(rng, &mut out);
            out.push(']');
        }
        2 => {
            out.push_str("{\"k\": ");
            path(rng, &mut out);
            out.push_str(", \"j\": [");
            path(rng, &mut out);
            out.push_str("]}");
        }
        3 => {
            out.push_str("[[");
            path(rng, &mut out);
            out.push_str("], ");
            path(rng, &mut out);
            out.push(']');
        }
        4 => {
            out.push_str("$number(");
            path(rng, &mut out);
            out.push(')');
        }
        5 => {
            // An object step over the walked sequence, with relative paths inside.
            path(rng, &mut out);
            out.push_str(".{\"v\": ");
            let sub = rng.pick(&["a", "b", "`0`", "tags", "email", "records", "`a b`"]).to_string();
            out.push_str(&sub);
            out.push_str(", \"w\": [");
            out.push_str(*rng.pick(&["a", "b", "`0`", "tags", "email"]));
            out.push_str("], \"r\": $$.a}");
        }
        _ => {
            out.push_str("{\"n\": ");
            path(rng, &mut out);
            out.push_str(".{\"0\": 0, \"10\": 10, \"b\": b, \"1\": 1, \"a\": a}}");
        }
    }
    out
}

fn write_walk_path(rng: &mut Rng, out: &mut String, input: Option<&Value>) {
    let mut at: Vec<&Value> = input.into_iter().collect();
    let relative = rng.chance(25);
    if !relative {
        out.push_str("$$");
    }
    for steps in 0..rng.range(1, 5) {
        // Step into arrays (paths map over them) until an object offers keys.
        let mut keys: Vec<&str> = Vec::new();
        let mut stack = at.clone();
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    keys.extend(m.keys().map(String::as_str));
                }
                Value::Array(items) => stack.extend(items.iter()),
                _ => {}
            }
        }
        if keys.is_empty() && steps > 0 && rng.chance(80) {
            break;
        }
        let name: String =
            if keys.is_empty() || rng.chance(8) { pick_field(rng).to_string() } else { rng.pick(&keys).to_string() };
        if steps > 0 || !relative {
            out.push('.');
        }
        if steps == 0 && relative {
            // A quoted first step would be a string, not a name, when it is the only step.
            if is_plain_name(&name) {
                out.push_str(&name);
            } else if !name.contains('`') {
                out.push('`');
                out.push_str(&name);
                out.push('`');
            } else {
                out.push('a');
            }
        } else if name.contains('`') {
            write_quoted(rng, out, Quoting::Jsonata, &name);
        } else {
            write_name_step(rng, out, &name, true);
        }
        // Follow the values under that key.
        let mut vals = Vec::new();
        let mut stack = at;
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => vals.extend(m.get(&name)),
                Value::Array(items) => stack.extend(items.iter()),
                _ => {}
            }
        }
        at = vals;
    }
}

/// A `$number(...)` call over a literal, a constructor or a path of the input.
pub fn gen_number_call(rng: &mut Rng) -> String {
    let mut g = Gen { rng, out: String::new(), out_of_range: true, fields: Vec::new() };
    g.number_call(1, Scope::Free);
    g.out
}

/// A template that satisfies the template profile, with the template fields it reads (distinct
/// first names of the relative paths in its blocks, in order of first appearance).
pub fn gen_template(rng: &mut Rng) -> (String, Vec<String>) {
    let depth = rng.range(1, 4);
    let mut g = Gen { rng, out: String::new(), out_of_range: true, fields: Vec::new() };
    ws(g.rng, &mut g.out);
    match g.rng.weighted(&[5, 2, 3]) {
        0 => g.object(depth, Scope::TemplateTop, true),
        1 => g.array(depth, Scope::TemplateTop, true),
        // The common shape: `{ ..., "data": [$$.records.{ ... }], ... }`.
        _ => {
            g.out.push('{');
            g.ws();
            let before = g.rng.chance(40);
            if before {
                write_quoted(g.rng, &mut g.out, Quoting::Jsonata, "audience");
                g.out.push(':');
                g.connection_path();
                g.out.push(',');
                g.ws();
            }
            write_quoted(g.rng, &mut g.out, Quoting::Jsonata, "data");
            g.ws();
            g.out.push(':');
            g.ws();
            g.block(depth);
            g.ws();
            g.out.push('}');
        }
    }
    ws(g.rng, &mut g.out);
    (g.out, g.fields)
}

impl Gen<'_> {
    fn ws(&mut self) {
        ws(self.rng, &mut self.out);
    }

    fn expr(&mut self, depth: usize, scope: Scope) {
        let leaf = depth == 0;
        let w_path = match scope {
            Scope::Free => 8,
            Scope::TemplateTop => 2,
            Scope::Block => 8,
        };
        let choice = self.rng.weighted(&[
            3,                                                        // string
            3,                                                        // number
            1,                                                        // true/false/null
            if leaf { 0 } else { 3 },                                 // object
            if leaf { 0 } else { 3 },                                 // array
            w_path,                                                   // path
            if leaf { 1 } else { 2 },                                 // $number
            if scope == Scope::TemplateTop && !leaf { 7 } else { 0 }, // iteration block
        ]);
        match choice {
            0 => {
                let s = gen_string_value(self.rng);
                write_quoted(self.rng, &mut self.out, Quoting::Jsonata, &s);
            }
            1 => write_number(self.rng, &mut self.out, self.out_of_range && scope == Scope::Free),
            2 => self.out.push_str(*self.rng.pick(&["true", "false", "null"])),
            3 => self.object(depth - 1, scope, false),
            4 => self.array(depth - 1, scope, false),
            5 => self.path(depth, scope),
            6 => self.number_call(depth.saturating_sub(1), scope),
            _ => self.block(depth - 1),
        }
    }

    /// `{ "k": v, ... }` with distinct keys. `top`: never empty at the top of a template, so
    /// the template says something.
    fn object(&mut self, depth: usize, scope: Scope, top: bool) {
        self.out.push('{');
        self.ws();
        let n = if top { self.rng.range(1, 5) } else { self.rng.weighted(&[2, 4, 4, 2, 1]) };
        let mut keys: Vec<String> = Vec::new();
        for i in 0..n {
            let key = loop {
                let k = if self.rng.chance(1) {
                    // Close to the reserved keys, but not one of them (see deviation 5 above).
                    self.rng.pick(&["_jsonata_x", "_jsonata_lambd", "jsonata_lambda"]).to_string()
                } else if self.rng.chance(70) {
                    self.rng.pick(KEYS).to_string()
                } else {
                    gen_text(self.rng)
                };
                if !keys.contains(&k) {
                    break k;
                }
            };
            if i > 0 {
                self.out.push(',');
                self.ws();
            }
            write_quoted(self.rng, &mut self.out, Quoting::Jsonata, &key);
            keys.push(key);
            self.ws();
            self.out.push(':');
            self.ws();
            self.expr(depth, scope);
            self.ws();
        }
        self.out.push('}');
    }

    fn array(&mut self, depth: usize, scope: Scope, top: bool) {
        self.out.push('[');
        self.ws();
        let n = if top { self.rng.range(1, 4) } else { self.rng.weighted(&[2, 4, 4, 2, 1]) };
        for i in 0..n {
            if i > 0 {
                self.out.push(',');
                self.ws();
            }
            self.expr(depth, scope);
            self.ws();
        }
        self.out.push(']');
    }

    /// `$number(arg)`; whitespace may separate the name from `(`.
    fn number_call(&mut self, depth: usize, scope: Scope) {
        self.out.push_str("$number");
        self.ws();
        self.out.push('(');
        self.ws();
        match self.rng.weighted(&[4, 1, 1, 1, if scope == Scope::TemplateTop { 1 } else { 5 }]) {
            0 => {
                let s =
                    if self.rng.chance(80) { self.rng.pick(NUMBER_STRINGS).to_string() } else { gen_text(self.rng) };
                write_quoted(self.rng, &mut self.out, Quoting::Jsonata, &s);
            }
            1 => write_number(self.rng, &mut self.out, self.out_of_range && scope == Scope::Free),
            2 => self.out.push_str(*self.rng.pick(&["true", "false", "null"])),
            // Constructors only where they cannot carry an iteration block into `$number`.
            3 if depth > 0 && scope != Scope::TemplateTop => {
                if self.rng.chance(50) {
                    self.object(depth - 1, scope, false)
                } else {
                    self.array(depth - 1, scope, false)
                }
            }
            3 => self.out.push_str(*self.rng.pick(&["{}", "[]", "[\"2\"]", "[1]"])),
            _ => self.path(depth, scope),
        }
        self.ws();
        self.out.push(')');
    }

    fn path(&mut self, depth: usize, scope: Scope) {
        match scope {
            Scope::Free => self.free_path(depth),
            Scope::TemplateTop => self.connection_path(),
            Scope::Block => {
                if self.rng.chance(15) {
                    self.connection_path()
                } else {
                    self.relative_path()
                }
            }
        }
    }

    /// `$$.connection.audienceId` / `audienceName`, in any of the step spellings.
    fn connection_path(&mut self) {
        self.out.push_str("$$");
        for name in ["connection", if self.rng.chance(50) { "audienceId" } else { "audienceName" }] {
            self.ws();
            self.out.push('.');
            self.ws();
            write_name_step(self.rng, &mut self.out, name, true);
        }
    }

    /// A relative path inside the block: a record field, maybe a sub-key or two.
    fn relative_path(&mut self) {
        let field = *self.rng.pick(RECORD_FIELDS);
        let steps = self.rng.weighted(&[6, 3, 1]);
        // A quoted first step is a field only when a step follows (else it is a string).
        if steps > 0 && self.rng.chance(25) {
            write_quoted(self.rng, &mut self.out, Quoting::Jsonata, field);
        } else {
            let plain = is_plain_name(field) || ["phone"].contains(&field);
            if plain && self.rng.chance(75) {
                self.out.push_str(field);
            } else {
                self.out.push('`');
                self.out.push_str(field);
                self.out.push('`');
            }
        }
        if !self.fields.iter().any(|f| f == field) {
            self.fields.push(field.to_string());
        }
        for _ in 0..steps {
            self.ws();
            self.out.push('.');
            self.ws();
            let sub = *self.rng.pick(SUB_FIELDS);
            write_name_step(self.rng, &mut self.out, sub, true);
        }
    }

    /// Any path: a first step that is `$$`, a name, a backtick name or a quoted string (which
    /// is a name only when more steps follow), then name steps and `.{ ... }` steps.
    fn free_path(&mut self, depth: usize) {
        let first = self.rng.weighted(&[5, 4, 2, 2]);
        let mut steps = self.rng.weighted(&[3, 4, 3, 1]);
        if first == 3 && steps == 0 {
            steps = 1;
        }
        match first {
            0 => self.out.push_str("$$"),
            1 => {
                let name = loop {
                    let n = pick_field(self.rng);
                    if is_plain_name(n) {
                        break n;
                    }
                };
                self.out.push_str(name);
            }
            2 => {
                let name = pick_field(self.rng);
                self.out.push('`');
                self.out.push_str(name);
                self.out.push('`');
            }
            _ => {
                let name = pick_field(self.rng);
                write_quoted(self.rng, &mut self.out, Quoting::Jsonata, name);
            }
        }
        for _ in 0..steps {
            self.ws();
            self.out.push('.');
            self.ws();
            if depth > 0 && self.rng.chance(20) {
                self.object(depth - 1, Scope::Free, false);
            } else {
                let name = pick_field(self.rng);
                write_name_step(self.rng, &mut self.out, name, true);
            }
        }
    }

    /// `[$$.records.{ ... }]`, the iteration block of the template profile, or now and then
    /// `[$$.records.PATH]`, the list of one field's values.
    fn block(&mut self, depth: usize) {
        self.out.push('[');
        self.ws();
        self.out.push_str("$$");
        self.ws();
        self.out.push('.');
        self.ws();
        write_name_step(self.rng, &mut self.out, "records", true);
        self.ws();
        self.out.push('.');
        self.ws();
        if self.rng.chance(25) {
            self.relative_path();
        } else {
            self.object(depth, Scope::Block, false);
        }
        self.ws();
        self.out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::ast::{Expr, ExprKind};

    /// How many `[$$.records.PATH]` lists (not `.{ ... }` blocks) a template holds.
    fn lists(e: &Expr) -> usize {
        match &e.kind {
            ExprKind::Array(items) => {
                let own = match items.as_slice() {
                    [Expr { kind: ExprKind::Path(steps), .. }] => {
                        let records = matches!(&steps[1].kind, ExprKind::Name { name, .. } if name == "records");
                        usize::from(
                            records
                                && steps[0].is_root()
                                && !matches!(steps[steps.len() - 1].kind, ExprKind::Object(_)),
                        )
                    }
                    _ => 0,
                };
                own + items.iter().map(lists).sum::<usize>()
            }
            ExprKind::Object(pairs) => pairs.iter().map(|p| lists(&p.value)).sum(),
            ExprKind::Path(steps) => steps.iter().map(lists).sum(),
            _ => 0,
        }
    }

    #[test]
    fn templates_hold_lists_of_ids_too() {
        let mut with_lists = 0;
        for index in 0..400 {
            let (src, fields) = gen_template(&mut Rng::for_case(7, index));
            let template = crate::template::Template::compile(&src).unwrap_or_else(|d| panic!("{src}: {d:?}"));
            let names: Vec<&str> = template.fields().iter().map(|f| f.name.as_str()).collect();
            assert_eq!(names, fields, "{src}");
            let expr = crate::template::parser::parse(&src).expr.expect("parses");
            with_lists += usize::from(lists(&expr) > 0);
        }
        // About a quarter of the blocks are lists; a generator that stopped making them fails.
        assert!(with_lists > 40, "{with_lists} of 400 templates hold a list");
    }
}
