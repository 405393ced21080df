//! The in-subset cases of the official JSONata test suite
//! (`tests/conformance/jsonata-suite/cases.json`), run through `Expression::compile` and
//! `Expression::evaluate`:
//!
//! * `result`: the output parses as JSON equal to the expected value, and its bytes are exactly
//!   the expected value as `JSON.stringify` prints it (the file keeps the reference's key order,
//!   and serde_json's `preserve_order` keeps it too);
//! * `undefined_result`: `Ok(false)` and nothing written;
//! * `error`: the error's code is the expected one (at run time, or when checking).
//!
//! `input` absent (`input_undefined`) is undefined input. Every failing case is listed, then the
//! test fails.

use audience::template::Expression;
use serde_json::Value;
use std::fmt::Write as _;

const CASES: &str = include_str!("conformance/jsonata-suite/cases.json");

/// How many cases of the suite are in the subset. A change to the file or to the marking must
/// change this too, on purpose.
const IN_SUBSET: usize = 117;

#[test]
fn jsonata_suite_in_subset_cases() {
    let cases: Vec<Value> = serde_json::from_str(&without_lone_surrogates(CASES)).expect("cases.json is JSON");
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases.iter().filter(|c| c["in_subset"] == Value::Bool(true)) {
        ran += 1;
        if let Err(why) = run_case(case) {
            failures.push(format!(
                "{} `{}`: {why}",
                case["id"].as_str().unwrap_or("?"),
                case["expr"].as_str().unwrap_or("?")
            ));
        }
    }
    assert_eq!(ran, IN_SUBSET, "number of in-subset cases in cases.json");
    assert!(failures.is_empty(), "{} of {ran} in-subset suite cases failed:\n{}", failures.len(), failures.join("\n"));
}

fn run_case(case: &Value) -> Result<(), String> {
    let src = case["expr"].as_str().ok_or("no expr")?;
    let input = case.get("input");
    if input.is_some() == (case["input_undefined"] == Value::Bool(true)) {
        return Err("the case must have exactly one of `input` and `input_undefined`".into());
    }
    let expected_code = case.get("error").map(|c| c.as_str().expect("error is a code"));

    let expr = match Expression::compile(src) {
        Ok(expr) => expr,
        Err(diagnostics) => {
            let first = diagnostics.iter().find(|d| d.is_error());
            return match (expected_code, first) {
                (Some(code), Some(d)) if d.code.as_str() == code => Ok(()),
                _ => Err(format!(
                    "rejected: {}",
                    diagnostics.iter().map(|d| format!("{} {}", d.code, d.message)).collect::<Vec<_>>().join("; ")
                )),
            };
        }
    };

    let mut out = Vec::new();
    let outcome = expr.evaluate(input, &mut out);
    let got = String::from_utf8_lossy(&out).into_owned();
    match (case.get("result"), case["undefined_result"] == Value::Bool(true), expected_code) {
        (Some(expected), false, None) => {
            match outcome {
                Ok(true) => {}
                Ok(false) => return Err(format!("undefined, expected {}", stringify(expected))),
                Err(d) => {
                    return Err(format!("error {} {}, expected {}", d.code, d.message, stringify(expected)));
                }
            }
            let parsed: Value = serde_json::from_slice(&out).map_err(|e| format!("output is not JSON ({e}): {got}"))?;
            if !same(&parsed, expected) {
                return Err(format!("got {got}, expected {}", stringify(expected)));
            }
            let want = stringify(expected);
            if got != want {
                return Err(format!("bytes differ: got {got}, expected {want}"));
            }
            Ok(())
        }
        (None, true, None) => match outcome {
            Ok(false) if out.is_empty() => Ok(()),
            Ok(false) => Err(format!("undefined, but wrote {got:?}")),
            Ok(true) => Err(format!("got {got}, expected undefined")),
            Err(d) => Err(format!("error {} {}, expected undefined", d.code, d.message)),
        },
        (None, false, Some(code)) => match outcome {
            Err(d) if d.code.as_str() == code => Ok(()),
            Err(d) => Err(format!("error {} {}, expected {code}", d.code, d.message)),
            Ok(true) => Err(format!("got {got}, expected {code}")),
            Ok(false) => Err(format!("undefined, expected {code}")),
        },
        _ => Err("the case must have exactly one of `result`, `undefined_result` and `error`".into()),
    }
}

/// `text` with every `\u` escape of a lone surrogate replaced by `\ufffd`: a few cases outside
/// the subset hold one (`$encodeUrl('\ud800')`), and serde_json refuses them. No case of the
/// subset can hold one (deviation 3: they are rejected when checking).
fn without_lone_surrogates(text: &str) -> String {
    let b = text.as_bytes();
    let unit = |i: usize| -> Option<u16> {
        let hex = b.get(i..i + 6)?;
        if &hex[..2] != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        if !in_string {
            in_string = b[i] == b'"';
        } else if b[i] == b'"' {
            in_string = false;
        } else if b[i] == b'\\' {
            match unit(i) {
                Some(0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => {
                    out.push_str(&text[i..i + 12]);
                    i += 12;
                }
                Some(0xD800..=0xDFFF) => {
                    out.push_str("\\ufffd");
                    i += 6;
                }
                // Any other escape: copy it whole, so that `\\` does not start another.
                _ => {
                    out.push_str(&text[i..i + 2]);
                    i += 2;
                }
            }
            continue;
        }
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + len]);
        i += len;
    }
    out
}

/// JSON equality with numbers compared by value (`1` and `1.0` are the same number).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// `JSON.stringify(value)`: compact, keys in the order given, numbers as JavaScript prints them.
fn stringify(value: &Value) -> String {
    let mut out = String::new();
    write_js(value, &mut out);
    out
}

fn write_js(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write!(out, "{i}").unwrap();
            } else if let Some(u) = n.as_u64() {
                write!(out, "{u}").unwrap();
            } else {
                let f = n.as_f64().expect("a finite number");
                out.push_str(ryu_js::Buffer::new().format_finite(f));
            }
        }
        Value::String(s) => write_js_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_js(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_js_string(k, out);
                out.push(':');
                write_js(v, out);
            }
            out.push('}');
        }
    }
}

/// A string as `JSON.stringify` writes it: serde_json escapes exactly the same characters the
/// same way (the short escapes, other controls as lowercase `\u00xx`), and a Rust string holds
/// no lone surrogate, the one case where they could differ.
fn write_js_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a string serialises"));
}

#[test]
fn stringify_prints_as_javascript_does() {
    let v: Value =
        serde_json::from_str(r#"{"b": 1.0, "a": [-0.0, 1e21, 1e-7, 0.000001, 6.022e23, "\u0001\"\\/\n"]}"#).unwrap();
    assert_eq!(stringify(&v), r#"{"b":1,"a":[0,1e+21,1e-7,0.000001,6.022e+23,"\u0001\"\\/\n"]}"#);
}

#[test]
fn lone_surrogates_are_replaced_and_nothing_else() {
    let text = r#"["\ud800", "\uD834\uDD1E", "\\ud800", "\udc00x", "é\n"]"#;
    assert_eq!(without_lone_surrogates(text), r#"["\ufffd", "\uD834\uDD1E", "\\ud800", "\ufffdx", "é\n"]"#);
}
