//! What a run reports: the summary of docs/design/interface.md's `sync --format json`, its status and its
//! exit code.

use serde::Serialize;

use crate::warehouse::RunCounts;
use serde_json::Value;

/// How a run ended (docs/design/interface.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every record of the delta was accepted, and no row was invalid.
    Succeeded,
    /// The run went through, but some records failed or some rows were invalid (logged, and
    /// retried next run).
    Partial,
    /// The run stopped before the end: the lock was held, the mass-removal guard tripped, the
    /// API rejected the configuration (401/403/404/405), or a signal came.
    Stopped,
    /// The configuration or the warehouse failed the run.
    Failed,
}

/// Why a run stopped before the end ([`Status::Stopped`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Another run of the sync holds the lock: nothing was done (the run has no id).
    LockHeld,
    /// The deletes would exceed `max_removal_share`: nothing was sent.
    MassRemoval,
    /// The API answered 401, 403, 404 or 405: the configuration is wrong.
    Rejected,
    /// SIGINT or SIGTERM: the requests in flight finished and were recorded.
    Interrupted,
}

/// Exit codes of docs/design/interface.md.
pub mod exit {
    /// The run finished and every record was accepted, or it was a dry run.
    pub const OK: i32 = 0;
    /// The run stopped (lock held, mass-removal guard, 401/403/404/405, warehouse error) or
    /// failed.
    pub const STOPPED: i32 = 1;
    /// The run finished but some records failed or were invalid (logged, retried next run).
    pub const RECORDS_FAILED: i32 = 3;
    /// SIGINT or SIGTERM, after the outcomes of the requests in flight were recorded.
    pub const INTERRUPTED: i32 = 130;
}

/// One sync's run, as `audience sync` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct SyncSummary {
    /// The sync's name.
    pub sync: String,
    /// `null` for a dry run (it records no run) and for a run stopped before it got an id.
    pub run_id: Option<i64>,
    /// How the run ended.
    pub status: Status,
    /// Why the run stopped or failed.
    pub error: Option<String>,
    /// What the run did, as its run row stores it (in a dry run: what it would send). In the
    /// JSON, its fields stand beside the others.
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Wall-clock time of the run, in milliseconds.
    pub duration_ms: u64,
    /// Whether it was a dry run (nothing sent, nothing recorded).
    pub dry_run: bool,
    /// A dry run's first request per action (`{"add": {method, url, headers, body}, ...}`);
    /// `null` otherwise.
    pub samples: Option<Value>,
    /// Requests sent again after a failed attempt.
    pub retries: u64,
    /// Requests the API refused that were split in halves and sent again.
    pub splits: u64,
    /// Why records failed, most frequent first: `[{"reason", "http_status", "count"}]`.
    pub reasons: Vec<ReasonCount>,
    /// Why this run sends every member again, when it does (shown to people).
    #[serde(skip)]
    pub full_resync: Option<String>,
    /// Values that normalisation emptied (dropped from their records): shown to people, not
    /// part of the JSON of docs/design/interface.md.
    #[serde(skip)]
    pub emptied: u64,
    /// Records left for the next run because the run stopped.
    #[serde(skip)]
    pub undelivered: u64,
    /// Why the run stopped, when its status is [`Status::Stopped`].
    #[serde(skip)]
    pub stop: Option<Stop>,
    /// How the sync's run before this one ended, as the runs table says (status, error), when
    /// this run read it: what alerts compare with.
    #[serde(skip)]
    pub previous: Option<(String, Option<String>)>,
    /// Failed records by operation, indexed by [`crate::warehouse::Op::index`] (the API's and
    /// the field pipeline's; the dry run's are not split).
    #[serde(skip)]
    pub failed_by_op: [u64; 3],
    /// Requests by the class of their answer (see [`crate::delivery::outcome::STATUS_CLASSES`]).
    #[serde(skip)]
    pub requests_by_class: [u64; crate::delivery::outcome::STATUS_CLASSES.len()],
}

impl SyncSummary {
    /// A summary with nothing done yet.
    pub fn new(sync: &str, dry_run: bool) -> SyncSummary {
        SyncSummary {
            sync: sync.to_owned(),
            run_id: None,
            status: Status::Succeeded,
            error: None,
            counts: RunCounts::default(),
            duration_ms: 0,
            dry_run,
            samples: None,
            retries: 0,
            splits: 0,
            reasons: Vec::new(),
            full_resync: None,
            emptied: 0,
            undelivered: 0,
            stop: None,
            previous: None,
            failed_by_op: [0; 3],
            requests_by_class: Default::default(),
        }
    }

    /// The run's status as the runs table and `audience runs` spell it: `interrupted` for a
    /// run a signal stopped, otherwise the summary's status.
    pub fn run_status(&self) -> &'static str {
        match self.status {
            _ if self.stop == Some(Stop::Interrupted) => "interrupted",
            Status::Succeeded => "succeeded",
            Status::Partial => "partial",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
        }
    }

    /// The exit code of this run alone (docs/design/interface.md): 130 when a signal stopped it, 1 when it
    /// stopped or failed, 3 when records failed or rows were invalid (0 for a dry run, whose
    /// failures are only a forecast), 0 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self.status {
            _ if self.stop == Some(Stop::Interrupted) => exit::INTERRUPTED,
            Status::Stopped | Status::Failed => exit::STOPPED,
            Status::Partial if !self.dry_run => exit::RECORDS_FAILED,
            Status::Partial | Status::Succeeded => exit::OK,
        }
    }

    /// What people read: a first line with the outcome and the counts, then, indented, why a
    /// full resync happened, why records failed (with counts), why the run stopped, and for a
    /// dry run the first request of each action.
    pub fn human(&self) -> String {
        let what = if self.dry_run {
            "dry run".to_owned()
        } else {
            self.run_id.map_or_else(|| "run".to_owned(), |id| format!("run {id}"))
        };
        let status = match self.status {
            _ if self.stop == Some(Stop::Interrupted) => "interrupted",
            Status::Succeeded => "succeeded",
            Status::Partial => "finished with failures",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
        };
        let c = &self.counts;
        let verb = if self.dry_run { "would send " } else { "" };
        let mut requests = vec![count(c.requests, "request")];
        if self.retries > 0 {
            requests.push(if self.retries == 1 { "1 retry".to_owned() } else { format!("{} retries", self.retries) });
        }
        if self.splits > 0 {
            requests.push(count(self.splits, "split"));
        }
        let requests = if self.dry_run { "nothing sent".to_owned() } else { requests.join(", ") };
        let mut out = format!(
            "{}: {what} {status} in {}: {verb}{} inserted, {} updated, {} deleted, {} failed, {} invalid ({requests})",
            self.sync,
            duration(self.duration_ms),
            c.inserted,
            c.updated,
            c.deleted,
            c.failed,
            c.invalid,
        );
        let mut line = |text: String| {
            out.push_str("\n  ");
            out.push_str(&text);
        };
        let settled = c.inserted + c.updated + c.deleted + c.failed + c.invalid;
        if settled == 0 && self.status == Status::Succeeded {
            line("nothing to send: the API already holds the model's members as they are".to_owned());
        }
        if let Some(why) = &self.full_resync {
            line(format!("full resync: {why}"));
        }
        if !self.reasons.is_empty() {
            let shown: u64 = self.reasons.iter().map(|r| r.count).sum();
            let verb = if self.dry_run { "would fail" } else { "failed" };
            line(format!("{verb}:"));
            for r in &self.reasons {
                line(format!("  {} × {}", r.count, r.reason));
            }
            if shown < c.failed {
                line(format!("  {} × other reasons (in the sync log)", c.failed - shown));
            }
        }
        if c.invalid > 0 {
            let rows = count(c.invalid, "row");
            line(format!("invalid: {rows} of the model with a null or duplicate primary key (in the sync log)"));
        }
        if self.emptied > 0 {
            line(format!("{} normalised to empty and dropped from their records", count(self.emptied, "value")));
        }
        if let Some(error) = &self.error {
            line(format!("error: {error}"));
        } else if self.undelivered > 0 {
            line(format!("{} left for the next run", count(self.undelivered, "record")));
        }
        if let Some(Value::Object(samples)) = &self.samples {
            for (action, sample) in samples {
                line(format!("first {action} request:"));
                for text in sample_lines(sample) {
                    line(format!("  {text}"));
                }
            }
        }
        out
    }

    /// What to run next, when there is something to do about this run.
    pub fn next_step(&self, config: &str) -> Option<String> {
        let logs = |what: &str| format!("{what}: audience logs {config} --sync {} --failed", self.sync);
        match (self.status, self.stop) {
            (_, Some(Stop::MassRemoval)) => Some(format!(
                "if the removal is intended: audience sync {config} --sync {} --allow-mass-removal",
                self.sync
            )),
            (_, Some(Stop::Interrupted)) if !self.dry_run => {
                Some(format!("to send the rest: audience sync {config} --sync {}", self.sync))
            }
            (Status::Partial, _) if self.dry_run => Some(format!(
                "to try a record's values: audience preview {config} --sync {} --action add --records FILE",
                self.sync
            )),
            (Status::Partial, _) => Some(logs("the failed records, with their reasons")),
            (Status::Stopped, Some(Stop::Rejected)) => {
                Some(format!("once the destination is fixed: audience sync {config} --sync {}", self.sync))
            }
            _ => None,
        }
    }
}

pub use crate::warehouse::ReasonCount;

/// Failure reasons as they come, counted. Bounded: past `Reasons::KEPT` distinct reasons,
/// new ones are only counted in the total (the sync log has them all).
#[derive(Debug, Default)]
pub struct Reasons {
    /// Count by reason, then by HTTP status: looked up by the reason's text as it comes, so
    /// that counting a record whose reason is known allocates nothing.
    counts: std::collections::HashMap<String, Vec<(Option<u16>, u64)>>,
    /// Distinct (reason, status) pairs counted.
    distinct: usize,
}

impl Reasons {
    /// Distinct reasons kept while counting.
    const KEPT: usize = 1000;
    /// Distinct reasons a summary lists.
    pub const LISTED: usize = 10;

    /// One more record failed with `status` and `reason`. The attempts and time a retried
    /// request took are left out, so that batches failing alike count as one reason.
    pub fn add(&mut self, status: Option<u16>, reason: &str, n: u64) {
        let reason = reason.find(" (gave up after ").map_or(reason, |at| &reason[..at]);
        let kept = self.distinct < Self::KEPT;
        let statuses = match self.counts.get_mut(reason) {
            Some(statuses) => statuses,
            None if kept => self.counts.entry(reason.to_owned()).or_default(),
            None => return,
        };
        if let Some((_, c)) = statuses.iter_mut().find(|(s, _)| *s == status) {
            *c += n;
        } else if kept {
            statuses.push((status, n));
            self.distinct += 1;
        }
    }

    /// The most frequent reasons, at most [`Reasons::LISTED`].
    pub fn listed(&self) -> Vec<ReasonCount> {
        let mut all: Vec<ReasonCount> = self
            .counts
            .iter()
            .flat_map(|(reason, statuses)| {
                statuses.iter().map(|(status, count)| ReasonCount {
                    reason: reason.clone(),
                    http_status: *status,
                    count: *count,
                })
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        all.truncate(Self::LISTED);
        all
    }
}

/// `1 request`, `2 requests`.
pub fn count(n: u64, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// A run's duration for people: `640 ms`, `1.2 s`, `3 min 05 s`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// A dry run's sample request as lines: the request line, the headers, the body (pretty, cut
/// after [`SAMPLE_BODY_LINES`] lines; the JSON output has it whole).
fn sample_lines(sample: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut out = vec![format!("{} {}", text(&sample["method"]), text(&sample["url"]))];
    if let Value::Object(headers) = &sample["headers"] {
        out.extend(headers.iter().map(|(name, value)| format!("{name}: {}", text(value))));
    }
    let body = serde_json::to_string_pretty(&sample["body"]).unwrap_or_default();
    let lines: Vec<&str> = body.lines().collect();
    out.extend(lines.iter().take(SAMPLE_BODY_LINES).map(|l| (*l).to_owned()));
    if lines.len() > SAMPLE_BODY_LINES {
        out.push(format!("… {} more lines (--format json shows the whole body)", lines.len() - SAMPLE_BODY_LINES));
    }
    out
}

/// Lines of a sample body a dry run shows people.
const SAMPLE_BODY_LINES: usize = 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let mut s = SyncSummary::new("s", false);
        assert_eq!(s.exit_code(), 0);
        s.status = Status::Partial;
        assert_eq!(s.exit_code(), 3);
        s.dry_run = true;
        assert_eq!(s.exit_code(), 0);
        s.status = Status::Stopped;
        assert_eq!(s.exit_code(), 1);
        s.stop = Some(Stop::Interrupted);
        assert_eq!(s.exit_code(), 130);
        s = SyncSummary::new("s", false);
        s.status = Status::Failed;
        assert_eq!(s.exit_code(), 1);
    }

    #[test]
    fn json_has_exactly_the_interface_fields() {
        let json = serde_json::to_value(SyncSummary::new("s", true)).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "sync",
                "run_id",
                "status",
                "error",
                "inserted",
                "updated",
                "deleted",
                "failed",
                "invalid",
                "requests",
                "duration_ms",
                "dry_run",
                "samples",
                "retries",
                "splits",
                "reasons"
            ]
        );
        assert_eq!(json["status"], "succeeded");
    }
}
