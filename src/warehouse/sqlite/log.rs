//! The SQLite sync log: compact rows in `_audience_log_rows`, read through the view
//! `_audience_logs`, which has exactly interface.md's columns.
//!
//! Why not a table with those columns: a first sync writes one log row per member, and text rows
//! (the operation and status as words, two timestamps, the key as text) plus an index on the run
//! cost about twice what the compact row does; the recording thread, which also moves the
//! baseline, is what bounds a first sync. A row here holds the run (sync, run id), the record's
//! `seq` in the run's delta (negative for invalid rows: minus their snapshot row), the key as the
//! model had it, the operation and status as small integers, the error and HTTP status, and when
//! the outcome was recorded in Unix milliseconds. The table is keyed by (sync, run, seq), so a
//! run's rows are one range: `audience logs` reads it, retention deletes it, and no other index
//! is kept. The view turns the integers into interface.md's words and text timestamps, and takes
//! `sync_started_at` from the run's row.
//!
//! A database written before this layout has a table `_audience_logs`: [`migrate`] copies its
//! rows over and replaces it with the view, in one transaction.

use rusqlite::Connection;

use super::super::diff::{Tables, except_seqs};
use super::super::ident::quote;

/// The compact rows.
pub const ROWS: &str = "_audience_log_rows";
/// The view with interface.md's columns.
pub const VIEW: &str = "_audience_logs";

/// Status codes of [`ROWS`].
pub const SUCCEEDED: i64 = 0;
pub const FAILED: i64 = 1;
pub const INVALID: i64 = 2;

/// The rows' table and the view (idempotent).
pub fn create(runs: &str) -> [String; 2] {
    [create_rows(), create_view(runs)]
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

fn create_view(runs: &str) -> String {
    format!(
        "CREATE VIEW IF NOT EXISTS main.{view} AS SELECT l.sync_name AS sync_name, l.run_id AS run_id, {COLUMNS} \
         FROM {from}",
        view = quote(VIEW),
        from = from(runs),
    )
}

/// interface.md's columns after `sync_name, run_id`, from the rows `l` and the run `r`.
const COLUMNS: &str = "CAST(l.primary_key AS TEXT) AS primary_key, \
     CASE l.operation WHEN 0 THEN 'delete' WHEN 1 THEN 'update' ELSE 'insert' END AS operation, \
     CASE l.status WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed' ELSE 'invalid' END AS status, \
     l.error_reason AS error_reason, l.http_status AS http_status, r.started_at AS sync_started_at, \
     strftime('%Y-%m-%dT%H:%M:%S', l.finished_ms / 1000, 'unixepoch') || '.' || printf('%03d', l.finished_ms % 1000) \
     || 'Z' AS sync_finished_at";

/// The rows `l` with their run `r` (a left join: a row whose run row is gone still shows).
fn from(runs: &str) -> String {
    format!(
        "main.{rows} AS l LEFT JOIN {runs} AS r ON r.sync_name = l.sync_name AND r.run_id = l.run_id",
        rows = quote(ROWS)
    )
}

/// A run's rows in the order of its delta (invalid rows first), failed and invalid ones only
/// when `failed_only`: the columns of `LogRow`. Parameters: sync, run id.
pub fn select(runs: &str, failed_only: bool) -> String {
    let only = if failed_only { format!(" AND l.status <> {SUCCEEDED}") } else { String::new() };
    format!(
        "SELECT {COLUMNS} FROM {from} WHERE l.sync_name = ?1 AND l.run_id = ?2{only} ORDER BY l.seq",
        from = from(runs)
    )
}

/// Rows for the records of `lo..=hi` that succeeded, from the delta. Parameters: sync, run id,
/// finished (ms), lo, hi.
pub fn succeeded(t: &Tables, not: &[i64]) -> String {
    format!(
        "INSERT INTO main.{rows} (sync_name, run_id, seq, primary_key, operation, status, finished_ms) \
         SELECT ?1, ?2, d.\"_audience_seq\", d.\"_audience_key\", d.\"_audience_op\", {SUCCEEDED}, ?3 \
         FROM {delta} AS d WHERE d.\"_audience_seq\" BETWEEN ?4 AND ?5{not}",
        rows = quote(ROWS),
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

/// Deletes a sync's rows of runs started before a time (whole runs, by key ranges).
/// Parameters: sync, cutoff.
pub fn delete_old(runs: &str) -> String {
    format!(
        "DELETE FROM main.{rows} WHERE sync_name = ?1 AND run_id <= \
         (SELECT coalesce(max(run_id), 0) FROM {runs} WHERE sync_name = ?1 AND started_at < ?2)",
        rows = quote(ROWS)
    )
}

/// Replaces a `_audience_logs` table (the layout before [`ROWS`]; the caller has found one) by
/// the view, its rows copied into [`ROWS`] in their order. Runs after [`create`] (whose view
/// the table's name kept out), in the caller's transaction.
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
