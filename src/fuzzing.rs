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
//! `render` and `render_batch` do not feed random bytes to the parser: they steer the generator
//! of the language the differential tests use ([`crate::generate`], one byte per choice) to
//! *build* an expression of the subset (or a template of the profile) with varied quoting,
//! escapes, spacing and comments, and an input with numbers and strings at the edges. Every
//! expression they build must be accepted.
#![cfg(feature = "fuzzing")]

use crate::generate::{
    FieldVal, Rng, batch_doc, fill_batch, gen_compilable_expression, gen_connection, gen_input_text, gen_records,
    gen_template,
};
use crate::template::input::Input;
use crate::template::{self, Connection, Diagnostic, Expression, RecordBatch, Template, report};
use serde_json::Value;

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
            let samples = sample_values();
            let records: Vec<Vec<FieldVal>> =
                (0..3).map(|r| (0..width).map(|f| samples[(r + f) % samples.len()].clone()).collect()).collect();
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

/// Builds a JSON input and an expression of the subset from `data` (with the generator the
/// differential tests use), then compiles and evaluates.
pub fn render(data: &[u8]) {
    let mut rng = Rng::from_bytes(data);
    let input_text = gen_input_text(&mut rng);
    let input: Option<Value> = input_text.as_deref().map(|text| match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => panic!("generated input is not JSON ({e}): {text}"),
    });
    let source = gen_compilable_expression(&mut rng, input.as_ref());
    let expr = match Expression::compile(&source) {
        Ok(expr) => expr,
        Err(d) => panic!("generated expression rejected:\n{source}\n{d:#?}"),
    };
    evaluate_checked(&source, &expr, input.as_ref());
}

/// Builds a template of the profile, a batch of records and a connection from `data`, then
/// renders the batch and compares it with evaluating the equivalent JSON document.
pub fn render_batch(data: &[u8]) {
    let mut rng = Rng::from_bytes(data);
    let (source, fields) = gen_template(&mut rng);
    let t = match Template::compile(&source) {
        Ok(t) => t,
        Err(d) => panic!("generated template rejected:\n{source}\n{d:#?}"),
    };
    let names: Vec<&str> = t.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, fields, "the template fields of {source:?}");
    let connection = gen_connection(&mut rng);
    let records = gen_records(&mut rng, fields.len());
    render_checked(&source, &t, &records, &connection);
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
    // `audience render`'s input path, over the input's text, gives the same result.
    if let Some(v) = input {
        let text = serde_json::to_string(v).expect("a Value serialises");
        if let Some(doc) = Input::parse(&text) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let (ra, rb) = (expr.evaluate(input, &mut a), expr.evaluate_input(Some(&doc), &mut b));
            assert_eq!((ra, &a), (rb, &b), "the parsed-input path differs over {text}: {src:?}");
        }
    }
}

/// Field values at the edges, cycled over the fields of a compiled template.
fn sample_values() -> [FieldVal; 8] {
    [
        FieldVal::Missing,
        FieldVal::Null,
        FieldVal::Bool(true),
        FieldVal::I64(-9_007_199_254_740_993),
        FieldVal::U64(u64::MAX),
        FieldVal::F64(1e21),
        FieldVal::F64(-0.0),
        FieldVal::Json(Value::Null),
    ]
}

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

fn render_checked(src: &str, t: &Template, records: &[Vec<FieldVal>], connection: &Connection) {
    let mut batch = RecordBatch::new(t.fields().len());
    fill_batch(&mut batch, records);
    let names: Vec<String> = t.fields().iter().map(|f| f.name.clone()).collect();
    let document = batch_doc(&names, records, connection);

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The targets that build their input run on any bytes, including none.
    #[test]
    fn building_targets_run_on_any_bytes() {
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
            render(&bytes);
            render_batch(&bytes);
        }
    }
}
