//! The warehouse: where the model runs, where the diff is computed, and where a sync's state
//! lives (docs/design/sync.md, "State kept per sync"). The heavy work is SQL inside the warehouse; the
//! client only streams the delta, a batch at a time.
//!
//! ```text
//!   model SQL ──snapshot (CREATE TABLE … AS SELECT, fingerprint in SQL)──▶ snapshot_<sync>_<run>
//!                                                                           │ diff (joins)
//!   baseline_<sync> (what the API accepted: key, row image, fingerprint) ──┴──▶ delta_<sync>-<run>
//!        ▲                                                                        │ read by
//!        │  moves, in one transaction per completed batch, with the log rows      │ seq ranges
//!        └─────────────────────────── record_chunks ◀── outcomes ◀── sync runner ◀┘
//! ```
//!
//! * [`Warehouse`]: what the runner asks of a connector. [`connect`] is the one seam from a
//!   [`connect::Source`] to a [`connect::Connector`]; every command opens its warehouse there.
//! * One folder per engine, holding everything of that engine (connection, TLS, dialect SQL,
//!   value decoding, state layout): [`sqlite`] (the embedded default: its first-run and
//!   full-resync diffs, the proof that a key is unique, its journal, recorder and log layout)
//!   and [`postgres`] (its session and TLS, advisory locks, binary decoding). A Snowflake or
//!   BigQuery connector would be a folder beside them, with the same SQL shapes (see [`diff`])
//!   in its own dialect, and HTTPS through [`crate::http`].
//! * [`diff`]: the snapshot, diff and recording SQL, for both dialects, with the reasons.
//! * [`state`]: the state tables (runs, locks, logs) and their queries; [`schema`]: their
//!   layout's version, upgraded in place by a run and refused when newer than this binary's.
//! * [`ident`]: identifiers we build are validated and quoted; [`lock`]: lock holders, their
//!   identity and the takeover rule; [`lease`]: a run's hold on its lock between heartbeats,
//!   which delivery asks before each request. Each engine turns its values into [`crate::fields::WarehouseValue`] in its
//!   own folder (`sqlite/value.rs`, `postgres/value.rs`).
//!
//! Choices where docs/design/sync.md is silent:
//!
//! * Each baseline row also stores the fingerprint of the configuration it was sent under.
//!   A row sent under another configuration is an insert again: a changed configuration (or
//!   `--full-resync`, which clears that column) is a full resync that survives a crash half way.
//! * A key whose rows are invalid counts as present: its member is neither updated nor removed.
//! * An invalid row is logged with the operation it would have had (`update` when its key is a
//!   member, `insert` otherwise).
//! * The sync log's `http_status` is null for succeeded records (delivery reports a 2xx as
//!   success without the exact status) and for failures without a response.

pub mod connect;
pub mod diff;
pub mod handover;
pub mod ident;
pub mod lease;
pub mod lock;
pub mod postgres;
pub mod schema;
pub mod snowflake;
pub mod sqlite;
pub mod state;

use std::fmt;

use crate::fields::Row;

pub use handover::{FirstError, OwnedChunk, QUEUE};
pub use ident::SyncName;
pub use lock::{LockHolder, Me};

/// One kind of change in a delta. The discriminant is what the delta table stores, and the
/// order in which actions are sent: deletes, then updates, then inserts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// A member left the model: sent by the remove action.
    Delete = 0,
    /// A member's mapped values changed: sent by the update action.
    Update = 1,
    /// A new member: sent by the add action.
    Insert = 2,
}

impl Op {
    /// Every operation, in sending order (deletes, updates, inserts).
    pub const ALL: [Op; 3] = [Op::Delete, Op::Update, Op::Insert];

    /// As the sync log spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Delete => "delete",
            Op::Update => "update",
            Op::Insert => "insert",
        }
    }

    /// The operation whose delta-table code is `code`, if any.
    pub fn from_code(code: i64) -> Option<Op> {
        Op::ALL.into_iter().find(|op| *op as i64 == code)
    }

    /// The position in [`Op::ALL`], for arrays indexed by operation.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What the runner knows of the model, resolved against its columns.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    /// The sync the model belongs to.
    pub sync: SyncName,
    /// The model's SQL: the user's query (a trailing `;` removed) or `SELECT * FROM "table"`.
    pub sql: String,
    /// The primary-key column, as the model names it.
    pub primary_key: String,
    /// The row image: the distinct mapped columns as the model names them, in mapping order.
    /// Column `i` of a [`DeltaRecord`]'s row is `columns[i]`.
    pub columns: Vec<String>,
}

/// Names our own columns use in snapshot, baseline and delta tables; a model column with one of
/// these names is refused.
pub const RESERVED_COLUMNS: [&str; 6] =
    ["_audience_key", "_audience_fp", "_audience_config", "_audience_seq", "_audience_op", "_audience_fp_sha256"];

/// The run being recorded.
#[derive(Clone, Debug)]
pub struct RunRef {
    /// The sync the run belongs to.
    pub sync: SyncName,
    /// The run's id, increasing per sync.
    pub run_id: i64,
    /// The run's start (RFC 3339, UTC): every log row of the run carries it.
    pub started_at: String,
    /// Fingerprint of the configuration the run sends under.
    pub config: i64,
    /// `retain_logs`: whether log rows are written at all.
    pub write_logs: bool,
}

/// What the runner writes into a new run row.
#[derive(Clone, Debug)]
pub struct RunStart {
    /// The run's start (RFC 3339, UTC).
    pub started_at: String,
    /// Fingerprint of the whole configuration the run sends under.
    pub config: i64,
    /// The fingerprint of each part of the configuration (`templates=…`), stored beside the
    /// whole one so that a later run can say which part changed.
    pub config_parts: String,
    /// Whether the run sends every member again (the baseline is ignored).
    pub full_resync: bool,
    /// This run, as it holds the lock.
    pub me: Me,
}

impl RunStart {
    /// What the runs table stores: the fingerprint in hex, then its parts.
    pub fn config_text(&self) -> String {
        if self.config_parts.is_empty() {
            format!("{:016x}", self.config)
        } else {
            format!("{:016x} {}", self.config, self.config_parts)
        }
    }
}

/// The delta of a run, as built in the warehouse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeltaStats {
    /// Members of the baseline before the run.
    pub baseline: u64,
    /// Rows the model returned.
    pub snapshot_rows: u64,
    /// Rows with a null or duplicate primary key.
    pub invalid: u64,
    /// Records per [`Op`] (indexed by [`Op::index`]).
    pub counts: [u64; 3],
    /// The delta's sequence numbers per [`Op`], first and last (inclusive).
    pub ranges: [Option<(i64, i64)>; 3],
}

/// One record of the delta, read in sequence order. `row` holds the image columns of
/// [`ModelSpec::columns`]: the current values for inserts and updates, the baseline's old image
/// for deletes.
pub struct DeltaRecord<'a> {
    /// The record's sequence number in the delta.
    pub seq: i64,
    /// What happens to the record.
    pub op: Op,
    /// The primary key as the sync log writes it (integers in decimal).
    pub key: &'a str,
    /// The image columns' values.
    pub row: &'a dyn Row,
}

/// A record that failed, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The record's sequence number in the delta.
    pub seq: i64,
    /// The HTTP status that refused it; `None` for a failure without one (the field pipeline,
    /// the transport).
    pub status: Option<u16>,
    /// Why it failed, as logged (secrets masked).
    pub reason: String,
}

/// Totals of a run so far, as its run row stores them and `sync --format json` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunCounts {
    /// Records the API accepted, by action.
    pub inserted: u64,
    /// See `inserted`.
    pub updated: u64,
    /// See `inserted`.
    pub deleted: u64,
    /// Records that failed: the field pipeline's rejections and the API's.
    pub failed: u64,
    /// Model rows with a null or duplicate primary key.
    pub invalid: u64,
    /// HTTP requests, retries and split halves included.
    pub requests: u64,
}

/// How many records failed for one reason (a run's `reasons`, in its summary and its run row).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReasonCount {
    /// The reason, as logged (secrets masked).
    pub reason: String,
    /// The HTTP status the reason came with; `null` for failures without one (field pipeline,
    /// transport).
    pub http_status: Option<u16>,
    /// Records that failed for this reason.
    pub count: u64,
}

/// How a run ended, as [`Warehouse::finish_run`] writes it into the run row.
#[derive(Clone, Copy, Debug)]
pub struct RunEnd<'a> {
    /// The run's status.
    pub status: RunStatus,
    /// The run's totals.
    pub counts: &'a RunCounts,
    /// Why the run stopped or failed (redacted).
    pub error: Option<&'a str>,
    /// Requests sent again after a failed attempt.
    pub retries: u64,
    /// Refused requests split in halves and sent again.
    pub splits: u64,
    /// Why records failed, most frequent first (at most the summary's ten).
    pub reasons: &'a [ReasonCount],
}

/// One row of the runs table, as `audience runs` lists it (docs/design/interface.md, second
/// wave), in the order of its JSON.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RunRow {
    /// The sync's name.
    pub sync: String,
    /// The run's id, increasing per sync.
    pub run_id: i64,
    /// `running`, `succeeded`, `partial`, `stopped`, `failed`, `interrupted` or `abandoned`.
    pub status: String,
    /// The run's start (RFC 3339, UTC).
    pub started_at: String,
    /// The run's end (RFC 3339, UTC); `None` while it runs.
    pub finished_at: Option<String>,
    /// The run's totals (the last recorded, for a run in progress or one that died).
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Requests sent again after a failed attempt (0 until the run ends).
    pub retries: u64,
    /// Refused requests split in halves and sent again (0 until the run ends).
    pub splits: u64,
    /// Why the run stopped or failed.
    pub error: Option<String>,
    /// Why records failed, most frequent first (empty until the run ends).
    pub reasons: Vec<ReasonCount>,
}

/// The outcome of one completed batch of the delta: every record with a sequence number in
/// `lo..=hi` succeeded, except those in `failed` and `undelivered`.
#[derive(Clone, Debug)]
pub struct ChunkOutcome<'a> {
    /// The first sequence number of the batch (inclusive).
    pub lo: i64,
    /// The last sequence number of the batch (inclusive).
    pub hi: i64,
    /// Failed records (the field pipeline's and the API's), logged with their reason.
    pub failed: &'a [Failure],
    /// Records not sent because the run stopped: no log row, the baseline keeps them as they
    /// were, and the next run sends them.
    pub undelivered: &'a [i64],
    /// `retry_failed = false`: the baseline moves past failures as if they had been accepted.
    pub move_failed: bool,
    /// The run's totals after this batch, stored in its run row in the same transaction.
    pub counts: RunCounts,
}

/// How a run ended, as its run row says (docs/design/interface.md, `audience runs`). A run that died is
/// marked `abandoned` by the next run that takes the lock (`state::fail_dead_runs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// In progress, or died (until the next run marks it).
    Running,
    /// Every record was accepted.
    Succeeded,
    /// The run finished but some records failed or were invalid.
    Partial,
    /// The run stopped before sending everything (lock, mass-removal guard, rejected
    /// configuration).
    Stopped,
    /// A warehouse or other error ended the run.
    Failed,
    /// SIGINT or SIGTERM: the requests in flight finished and were recorded.
    Interrupted,
}

impl RunStatus {
    /// As the runs table stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// A run's row of the runs table, as `audience logs` shows it and as the next run reads it
/// (to tell why it is a full resync).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RunInfo {
    /// The run's id, increasing per sync.
    pub run_id: i64,
    /// `running`, `succeeded`, `partial`, `stopped`, `failed` (a run that died shows
    /// `running`).
    pub status: String,
    /// Why the run stopped or failed.
    pub error: Option<String>,
    /// The configuration fingerprint the run was made with (hex, then its parts).
    #[serde(skip)]
    pub config: String,
    /// Whether the run sent every member again.
    #[serde(skip)]
    pub full_resync: bool,
    /// The run's start (RFC 3339, UTC).
    pub started_at: String,
    /// The run's end (RFC 3339, UTC); `None` while it runs or when it died.
    pub finished_at: Option<String>,
    /// The run's totals.
    #[serde(skip)]
    pub counts: RunCounts,
}

/// One sync-log row (docs/design/interface.md's columns, as `audience logs` prints them).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogRow {
    /// The record's primary key; `None` for a model row whose key is null.
    pub primary_key: Option<String>,
    /// `insert`, `update` or `delete`.
    pub operation: String,
    /// `succeeded`, `failed` or `invalid`.
    pub status: String,
    /// Why the record failed or is invalid.
    pub error_reason: Option<String>,
    /// The HTTP status that refused the record, if one did.
    pub http_status: Option<i64>,
    /// The start of the run that sent it (RFC 3339, UTC).
    pub sync_started_at: String,
    /// When the record's outcome was recorded (RFC 3339, UTC).
    pub sync_finished_at: String,
}

/// What taking the lock found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locked {
    /// A stale lock taken over: its holder, and why it was stale (for the log line).
    pub taken_over: Option<(LockHolder, String)>,
}

/// Why a warehouse operation failed. Messages never hold a password (connection strings are
/// shown masked) nor, from our side, a record value.
#[derive(Debug)]
pub enum WarehouseError {
    /// Another run of the sync holds the lock.
    Locked(Box<LockHolder>),
    /// This run's lock was taken over (its token is no longer in the lock row): the message
    /// says by whom. The run sends and records nothing more.
    LostLock(String),
    /// The warehouse could not be opened or reached.
    Connect(String),
    /// The model is unusable (a missing column, a reserved name).
    Model(String),
    /// A statement failed: what we were doing, and the engine's message.
    Sql {
        /// What we were doing, e.g. "building the delta".
        doing: String,
        /// The engine's message.
        message: String,
    },
    /// The state tables are at a layout newer than this binary knows (see [`schema`]).
    NewerSchema {
        /// The layout version the state tables are at.
        found: i64,
        /// The newest layout version this binary knows.
        known: i64,
    },
}

impl WarehouseError {
    /// A [`WarehouseError::Sql`] for a failed statement: `doing` says what we were doing.
    pub fn sql(doing: impl Into<String>, error: impl fmt::Display) -> WarehouseError {
        WarehouseError::Sql { doing: doing.into(), message: error.to_string() }
    }
}

impl fmt::Display for WarehouseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarehouseError::Locked(holder) => write!(f, "another run of this sync holds the lock: {holder}"),
            WarehouseError::LostLock(message) => f.write_str(message),
            WarehouseError::Connect(why) => write!(f, "cannot open the warehouse: {why}"),
            WarehouseError::Model(why) => f.write_str(why),
            WarehouseError::Sql { doing, message } => write!(f, "warehouse error while {doing}: {message}"),
            WarehouseError::NewerSchema { found, known } => write!(
                f,
                "the state tables are at schema version {found}, written by a newer audience; this one reads up to \
                 version {known}: run the newer audience (nothing was changed)"
            ),
        }
    }
}

impl std::error::Error for WarehouseError {}

/// What warehouse operations return.
pub type Result<T, E = WarehouseError> = std::result::Result<T, E>;

/// A warehouse connector: what the mirror-mode runner needs. One value serves one sync at a
/// time, between [`Warehouse::begin`] and [`Warehouse::end`].
///
/// The methods are `async` for the engines that speak over the network; SQLite's do their work
/// synchronously. The runner drives them on one task (never spawned), so the futures need not
/// be `Send`.
#[allow(async_fn_in_trait)]
pub trait Warehouse {
    /// "SQLite", "PostgreSQL": for messages.
    fn engine(&self) -> &'static str;

    /// Why this engine cannot take a mapped column by this name (it is copied into the
    /// snapshot under its own name), if it cannot.
    fn refuses_column(&self, _name: &str) -> Option<&'static str> {
        None
    }

    /// The model's column names, without running it.
    async fn model_columns(&mut self, sql: &str) -> Result<Vec<String>>;

    /// Calls `visit` for each of the first `limit` rows of the model, as the model returns
    /// them: the primary key as text (`None` when null) and the image columns of `spec`. Takes
    /// no lock and writes nothing (the studio's sample rows).
    async fn model_rows(
        &mut self,
        spec: &ModelSpec,
        limit: usize,
        visit: &mut dyn FnMut(Option<&str>, &dyn Row),
    ) -> Result<()>;

    /// Takes the sync's lock, or fails with [`WarehouseError::Locked`] naming the holder.
    /// Creates the state tables unless `dry_run`; a dry run works inside a transaction that
    /// [`Warehouse::end`] rolls back, so that it leaves nothing behind. Runs a dead holder left
    /// `running` are marked failed.
    async fn begin(&mut self, sync: &SyncName, me: &Me, dry_run: bool) -> Result<Locked>;

    /// The run's lease on its lock row, once [`Warehouse::begin`] took it (engines whose lock
    /// dies with a session have none): delivery asks it before each request.
    fn lease(&self) -> Option<std::sync::Arc<lease::Lease>> {
        None
    }

    /// Records the start of a run and returns its id (one more than the sync's last).
    async fn start_run(&mut self, sync: &SyncName, start: &RunStart) -> Result<i64>;

    /// The row of run `run` of `sync` (default: its latest run); `None` when there is none.
    async fn run_info(&mut self, sync: &SyncName, run: Option<i64>) -> Result<Option<RunInfo>>;

    /// The id the next run would get (for a dry run, which records none).
    async fn next_run_id(&mut self, sync: &SyncName) -> Result<i64>;

    /// Snapshot, invalid rows and the delta, in the warehouse. `full_resync` first marks every
    /// member as sent under no configuration. Invalid rows are logged (unless `run` says no
    /// logs, or this is a dry run).
    async fn build_delta(&mut self, spec: &ModelSpec, run: &RunRef, full_resync: bool) -> Result<DeltaStats>;

    /// Calls `visit` for up to `limit` delta records with `after < seq <= last`, in sequence
    /// order; returns the last sequence number read (`None`: nothing left).
    async fn read_delta(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        last: i64,
        limit: usize,
        visit: &mut dyn FnMut(&DeltaRecord<'_>),
    ) -> Result<Option<i64>>;

    /// Records completed batches in one transaction: log rows, baseline moves (only to what the
    /// API accepted, and past failures when `move_failed`), the run's counts (the last batch's).
    /// Batches that complete together share a commit: on a disk where a commit costs a sync to
    /// stable storage, that is what keeps recording from being the bottleneck.
    async fn record_chunks(&mut self, spec: &ModelSpec, run: &RunRef, chunks: &[ChunkOutcome<'_>]) -> Result<()>;

    /// Ends the run row: its status, final counts, error, retries, splits and reasons.
    async fn finish_run(&mut self, run: &RunRef, end: &RunEnd<'_>) -> Result<()>;

    /// Keeps the newest `snapshots` run snapshots of the sync, deletes its log rows older than
    /// `log_days` × 24 hours before the run's start, and drops the run's delta.
    async fn retention(&mut self, run: &RunRef, snapshots: u32, log_days: u32) -> Result<()>;

    /// Releases the lock (a dry run: rolls everything back).
    async fn end(&mut self, sync: &SyncName) -> Result<()>;

    /// The sync's newest `limit` runs, newest first (empty when it has none). Only reads: refuses
    /// state tables newer than this binary, and reads an older layout as it is.
    async fn runs(&mut self, sync: &SyncName, limit: u64) -> Result<Vec<RunRow>>;

    /// The sync's log rows of run `run` (default: its latest run that has a run row), only
    /// failed and invalid ones when `failed_only`; `None` when the sync has no run.
    async fn logs(
        &mut self,
        sync: &SyncName,
        run: Option<i64>,
        failed_only: bool,
    ) -> Result<Option<(i64, Vec<LogRow>)>>;
}

/// Now, in milliseconds since the Unix epoch (the SQLite log's `finished_ms`).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Now, as the state tables write it: RFC 3339 in UTC with milliseconds, so that text
/// comparison is time order (SQLite stores timestamps as text).
pub fn now_utc() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The model's SQL as a subquery: the query with trailing white space and `;` removed, or the
/// table quoted.
pub fn model_sql(query: Option<&str>, table: Option<&str>) -> String {
    match (query, table) {
        (Some(q), _) => q.trim_end().trim_end_matches(';').trim_end().to_owned(),
        (None, Some(t)) => format!("SELECT * FROM {}", ident::quote(t)),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_order_and_codes() {
        assert!(Op::Delete < Op::Update && Op::Update < Op::Insert);
        for op in Op::ALL {
            assert_eq!(Op::from_code(op as i64), Some(op));
        }
        assert_eq!(Op::from_code(3), None);
    }

    #[test]
    fn model_sql_forms() {
        assert_eq!(model_sql(Some("SELECT 1 ;\n"), None), "SELECT 1");
        assert_eq!(model_sql(None, Some("us\"ers")), "SELECT * FROM \"us\"\"ers\"");
    }

    #[test]
    fn timestamps_sort_as_text() {
        let t = now_utc();
        assert_eq!(t.len(), "2024-05-01T12:00:00.000Z".len(), "{t}");
        assert!(t.ends_with('Z'));
    }
}
