//! The deliberate deviations from the reference JSONata (docs/design/template-language.md §5), one test
//! each, named after the deviation.

use audience::template::{Code, Connection, Expression, RecordBatch, Template, check_template};
use serde_json::Value;

fn render(expr: &str, input: &str) -> Result<Option<String>, Code> {
    let e = Expression::compile(expr).unwrap_or_else(|d| panic!("{expr}: {d:?}"));
    let input: Value = serde_json::from_str(input).unwrap();
    let mut out = Vec::new();
    match e.evaluate(Some(&input), &mut out) {
        Ok(true) => Ok(Some(String::from_utf8(out).unwrap())),
        Ok(false) => Ok(None),
        Err(d) => Err(d.code),
    }
}

#[test]
fn deviation_1_input_integers_are_exact_to_64_bits() {
    // The reference prints 9007199254740992 and 18446744073709552000.
    assert_eq!(render("$$.id", r#"{"id": 9007199254740993}"#), Ok(Some("9007199254740993".into())));
    assert_eq!(render("$$.id", r#"{"id": 18446744073709551615}"#), Ok(Some("18446744073709551615".into())));
    assert_eq!(render("$$.id", r#"{"id": -9223372036854775808}"#), Ok(Some("-9223372036854775808".into())));
    // Everything else follows the reference: `$number` results, literals, fractions, exponents,
    // and integer tokens beyond 64 bits.
    assert_eq!(render("$number($$.id)", r#"{"id": 9007199254740993}"#), Ok(Some("9007199254740992".into())));
    assert_eq!(render("[9007199254740993]", "null"), Ok(Some("[9007199254740992]".into())));
    assert_eq!(render("$$.id", r#"{"id": 9007199254740993.0}"#), Ok(Some("9007199254740992".into())));
    assert_eq!(render("$$.id", r#"{"id": 123456789012345678901}"#), Ok(Some("123456789012345680000".into())));
}

#[test]
fn deviation_2_number_prefix_with_trailing_characters_is_d3030() {
    // The reference's mis-anchored pattern gives NaN (printed null) or 31 here.
    for s in ["0x1Fzz", "0x1F ", "0b12", "0o78"] {
        assert_eq!(render(&format!("$number({s:?})"), "null"), Err(Code::NotANumber), "{s}");
    }
    assert_eq!(render(r#"$number("0x1F")"#, "null"), Ok(Some("31".into())));
}

#[test]
fn deviation_3_lone_surrogate_escape_is_rejected_when_checking() {
    for src in [r#"{"a": "\uD800"}"#, r#"{"a": "x\uDC00y"}"#, r#"{"a": "\uD83D\u0041"}"#] {
        let checked = check_template(src);
        assert!(checked.diagnostics.iter().any(|d| d.code == Code::LoneSurrogate), "{src}: {:?}", checked.diagnostics);
    }
    // A surrogate pair written as two escapes is one character.
    assert_eq!(render(r#""\uD83D\uDE00""#, "null"), Ok(Some("\"😀\"".into())));
}

#[test]
fn deviation_4_input_numbers_beyond_f64_are_input_errors() {
    // The reference's JSON.parse turns 1e400 into Infinity and prints null; we refuse the input.
    assert!(serde_json::from_str::<Value>(r#"{"a": 1e400}"#).is_err());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["render", "-e", "$$.a", "--input", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(br#"{"a": 1e400}"#)?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not JSON") && err.contains("line 1"), "{err}");
}

#[test]
fn deviation_5_literal_duplicate_keys_are_rejected_even_without_records() {
    // The reference raises D1009 only when the object is evaluated: with zero records, never.
    let src = r#"{"users": [$$.records.{"a": email, "a": name}]}"#;
    let err = Template::compile(src).unwrap_err();
    assert!(err.iter().any(|d| d.code == Code::DuplicateKey), "{err:?}");
    // Equal after unescaping is equal.
    let err = Template::compile(r#"{"a": 1, "\u0061": 2}"#).unwrap_err();
    assert!(err.iter().any(|d| d.code == Code::DuplicateKey), "{err:?}");
}

#[test]
fn deviation_5_reserved_keys_are_rejected_even_without_records() {
    // The reference (2.2.1 and later) raises D1013 for these keys when the object is built.
    for key in ["_jsonata_function", "_jsonata_lambda", "_jsonata_\\u006cambda"] {
        let src = format!(r#"{{"users": [$$.records.{{"{key}": email}}]}}"#);
        let err = Template::compile(&src).unwrap_err();
        assert!(err.iter().any(|d| d.code == Code::ReservedKey), "{src}: {err:?}");
    }
    assert!(Template::compile(r#"{"_jsonata_x": 1}"#).is_ok());
}

#[test]
fn deviation_6_the_first_error_in_source_order_is_reported() {
    // The reference's concurrent evaluation reports k2's T0410 first.
    let input = r#"{"a": {"b": {"c": {"d": {"e": "x"}}}}}"#;
    assert_eq!(render(r#"{"k1": $number($$.a.b.c.d.e), "k2": $number(null)}"#, input), Err(Code::NotANumber));
    assert_eq!(render(r#"[$number($$.a.b.c.d.e), $number(null)]"#, input), Err(Code::NotANumber));
    // Also when key order puts the later pair first in the output.
    assert_eq!(render(r#"{"k": $number($$.a.b.c.d.e), "0": $number(null)}"#, input), Err(Code::NotANumber));
    // Also when the later part reads only `$$`, and is written once for all the records before
    // the first record's parts.
    let records = r#"{"records": [{"addr": [1, 2]}, {"addr": 3}], "name": "x"}"#;
    let later_reads_root = r#"[$$.records.{"z": $number(addr), "y": $number($$.name)}]"#;
    assert_eq!(render(later_reads_root, records), Err(Code::ArgumentType));
    // The same through a template over a batch of records: both fail with D3030, and the error
    // is the first call's.
    let src = r#"[$$.records.{"z": $number(addr), "y": $number($$.connection.audienceName)}]"#;
    let template = Template::compile(src).unwrap();
    let mut batch = RecordBatch::new(template.fields().len());
    batch.push_record();
    batch.set_str(0, "not a number");
    let connection = Connection { audience_id: "1".into(), audience_name: "not one either".into() };
    let fail = template.render(&batch, &connection, &mut Vec::new()).unwrap_err();
    assert_eq!((fail.code, fail.span.start as usize), (Code::NotANumber, src.find("$number").unwrap()));
}

/// Deviation 7's forms: (expression, input, the reference's output, ours). The reference's
/// outputs are checked against the reference itself by
/// `deviation_7_the_reference_still_differs`.
const DEVIATION_7: [(&str, &str, &str, &str); 6] = [
    // `$$.{}` inside an object builds an object over the pushed `undefined`.
    (r#"{"a":{"b":$$.{}}}"#, "[]", r#"{"a":{"b":{}}}"#, r#"{"a":{}}"#),
    // Inside an array constructor, the pushed `undefined` is a `null` item.
    (r#"{"a":[$$,{}]}"#, "[]", r#"{"a":[null,{}]}"#, r#"{"a":[{}]}"#),
    // Seen before the constructor too: the path `x` comes first.
    ("[x,x.{}]", r#"{"x":[[]]}"#, "[[null],{}]", "[[],{}]"),
    // ... and after it.
    (r#"{"a": {}, "b": $$}"#, "[]", r#"{"a":{},"b":[null]}"#, r#"{"a":{},"b":[]}"#),
    (r#"[$$.a.{"x": 1}, $$.a]"#, r#"{"a": [[]]}"#, r#"[{"x":1},[null]]"#, r#"[{"x":1},[]]"#),
    // A whole phantom record: `$$.{}` gives `{}` where we give nothing.
    (r#"{"a": {}, "b": $$.{}}"#, "[]", r#"{"a":{},"b":{}}"#, r#"{"a":{}}"#),
];

#[test]
fn deviation_7_an_empty_input_array_is_never_changed() {
    for (expr, input, _, ours) in DEVIATION_7 {
        assert_eq!(render(expr, input), Ok(Some(ours.into())), "{expr} over {input}");
    }
    // No form of it is reachable from a checked template: an empty `$$.records` gives nothing
    // to build from, in both.
    let t = Template::compile(r#"{"users": [$$.records.{"e": email}], "n": $$.connection.audienceId}"#);
    assert!(t.is_ok(), "{:?}", t.err());
}

/// The reference still gives what docs/templates.md says for each form of deviation 7 (a newer
/// reference that stops mutating its input would make the deviation, and its docs, obsolete).
#[test]
fn deviation_7_the_reference_still_differs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("audience-deviation7-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let corpus: Vec<Value> =
        DEVIATION_7.iter().map(|(expr, input, _, _)| serde_json::json!({"expr": expr, "input_text": input})).collect();
    let corpus_path = dir.join("corpus.json");
    std::fs::write(&corpus_path, serde_json::to_vec(&corpus).unwrap()).unwrap();
    let output = std::process::Command::new("node")
        .arg(root.join("scripts/reference.js"))
        .arg(&corpus_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): install Node.js and run scripts/test"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    for ((expr, input, reference, _), got) in DEVIATION_7.iter().zip(&results) {
        assert_eq!(got["ok"].as_str(), Some(*reference), "{expr} over {input}: {got}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
