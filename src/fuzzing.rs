//! The bodies of the fuzz targets, kept in the library so that the cargo-fuzz crate (`fuzz/`)
//! and an ordinary test (`tests/fuzz_corpus.rs`, which replays every corpus and crash file)
//! run the very same code. Not part of the public API.
//!
//! Besides "no panic", each target checks invariants that hold for every input:
//!
//! * every diagnostic's span lies inside the source, on character boundaries (reports slice the
//!   source with it), the reports locate it (JSON) and show it (ariadne), and a failed check
//!   always says why;
//! * an accepted template is also an accepted expression (the profile only adds rules);
//! * a defined result is valid JSON, an undefined one writes nothing, evaluation only appends to
//!   the caller's buffer and gives the same bytes twice, and a run-time error carries a run-time
//!   code;
//! * rendering a [`RecordBatch`] gives exactly the bytes (or the error) of evaluating the same
//!   template over the equivalent JSON document `{"records": [...], "connection": {...}}`.
//!
//! `render` and `render_batch` do not feed random bytes to the parser: they use the bytes to
//! *build* an expression of the subset (or a template of the profile), print it with varied
//! quoting, escapes, spacing and comments, and build an input with numbers and strings at the
//! edges. Every expression they build must be accepted.
#![cfg(feature = "fuzzing")]

use crate::template::{self, Connection, Diagnostic, Expression, RecordBatch, Template, report};
use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Number, Value};

/// Arbitrary bytes, read as (lossy) UTF-8, through the lexer, the parser and the subset checker.
pub fn lex_parse(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let checked = template::check_expression(&src);
    check_diagnostics(&src, &checked.diagnostics);
    assert!(checked.expr.is_some() || checked.has_errors(), "no tree and no error for {src:?}");
}

/// Arbitrary bytes through the subset checker and the template profile.
pub fn check_template(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let checked = template::check_template(&src);
    check_diagnostics(&src, &checked.diagnostics);
    check_human_report(&src, &checked.diagnostics);
    assert!(checked.expr.is_some() || checked.has_errors(), "no tree and no error for {src:?}");
    if !checked.has_errors() {
        let as_expression = template::check_expression(&src);
        assert!(
            !as_expression.has_errors(),
            "a valid template is an invalid expression: {src:?}\n{:#?}",
            as_expression.diagnostics
        );
        for (i, field) in checked.fields.iter().enumerate() {
            check_span(&src, field.span.start, field.span.end, "template field");
            assert!(
                checked.fields[..i].iter().all(|f| f.name != field.name),
                "template field {:?} listed twice in {src:?}",
                field.name
            );
        }
    }
}

/// Arbitrary bytes through both compilers; whatever compiles is run over fixed inputs.
pub fn compile(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let expression = Expression::compile(&src);
    match &expression {
        Ok(expr) => {
            evaluate_checked(&src, expr, None);
            evaluate_checked(&src, expr, Some(&sample_input()));
        }
        Err(diagnostics) => {
            check_diagnostics(&src, diagnostics);
            assert!(diagnostics.iter().any(Diagnostic::is_error), "rejected without an error: {src:?}");
        }
    }
    match Template::compile(&src) {
        Ok(t) => {
            assert!(expression.is_ok(), "a template compiles but the expression does not: {src:?}");
            let width = t.fields().len();
            let records: Vec<Vec<Slot>> = (0..3)
                .map(|r| (0..width).map(|f| SAMPLE_SLOTS[(r + f) % SAMPLE_SLOTS.len()].clone()).collect())
                .collect();
            let connection = Connection { audience_id: "1234567890".into(), audience_name: "VIP \u{e9}".into() };
            for n in 0..=records.len() {
                render_checked(&src, &t, &records[..n], &connection);
            }
        }
        Err(diagnostics) => {
            check_diagnostics(&src, &diagnostics);
            assert!(diagnostics.iter().any(Diagnostic::is_error), "rejected without an error: {src:?}");
        }
    }
}

/// Builds an expression of the subset and a JSON input from `data`, then compiles and evaluates.
pub fn render(data: &[u8]) {
    let Ok(case) = ExpressionCase::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let expr = match Expression::compile(&case.source) {
        Ok(expr) => expr,
        Err(d) => panic!("generated expression rejected:\n{}\n{d:#?}", case.source),
    };
    evaluate_checked(&case.source, &expr, case.input.as_ref());
}

/// Builds a template of the profile, a batch of records and a connection from `data`, then
/// renders the batch and compares it with evaluating the equivalent JSON document.
pub fn render_batch(data: &[u8]) {
    let Ok(case) = TemplateCase::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let t = match Template::compile(&case.source) {
        Ok(t) => t,
        Err(d) => panic!("generated template rejected:\n{}\n{d:#?}", case.source),
    };
    let width = t.fields().len();
    let records: Vec<Vec<Slot>> = case
        .records
        .iter()
        .map(|row| (0..width).map(|f| row.get(f % row.len().max(1)).cloned().unwrap_or(Slot::Missing)).collect())
        .collect();
    render_checked(&case.source, &t, &records, &case.connection);
}

// ---- invariants ---------------------------------------------------------------------------

fn check_span(src: &str, start: u32, end: u32, what: &str) {
    let (start, end) = (start as usize, end as usize);
    assert!(
        start <= end && end <= src.len() && src.is_char_boundary(start) && src.is_char_boundary(end),
        "{what} span {start}..{end} does not fit a source of {} bytes: {src:?}",
        src.len()
    );
}

/// Every diagnostic fits its source and the JSON report locates it.
fn check_diagnostics(src: &str, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        check_span(src, d.span.start, d.span.end, d.code.as_str());
        for label in &d.labels {
            check_span(src, label.span.start, label.span.end, "label");
        }
        assert!(!d.message.is_empty(), "{} has no message", d.code);
    }
    for json in report::render_json(src, diagnostics) {
        assert!(json.line >= Some(1) && json.column >= Some(1), "{json:?}");
    }
}

/// The report for people (ariadne) shows every diagnostic. Drawing it costs ten times what
/// checking does, so only the `check_template` target, whose diagnostics include those of the
/// subset, pays for it.
fn check_human_report(src: &str, diagnostics: &[Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    let human = report::render_human(src, "fuzz.jsonata", diagnostics, false);
    for d in diagnostics {
        assert!(human.contains(d.code.as_str()), "{} is missing from the report for {src:?}:\n{human}", d.code);
    }
}

/// A run-time error carries one of the reference's run-time codes (`T...`, `D...`): syntax codes
/// (`S...`) and ours (`X...`) belong to checking.
fn check_runtime_error(src: &str, d: &Diagnostic) {
    check_diagnostics(src, std::slice::from_ref(d));
    let code = d.code.as_str();
    assert!(code.starts_with(['T', 'D']), "unexpected run-time code {code} for {src:?}: {d:?}");
}

fn must_be_json(src: &str, bytes: &[u8]) {
    if let Err(e) = serde_json::from_slice::<Value>(bytes) {
        panic!("output is not JSON ({e}):\n{}\nfrom {src:?}", String::from_utf8_lossy(bytes));
    }
}

/// A buffer that already holds something: evaluation must append to it, never replace it.
const PREFIX: &[u8] = b"<earlier output>";

fn evaluate_checked(src: &str, expr: &Expression, input: Option<&Value>) {
    let mut out = PREFIX.to_vec();
    match expr.evaluate(input, &mut out) {
        Ok(true) => {
            assert!(out.starts_with(PREFIX), "evaluation overwrote the buffer: {src:?}");
            let body = &out[PREFIX.len()..];
            must_be_json(src, body);
            let mut again = Vec::new();
            assert_eq!(expr.evaluate(input, &mut again), Ok(true), "second run differs: {src:?}");
            assert_eq!(body, &again[..], "second run differs: {src:?}");
        }
        Ok(false) => assert_eq!(out, PREFIX, "an undefined result wrote bytes: {src:?}"),
        Err(d) => check_runtime_error(src, &d),
    }
}

/// One slot value of a generated record, applied to a [`RecordBatch`] and to the equivalent
/// JSON record.
#[derive(Clone, Debug)]
enum Slot {
    Missing,
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    /// Always finite.
    F64(f64),
    Str(String),
    Json(Value),
}

const SAMPLE_SLOTS: &[Slot] = &[
    Slot::Missing,
    Slot::Null,
    Slot::Bool(true),
    Slot::I64(-9_007_199_254_740_993),
    Slot::U64(u64::MAX),
    Slot::F64(1e21),
    Slot::F64(-0.0),
    Slot::Json(Value::Null),
];

fn sample_input() -> Value {
    serde_json::json!({
        "records": [
            {"email": "a@example.com", "user_id": 1, "first name": "\u{e9}\u{1}\"", "nested": {"org": "x"}},
            {"email": "b@example.com", "user_id": 18_446_744_073_709_551_615_u64, "tags": [1, [2, 3], {"a": null}]}
        ],
        "connection": {"audienceId": "0x1F", "audienceName": "VIP"},
        "a": {"b": [1, {"c": "x"}, [true, false]], "10": 1, "2": 2},
        "email": "root@example.com"
    })
}

fn render_checked(src: &str, t: &Template, records: &[Vec<Slot>], connection: &Connection) {
    let mut batch = RecordBatch::new(t.fields().len());
    let mut json_records = Vec::with_capacity(records.len());
    for record in records {
        batch.push_record();
        let mut object = Map::new();
        for (i, (slot, field)) in record.iter().zip(t.fields()).enumerate() {
            let value = match slot {
                Slot::Missing => continue,
                Slot::Null => {
                    batch.set_null(i);
                    Value::Null
                }
                Slot::Bool(b) => {
                    batch.set_bool(i, *b);
                    Value::Bool(*b)
                }
                Slot::I64(n) => {
                    batch.set_i64(i, *n);
                    Value::from(*n)
                }
                Slot::U64(n) => {
                    batch.set_u64(i, *n);
                    Value::from(*n)
                }
                Slot::F64(x) => {
                    batch.set_f64(i, *x);
                    Value::Number(Number::from_f64(*x).expect("generated floats are finite"))
                }
                Slot::Str(s) => {
                    batch.set_str(i, s);
                    Value::String(s.clone())
                }
                Slot::Json(v) => {
                    batch.set_json(i, v.clone());
                    v.clone()
                }
            };
            object.insert(field.name.clone(), value);
        }
        json_records.push(Value::Object(object));
    }
    let document = serde_json::json!({
        "records": json_records,
        "connection": {"audienceId": connection.audience_id, "audienceName": connection.audience_name},
    });

    let mut rendered = PREFIX.to_vec();
    let from_batch = t.render(&batch, connection, &mut rendered);
    let mut evaluated = Vec::new();
    let from_json = t.evaluate(Some(&document), &mut evaluated);
    match (from_batch, from_json) {
        (Ok(()), Ok(true)) => {
            assert!(rendered.starts_with(PREFIX), "rendering overwrote the buffer: {src:?}");
            let body = &rendered[PREFIX.len()..];
            must_be_json(src, body);
            assert!(
                body == &evaluated[..],
                "a batch and its JSON document render differently\ntemplate: {src}\ndocument: {document}\nbatch:    {}\njson:     {}",
                String::from_utf8_lossy(body),
                String::from_utf8_lossy(&evaluated),
            );
        }
        (Err(a), Err(b)) => {
            check_runtime_error(src, &a);
            check_runtime_error(src, &b);
            assert_eq!(
                a.code, b.code,
                "a batch and its JSON document fail differently\ntemplate: {src}\ndocument: {document}"
            );
        }
        (a, b) => panic!(
            "a batch and its JSON document disagree\ntemplate: {src}\ndocument: {document}\nbatch: {a:?} {}\njson:  {b:?} {}",
            String::from_utf8_lossy(&rendered[PREFIX.len().min(rendered.len())..]),
            String::from_utf8_lossy(&evaluated),
        ),
    }
}

// ---- generators -------------------------------------------------------------------------

/// An expression of the subset, printed, and an input (`None`: undefined).
#[derive(Debug)]
struct ExpressionCase {
    source: String,
    input: Option<Value>,
}

/// Splits the bytes in two at a point the bytes choose, so that neither of two generators run
/// one after the other starves the second.
fn split<'a>(u: &mut Unstructured<'a>) -> arbitrary::Result<(Unstructured<'a>, Unstructured<'a>)> {
    let cut = u.int_in_range(0..=u.len())?;
    let first = u.bytes(cut.min(u.len()))?;
    let second = u.bytes(u.len())?;
    Ok((Unstructured::new(first), Unstructured::new(second)))
}

impl<'a> Arbitrary<'a> for ExpressionCase {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let (mut e, mut i) = split(u)?;
        let mut source = String::new();
        gap(&mut e, &mut source)?;
        gen_expr(&mut e, Ctx::Free, MAX_GEN_DEPTH, &mut source)?;
        gap(&mut e, &mut source)?;
        let input = match i.int_in_range(0..=7u8)? {
            0 => None,
            1 => Some(gen_value(&mut i, 4)?),
            _ => Some(gen_object(&mut i, 4)?),
        };
        Ok(ExpressionCase { source, input })
    }
}

/// A request-body template of the profile, printed, with records (one generated row of values
/// per record, cycled over the template's fields) and a connection.
#[derive(Debug)]
struct TemplateCase {
    source: String,
    records: Vec<Vec<Slot>>,
    connection: Connection,
}

impl<'a> Arbitrary<'a> for TemplateCase {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let (mut t, mut r) = split(u)?;
        let mut source = String::new();
        gap(&mut t, &mut source)?;
        // The top level of a body is an object or an array constructor.
        if t.arbitrary()? {
            gen_array(&mut t, Ctx::Outer, MAX_GEN_DEPTH, &mut source)?;
        } else {
            gen_object_ctor(&mut t, Ctx::Outer, MAX_GEN_DEPTH, &mut source)?;
        }
        gap(&mut t, &mut source)?;
        let connection = Connection { audience_id: gen_string(&mut r)?, audience_name: gen_string(&mut r)? };
        let count = r.int_in_range(0..=3usize)?;
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            let width = r.int_in_range(1..=5usize)?;
            let mut row = Vec::with_capacity(width);
            for _ in 0..width {
                row.push(gen_slot(&mut r)?);
            }
            records.push(row);
        }
        Ok(TemplateCase { source, records, connection })
    }
}

/// Nesting of generated constructs, well under the engine's limit of 64.
const MAX_GEN_DEPTH: u32 = 6;

/// Where an expression is generated, which decides what it may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    /// Anything of the expression subset.
    Free,
    /// A template outside the records block: constants, `$$.connection.*`, the block itself.
    Outer,
    /// Inside `[$$.records.{ ... }]`: constants, relative field paths, `$$.connection.*`.
    Block,
}

/// Space between tokens: every kind of white space the language knows, and comments.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Gap {
    None,
    Space,
    Tab,
    Lf,
    CrLf,
    Cr,
    VerticalTab,
    Comment,
    EmptyComment,
    StarryComment,
    UnicodeComment,
    Mixed,
}

impl Gap {
    fn print(self, out: &mut String) {
        out.push_str(match self {
            Gap::None => "",
            Gap::Space => " ",
            Gap::Tab => "\t",
            Gap::Lf => "\n",
            Gap::CrLf => "\r\n",
            Gap::Cr => "\r",
            Gap::VerticalTab => "\u{b}",
            Gap::Comment => "/* c */",
            Gap::EmptyComment => "/**/",
            Gap::StarryComment => "/*** a * / b ***/",
            Gap::UnicodeComment => "/* \u{e9}\u{1F600}\u{2028}\"'` */",
            Gap::Mixed => " \n\t/* x */ \r\n",
        });
    }
}

/// Nothing half of the time, otherwise any [`Gap`].
fn gap(u: &mut Unstructured, out: &mut String) -> arbitrary::Result<()> {
    if !u.ratio(1, 2)? {
        Gap::arbitrary(u)?.print(out);
    }
    Ok(())
}

/// Field names used both by generated paths and by generated input keys, so that paths find
/// data. Some can be written bare, some only in backticks or quotes.
const NAMES: &[&str] = &[
    "a",
    "b",
    "c",
    "email",
    "user_id",
    "and",
    "or",
    "in",
    "\u{e9}",
    "\u{540d}\u{524d}",
    "a\u{a0}b",
    "a\u{c}b",
    "a\u{2028}b",
    "\u{a0}x",
    "x'y",
    "0",
    "10",
    "4294967295",
    "first name",
    "x\"y",
    "a.b",
    "q`b",
    "$x",
    "",
];

/// Whether `name` can be written bare (`grammar/subset.ebnf`, "plain name"): no white space or
/// operator character, not starting with a digit, a quote, a backtick or `$`, and not a literal
/// keyword. A form feed, a no-break space and U+2028 are name characters. (`function` and `λ`
/// are left out too: they start lambdas.)
fn is_bare(name: &str) -> bool {
    const OPERATORS: &str = ".[]{}()@#;:?+-*/%|=<>^&!~,";
    let Some(first) = name.chars().next() else {
        return false;
    };
    !first.is_ascii_digit()
        && !matches!(first, '"' | '\'' | '`' | '$')
        && name.chars().all(|c| !matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}') && !OPERATORS.contains(c))
        && !matches!(name, "true" | "false" | "null" | "function" | "\u{3bb}")
}

/// A name from [`NAMES`] or made up, printed as a path step (`name`, `` `name` ``, `"name"`).
/// `quoted_ok` is false where a string literal would not be read as a name (the first step of a
/// path with no step after it); `nonempty` excludes the empty name (template fields).
fn gen_name(u: &mut Unstructured, quoted_ok: bool, nonempty: bool, out: &mut String) -> arbitrary::Result<String> {
    let name = if u.ratio(1, 8)? {
        let s = gen_string(u)?;
        if s.is_empty() && nonempty { "a".to_owned() } else { s }
    } else {
        let pool = if nonempty { &NAMES[..NAMES.len() - 1] } else { NAMES };
        (*u.choose(pool)?).to_owned()
    };
    let style = u.int_in_range(0..=2u8)?;
    if style == 0 && is_bare(&name) {
        out.push_str(&name);
    } else if (style == 1 || !quoted_ok) && !name.contains('`') {
        out.push('`');
        out.push_str(&name);
        out.push('`');
    } else if quoted_ok {
        print_string(u, &name, out)?;
    } else {
        // A backtick name cannot hold a backtick, and a string literal is not a name here.
        out.push('a');
        return Ok("a".to_owned());
    }
    Ok(name)
}

fn gen_expr(u: &mut Unstructured, ctx: Ctx, depth: u32, out: &mut String) -> arbitrary::Result<()> {
    // Leaves come first so that running out of bytes (which yields 0) ends the recursion.
    let kind = if depth == 0 { u.int_in_range(0..=4u8)? } else { u.int_in_range(0..=9u8)? };
    match kind {
        0 => {
            let value = gen_string(u)?;
            print_string(u, &value, out)
        }
        1 => gen_number_literal(u, out),
        2 => {
            out.push_str(u.choose(&["true", "false", "null"])?);
            Ok(())
        }
        3 | 4 => gen_path(u, ctx, depth, out),
        5 | 6 => gen_object_ctor(u, ctx, depth - 1, out),
        7 | 8 => gen_array(u, ctx, depth - 1, out),
        _ => {
            out.push_str("$number");
            gap(u, out)?;
            out.push('(');
            gen_item(u, ctx, depth - 1, out)?;
            out.push(')');
            Ok(())
        }
    }
}

/// An expression with space around it.
fn gen_item(u: &mut Unstructured, ctx: Ctx, depth: u32, out: &mut String) -> arbitrary::Result<()> {
    gap(u, out)?;
    gen_expr(u, ctx, depth, out)?;
    gap(u, out)
}

/// `{ "k": v, ... }` with distinct literal keys.
fn gen_object_ctor(u: &mut Unstructured, ctx: Ctx, depth: u32, out: &mut String) -> arbitrary::Result<()> {
    out.push('{');
    gap(u, out)?;
    let n = u.int_in_range(0..=4usize)?;
    let mut keys: Vec<String> = Vec::with_capacity(n);
    for _ in 0..n {
        let key = if u.arbitrary()? { (*u.choose(NAMES)?).to_owned() } else { gen_string(u)? };
        if keys.contains(&key) {
            continue;
        }
        if !keys.is_empty() {
            out.push(',');
            gap(u, out)?;
        }
        print_string(u, &key, out)?;
        keys.push(key);
        gap(u, out)?;
        out.push(':');
        gen_item(u, ctx, depth, out)?;
    }
    out.push('}');
    Ok(())
}

/// `[ ... ]`; outside the records block of a template, sometimes the block `[$$.records.{...}]`.
fn gen_array(u: &mut Unstructured, ctx: Ctx, depth: u32, out: &mut String) -> arbitrary::Result<()> {
    out.push('[');
    if ctx == Ctx::Outer && u.arbitrary()? {
        gap(u, out)?;
        out.push_str("$$");
        gap(u, out)?;
        out.push('.');
        gap(u, out)?;
        print_step_name(u, "records", out)?;
        gap(u, out)?;
        out.push('.');
        gap(u, out)?;
        gen_object_ctor(u, Ctx::Block, depth, out)?;
        gap(u, out)?;
    } else {
        gap(u, out)?;
        let n = u.int_in_range(0..=4usize)?;
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            gen_item(u, ctx, depth, out)?;
        }
    }
    out.push(']');
    Ok(())
}

/// A known key after a `.`, bare, in backticks or quoted.
fn print_step_name(u: &mut Unstructured, name: &str, out: &mut String) -> arbitrary::Result<()> {
    match u.int_in_range(0..=2u8)? {
        0 => out.push_str(name),
        1 => {
            out.push('`');
            out.push_str(name);
            out.push('`');
        }
        _ => print_string(u, name, out)?,
    }
    Ok(())
}

fn gen_path(u: &mut Unstructured, ctx: Ctx, depth: u32, out: &mut String) -> arbitrary::Result<()> {
    // In a template, `$$` paths are `$$.connection.audienceId` or `.audienceName`.
    let connection = match ctx {
        Ctx::Outer => true,
        Ctx::Block => u.ratio(1, 4)?,
        Ctx::Free => false,
    };
    if connection {
        out.push_str("$$");
        gap(u, out)?;
        out.push('.');
        gap(u, out)?;
        print_step_name(u, "connection", out)?;
        gap(u, out)?;
        out.push('.');
        gap(u, out)?;
        let key = *u.choose(&["audienceId", "audienceName"])?;
        return print_step_name(u, key, out);
    }
    let steps = u.int_in_range(0..=4usize)?;
    let nonempty = ctx == Ctx::Block;
    if ctx == Ctx::Free && u.ratio(1, 3)? {
        out.push_str("$$");
    } else {
        // A quoted first step is a name only when a step follows.
        gen_name(u, steps > 0, nonempty, out)?;
    }
    for _ in 0..steps {
        gap(u, out)?;
        out.push('.');
        gap(u, out)?;
        // `.{ ... }` steps iterate; the records block of a template holds no iteration.
        if ctx == Ctx::Free && depth > 0 && u.ratio(1, 4)? {
            gen_object_ctor(u, ctx, depth - 1, out)?;
        } else {
            gen_name(u, true, nonempty, out)?;
        }
    }
    Ok(())
}

/// A number token of the JSON grammar (with, sometimes, a unary minus that folds into it).
fn gen_number_literal(u: &mut Unstructured, out: &mut String) -> arbitrary::Result<()> {
    const EDGES: &[&str] = &[
        "0",
        "1",
        "0.5",
        "1e21",
        "1E21",
        "1e-7",
        "0.000001",
        "1e+300",
        "9007199254740992",
        "9007199254740993",
        "18446744073709551616",
        "123456789012345678901234567890",
        "0.1",
        "1.50",
        "1.7976931348623157e308",
        "5e-324",
        "1e-400",
        "0e0",
    ];
    // "-1" and "- /* c */ 1" are -1, "--1" is 1.
    for _ in 0..*u.choose(&[0, 0, 0, 0, 0, 1, 1, 2])? {
        out.push('-');
        if u.ratio(1, 4)? {
            gap(u, out)?;
        }
    }
    if u.arbitrary()? {
        out.push_str(u.choose(EDGES)?);
        return Ok(());
    }
    let int_digits = u.int_in_range(1..=20u32)?;
    let first = u.int_in_range(0..=9u8)?;
    out.push(char::from(b'0' + first));
    if first != 0 {
        for _ in 1..int_digits {
            out.push(char::from(b'0' + u.int_in_range(0..=9u8)?));
        }
    }
    if u.arbitrary()? {
        out.push('.');
        for _ in 0..u.int_in_range(1..=20u32)? {
            out.push(char::from(b'0' + u.int_in_range(0..=9u8)?));
        }
    }
    if u.arbitrary()? {
        out.push_str(u.choose(&["e", "E"])?);
        out.push_str(u.choose(&["", "+", "-"])?);
        // At most 20 integer digits: an exponent up to 280 stays finite.
        out.push_str(&u.int_in_range(0..=280u32)?.to_string());
    }
    Ok(())
}

/// Prints `value` as a string literal, choosing the quote and, per character, raw or escaped.
fn print_string(u: &mut Unstructured, value: &str, out: &mut String) -> arbitrary::Result<()> {
    let quote = if u.arbitrary()? { '"' } else { '\'' };
    out.push(quote);
    for c in value.chars() {
        let style = u.int_in_range(0..=7u8)?;
        let named = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '/' => Some("\\/"),
            _ => None,
        };
        // Any character but the closing quote and `\` may appear raw, control characters
        // included (they are raw one time in eight).
        let raw_ok = c != quote && c != '\\' && (c >= ' ' || style == 2);
        if raw_ok && style != 7 && !(named.is_some() && style == 1) {
            out.push(c);
        } else if let Some(escape) = named.filter(|_| style < 6) {
            out.push_str(escape);
        } else {
            let upper = u.arbitrary::<bool>()?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                if upper {
                    out.push_str(&format!("\\u{unit:04X}"));
                } else {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push(quote);
    Ok(())
}

/// A string made of awkward pieces: control characters, quotes, backslashes, characters
/// outside the BMP, U+2028, numbers in disguise, and arbitrary characters.
fn gen_string(u: &mut Unstructured) -> arbitrary::Result<String> {
    const PIECES: &[&str] = &[
        "a",
        "email",
        "0",
        "10",
        "12",
        "-1.5e3",
        "0x1F",
        "0o17",
        "0b101",
        "0x",
        "1e999",
        " 1",
        ".5",
        "1.",
        "\u{0}",
        "\u{1f}",
        "\u{7f}",
        "\"",
        "'",
        "\\",
        "/",
        "`",
        "\t",
        "\n",
        "\u{e9}",
        "\u{2028}",
        "\u{feff}",
        "\u{1F600}",
        "\u{10FFFF}",
    ];
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=5u8)? {
        if u.ratio(1, 4)? {
            s.push(u.arbitrary::<char>()?);
        } else {
            s.push_str(u.choose(PIECES)?);
        }
    }
    Ok(s)
}

fn gen_number_value(u: &mut Unstructured) -> arbitrary::Result<Number> {
    const EDGES: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1e21,
        1e-7,
        1e-6,
        123.456,
        9_007_199_254_740_992.0,
        1.7976931348623157e308,
        5e-324,
        -2.5e-8,
        1e300,
    ];
    Ok(match u.int_in_range(0..=5u8)? {
        0 => Number::from(u.arbitrary::<u64>()?),
        1 => Number::from(u.arbitrary::<i64>()?),
        2 => Number::from(*u.choose(&[9_007_199_254_740_993u64, u64::MAX, 1 << 53, 4_294_967_295])?),
        3 => Number::from_f64(f64::from_bits(u.arbitrary()?)).unwrap_or_else(|| Number::from(0u8)),
        _ => Number::from_f64(*u.choose(EDGES)?).expect("finite"),
    })
}

fn gen_value(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Value> {
    let kind = if depth == 0 { u.int_in_range(0..=3u8)? } else { u.int_in_range(0..=5u8)? };
    Ok(match kind {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Number(gen_number_value(u)?),
        3 => Value::String(gen_string(u)?),
        4 => {
            let n = u.int_in_range(0..=4usize)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(gen_value(u, depth - 1)?);
            }
            Value::Array(items)
        }
        _ => gen_object(u, depth - 1)?,
    })
}

/// An object whose keys mostly come from [`NAMES`], so that generated paths find them.
fn gen_object(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Value> {
    let mut map = Map::new();
    for _ in 0..u.int_in_range(0..=5usize)? {
        let key = match u.int_in_range(0..=15u8)? {
            0..=11 => (*u.choose(NAMES)?).to_owned(),
            // Keys the reference gives a meaning to (only in data: templates may not use them).
            12 => (*u.choose(&["_jsonata_function", "_jsonata_lambda", "__proto__"])?).to_owned(),
            _ => gen_string(u)?,
        };
        map.insert(key, gen_value(u, depth)?);
    }
    Ok(Value::Object(map))
}

fn gen_slot(u: &mut Unstructured) -> arbitrary::Result<Slot> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => Slot::Missing,
        1 => Slot::Null,
        2 => Slot::Bool(u.arbitrary()?),
        3 => Slot::I64(u.arbitrary()?),
        4 => Slot::U64(u.arbitrary()?),
        5 => Slot::F64(gen_number_value(u)?.as_f64().unwrap_or(0.0)),
        6 => Slot::Str(gen_string(u)?),
        _ => Slot::Json(gen_value(u, 2)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names() {
        for name in
            ["a", "email", "and", "\u{e9}", "a\u{a0}b", "\u{a0}a", "a\u{c}b", "a\u{2028}b", "x\"y", "x'y", "u_1"]
        {
            assert!(is_bare(name), "{name:?}");
        }
        for name in ["", "0", "10", "first name", "a.b", "a-b", "true", "null", "$x", "'a", "`a", "a\u{b}b"] {
            assert!(!is_bare(name), "{name:?}");
        }
    }

    /// The generators terminate and print something on any bytes, including none.
    #[test]
    fn generators_print_on_any_bytes() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for len in [0usize, 1, 7, 64, 512, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let case = ExpressionCase::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap();
            assert!(!case.source.trim().is_empty());
            let case = TemplateCase::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap();
            assert!(case.source.contains(['{', '[']));
        }
    }
}
