//! What delivery reports: an outcome for every record, per completed request, and a summary
//! per action.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// What happened to some records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The API accepted them (a 2xx).
    Succeeded,
    /// They failed for good in this run: logged, and (with `retry_failed`) sent again next run.
    Failed {
        /// The HTTP status of the response that decided it; `None` when there was none (a
        /// timeout, a connection error, a body over `max_request_bytes`, a render error).
        status: Option<u16>,
        /// Why, for the sync log: never a secret (masked), never a record value from our side
        /// (the response body is the API's words).
        reason: String,
    },
    /// Not sent, or sent without an answer that counts, because the run stopped: they stay in
    /// the delta, neither succeeded nor failed, and the next run sends them.
    Undelivered,
}

/// The outcome of some records of a batch the sync layer handed over: sent as each request
/// completes (and for records settled without a request), so that the sync layer records
/// outcomes as batches complete.
#[derive(Debug)]
pub struct Report<B> {
    /// The batch the records belong to, as handed to [`super::ActionSender::send`].
    pub batch: Arc<B>,
    /// Indexes of the records in `batch`.
    pub records: Range<usize>,
    /// What became of the records.
    pub outcome: Outcome,
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT or SIGTERM (or any caller of [`super::StopToken::stop`]).
    Interrupted,
    /// The API answered 401, 403, 404 or 405 (`status`), or its TLS certificate failed
    /// verification (no status): the configuration, not the data, is wrong.
    Rejected {
        /// The HTTP status, or none for a failed certificate verification.
        status: Option<u16>,
        /// What the API or the TLS layer said, secrets masked.
        reason: String,
    },
    /// The run's [`super::Gate`] refused a request: the run lost its lock (the message says to
    /// whom), and must send nothing more.
    LostLock(String),
    /// The credentials could not be obtained (a token endpoint that refused the client, or
    /// stayed unreachable through its retries).
    Credentials {
        /// Why the credentials could not be obtained, secrets masked.
        reason: String,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Interrupted => f.write_str("interrupted"),
            StopReason::Rejected { reason, .. } | StopReason::Credentials { reason } => f.write_str(reason),
            StopReason::LostLock(why) => f.write_str(why),
        }
    }
}

/// Totals of one action of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionSummary {
    /// Records the API accepted.
    pub succeeded: u64,
    /// Records that failed.
    pub failed: u64,
    /// Records left in the delta because the run stopped.
    pub undelivered: u64,
    /// HTTP requests sent, retries and split halves included (docs/design/interface.md's `requests`).
    pub requests: u64,
    /// Requests sent again after a failed attempt (docs/design/interface.md's `retries`).
    pub retries: u64,
    /// Requests the API refused whose records were split in halves and sent again
    /// (docs/design/interface.md's `splits`).
    pub splits: u64,
    /// Why the run stopped, when it did (during this action or before it).
    pub stop: Option<StopReason>,
    /// Requests by the class of their answer, indexed as [`STATUS_CLASSES`]: what `run
    /// --listen`'s metrics count.
    pub by_class: [u64; STATUS_CLASSES.len()],
}

/// The classes requests are counted by: the answer's status class, `other` for a status outside
/// 200 to 599, `none` for no answer (a timeout, a connection error, a certificate refused).
pub const STATUS_CLASSES: [&str; 6] = ["2xx", "3xx", "4xx", "5xx", "other", "none"];

/// The index in [`STATUS_CLASSES`] of an answer with `status` (`None`: no answer).
pub const fn status_class(status: Option<u16>) -> usize {
    match status {
        Some(s @ 200..=599) => (s / 100 - 2) as usize,
        Some(_) => 4,
        None => 5,
    }
}

impl ActionSummary {
    /// Every record handed over for this action.
    pub fn records(&self) -> u64 {
        self.succeeded + self.failed + self.undelivered
    }
}
