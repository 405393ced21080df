//! The state tables every sync shares, and their statements: runs, locks and the sync log
//! (interface.md, "Warehouse tables"). SQLite: `_audience_runs`, `_audience_locks` and the view
//! `_audience_logs` in the source database (the log's tables and view are `sqlite::log`'s);
//! PostgreSQL: `_audience.runs`, `_audience.locks`, `_audience.logs`. Timestamps are RFC 3339
//! text in UTC in SQLite (text order is time order), `timestamptz` in PostgreSQL.

use super::diff::{Dialect, Place, TableName, create_index, schema, table_name};

/// The shared state tables of a dialect.
#[derive(Clone, Debug)]
pub struct StateTables {
    pub dialect: Dialect,
    pub runs: TableName,
    pub locks: TableName,
    pub logs: TableName,
    /// The layout's version (see [`super::schema`]).
    pub schema: TableName,
}

impl StateTables {
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
             error {text}, host {text} NOT NULL, pid {int} NOT NULL, PRIMARY KEY (sync_name, run_id))",
            runs = self.runs.qualified()
        ));
        // One row per locked sync, for display (PostgreSQL) or as the lock itself (SQLite).
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {locks} (\
             sync_name {text} PRIMARY KEY, run_id {int}, host {text} NOT NULL, pid {int} NOT NULL, \
             acquired_at {ts} NOT NULL, heartbeat_at {ts} NOT NULL)",
            locks = self.locks.qualified()
        ));
        if self.dialect == Dialect::Sqlite {
            // SQLite keeps the log as compact rows behind a view: see `sqlite::log`.
            return out;
        }
        // Exactly interface.md's columns, in its order.
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

    /// Ends a run. Parameters: sync, run id, finished at, status, error.
    pub fn finish_run(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET finished_at = {}, status = {}, error = {} WHERE sync_name = {} AND run_id = {}",
            self.runs.qualified(),
            d.ts_param(3),
            d.param(4, "text"),
            d.param(5, "text"),
            d.param(1, "text"),
            d.param(2, "bigint"),
        )
    }

    /// Marks the runs a dead holder left `running` as failed. Parameters: sync, finished at,
    /// error.
    pub fn fail_dead_runs(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET status = 'failed', finished_at = {}, error = {} WHERE sync_name = {} AND status = 'running'",
            self.runs.qualified(),
            d.ts_param(2),
            d.param(3, "text"),
            d.param(1, "text"),
        )
    }

    /// The lock row of a sync. Parameter: sync.
    pub fn read_lock(&self) -> String {
        let ts = |c: &str| match self.dialect {
            Dialect::Sqlite => c.to_owned(),
            Dialect::Postgres => format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"),
        };
        format!(
            "SELECT host, pid, run_id, {}, {} FROM {} WHERE sync_name = {}",
            ts("acquired_at"),
            ts("heartbeat_at"),
            self.locks.qualified(),
            self.dialect.param(1, "text")
        )
    }

    /// Writes this process's lock row (replacing a stale one). Parameters: sync, host, pid, now.
    pub fn write_lock(&self) -> String {
        let d = self.dialect;
        format!(
            "INSERT INTO {} (sync_name, run_id, host, pid, acquired_at, heartbeat_at) VALUES ({}, NULL, {}, {}, {}, {}) \
             ON CONFLICT (sync_name) DO UPDATE SET run_id = NULL, host = excluded.host, pid = excluded.pid, \
             acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at",
            self.locks.qualified(),
            d.param(1, "text"),
            d.param(2, "text"),
            d.param(3, "bigint"),
            d.ts_param(4),
            d.ts_param(4),
        )
    }

    /// Sets the run id of our lock row. Parameters: sync, pid, run id.
    pub fn lock_run(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET run_id = {} WHERE sync_name = {} AND pid = {}",
            self.locks.qualified(),
            d.param(3, "bigint"),
            d.param(1, "text"),
            d.param(2, "bigint"),
        )
    }

    /// Refreshes our heartbeat. Parameters: sync, pid, now.
    pub fn heartbeat(&self) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET heartbeat_at = {} WHERE sync_name = {} AND pid = {}",
            self.locks.qualified(),
            d.ts_param(3),
            d.param(1, "text"),
            d.param(2, "bigint"),
        )
    }

    /// Deletes our lock row. Parameters: sync, pid.
    pub fn delete_lock(&self) -> String {
        let d = self.dialect;
        format!(
            "DELETE FROM {} WHERE sync_name = {} AND pid = {}",
            self.locks.qualified(),
            d.param(1, "text"),
            d.param(2, "bigint")
        )
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
        let ts = |c: &str| match d {
            Dialect::Postgres => format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"),
            Dialect::Sqlite => c.to_owned(),
        };
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
        let ts = |c: &str| format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
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

/// The first instant of the UTC day `days` days before `now`'s: log rows of runs started
/// before it are past `log_retention_days`.
pub fn log_cutoff(now: chrono::DateTime<chrono::Utc>, days: u32) -> String {
    let day = now.date_naive() - chrono::TimeDelta::days(days as i64);
    let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_a_utc_midnight() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-10T15:30:00Z").unwrap().to_utc();
        assert_eq!(log_cutoff(now, 7), "2024-05-03T00:00:00.000Z");
        assert_eq!(log_cutoff(now, 1), "2024-05-09T00:00:00.000Z");
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
