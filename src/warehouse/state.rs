//! The state tables every sync shares, and their statements: runs, locks and the sync log
//! (docs/design/interface.md, "Warehouse tables"). SQLite: `_audience_runs`, `_audience_locks` and the view
//! `_audience_logs` in the source database (the log's tables and view are `sqlite::log`'s);
//! PostgreSQL: `_audience.runs`, `_audience.locks`, `_audience.logs`. Timestamps are RFC 3339
//! text in UTC in SQLite (text order is time order), `timestamptz` in PostgreSQL.

use super::diff::{Dialect, Place, TableName, create_index, schema, table_name};

/// The shared state tables of a dialect.
#[derive(Clone, Debug)]
pub struct StateTables {
    /// The dialect the names are made for.
    pub dialect: Dialect,
    /// One row per run of every sync.
    pub runs: TableName,
    /// One row per held lock: the holder, its token and heartbeat.
    pub locks: TableName,
    /// The sync log: one row per record outcome.
    pub logs: TableName,
    /// The layout's version (see [`super::schema`]).
    pub schema: TableName,
}

impl StateTables {
    /// The state tables' names in `dialect`.
    pub fn new(dialect: Dialect) -> StateTables {
        let table = |base: &str| TableName { schema: schema(dialect, Place::Main), name: table_name(dialect, base) };
        StateTables {
            dialect,
            runs: table("runs"),
            locks: table("locks"),
            logs: table("logs"),
            schema: table("schema"),
        }
    }

    /// Creates whatever is missing (idempotent).
    pub fn create(&self) -> Vec<String> {
        let (text, int, ts) = match self.dialect {
            Dialect::Sqlite => ("TEXT", "INTEGER", "TEXT"),
            Dialect::Postgres => ("text", "bigint", "timestamptz"),
        };
        let mut out = Vec::new();
        if self.dialect == Dialect::Postgres {
            out.push("CREATE SCHEMA IF NOT EXISTS \"_audience\"".to_owned());
        }
        // One row per run: the id increases per sync; counts are updated as batches complete,
        // so a run that died still shows how far it got.
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {runs} (\
             sync_name {text} NOT NULL, run_id {int} NOT NULL, started_at {ts} NOT NULL, finished_at {ts}, \
             status {text} NOT NULL, inserted {int} NOT NULL DEFAULT 0, updated {int} NOT NULL DEFAULT 0, \
             deleted {int} NOT NULL DEFAULT 0, failed {int} NOT NULL DEFAULT 0, invalid {int} NOT NULL DEFAULT 0, \
             requests {int} NOT NULL DEFAULT 0, config_fingerprint {text} NOT NULL, full_resync {int} NOT NULL DEFAULT 0, \
             error {text}, host {text} NOT NULL, pid {int} NOT NULL{tallies}, PRIMARY KEY (sync_name, run_id))",
            runs = self.runs.qualified(),
            tallies = RUN_TALLIES
                .iter()
                .map(|(c, sqlite, pg)| format!(", {c} {}", if self.dialect == Dialect::Sqlite { sqlite } else { pg }))
                .collect::<String>(),
        ));
        // One row per locked sync, for display (PostgreSQL) or as the lock itself (SQLite).
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {locks} (\
             sync_name {text} PRIMARY KEY, run_id {int}, host {text} NOT NULL, pid {int} NOT NULL, \
             acquired_at {ts} NOT NULL, heartbeat_at {ts} NOT NULL{identity})",
            locks = self.locks.qualified(),
            identity = LOCK_IDENTITY
                .iter()
                .map(|(c, sqlite, pg)| {
                    format!(", {c} {}", if self.dialect == Dialect::Sqlite { sqlite } else { pg })
                })
                .collect::<String>(),
        ));
        if self.dialect == Dialect::Sqlite {
            // SQLite keeps the log as compact rows behind a view: see `sqlite::log`.
            return out;
        }
        // Exactly docs/design/interface.md's columns, in its order.
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {logs} (\
             sync_name {text} NOT NULL, run_id {int} NOT NULL, primary_key {text}, operation {text} NOT NULL, \
             status {text} NOT NULL, error_reason {text}, http_status integer, sync_started_at {ts} NOT NULL, \
             sync_finished_at {ts} NOT NULL)",
            logs = self.logs.qualified(),
        ));
        // `audience logs` reads a run's rows, and retention deletes whole runs: both by this
        // index. One index only: every delta record writes a log row.
        out.push(create_index(self.dialect, &self.logs, "run", &["sync_name", "run_id"], false));
        out
    }

    /// A new run row. Parameters: sync, run id, started at, config fingerprint (text), full
    /// resync (0/1), host, pid.
    pub fn insert_run(&self) -> String {
        let d = self.dialect;
        format!(
            "INSERT INTO {} (sync_name, run_id, started_at, status, config_fingerprint, full_resync, host, pid) \
             VALUES ({}, {}, {}, 'running', {}, {}, {}, {})",
            self.runs.qualified(),
            d.param(1, "text"),
            d.param(2, "bigint"),
            d.ts_param(3),
            d.param(4, "text"),
            d.param(5, "bigint"),
            d.param(6, "text"),
            d.param(7, "bigint"),
        )
    }

    /// The next run id of a sync. Parameter: sync.
    pub fn next_run_id(&self) -> String {
        format!(
            "SELECT coalesce(max(run_id), 0) + 1 FROM {} WHERE sync_name = {}",
            self.runs.qualified(),
            self.dialect.param(1, "text")
        )
    }

    /// Updates a run's counts. Parameters: sync, run id, inserted, updated, deleted, failed,
    /// invalid, requests.
    pub fn update_counts(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET inserted = {}, updated = {}, deleted = {}, failed = {}, invalid = {}, requests = {} \
             WHERE sync_name = {} AND run_id = {}",
            self.runs.qualified(),
            d.param(3, "bigint"),
            d.param(4, "bigint"),
            d.param(5, "bigint"),
            d.param(6, "bigint"),
            d.param(7, "bigint"),
            d.param(8, "bigint"),
            d.param(1, "text"),
            d.param(2, "bigint"),
        )
    }

    /// Ends a run. Parameters: sync, run id, finished at, status, error, retries, splits,
    /// reasons (JSON text).
    pub fn finish_run(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET finished_at = {}, status = {}, error = {}, retries = {}, splits = {}, reasons = {} \
             WHERE sync_name = {} AND run_id = {}",
            self.runs.qualified(),
            d.ts_param(3),
            d.param(4, "text"),
            d.param(5, "text"),
            d.param(6, "bigint"),
            d.param(7, "bigint"),
            d.param(8, "text"),
            d.param(1, "text"),
            d.param(2, "bigint"),
        )
    }

    /// A sync's newest runs, newest first. Parameters: sync, how many. Columns as
    /// [`super::RunRow`] has them (the sync apart), timestamps as RFC 3339 text in UTC;
    /// `legacy`: a runs table of schema version 2 or before, without the run tallies (they read
    /// as 0 and null).
    pub fn select_runs(&self, legacy: bool) -> String {
        let d = self.dialect;
        let ts = |c: &str| utc_text(d, c);
        let tallies = match (legacy, d) {
            (false, _) => "retries, splits, reasons",
            (true, Dialect::Sqlite) => "0, 0, NULL",
            (true, Dialect::Postgres) => "0::bigint, 0::bigint, NULL::text",
        };
        format!(
            "SELECT run_id, status, {}, {}, inserted, updated, deleted, failed, invalid, requests, {tallies}, error \
             FROM {} WHERE sync_name = {} ORDER BY run_id DESC LIMIT {}",
            ts("started_at"),
            ts("finished_at"),
            self.runs.qualified(),
            d.param(1, "text"),
            d.param(2, "bigint"),
        )
    }

    /// Adds the run tallies (schema version 3) to a runs table of version 2 or before. `have`:
    /// the columns the table has (SQLite has no `ADD COLUMN IF NOT EXISTS`).
    pub fn add_run_tallies(&self, have: &[String]) -> Vec<String> {
        RUN_TALLIES
            .iter()
            .filter(|(c, _, _)| !have.iter().any(|h| h.eq_ignore_ascii_case(c)))
            .map(|(c, sqlite, pg)| match self.dialect {
                Dialect::Sqlite => format!("ALTER TABLE {} ADD COLUMN {c} {sqlite}", self.runs.qualified()),
                Dialect::Postgres => format!("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {c} {pg}", self.runs.qualified()),
            })
            .collect()
    }

    /// Marks the runs a dead holder left `running` as `abandoned`. Parameters: sync, finished
    /// at, error.
    pub fn fail_dead_runs(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET status = 'abandoned', finished_at = {}, error = {} WHERE sync_name = {} AND status = 'running'",
            self.runs.qualified(),
            d.ts_param(2),
            d.param(3, "text"),
            d.param(1, "text"),
        )
    }

    /// The lock row of a sync: host, pid, run id, acquired at, heartbeat at, token, boot id,
    /// PID namespace, start time, lease (ms). Parameter: sync.
    pub fn read_lock(&self) -> String {
        let ts = |c: &str| utc_text(self.dialect, c);
        format!(
            "SELECT host, pid, run_id, {}, {}, token, boot_id, pid_ns, start_time, lease_ms FROM {} WHERE sync_name = {}",
            ts("acquired_at"),
            ts("heartbeat_at"),
            self.locks.qualified(),
            self.dialect.param(1, "text")
        )
    }

    /// [`StateTables::read_lock`] on a locks table of schema version 1 or before, which has no
    /// identity columns (they read as null).
    pub fn read_lock_legacy(&self) -> String {
        self.read_lock().replace(
            "token, boot_id, pid_ns, start_time, lease_ms",
            "NULL AS token, NULL AS boot_id, NULL AS pid_ns, NULL AS start_time, NULL AS lease_ms",
        )
    }

    /// Writes this run's lock row (replacing a stale one). Parameters: sync, host, pid, now,
    /// token, boot id, PID namespace, start time, lease (ms).
    pub fn write_lock(&self) -> String {
        let d = self.dialect;
        format!(
            "INSERT INTO {} (sync_name, run_id, host, pid, acquired_at, heartbeat_at, token, boot_id, pid_ns, \
             start_time, lease_ms) VALUES ({}, NULL, {}, {}, {}, {}, {}, {}, {}, {}, {}) \
             ON CONFLICT (sync_name) DO UPDATE SET run_id = NULL, host = excluded.host, pid = excluded.pid, \
             acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at, token = excluded.token, \
             boot_id = excluded.boot_id, pid_ns = excluded.pid_ns, start_time = excluded.start_time, \
             lease_ms = excluded.lease_ms",
            self.locks.qualified(),
            d.param(1, "text"),
            d.param(2, "text"),
            d.param(3, "bigint"),
            d.ts_param(4),
            d.ts_param(4),
            d.param(5, "text"),
            d.param(6, "text"),
            d.param(7, "bigint"),
            d.param(8, "bigint"),
            d.param(9, "bigint"),
        )
    }

    /// Sets the run id of our lock row. Parameters: sync, token, run id.
    pub fn lock_run(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET run_id = {} WHERE sync_name = {} AND token = {}",
            self.locks.qualified(),
            d.param(3, "bigint"),
            d.param(1, "text"),
            d.param(2, "text"),
        )
    }

    /// Refreshes our heartbeat: the fence of every write transaction of a run (no row updated:
    /// the lock is no longer ours). Parameters: sync, token, now.
    pub fn heartbeat(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET heartbeat_at = {} WHERE sync_name = {} AND token = {}",
            self.locks.qualified(),
            d.ts_param(3),
            d.param(1, "text"),
            d.param(2, "text"),
        )
    }

    /// Deletes our lock row (and only ours). Parameters: sync, token.
    pub fn delete_lock(&self) -> String {
        let d = self.dialect;
        format!(
            "DELETE FROM {} WHERE sync_name = {} AND token = {}",
            self.locks.qualified(),
            d.param(1, "text"),
            d.param(2, "text")
        )
    }

    /// Adds the lock row's identity columns to a locks table of schema version 1 or before.
    /// `have`: the columns the table has (SQLite has no `ADD COLUMN IF NOT EXISTS`).
    pub fn add_lock_identity(&self, have: &[String]) -> Vec<String> {
        LOCK_IDENTITY
            .iter()
            .filter(|(c, _, _)| !have.iter().any(|h| h.eq_ignore_ascii_case(c)))
            .map(|(c, sqlite, pg)| match self.dialect {
                Dialect::Sqlite => format!("ALTER TABLE {} ADD COLUMN {c} {sqlite}", self.locks.qualified()),
                Dialect::Postgres => {
                    format!("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {c} {pg}", self.locks.qualified())
                }
            })
            .collect()
    }

    /// The latest run id of a sync, or run `id` when it exists. Parameters: sync, id (or null).
    pub fn pick_run(&self) -> String {
        let d = self.dialect;
        format!(
            "SELECT max(run_id) FROM {} WHERE sync_name = {} AND ({p2} IS NULL OR run_id = {p2})",
            self.runs.qualified(),
            d.param(1, "text"),
            p2 = d.param(2, "bigint"),
        )
    }

    /// A run's row: the latest run of a sync, or run `id`. Parameters: sync, id (or null).
    /// Columns as [`super::RunInfo`] has them, timestamps as RFC 3339 text in UTC.
    pub fn select_run(&self) -> String {
        let d = self.dialect;
        let ts = |c: &str| utc_text(d, c);
        format!(
            "SELECT run_id, status, error, config_fingerprint, full_resync, {}, {}, inserted, updated, deleted, \
             failed, invalid, requests FROM {runs} WHERE sync_name = {p1} AND run_id = \
             (SELECT max(run_id) FROM {runs} WHERE sync_name = {p1} AND ({p2} IS NULL OR run_id = {p2}))",
            ts("started_at"),
            ts("finished_at"),
            runs = self.runs.qualified(),
            p1 = d.param(1, "text"),
            p2 = d.param(2, "bigint"),
        )
    }

    /// Log rows of a run, failed and invalid ones only when `failed_only` (PostgreSQL; SQLite's
    /// are in `sqlite::log`). Parameters: sync, run id.
    pub fn select_logs(&self, failed_only: bool) -> String {
        let d = self.dialect;
        let ts = |c: &str| utc_text(Dialect::Postgres, c);
        let only = if failed_only { " AND status <> 'succeeded'" } else { "" };
        // ctid order is insertion order: log rows come out as they were recorded.
        format!(
            "SELECT primary_key, operation, status, error_reason, http_status, {}, {} FROM {} \
             WHERE sync_name = {} AND run_id = {}{only} ORDER BY ctid",
            ts("sync_started_at"),
            ts("sync_finished_at"),
            self.logs.qualified(),
            d.param(1, "text"),
            d.param(2, "bigint"),
        )
    }

    /// Deletes a sync's log rows of runs started before a time (PostgreSQL; SQLite's are in
    /// `sqlite::log`). Parameters: sync, cutoff.
    pub fn delete_old_logs(&self) -> String {
        let d = self.dialect;
        format!(
            "DELETE FROM {logs} WHERE sync_name = {p1} AND run_id <= \
             (SELECT coalesce(max(run_id), 0) FROM {runs} WHERE sync_name = {p1} AND started_at < {p2})",
            logs = self.logs.qualified(),
            runs = self.runs.qualified(),
            p1 = d.param(1, "text"),
            p2 = d.ts_param(2),
        )
    }
}

/// The lock row's identity columns (schema version 2), with their SQLite and PostgreSQL types:
/// the run's token, the holder's boot id, PID namespace and process start time, and its lease.
/// Null in a row an older release wrote.
const LOCK_IDENTITY: [(&str, &str, &str); 5] = [
    ("token", "TEXT", "text"),
    ("boot_id", "TEXT", "text"),
    ("pid_ns", "INTEGER", "bigint"),
    ("start_time", "INTEGER", "bigint"),
    ("lease_ms", "INTEGER", "bigint"),
];

/// The run tallies (schema version 3), with their SQLite and PostgreSQL types: requests sent
/// again, refused requests split, and why records failed (a JSON array of `{reason,
/// http_status, count}`, at most ten, most frequent first). Written when the run ends; a run in
/// progress or one that died has 0 and null.
const RUN_TALLIES: [(&str, &str, &str); 3] = [
    ("retries", "INTEGER NOT NULL DEFAULT 0", "bigint NOT NULL DEFAULT 0"),
    ("splits", "INTEGER NOT NULL DEFAULT 0", "bigint NOT NULL DEFAULT 0"),
    ("reasons", "TEXT", "text"),
];

/// The `reasons` column as stored (JSON text; null in a run that has not ended, or that an
/// older release wrote): unreadable text reads as none rather than failing the history.
pub fn parse_reasons(text: Option<&str>) -> Vec<super::ReasonCount> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// `days` × 24 hours before the run's start (`started_at`, RFC 3339; the current time should
/// it not parse): log rows of runs started before it are past `log_retention_days` (docs/design/sync.md,
/// step 8).
pub fn log_cutoff(started_at: &str, days: u32) -> String {
    let start = chrono::DateTime::parse_from_rfc3339(started_at)
        .map(|t| t.to_utc())
        .unwrap_or_else(|_| chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()));
    let cutoff = start - chrono::TimeDelta::hours(24 * i64::from(days));
    cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Timestamp column `c` as the state tables give it: RFC 3339 text in UTC with milliseconds
/// (SQLite stores it so; PostgreSQL formats its `timestamptz`).
fn utc_text(d: Dialect, c: &str) -> String {
    match d {
        Dialect::Postgres => format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"),
        Dialect::Sqlite => c.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_whole_days_of_24_hours_before_the_run_start() {
        assert_eq!(log_cutoff("2024-05-10T15:30:00.250Z", 7), "2024-05-03T15:30:00.250Z");
        assert_eq!(log_cutoff("2024-05-10T15:30:00Z", 1), "2024-05-09T15:30:00.000Z");
        // Across a DST change nothing moves: UTC has none.
        assert_eq!(log_cutoff("2024-03-31T01:30:00+00:00", 1), "2024-03-30T01:30:00.000Z");
    }

    #[test]
    fn state_tables() {
        let s = StateTables::new(Dialect::Sqlite);
        let ddl = s.create().join("\n");
        assert!(ddl.contains("\"main\".\"_audience_runs\""), "{ddl}");
        assert!(!ddl.contains("_audience_logs"), "{ddl}");
        let p = StateTables::new(Dialect::Postgres);
        let ddl = p.create().join("\n");
        assert!(ddl.starts_with("CREATE SCHEMA IF NOT EXISTS \"_audience\""));
        assert!(ddl.contains("\"_audience\".\"logs\""), "{ddl}");
        assert!(ddl.contains("ON \"_audience\".\"logs\"(\"sync_name\", \"run_id\")"), "{ddl}");
    }
}
