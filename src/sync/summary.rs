//! What a run reports: the summary of interface.md's `sync --format json`, its status and its
//! exit code.

use serde::Serialize;

use crate::warehouse::RunCounts;
use serde_json::Value;

/// How a run ended (interface.md).
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

/// Exit codes of interface.md.
pub mod exit {
    pub const OK: i32 = 0;
    pub const STOPPED: i32 = 1;
    pub const RECORDS_FAILED: i32 = 3;
    pub const INTERRUPTED: i32 = 130;
}

/// One sync's run, as `audience sync` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct SyncSummary {
    pub sync: String,
    /// `null` for a dry run (it records no run) and for a run stopped before it got an id.
    pub run_id: Option<i64>,
    pub status: Status,
    /// Why the run stopped or failed.
    pub error: Option<String>,
    /// What the run did, as its run row stores it (in a dry run: what it would send). In the
    /// JSON, its fields stand beside the others.
    #[serde(flatten)]
    pub counts: RunCounts,
    pub duration_ms: u64,
    pub dry_run: bool,
    /// A dry run's first request per action (`{"add": {method, url, headers, body}, ...}`);
    /// `null` otherwise.
    pub samples: Option<Value>,
    /// Values that normalisation emptied (dropped from their records): shown to people, not
    /// part of the JSON of interface.md.
    #[serde(skip)]
    pub emptied: u64,
    /// Records left for the next run because the run stopped.
    #[serde(skip)]
    pub undelivered: u64,
    /// Why the run stopped, when its status is [`Status::Stopped`].
    #[serde(skip)]
    pub stop: Option<Stop>,
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
            emptied: 0,
            undelivered: 0,
            stop: None,
        }
    }

    /// The exit code of this run alone (interface.md): 130 when a signal stopped it, 1 when it
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

    /// One line for people: `high_value: run 3 succeeded in 1.2 s: 10 inserted, …`.
    pub fn human(&self) -> String {
        let what = if self.dry_run {
            "dry run".to_owned()
        } else {
            self.run_id.map_or_else(|| "run".to_owned(), |id| format!("run {id}"))
        };
        let status = match self.status {
            Status::Succeeded => "succeeded",
            Status::Partial => "finished with failures",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
        };
        let verb = if self.dry_run { "would send: " } else { "" };
        let mut line = format!(
            "{}: {what} {status} in {:.1} s: {verb}{} inserted, {} updated, {} deleted, {} failed, {} invalid ({} requests)",
            self.sync,
            self.duration_ms as f64 / 1000.0,
            self.counts.inserted,
            self.counts.updated,
            self.counts.deleted,
            self.counts.failed,
            self.counts.invalid,
            self.counts.requests
        );
        if self.emptied > 0 {
            line.push_str(&format!("; {} values normalised to empty were dropped", self.emptied));
        }
        if self.undelivered > 0 {
            line.push_str(&format!("; {} records left for the next run", self.undelivered));
        }
        if let Some(error) = &self.error {
            line.push_str(&format!("\n  {error}"));
        }
        line
    }
}

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
                "samples"
            ]
        );
        assert_eq!(json["status"], "succeeded");
    }
}
