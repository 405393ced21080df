//! Every expression of the official JSONata test suite through the checker
//! (`tests/conformance/jsonata-suite/cases.json`, 1,686 cases, each marked `in_subset`):
//!
//! * an expression marked `in_subset: false` gets at least one error, every diagnostic with a
//!   span inside the source on character boundaries;
//! * an expression marked `in_subset: true` gets none;
//! * nothing panics.
//!
//! Running the in-subset cases' expected results is the VM's test, not this one.

use std::panic::{AssertUnwindSafe, catch_unwind};

use audience::template::{Diagnostic, check_expression};
use serde_json::Value;

const CASES: &str = include_str!("conformance/jsonata-suite/cases.json");

struct Case {
    id: String,
    expr: String,
    in_subset: bool,
}

/// Two expressions hold a lone surrogate (`$encodeUrl('\ud800')`, as a JSON escape), which no
/// Rust string can hold. They are checked with U+FFFD in its place (both are rejected for their
/// function anyway).
const LONE_SURROGATES: usize = 2;

/// `text` with every JSON escape of a lone surrogate replaced by `\uFFFD`, and how many there were.
fn without_lone_surrogates(text: &str) -> (String, usize) {
    let unit = |s: &str| s.get(2..6).and_then(|h| u16::from_str_radix(h, 16).ok()).filter(|_| s.starts_with("\\u"));
    let (mut out, mut replaced, mut rest) = (String::with_capacity(text.len()), 0, text);
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match unit(rest) {
            // a pair: kept
            Some(0xD800..=0xDBFF) if unit(&rest[6..]).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) => {
                out.push_str(&rest[..12]);
                rest = &rest[12..];
            }
            Some(0xD800..=0xDFFF) => {
                out.push_str("\\uFFFD");
                replaced += 1;
                rest = &rest[6..];
            }
            // any other escape, `\\` included, is copied as it is
            _ => {
                let len = rest[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
                out.push_str(&rest[..len]);
                rest = &rest[len..];
            }
        }
    }
    out.push_str(rest);
    (out, replaced)
}

fn cases() -> Vec<Case> {
    let (text, replaced) = without_lone_surrogates(CASES);
    assert_eq!(replaced, LONE_SURROGATES);
    let all: Vec<Value> = serde_json::from_str(&text).expect("cases.json is JSON");
    all.iter()
        .map(|c| Case {
            id: c["id"].as_str().unwrap_or("?").to_string(),
            expr: c["expr"].as_str().expect("every case has an expr").to_string(),
            in_subset: c["in_subset"].as_bool().expect("every case is marked"),
        })
        .collect()
}

/// What is wrong with one case's diagnostics, if anything.
fn problem(case: &Case, diags: &[Diagnostic]) -> Option<String> {
    let src = &case.expr;
    for d in diags {
        let (start, end) = (d.span.start as usize, d.span.end as usize);
        if start > end || end > src.len() || !src.is_char_boundary(start) || !src.is_char_boundary(end) {
            return Some(format!("{} has a bad span {start}..{end}", d.code));
        }
    }
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    match (case.in_subset, errors.as_slice()) {
        (true, []) | (false, [_, ..]) => None,
        (true, found) => {
            let found: Vec<_> = found.iter().map(|d| format!("{} {}", d.code, d.message)).collect();
            Some(format!("in the subset, but rejected: {found:?}"))
        }
        (false, []) => Some("outside the subset, but accepted".to_string()),
    }
}

#[test]
fn the_checker_agrees_with_the_suite_marking() {
    let cases = cases();
    assert_eq!(cases.len(), 1686);
    assert_eq!(cases.iter().filter(|c| c.in_subset).count(), 117);
    let mut failures = Vec::new();
    for case in &cases {
        let checked = catch_unwind(AssertUnwindSafe(|| check_expression(&case.expr)));
        let outcome = match checked {
            Ok(checked) => problem(case, &checked.diagnostics),
            Err(_) => Some("panicked".to_string()),
        };
        if let Some(what) = outcome {
            failures.push(format!("{} {:?}: {what}", case.id, case.expr));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn only_lone_surrogate_escapes_are_replaced() {
    let text = r#"["\ud800", "\uD834\uDD1E", "\\ud800", "\uDC00x", "é\n\"\\"]"#;
    let (out, replaced) = without_lone_surrogates(text);
    assert_eq!(out, r#"["\uFFFD", "\uD834\uDD1E", "\\ud800", "\uFFFDx", "é\n\"\\"]"#);
    assert_eq!(replaced, 2);
}
