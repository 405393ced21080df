//! Records refused inside a 2xx answer: an action's `response` setting (docs/design/interface.md, second
//! wave) and the reading of a body against the request it answers. Pure, and built without the
//! command line's I/O: the config checks and previews the setting with it, delivery's sender
//! reads the body and this decides which records of the request failed and why.
//!
//! Where the contract is silent (docs/design/decisions.md, "Refused records"):
//!
//! * **An entry that names no record of the request** (an index out of range or not a whole
//!   number, a value no record of the request has, a status array of another length than the
//!   request) means the answer cannot be matched with the request: every record of the request
//!   fails with that reason, to be sent again next run. Taking "all accepted but the ones found"
//!   would move the baseline past a record the API may have refused.
//! * **An entry that names a record already named** adds its reason to that record's: the record
//!   fails once, with every reason given for it (an API may list two errors of one record).
//! * **A value that several records of the request have** names each of them.
//! * **`failures` absent or `null`** in the body: nothing refused, except with `status`, where
//!   every record needs its entry (so the request fails whole). Present but not an array: the
//!   request fails whole.

use std::collections::HashMap;
use std::fmt;

/// The most bytes of a response body read for an action with a `response` setting (16 MiB).
pub const MAX_READ_BYTES: usize = 16 * 1024 * 1024;

/// A relative field path of the template language (`errors`, `result.items`, `` `error code` ``):
/// names separated by `.`, without `$`, filters or functions. Each step reads a key of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponsePath {
    steps: Vec<String>,
}

impl ResponsePath {
    /// Parses a path; the error says what is wrong with it, quoting nothing but the path's own
    /// characters.
    pub fn parse(text: &str) -> Result<ResponsePath, String> {
        let mut steps = Vec::new();
        let mut rest = text;
        loop {
            let (step, after) = if let Some(quoted) = rest.strip_prefix('`') {
                let Some(end) = quoted.find('`') else {
                    return Err("a backtick name is not closed".into());
                };
                if end == 0 {
                    return Err("a backtick name is empty".into());
                }
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = rest.find('.').unwrap_or(rest.len());
                let step = &rest[..end];
                check_name(step)?;
                (step, &rest[end..])
            };
            steps.push(step.to_owned());
            if after.is_empty() {
                return Ok(ResponsePath { steps });
            }
            rest = after.strip_prefix('.').ok_or_else(|| {
                format!("expected `.` after `{step}`: a path is names separated by dots, without filters or functions")
            })?;
        }
    }

    /// The value at this path under `value`, if every step finds a key of an object.
    pub fn get<'a>(&self, value: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        self.steps.iter().try_fold(value, |v, step| v.as_object()?.get(step))
    }
}

impl fmt::Display for ResponsePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if check_name(step).is_ok() { f.write_str(step)? } else { write!(f, "`{step}`")? }
        }
        Ok(())
    }
}

/// An unquoted name: a letter or `_`, then letters, digits or `_`.
fn check_name(step: &str) -> Result<(), String> {
    let mut chars = step.chars();
    match chars.next() {
        None => Err("a name is missing (an empty path, or two dots in a row)".into()),
        Some('$') => Err("a response path is relative: no `$` or `$$`".into()),
        Some(c) if !(c.is_alphabetic() || c == '_') => {
            Err(format!("`{step}` is not a name: write a name of the body, or quote it in backticks"))
        }
        _ if chars.all(|c| c.is_alphanumeric() || c == '_') => Ok(()),
        _ => Err(format!(
            "`{step}` is not a name: a path has no filters, functions or operators (quote a name with other characters in backticks)"
        )),
    }
}

/// How an entry of the failures array names its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Naming {
    /// By its 0-based position in the request's records block.
    Index(ResponsePath),
    /// By the value of this template field as sent (after normalising and hashing).
    Field {
        /// The template field whose sent value identifies the record.
        field: String,
        /// Where that value is in an entry.
        value: ResponsePath,
    },
    /// By its place: one entry per record, in request order; an entry whose status is not one
    /// of `ok` refuses its record.
    Status {
        /// Where the status is in an entry.
        status: ResponsePath,
        /// The statuses that accept a record.
        ok: Vec<String>,
    },
}

/// An action's `response` setting, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseRule {
    /// The array of entries, from the body's root.
    pub failures: ResponsePath,
    /// How an entry names the record it refuses.
    pub naming: Naming,
    /// The reason, in an entry (default: the entry as compact JSON).
    pub reason: Option<ResponsePath>,
}

/// What a 2xx body says about the records of its request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// The records refused, by position in the request (ascending, each once), with their
    /// reasons (unmasked: the caller masks); every other record succeeded.
    Refused(Vec<(usize, String)>),
    /// The body cannot be read against the request: every record fails with this reason.
    Unreadable(String),
}

impl ResponseRule {
    /// Reads `body` (complete when `complete`: not cut at [`MAX_READ_BYTES`]) as the answer to
    /// a request of `len` records. `values` gives, for a [`Naming::Field`] rule, the field's
    /// value as sent of each record of the request (`None` for a record without one).
    pub fn read(
        &self,
        body: &[u8],
        complete: bool,
        len: usize,
        values: impl FnOnce() -> Vec<Option<String>>,
    ) -> Reading {
        if !complete {
            return Reading::Unreadable(format!(
                "the response is longer than {} MiB, so the records it refuses cannot be read",
                MAX_READ_BYTES / (1024 * 1024)
            ));
        }
        let json: serde_json::Value = match serde_json::from_slice(body) {
            Ok(json) => json,
            Err(e) => {
                return Reading::Unreadable(format!(
                    "the response is not JSON ({}), so the records it refuses cannot be read",
                    json_error(&e)
                ));
            }
        };
        let entries = match self.failures.get(&json) {
            None | Some(serde_json::Value::Null) => {
                if matches!(self.naming, Naming::Status { .. }) && len > 0 {
                    return Reading::Unreadable(format!(
                        "the response has no `{}` array, which should hold a status for each record",
                        self.failures
                    ));
                }
                return Reading::Refused(Vec::new());
            }
            Some(serde_json::Value::Array(entries)) => entries,
            Some(other) => {
                return Reading::Unreadable(format!(
                    "`{}` in the response is {}, not an array",
                    self.failures,
                    kind(other)
                ));
            }
        };
        let mut refused: Vec<(usize, String)> = Vec::new();
        match &self.naming {
            Naming::Index(path) => {
                for (n, entry) in entries.iter().enumerate() {
                    let index = path.get(entry).and_then(serde_json::Value::as_u64).map(|i| i as usize);
                    match index {
                        Some(i) if i < len => refused.push((i, self.reason(entry))),
                        _ => {
                            let found = path.get(entry).map_or_else(|| "nothing".to_owned(), compact);
                            return Reading::Unreadable(no_record(n, &format!("its `{path}` is {found}"), len));
                        }
                    }
                }
            }
            Naming::Field { field, value } => {
                let sent = values();
                // Each value's records, so that a body of thousands of entries is read in one
                // pass rather than one scan of the request per entry.
                let mut by_value: HashMap<&str, Vec<usize>> = HashMap::with_capacity(sent.len());
                for (i, v) in sent.iter().enumerate().take(len) {
                    if let Some(v) = v {
                        by_value.entry(v.as_str()).or_default().push(i);
                    }
                }
                for (n, entry) in entries.iter().enumerate() {
                    let wanted = value.get(entry).and_then(text_of);
                    let named: &[usize] = wanted.as_deref().and_then(|w| by_value.get(w)).map_or(&[], Vec::as_slice);
                    if named.is_empty() {
                        let what = match wanted {
                            Some(_) => format!("no record of the request has that `{field}`"),
                            None => format!("it has no `{value}` value"),
                        };
                        return Reading::Unreadable(no_record(n, &what, len));
                    }
                    let reason = self.reason(entry);
                    refused.extend(named.iter().map(|&i| (i, reason.clone())));
                }
            }
            Naming::Status { status, ok } => {
                if entries.len() != len {
                    return Reading::Unreadable(format!(
                        "`{}` in the response has {} entries for a request of {len} records, so they cannot be matched with the records",
                        self.failures,
                        entries.len()
                    ));
                }
                for (i, entry) in entries.iter().enumerate() {
                    let accepted = status.get(entry).and_then(text_of).is_some_and(|s| ok.contains(&s));
                    if !accepted {
                        refused.push((i, self.reason(entry)));
                    }
                }
            }
        }
        Reading::Refused(merge(refused))
    }

    /// The reason an entry gives.
    fn reason(&self, entry: &serde_json::Value) -> String {
        match self.reason.as_ref().and_then(|p| p.get(entry)) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => compact(other),
            None => compact(entry),
        }
    }
}

/// One reason per record, in request order; a record named twice keeps both reasons.
fn merge(mut refused: Vec<(usize, String)>) -> Vec<(usize, String)> {
    // Stable: the reasons of one record keep the body's order.
    refused.sort_by_key(|(i, _)| *i);
    let mut out: Vec<(usize, String)> = Vec::with_capacity(refused.len());
    for (i, reason) in refused {
        match out.last_mut() {
            Some((last, reasons)) if *last == i => {
                reasons.push_str("; ");
                reasons.push_str(&reason);
            }
            _ => out.push((i, reason)),
        }
    }
    out
}

fn no_record(entry: usize, what: &str, len: usize) -> String {
    format!(
        "entry {entry} of the response names no record of the request of {len} records ({what}), so the response cannot be matched with the records"
    )
}

/// A scalar as text, to compare with a field's value or a status: a string as it is, a number
/// or a boolean as JSON writes it. `None` for null, arrays and objects.
fn text_of(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn compact(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Where the JSON broke, without quoting the body.
fn json_error(e: &serde_json::Error) -> String {
    if e.is_eof() && e.line() == 1 && e.column() == 0 {
        return "the body is empty".into();
    }
    format!("invalid at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> ResponsePath {
        ResponsePath::parse(p).unwrap()
    }

    fn by_index() -> ResponseRule {
        ResponseRule { failures: path("errors"), naming: Naming::Index(path("index")), reason: Some(path("message")) }
    }

    #[test]
    fn paths() {
        for ok in ["errors", "result.items", "meta.code", "`error code`.x", "_a1", "é"] {
            let p = ResponsePath::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(p.to_string(), ok);
        }
        for bad in ["", "a..b", "$.a", "$$.errors", "a[0]", "$count(a)", "a.", ".a", "a b", "`a", "``", "a-b", "1a"] {
            assert!(ResponsePath::parse(bad).is_err(), "{bad}");
        }
        let v: serde_json::Value = serde_json::json!({"result": {"items": [1]}, "a b": {"x": 2}});
        assert_eq!(path("result.items").get(&v), Some(&serde_json::json!([1])));
        assert_eq!(path("`a b`.x").get(&v), Some(&serde_json::json!(2)));
        assert_eq!(path("result.none").get(&v), None);
        assert_eq!(path("result.items.x").get(&v), None);
    }

    fn read(rule: &ResponseRule, body: &str, len: usize) -> Reading {
        let values = || (0..len).map(|i| Some(format!("v{i}"))).collect();
        rule.read(body.as_bytes(), true, len, values)
    }

    fn refused(pairs: &[(usize, &str)]) -> Reading {
        Reading::Refused(pairs.iter().map(|(i, r)| (*i, (*r).to_owned())).collect())
    }

    #[test]
    fn by_index_table() {
        let rule = by_index();
        let table: &[(&str, Reading)] = &[
            (r#"{"errors": []}"#, refused(&[])),
            (r#"{}"#, refused(&[])),
            (r#"{"errors": null}"#, refused(&[])),
            (
                r#"{"errors": [{"index": 3, "message": "bad email"}, {"index": 0}]}"#,
                refused(&[(0, r#"{"index":0}"#), (3, "bad email")]),
            ),
            // Named twice: one failure with both reasons, in the body's order.
            (r#"{"errors": [{"index": 1, "message": "a"}, {"index": 1, "message": "b"}]}"#, refused(&[(1, "a; b")])),
            (r#"{"errors": [{"index": 1, "message": {"code": 7}}]}"#, refused(&[(1, r#"{"code":7}"#)])),
        ];
        for (body, want) in table {
            assert_eq!(read(&rule, body, 4), *want, "{body}");
        }
        let unreadable = [
            (
                r#"{"errors": [{"index": 4}]}"#,
                "entry 0 of the response names no record of the request of 4 records (its `index` is 4)",
            ),
            (r#"{"errors": [{"index": 1}, {"index": -1}]}"#, "entry 1 of the response names no record"),
            (r#"{"errors": [{"index": "1"}]}"#, r#"(its `index` is "1")"#),
            (r#"{"errors": [{}]}"#, "(its `index` is nothing)"),
            (r#"{"errors": {"index": 1}}"#, "`errors` in the response is an object, not an array"),
            ("not json", "the response is not JSON (invalid at line 1 column 2)"),
            ("", "the response is not JSON (the body is empty)"),
        ];
        for (body, want) in unreadable {
            match read(&rule, body, 4) {
                Reading::Unreadable(reason) => assert!(reason.contains(want), "{body}: {reason}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        match rule.read(b"{\"errors\": []", false, 4, Vec::new) {
            Reading::Unreadable(reason) => assert!(reason.contains("longer than 16 MiB"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn by_field_table() {
        let rule = ResponseRule {
            failures: path("result.rejected"),
            naming: Naming::Field { field: "email".into(), value: path("identifier") },
            reason: None,
        };
        let values =
            || vec![Some("a".to_owned()), Some("b".to_owned()), None, Some("a".to_owned()), Some("7".to_owned())];
        let body = br#"{"result": {"rejected": [{"identifier": "b", "why": "x"}, {"identifier": 7}]}}"#;
        assert_eq!(
            rule.read(body, true, 5, values),
            refused(&[(1, r#"{"identifier":"b","why":"x"}"#), (4, r#"{"identifier":7}"#)])
        );
        // A value two records share names both.
        let body = br#"{"result": {"rejected": [{"identifier": "a"}]}}"#;
        assert_eq!(
            rule.read(body, true, 5, values),
            refused(&[(0, r#"{"identifier":"a"}"#), (3, r#"{"identifier":"a"}"#)])
        );
        for body in
            [r#"{"result": {"rejected": [{"identifier": "zz"}]}}"#, r#"{"result": {"rejected": [{"other": 1}]}}"#]
        {
            assert!(matches!(rule.read(body.as_bytes(), true, 5, values), Reading::Unreadable(_)), "{body}");
        }
    }

    #[test]
    fn by_status_table() {
        let rule = ResponseRule {
            failures: path("results"),
            naming: Naming::Status { status: path("status"), ok: vec!["ok".into(), "200".into()] },
            reason: Some(path("error")),
        };
        let body =
            r#"{"results": [{"status": "ok"}, {"status": "invalid", "error": "bad phone"}, {"status": 200}, {}]}"#;
        assert_eq!(read(&rule, body, 4), refused(&[(1, "bad phone"), (3, "{}")]));
        for body in [r#"{"results": [{"status": "ok"}]}"#, r#"{}"#, r#"{"results": 3}"#] {
            assert!(matches!(read(&rule, body, 4), Reading::Unreadable(_)), "{body}");
        }
        // No records, no entries: nothing to read.
        assert_eq!(read(&rule, "{}", 0), refused(&[]));
    }
}
