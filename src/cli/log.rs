//! The log lines of `audience run` and `audience sync`: a small `tracing` subscriber that prints each event as one
//! line on stderr, for people on a terminal and as a JSON object otherwise (docs/design/interface.md: "JSON
//! lines when stderr is not a terminal"), in the shape `sync` uses for its own log lines
//! (`level`, `sync`, `message`), with a `time` and the event's other fields beside them.
//!
//! Written by hand rather than with `tracing-subscriber`: the commands need events only (no span
//! timing, no per-module filter syntax), and this is a hundred lines where the crate and its
//! JSON feature would be five more dependencies. Spans are not printed, but an event inside a
//! span that names a `sync` and a `run` (delivery's) carries them, so every line says which
//! run it is about.
//!
//! `AUDIENCE_LOG=error|warn|info|debug|trace` sets the level (default `info`). Events from
//! other crates (hyper, reqwest) are shown from `warn` up only. Nothing here adds values: the
//! events themselves never carry secrets or record values.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Prints events as lines on stderr.
pub struct Lines {
    max: Level,
    json: bool,
    /// The `sync` and `run` of each open span that has them, by span id.
    spans: Mutex<HashMap<u64, SyncAndRun>>,
    next_id: AtomicU64,
}

/// A span's `sync` and `run` fields.
type SyncAndRun = (Option<String>, Option<Value>);

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl Lines {
    /// `json`: JSON lines, else human lines. The level comes from `AUDIENCE_LOG`.
    pub fn new(json: bool) -> Lines {
        let max = std::env::var("AUDIENCE_LOG").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(Level::INFO);
        Lines { max, json, spans: Mutex::new(HashMap::new()), next_id: AtomicU64::new(1) }
    }

    /// Makes this the process's subscriber (once; later calls change nothing).
    pub fn install(self) {
        let _ = tracing::subscriber::set_global_default(self);
    }
}

impl Subscriber for Lines {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        // Level order: ERROR < WARN < INFO < DEBUG < TRACE ("more verbose is greater").
        let ours = meta.target().starts_with("audience");
        *meta.level() <= self.max && (ours || *meta.level() <= Level::WARN)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::from_level(self.max))
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if fields.sync.is_some() || fields.run.is_some() || attrs.fields().field("run").is_some() {
            self.spans.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (fields.sync, fields.run));
        }
        Id::from_u64(id)
    }

    fn try_close(&self, id: Id) -> bool {
        self.spans.lock().unwrap_or_else(|p| p.into_inner()).remove(&id.into_u64());
        true
    }

    fn record(&self, id: &Id, values: &Record<'_>) {
        // A span's `run` is known once the run row exists: recorded then.
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((sync, run)) = spans.get_mut(&id.into_u64()) {
            *sync = fields.sync.or(sync.take());
            *run = fields.run.or(run.take());
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.sync.is_none() {
            let spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
            let found = ENTERED.with(|e| e.borrow().iter().rev().find_map(|id| spans.get(id).cloned()));
            if let Some((sync, run)) = found {
                fields.sync = sync;
                fields.run = fields.run.or(run);
            }
        }
        let level = level_name(*event.metadata().level());
        let line = if self.json { fields.json(level) } else { fields.human(level) };
        // One write per line, so that lines from several threads never interleave; a progress bar
        // steps aside for it.
        crate::delivery::progress::suspend(|| {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        });
    }

    fn enter(&self, id: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(id.into_u64()));
    }

    fn exit(&self, id: &Id) {
        ENTERED.with(|e| {
            let mut entered = e.borrow_mut();
            if let Some(at) = entered.iter().rposition(|x| *x == id.into_u64()) {
                entered.remove(at);
            }
        });
    }
}

/// The level as `sync`'s log lines spell it.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// An event's message and other fields, in the order written.
#[derive(Default)]
struct Fields {
    message: String,
    sync: Option<String>,
    /// The run's id (the field `run`).
    run: Option<Value>,
    others: Vec<(&'static str, Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            ("message", Value::String(s)) => self.message = s,
            ("sync", Value::String(s)) => self.sync = Some(s),
            ("run", run) => self.run = Some(run),
            (name, value) => self.others.push((name, value)),
        }
    }

    /// `{"time": ..., "level": ..., "sync": ..., "run": ..., "message": ..., other fields}`
    /// (`sync` and `run` only when the event is about one).
    fn json(self, level: &str) -> String {
        let mut object = Map::new();
        object.insert("time".into(), Value::String(now()));
        object.insert("level".into(), Value::String(level.into()));
        if let Some(sync) = self.sync {
            object.insert("sync".into(), Value::String(sync));
        }
        if let Some(run) = self.run {
            object.insert("run".into(), run);
        }
        object.insert("message".into(), Value::String(self.message));
        for (name, value) in self.others {
            object.insert(name.into(), value);
        }
        let mut line = Value::Object(object).to_string();
        line.push('\n');
        line
    }

    /// `2025-03-01T06:30:00.000Z info    high_value run 3: message (key=value)`: fields whose
    /// value the message already shows are left out.
    fn human(self, level: &str) -> String {
        let mut line = format!("{} {level:<7} ", now());
        match (&self.sync, &self.run) {
            (Some(sync), Some(run)) => _ = write!(line, "{sync} run {run}: "),
            (Some(sync), None) => _ = write!(line, "{sync}: "),
            _ => {}
        }
        line.push_str(&self.message);
        let extra: Vec<String> = self
            .others
            .iter()
            .map(|(name, value)| match value {
                Value::String(s) => (name, s.clone()),
                other => (name, other.to_string()),
            })
            .filter(|(_, shown)| !shows(&self.message, shown))
            .map(|(name, shown)| format!("{name}={shown}"))
            .collect();
        if !extra.is_empty() {
            let _ = write!(line, " ({})", extra.join(", "));
        }
        line.push('\n');
        line
    }
}

/// Whether `message` holds `value` as a whole word (so that `2` is not found in `2025`).
fn shows(message: &str, value: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    !value.is_empty()
        && message.match_indices(value).any(|(at, _)| {
            !word(message[..at].chars().next_back()) && !word(message[at + value.len()..].chars().next())
        })
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
}

/// Now, RFC 3339 in UTC with milliseconds (as the state tables write timestamps).
fn now() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(message: &str, sync: Option<&str>, others: Vec<(&'static str, Value)>) -> Fields {
        Fields { message: message.into(), sync: sync.map(str::to_owned), run: None, others }
    }

    #[test]
    fn json_lines_have_the_shape_of_sync_logs() {
        let line = fields(
            "next run at 2025-03-01T06:30:00Z",
            Some("high_value"),
            vec![("next_run", Value::String("2025-03-01T06:30:00Z".into()))],
        )
        .json("info");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "info");
        assert_eq!(v["sync"], "high_value");
        assert_eq!(v["message"], "next run at 2025-03-01T06:30:00Z");
        assert_eq!(v["next_run"], "2025-03-01T06:30:00Z");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
    }

    #[test]
    fn human_lines_skip_fields_the_message_shows() {
        let line = fields(
            "next run at 2025-03-01T06:30:00Z",
            Some("high_value"),
            vec![("next_run", Value::String("2025-03-01T06:30:00Z".into())), ("runs", Value::from(2))],
        )
        .human("info");
        assert!(line.ends_with("info    high_value: next run at 2025-03-01T06:30:00Z (runs=2)\n"), "{line}");
        assert!(shows("run 3 succeeded: 10 inserted", "10") && shows("a b", "b") && !shows("2025", "2"));
    }
}
