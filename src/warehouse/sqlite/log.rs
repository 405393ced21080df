//! The SQLite sync log: compact rows in `_audience_log_rows` and `_audience_log_batches`, read
//! through the view `_audience_logs`, which has exactly docs/design/interface.md's columns and one row per
//! record.
//!
//! Why not a table with those columns: a first sync logs one record per member, and text rows
//! (the operation and status as words, two timestamps, the key as text) plus an index on the run
//! cost about twice what a compact row does; the recording thread, which also moves the
//! baseline, is what bounds a first sync.
//!
//! * `_audience_log_rows` holds a row per failed or invalid record: the run (sync, run id), the
//!   record's `seq` in the run's delta (negative for invalid rows: minus their snapshot row), the
//!   key as the model had it, the operation and status as small integers, the error and HTTP
//!   status, and when the outcome was recorded in Unix milliseconds.
//! * `_audience_log_batches` holds the records of a batch that succeeded, all of them in one row:
//!   the run, the batch's first `seq`, when it was recorded, and a JSON array of
//!   `[seq, operation, key as text]`. One row per 5,000 records instead of 5,000 rows cost the
//!   recording about half as much (a million records: 0.2-0.4 s instead of 0.45-0.65 s).
//!   Succeeded records need nothing more, and they are nearly all of them.
//!
//! Both tables are keyed by the run first, so a run's rows are one range of each: `audience
//! logs` reads them, retention deletes them, and no other index is kept. The view expands the
//! batches (`json_each`), turns the integers into docs/design/interface.md's words and text timestamps, and
//! takes `sync_started_at` from the run's row.
//!
//! A database written before this layout has a table `_audience_logs`: [`migrate`] copies its
//! rows over and replaces it with the view, in one transaction. A view from before the batches
//! is replaced by [`ensure_view`].

use rusqlite::{Connection, OptionalExtension};

use super::super::diff::{Tables, except_seqs};
use super::super::ident::quote;

/// The compact rows of failed and invalid records (and of every record, in logs written before
/// [`BATCHES`]).
pub const ROWS: &str = "_audience_log_rows";
/// The records of succeeded batches, a row per batch.
pub const BATCHES: &str = "_audience_log_batches";
/// The view with docs/design/interface.md's columns.
pub const VIEW: &str = "_audience_logs";

/// Status codes of [`ROWS`].
pub const SUCCEEDED: i64 = 0;
pub const FAILED: i64 = 1;
pub const INVALID: i64 = 2;

/// The rows' and the batches' tables (idempotent); the view is [`ensure_view`]'s.
pub fn create() -> [String; 2] {
    [create_rows(), create_batches()]
}

fn create_rows() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS main.{rows} (sync_name TEXT NOT NULL, run_id INTEGER NOT NULL, \
         seq INTEGER NOT NULL, primary_key, operation INTEGER NOT NULL, status INTEGER NOT NULL, \
         error_reason TEXT, http_status INTEGER, finished_ms INTEGER NOT NULL, \
         PRIMARY KEY (sync_name, run_id, seq)) WITHOUT ROWID",
        rows = quote(ROWS)
    )
}

fn create_batches() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS main.{batches} (sync_name TEXT NOT NULL, run_id INTEGER NOT NULL, \
         lo INTEGER NOT NULL, finished_ms INTEGER NOT NULL, records TEXT NOT NULL, \
         PRIMARY KEY (sync_name, run_id, lo)) WITHOUT ROWID",
        batches = quote(BATCHES)
    )
}

fn create_view(runs: &str) -> String {
    format!(
        "CREATE VIEW main.{view} AS \
         SELECT l.sync_name AS sync_name, l.run_id AS run_id, {COLUMNS} FROM {rows} \
         UNION ALL SELECT l.sync_name, l.run_id, {COLUMNS} FROM {batches}",
        view = quote(VIEW),
        rows = from(&rows(""), runs),
        batches = from(&batches(""), runs),
    )
}

/// Creates the view, or replaces one that does not read the batches (from before them), in the
/// caller's transaction. Not for a database whose `_audience_logs` is a table (see [`migrate`]).
pub fn ensure_view(conn: &Connection, runs: &str) -> rusqlite::Result<()> {
    let current: Option<String> = conn
        .query_row("SELECT sql FROM main.sqlite_master WHERE type = 'view' AND name = ?1", [VIEW], |r| r.get(0))
        .optional()?;
    if current.is_some_and(|sql| sql.contains(BATCHES)) {
        return Ok(());
    }
    conn.execute_batch(&format!("DROP VIEW IF EXISTS main.{}", quote(VIEW)))?;
    conn.execute_batch(&create_view(runs))
}

/// docs/design/interface.md's columns after `sync_name, run_id`, from the rows `l` and the run `r`.
const COLUMNS: &str = "CAST(l.primary_key AS TEXT) AS primary_key, \
     CASE l.operation WHEN 0 THEN 'delete' WHEN 1 THEN 'update' ELSE 'insert' END AS operation, \
     CASE l.status WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed' ELSE 'invalid' END AS status, \
     l.error_reason AS error_reason, l.http_status AS http_status, r.started_at AS sync_started_at, \
     strftime('%Y-%m-%dT%H:%M:%S', l.finished_ms / 1000, 'unixepoch') || '.' || printf('%03d', l.finished_ms % 1000) \
     || 'Z' AS sync_finished_at";

/// The rows of a log table `l` (see [`rows`], [`batches`]) with their run `r` (a left join: a
/// row whose run row is gone still shows).
fn from(l: &str, runs: &str) -> String {
    format!("{l} AS l LEFT JOIN {runs} AS r ON r.sync_name = l.sync_name AND r.run_id = l.run_id")
}

/// The per-record rows, `filter` (a `WHERE` clause, or nothing) applied.
fn rows(filter: &str) -> String {
    format!("(SELECT * FROM main.{} {filter})", quote(ROWS))
}

/// The succeeded batches' records, a row each, with the per-record rows' columns; `filter` (a
/// `WHERE` clause on the batches, or nothing) applied before they are expanded.
fn batches(filter: &str) -> String {
    format!(
        "(SELECT b.sync_name AS sync_name, b.run_id AS run_id, json_extract(j.value, '$[0]') AS seq, \
         json_extract(j.value, '$[2]') AS primary_key, json_extract(j.value, '$[1]') AS operation, \
         {SUCCEEDED} AS status, NULL AS error_reason, NULL AS http_status, b.finished_ms AS finished_ms \
         FROM (SELECT * FROM main.{batches} {filter}) AS b, json_each(b.records) AS j)",
        batches = quote(BATCHES)
    )
}

/// A run's rows in the order of its delta (invalid rows first), failed and invalid ones only
/// when `failed_only`: the columns of `LogRow`. `batches_too`: whether [`BATCHES`] exists (a
/// database last synced before it has only [`ROWS`]). Parameters: sync, run id.
pub fn select(runs: &str, failed_only: bool, batches_too: bool) -> String {
    let run = "WHERE sync_name = ?1 AND run_id = ?2";
    let only = if failed_only { format!(" AND status <> {SUCCEEDED}") } else { String::new() };
    let per_record = format!("SELECT l.seq AS seq, {COLUMNS} FROM {}", from(&rows(&format!("{run}{only}")), runs));
    let all = if failed_only || !batches_too {
        per_record
    } else {
        format!("{per_record} UNION ALL SELECT l.seq, {COLUMNS} FROM {}", from(&batches(run), runs))
    };
    format!(
        "SELECT primary_key, operation, status, error_reason, http_status, sync_started_at, sync_finished_at \
         FROM ({all}) ORDER BY seq"
    )
}

/// The row of the records of `lo..=hi` that succeeded (all but `not`), from the delta: one
/// row, none when no record succeeded. The records go into the array in the order the range is
/// read, which is `seq` order; readers sort by `seq` all the same (an `ORDER BY` inside the
/// aggregate would sort each batch again, and doubled the statement's cost). Parameters: sync,
/// run id, finished (ms), lo, hi.
pub fn succeeded(t: &Tables, not: &[i64]) -> String {
    format!(
        "INSERT INTO main.{batches} (sync_name, run_id, lo, finished_ms, records) \
         SELECT ?1, ?2, min(d.\"_audience_seq\"), ?3, \
         json_group_array(json_array(d.\"_audience_seq\", d.\"_audience_op\", CAST(d.\"_audience_key\" AS TEXT))) \
         FROM {delta} AS d WHERE d.\"_audience_seq\" BETWEEN ?4 AND ?5{not} HAVING count(*) > 0",
        batches = quote(BATCHES),
        delta = t.delta.qualified(),
        not = except_seqs(not),
    )
}

/// The row of one failed record. Parameters: sync, run id, finished (ms), seq, reason, HTTP
/// status.
pub fn failed(t: &Tables) -> String {
    format!(
        "INSERT INTO main.{rows} (sync_name, run_id, seq, primary_key, operation, status, error_reason, \
         http_status, finished_ms) \
         SELECT ?1, ?2, d.\"_audience_seq\", d.\"_audience_key\", d.\"_audience_op\", {FAILED}, ?5, ?6, ?3 \
         FROM {delta} AS d WHERE d.\"_audience_seq\" = ?4",
        rows = quote(ROWS),
        delta = t.delta.qualified(),
    )
}

/// The rows of the snapshot's invalid rows (a null key, or a key on several rows), their `seq`
/// minus their snapshot row. Parameters: sync, run id, finished (ms).
pub fn invalid(t: &Tables) -> String {
    let key = "\"_audience_key\"";
    format!(
        "INSERT INTO main.{rows} (sync_name, run_id, seq, primary_key, operation, status, error_reason, finished_ms) \
         SELECT ?1, ?2, -s.rowid, s.{key}, \
         CASE WHEN EXISTS (SELECT 1 FROM {b} AS b WHERE b.{key} = s.{key}) THEN 1 ELSE 2 END, {INVALID}, \
         CASE WHEN s.{key} IS NULL THEN 'the primary key is null' \
         ELSE 'the primary key is not unique: ' || CAST(dup.n AS TEXT) || ' rows of the model have this value' END, \
         ?3 FROM {s} AS s LEFT JOIN {dt} AS dup ON dup.{key} = s.{key} \
         WHERE s.{key} IS NULL OR dup.{key} IS NOT NULL",
        rows = quote(ROWS),
        b = t.baseline.qualified(),
        s = t.snapshot.qualified(),
        dt = t.dup.qualified(),
    )
}

/// Deletes a sync's rows and batches of runs started before a time (whole runs, by key
/// ranges). Parameters: sync, cutoff.
pub fn delete_old(runs: &str) -> [String; 2] {
    [ROWS, BATCHES].map(|table| {
        format!(
            "DELETE FROM main.{table} WHERE sync_name = ?1 AND run_id <= \
             (SELECT coalesce(max(run_id), 0) FROM {runs} WHERE sync_name = ?1 AND started_at < ?2)",
            table = quote(table)
        )
    })
}

/// Replaces a `_audience_logs` table (the layout before [`ROWS`]; the caller has found one) by
/// the view, its rows copied into [`ROWS`] in their order. Runs after [`create`], in the
/// caller's transaction.
pub fn migrate(conn: &Connection, runs: &str) -> rusqlite::Result<()> {
    let old = format!("main.{}", quote(VIEW));
    let copy = format!(
        "INSERT INTO main.{rows} (sync_name, run_id, seq, primary_key, operation, status, error_reason, http_status, \
         finished_ms) \
         SELECT sync_name, run_id, row_number() OVER (PARTITION BY sync_name, run_id ORDER BY rowid), primary_key, \
         CASE operation WHEN 'delete' THEN 0 WHEN 'update' THEN 1 ELSE 2 END, \
         CASE status WHEN 'succeeded' THEN {SUCCEEDED} WHEN 'failed' THEN {FAILED} ELSE {INVALID} END, \
         error_reason, http_status, \
         CAST(strftime('%s', sync_finished_at) AS INTEGER) * 1000 + coalesce(CAST(substr(sync_finished_at, 21, 3) AS INTEGER), 0) \
         FROM {old} WHERE true ON CONFLICT DO NOTHING",
        rows = quote(ROWS),
    );
    conn.execute_batch(&copy)?;
    conn.execute_batch(&format!("DROP TABLE {old}"))?;
    conn.execute_batch(&create_view(runs))
}
