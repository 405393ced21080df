//! `audience preview`: the exact request one action would send for sample records, built with
//! the real field pipeline and template, and sent nowhere.
//!
//! Choices where docs/design/interface.md is silent:
//! * Sample records (given or generated) are keyed by template field, and the same records
//!   serve every action (the seed's troubleshooting: "the same sample records and action
//!   type"). A key this action sends sets its field; a key that is somebody's field (of another
//!   action's template, a static field, a field the sync maps or this template's field the sync
//!   does not map, which is never sent) is ignored for this action; only a key that is nobody's
//!   field (a typo) rejects its record, with the reason, rather than being dropped silently.
//! * Generated samples hold a value for each field the sync maps (every non-static field when
//!   the config has no sync).
//! * The first batch is the first `batch_size` accepted records, fewer when `max_request_bytes`
//!   cuts it (a record too large on its own is rejected, as the delivery layer would fail it).
//!   Every rejected sample is listed, not only those before the batch filled.
//! * When nothing would be sent, `body` and `body_text` are both null.
//! * Without `--show-secrets`, secrets are masked in the URL and headers by position, and in
//!   the body wherever their text occurs (a static value or connection value from the
//!   environment): `body_text` is then the exact bytes but for those.
//! * A config without syncs previews with a sample connection (`audienceId` "1234567890",
//!   `audienceName` "Sample audience") and `hash_pii = true`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::fields::{FieldPlan, FieldSpec, OwnedValue, Scratch, Source};
use crate::http::response::{Naming, Reading, ResponseRule};
use crate::template::Diagnostic;

use super::model::{ActionKind, Config, Sync};
use super::request::{ConnectionTexts, PreparedAction};
use super::samples::sample_records;
use super::secret::{MASK, Redactor, Text};

/// What to preview.
#[derive(Clone, Debug)]
pub struct PreviewOptions {
    /// The action whose request is previewed.
    pub action: ActionKind,
    /// The sync; `None` is the only one.
    pub sync: Option<String>,
    /// Sample records (a JSON array's elements), or `None` to generate `count`.
    pub records: Option<Vec<Value>>,
    /// How many sample records to generate when `records` is `None`.
    pub count: usize,
    /// Show secret values as they are instead of `***` (`--show-secrets`).
    pub show_secrets: bool,
}

/// The preview of one request (the JSON of docs/design/interface.md).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Preview {
    /// The HTTP method.
    pub method: String,
    /// The full URL, placeholders replaced and percent-encoded.
    pub url: String,
    /// Header name to value, in sending order.
    pub headers: Map<String, Value>,
    /// The body as JSON; null when every sample was rejected.
    pub body: Option<Value>,
    /// The exact bytes of the body (secrets masked unless shown); null with `body`.
    pub body_text: Option<String>,
    /// Sample records the field pipeline refused, left out of the body.
    pub rejected: Vec<Rejected>,
    /// How a sample answer (`--response FILE`) is read against this request; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseReading>,
}

/// A sample 2xx answer read with the action's `response` setting, against the previewed
/// request: which of its records the answer refuses, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseReading {
    /// Sample records (indexes as in `rejected`) the answer refuses, with the reason logged.
    pub refused: Vec<Rejected>,
    /// Sample records of the request the answer accepts.
    pub succeeded: Vec<usize>,
    /// When the answer cannot be read against the request: why (every record of the request
    /// then fails, to be sent again next run).
    pub unreadable: Option<String>,
}

/// A sample record the field pipeline (or the preview) refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Counting the sample records from 0.
    pub index: usize,
    /// Why it was refused, secrets masked.
    pub error: String,
}

/// Why there is no preview.
#[derive(Clone, Debug)]
pub enum PreviewError {
    /// `--sync NAME` names no sync.
    UnknownSync {
        /// The name given.
        name: String,
        /// The config's sync names, in file order.
        names: Vec<String>,
    },
    /// Several syncs and no `--sync`.
    SeveralSyncs {
        /// The config's sync names, in file order.
        names: Vec<String>,
    },
    /// The template failed at run time on the samples (a diagnostic within the template).
    Render(Diagnostic),
    /// The action could not be prepared (should not happen for a checked config).
    Prepare(String),
    /// `--response` for an action without a `response` setting.
    NoResponseSetting(ActionKind),
}

impl std::fmt::Display for PreviewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PreviewError::UnknownSync { name, names } => {
                write!(f, "there is no sync named {name}; the syncs are: {}", names.join(", "))
            }
            PreviewError::SeveralSyncs { names } => {
                write!(f, "the config has several syncs: choose one with --sync ({})", names.join(", "))
            }
            PreviewError::Render(d) => write!(f, "the template failed on the samples: [{}] {}", d.code, d.message),
            PreviewError::Prepare(m) => f.write_str(m),
            PreviewError::NoResponseSetting(kind) => write!(
                f,
                "the {kind} action has no response setting, so a 2xx answer accepts every record: add [destination.actions.{kind}.response] to read one"
            ),
        }
    }
}

/// The sync that supplies the connection, static values and `hash_pii`.
fn choose_sync<'c>(config: &'c Config, name: Option<&str>) -> Result<Option<&'c Sync>, PreviewError> {
    let names = || config.syncs.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    match name {
        Some(name) => config
            .sync(name)
            .map(Some)
            .ok_or_else(|| PreviewError::UnknownSync { name: name.to_owned(), names: names() }),
        None => match config.syncs.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some(only)),
            _ => Err(PreviewError::SeveralSyncs { names: names() }),
        },
    }
}

/// Builds the preview of `options.action`.
pub fn preview(config: &Config, options: &PreviewOptions) -> Result<Preview, PreviewError> {
    build(config, options, None)
}

/// Builds the preview of `options.action`, and reads `answer` (a sample 2xx body) against its
/// request with the action's `response` setting.
pub fn preview_response(config: &Config, options: &PreviewOptions, answer: &[u8]) -> Result<Preview, PreviewError> {
    build(config, options, Some(answer))
}

fn build(config: &Config, options: &PreviewOptions, answer: Option<&[u8]>) -> Result<Preview, PreviewError> {
    let sync = choose_sync(config, options.sync.as_deref())?;
    let destination = &config.destination;
    let action = destination.action(options.action);
    let fields: Vec<&str> = action.field_names();
    let hash_pii = sync.is_none_or(|s| s.hash_pii);

    // Slot i of a sample row is template field i; the plan reads mapped fields from there.
    let mapped = |field: &str| sync.is_none_or(|s| s.column(field).is_some());
    let mut specs = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let settings = destination.field(field);
        let source = if settings.is_static {
            sync.and_then(|s| s.static_value(field)).map_or(Source::Unmapped, |s| Source::Static(s.value.clone()))
        } else if mapped(field) {
            Source::Column(i)
        } else {
            Source::Unmapped
        };
        specs.push(FieldSpec::new(*field, settings, source));
    }
    let plan = FieldPlan::compile(&specs, hash_pii).map_err(|e| PreviewError::Prepare(e.to_string()))?;
    let connection = match sync {
        Some(s) => s.connection_texts(),
        None => {
            ConnectionTexts { audience_id: Text::plain("1234567890"), audience_name: Text::plain("Sample audience") }
        }
    };
    let sync_name = sync.map_or_else(String::new, |s| s.name.clone());
    let prepared = PreparedAction::with_plan(config, sync_name, options.action, connection, plan);

    let records = match &options.records {
        Some(records) => records.clone(),
        None => {
            let generated: Vec<_> = fields
                .iter()
                .map(|f| (*f, destination.field(f)))
                .filter(|(f, settings)| !settings.is_static && mapped(f))
                .collect();
            sample_records(&generated, options.count, hash_pii)
        }
    };

    let mut rejected = Vec::new();
    let mut accepted: Vec<(usize, Vec<OwnedValue>)> = Vec::new();
    let (mut scratch, mut probe) = (Scratch::default(), prepared.new_batch());
    for (index, record) in records.iter().enumerate() {
        let row = match sample_row(record, &fields, destination, sync) {
            Ok(row) => row,
            Err(error) => {
                rejected.push(Rejected { index, error });
                continue;
            }
        };
        probe.clear();
        match prepared.plan.process(row.as_slice(), &mut probe, &mut scratch) {
            Ok(_) => accepted.push((index, row)),
            Err(e) => rejected.push(Rejected { index, error: e.to_string() }),
        }
    }

    let body = first_batch(&prepared, &accepted, &mut rejected, &mut scratch)?;
    rejected.sort_by_key(|r| r.index);
    let redactor = if options.show_secrets { Redactor::default() } else { config.redactor.clone() };
    let response = match answer {
        None => None,
        Some(answer) => {
            let rule = prepared.response.clone().ok_or(PreviewError::NoResponseSetting(options.action))?;
            let sent = body.as_ref().map_or(&[][..], |(_, records)| *records);
            Some(read_answer(&prepared, &rule, sent, answer, &mut scratch, &redactor))
        }
    };
    let body = body.map(|(bytes, _)| bytes);
    let (body, body_text) = match body {
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let json = serde_json::from_str::<Value>(&text).ok().map(|v| mask_json(v, &redactor));
            (json, Some(redactor.redact(&text).into_owned()))
        }
        None => (None, None),
    };
    let headers =
        prepared.shown_headers(options.show_secrets).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let url = if options.show_secrets { prepared.url.as_str().to_owned() } else { prepared.shown_url.clone() };
    Ok(Preview { method: prepared.method.as_str().to_owned(), url, headers, body, body_text, rejected, response })
}

/// Reads a sample answer against the records of the previewed request, as delivery would.
fn read_answer(
    prepared: &PreparedAction,
    rule: &ResponseRule,
    sent: &[(usize, Vec<OwnedValue>)],
    answer: &[u8],
    scratch: &mut Scratch,
    redactor: &Redactor,
) -> ResponseReading {
    let mut batch = prepared.new_batch();
    for (_, row) in sent {
        let _ = prepared.plan.process(row.as_slice(), &mut batch, scratch);
    }
    // The values as sent, read as delivery reads them (`FieldValue::quoted_text`).
    let values = || match &rule.naming {
        Naming::Field { field, .. } => {
            let slot = prepared.template.fields().iter().position(|f| f.name == *field);
            (0..sent.len())
                .map(|i| slot.filter(|_| i < batch.len()).and_then(|s| batch.get(i, s).quoted_text()))
                .collect()
        }
        _ => Vec::new(),
    };
    let complete = answer.len() <= crate::http::response::MAX_READ_BYTES;
    match rule.read(answer, complete, sent.len(), values) {
        Reading::Unreadable(why) => ResponseReading {
            refused: Vec::new(),
            succeeded: Vec::new(),
            unreadable: Some(redactor.redact(&why).into_owned()),
        },
        Reading::Refused(refused) => {
            let named: Vec<usize> = refused.iter().map(|(at, _)| *at).collect();
            ResponseReading {
                refused: refused
                    .into_iter()
                    .map(|(at, why)| Rejected { index: sent[at].0, error: redactor.redact(&why).into_owned() })
                    .collect(),
                succeeded: (0..sent.len()).filter(|at| !named.contains(at)).map(|at| sent[at].0).collect(),
                unreadable: None,
            }
        }
    }
}

/// A sample record as a row whose slot `i` is template field `i`.
fn sample_row(
    record: &Value,
    fields: &[&str],
    destination: &super::model::Destination,
    sync: Option<&Sync>,
) -> Result<Vec<OwnedValue>, String> {
    let Value::Object(object) = record else {
        return Err("a sample record must be a JSON object keyed by template field".to_owned());
    };
    let mut row = vec![OwnedValue::Null; fields.len()];
    let sent = |key: &str| !destination.field(key).is_static && sync.is_none_or(|s| s.column(key).is_some());
    let somebodys = |key: &str| {
        destination.actions.iter().any(|a| a.field_names().contains(&key))
            || sync.is_some_and(|s| s.column(key).is_some() || s.static_value(key).is_some())
    };
    for (key, value) in object {
        match fields.iter().position(|f| f == key) {
            Some(slot) if sent(key) => row[slot] = OwnedValue::from(&crate::fields::WarehouseValue::from(value)),
            // Shared samples: another action's field, or one this action does not send.
            _ if somebodys(key) => {}
            _ => {
                let hint = did_you_mean(key, fields).map_or_else(String::new, |f| format!("; did you mean {f}?"));
                return Err(format!(
                    "{key} is not a field of any action's template nor of the sync (this action's fields: {}){hint}",
                    fields.join(", ")
                ));
            }
        }
    }
    Ok(row)
}

/// The field one edit (a character added, removed, changed, or two swapped) away from `key`,
/// when there is exactly one.
fn did_you_mean<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    let near: Vec<&str> = fields.iter().copied().filter(|f| one_edit(key, f)).collect();
    match near.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

fn one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match (ra.len(), rb.len()) {
        (0, 0) => false,
        (x, y) if x == y => ra[1..] == rb[1..] || (x >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..]),
        (x, y) if x + 1 == y => ra == &rb[1..],
        (x, y) if y + 1 == x => &ra[1..] == rb,
        _ => false,
    }
}

/// Renders the first batch: up to `batch_size` accepted records, as many as fit in
/// `max_request_bytes`; the body and the records in it. `None` when there is nothing to send.
#[allow(clippy::type_complexity)]
fn first_batch<'a>(
    prepared: &PreparedAction,
    accepted: &'a [(usize, Vec<OwnedValue>)],
    rejected: &mut Vec<Rejected>,
    scratch: &mut Scratch,
) -> Result<Option<(Vec<u8>, &'a [(usize, Vec<OwnedValue>)])>, PreviewError> {
    let mut start = 0;
    let mut batch = prepared.new_batch();
    let mut render = |records: &[(usize, Vec<OwnedValue>)]| -> Result<Vec<u8>, PreviewError> {
        batch.clear();
        for (_, row) in records {
            // Accepted once already: the pipeline is deterministic.
            let _ = prepared.plan.process(row.as_slice(), &mut batch, scratch);
        }
        let mut out = Vec::new();
        prepared.render(&batch, &mut out).map_err(PreviewError::Render)?;
        Ok(out)
    };
    while start < accepted.len() {
        let window = &accepted[start..accepted.len().min(start + prepared.batch_size)];
        let body = render(window)?;
        let Some(cap) = prepared.max_request_bytes.map(|c| c as usize) else { return Ok(Some((body, window))) };
        if body.len() <= cap {
            return Ok(Some((body, window)));
        }
        // Bodies grow with their records: find the most that fit.
        let (mut fits, mut too_many) = (0, window.len());
        while too_many - fits > 1 {
            let mid = (fits + too_many) / 2;
            if render(&window[..mid])?.len() <= cap { fits = mid } else { too_many = mid }
        }
        if fits > 0 {
            return render(&window[..fits]).map(|body| Some((body, &window[..fits])));
        }
        rejected.push(Rejected {
            index: window[0].0,
            error: format!("the request body for this record alone is over max_request_bytes ({cap})"),
        });
        start += 1;
    }
    Ok(None)
}

/// `value` with every secret masked in its strings; a number whose text holds a secret becomes
/// the string `***`.
fn mask_json(value: Value, redactor: &Redactor) -> Value {
    if redactor.is_empty() {
        return value;
    }
    match value {
        Value::String(s) => Value::String(redactor.redact(&s).into_owned()),
        Value::Number(n) => {
            let text = n.to_string();
            if redactor.redact(&text) != text { Value::String(MASK.to_owned()) } else { Value::Number(n) }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| mask_json(v, redactor)).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, mask_json(v, redactor))).collect()),
        other => other,
    }
}

/// The records of a `--records` file: a JSON array.
pub fn parse_records(text: &str) -> Result<Vec<Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => Err("the records file must hold a JSON array of objects".to_owned()),
        Err(e) => Err(format!("the records file is not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_one_edit_from_a_field_is_suggested() {
        let fields = ["email", "user_id", "phone"];
        for (key, want) in [
            ("emial", Some("email")),
            ("emai", Some("email")),
            ("e-mail", Some("email")),
            ("emails", Some("email")),
            ("userid", Some("user_id")),
            ("phone", None),
            ("mail", Some("email")),
            ("mai", None),
            ("xyz", None),
        ] {
            assert_eq!(did_you_mean(key, &fields), want, "{key}");
        }
    }
}
