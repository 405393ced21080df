//! What the studio reads of a sync's warehouse without running the sync: the model's first
//! rows as sample records ([`model_sample`]), and the next run's dry run ([`dry_run`]), which
//! is `audience sync --dry-run`'s own code path ([`run_job`]), so that both give one answer.
//!
//! Choices where docs/design/interface.md is silent:
//!
//! * The first rows are the first the model returns (`LIMIT N` on the model, no order of its
//!   own: a model that wants an order says `ORDER BY`). Each becomes a sample record keyed by
//!   template field, a field holding its column's value in its JSON form (the mapping step of
//!   the field pipeline; the preview runs the rest); a value with no JSON form (bytes) is left
//!   out, and the row's refusal says why.
//! * Every row also goes through each action's real field pipeline, prepared as a run prepares
//!   it (the model's columns resolved, static values, `hash_pii`): the rows it refuses are
//!   listed with the action and the reason, as the sync log would give it. A row whose key is
//!   null is listed too (a run counts it invalid).
//! * Strings holding a secret of the config are masked in the records, as in previews.

use std::cell::RefCell;

use serde::Serialize;
use serde_json::{Map, Value};

use super::connect::{connect, run_job};
use super::endpoint::delivery_client;
use super::run::{Job, RunOptions, prepare};
use super::summary::{Status, SyncSummary};
use crate::delivery::StopToken;
use crate::destination::ActionKind;
use crate::fields::Scratch;
use crate::warehouse::{SyncName, Warehouse, ident};

/// The most rows [`model_sample`] reads: samples are for reading, not for loading a model.
pub const MAX_SAMPLE_ROWS: usize = 1000;

/// The first rows of a sync's model, as sample records.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSample {
    /// The sync whose model was read.
    pub sync: String,
    /// The sample records, keyed by template field (the fields the sync maps), in the order
    /// the model returned the rows.
    pub records: Vec<Map<String, Value>>,
    /// Each record's primary key as the sync log writes it (`None`: null).
    pub keys: Vec<Option<String>>,
    /// The rows the field pipeline of an action refuses, or that a run counts invalid.
    pub refused: Vec<RefusedRow>,
}

/// A model row a run would not send, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedRow {
    /// The record's index in [`ModelSample::records`].
    pub index: usize,
    /// Its primary key as text (`None`: null).
    pub key: Option<String>,
    /// The action whose pipeline refuses it (`add`, `update`, `remove`); `None` for an invalid
    /// row (a null key), which no action sends.
    pub action: Option<&'static str>,
    /// Why, as the sync log gives it (never a value; secrets masked).
    pub reason: String,
}

/// Reads the first `limit` rows (at most [`MAX_SAMPLE_ROWS`]) of the job's model from its
/// warehouse. The error says what failed, secrets masked.
pub async fn model_sample(job: &Job<'_>, limit: usize) -> Result<ModelSample, String> {
    let redact = |text: &str| job.config.redactor.redact(text).into_owned();
    let name = SyncName::new(&job.sync.name).map_err(|e| e.to_string())?;
    let mut w = connect(job.sync).await.map_err(|e| redact(&e.to_string()))?;
    let (spec, actions) = prepare(&mut w, job, &name).await.map_err(|halt| redact(&halt.message))?;
    // Where each mapped field's column is in the rows read.
    let fields: Vec<(&str, Option<usize>)> = job
        .sync
        .map
        .iter()
        .map(|(field, column)| {
            let at = ident::resolve_column(column.as_str(), &spec.columns)
                .and_then(|resolved| spec.columns.iter().position(|c| c == resolved));
            (field.as_str(), at)
        })
        .collect();
    let mut sample =
        ModelSample { sync: job.sync.name.clone(), records: Vec::new(), keys: Vec::new(), refused: Vec::new() };
    let mut scratch = Scratch::default();
    let mut batches = ActionKind::ALL.map(|kind| actions.get(kind).new_batch());
    w.model_rows(&spec, limit.min(MAX_SAMPLE_ROWS), &mut |key, row| {
        let index = sample.records.len();
        let mut record = Map::new();
        for (field, at) in &fields {
            let value = at.and_then(|i| row.value(i)).and_then(|v| v.to_json());
            if let Some(value) = value {
                record.insert((*field).to_owned(), mask(value, &redact));
            }
        }
        let refuse = |action, reason: String| RefusedRow { index, key: key.map(str::to_owned), action, reason };
        if key.is_none() {
            sample.refused.push(refuse(None, "the primary key is null: a run counts the row invalid".to_owned()));
        }
        for kind in ActionKind::ALL {
            let batch = &mut batches[kind.index()];
            batch.clear();
            if let Err(e) = actions.get(kind).plan.process(row, batch, &mut scratch) {
                sample.refused.push(refuse(Some(kind.name()), redact(&e.to_string())));
            }
        }
        sample.records.push(record);
        sample.keys.push(key.map(str::to_owned));
    })
    .await
    .map_err(|e| redact(&e.to_string()))?;
    Ok(sample)
}

/// Strings with a secret of the config masked.
fn mask(value: Value, redact: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(redact(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| mask(v, redact)).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, mask(v, redact))).collect()),
        other => other,
    }
}

/// The next run's dry run, exactly as `audience sync --dry-run --sync NAME` runs it (no
/// progress bars): the counts, the samples of each action, and the notices it logged.
pub async fn dry_run(job: &Job<'_>) -> (SyncSummary, Vec<String>) {
    let options = RunOptions { dry_run: true, progress: false, ..RunOptions::default() };
    let client = match delivery_client(job.config) {
        Ok(client) => client,
        Err(e) => {
            let mut s = SyncSummary::new(&job.sync.name, true);
            s.status = Status::Failed;
            s.error = Some(job.config.redactor.redact(&e.to_string()).into_owned());
            return (s, Vec::new());
        }
    };
    let notices = RefCell::new(Vec::new());
    let notice = |message: &str| notices.borrow_mut().push(job.config.redactor.redact(message).into_owned());
    let summary = run_job(job, &client, &StopToken::new(), &options, &notice).await;
    (summary, notices.into_inner())
}
