//! The statements a Snowflake run sends, as set-based Snowflake SQL, and the check that none
//! uses a construct Snowflake lacks (fakesnow runs them on DuckDB, which accepts more).
//!
//! State lives in the schema `_AUDIENCE` of the source database (as `_audience` on
//! PostgreSQL):
//!
//! ```text
//!  RUNS, LOGS                 as on PostgreSQL (docs/design/interface.md's columns)
//!  LOCKS                      the lock row: SYNC_NAME, TOKEN (random per run), FENCE (+1 per
//!                             holder), RUN_ID, HOLDER (identity), ACQUIRED_AT, HEARTBEAT_AT
//!  OUTCOMES                   the recording journal: one row per batch, SEQ_LO..SEQ_HI with
//!                             the batch's failures as a VARIANT array, RECORDED_AT
//!  BASELINE_<SYNC>            _AUDIENCE_KEY, <image columns>, _AUDIENCE_FP, _AUDIENCE_CONFIG
//!  SNAPSHOT_<SYNC>_<RUN>      transient: the model's rows (the key typed) with their fingerprint
//!  DELTA_<SYNC>_<RUN>         transient: _AUDIENCE_SEQ (sending order), _AUDIENCE_OP, key,
//!                             image, fingerprint
//! ```
//!
//! No transaction spans round trips: every statement autocommits. A batch's outcomes are one
//! `INSERT … SELECT … FROM LOCKS WHERE TOKEN = ?` into the journal (0 rows inserted: the lock
//! was lost); the baseline moves, the log rows and the run's counts are derived from the journal
//! by one statement each at the end of the run, or by the next run for a run that died (the
//! journal and the delta of a run stay until they are applied). Statements per run: a constant
//! (19 here; retention and invalid-row logging add a few) plus one page read and one recording
//! per batch; see docs/design/snowflake.md.
//!
//! Numbers we computed (run ids, the configuration fingerprint) are written into the text, as
//! in `diff.rs`; strings (sync names, tokens, reasons) are always bound (`?`).

use super::super::ModelSpec;

/// The state schema.
pub const STATE_SCHEMA: &str = "_AUDIENCE";

/// `"name"`, with `"` doubled: Snowflake's quoted identifier (case-sensitive), as the other
/// engines quote theirs.
pub use crate::warehouse::ident::quote;

/// The statements of one run of one sync, against database `database`.
#[derive(Clone, Debug)]
pub struct RunSql<'a> {
    /// The database holding the state schema `_AUDIENCE`.
    pub database: &'a str,
    /// The model, resolved against its columns.
    pub spec: &'a ModelSpec,
    /// The run's id, increasing per sync.
    pub run_id: i64,
    /// The configuration fingerprint the run sends under.
    pub config: i64,
    /// A dry run: its snapshot and delta are named `…_DRY` (dropped when it ends), and
    /// `resend_all` stands in for the full resync it may not write into the baseline.
    pub dry_run: bool,
    /// Every member counts as sent under no configuration (a dry run's `--full-resync`, which
    /// must not clear the baseline's configuration column as a real run does).
    pub resend_all: bool,
}

impl RunSql<'_> {
    fn state(&self, table: &str) -> String {
        format!("{}.{}.{}", quote(self.database), quote(STATE_SCHEMA), quote(table))
    }

    fn sync_upper(&self) -> String {
        self.spec.sync.as_str().to_ascii_uppercase()
    }

    /// The shared runs table, qualified.
    pub fn runs(&self) -> String {
        self.state("RUNS")
    }
    /// The shared locks table, qualified.
    pub fn locks(&self) -> String {
        self.state("LOCKS")
    }
    /// The shared sync-log table, qualified.
    pub fn logs(&self) -> String {
        self.state("LOGS")
    }
    /// The recording journal (one row per recorded batch), qualified.
    pub fn outcomes(&self) -> String {
        self.state("OUTCOMES")
    }
    /// The sync's baseline table, qualified.
    pub fn baseline(&self) -> String {
        self.state(&format!("BASELINE_{}", self.sync_upper()))
    }
    /// The state schema's version table, qualified.
    pub fn schema_table(&self) -> String {
        self.state("SCHEMA")
    }
    /// This run's snapshot table, qualified.
    pub fn snapshot(&self) -> String {
        self.state(&self.snapshot_name())
    }
    /// This run's delta table, qualified.
    pub fn delta(&self) -> String {
        self.state(&self.delta_name())
    }
    /// This run's snapshot table's name (`SNAPSHOT_<SYNC>_<RUN>`, `_DRY` after it for a dry run).
    pub fn snapshot_name(&self) -> String {
        format!("SNAPSHOT_{}_{}{}", self.sync_upper(), self.run_id, if self.dry_run { "_DRY" } else { "" })
    }
    /// This run's delta table's name (`DELTA_<SYNC>_<RUN>`, `_DRY` after it for a dry run).
    pub fn delta_name(&self) -> String {
        format!("DELTA_{}_{}{}", self.sync_upper(), self.run_id, if self.dry_run { "_DRY" } else { "" })
    }
    /// The sync's baseline table's name.
    pub fn baseline_name(&self) -> String {
        format!("BASELINE_{}", self.sync_upper())
    }
    /// A table of the state schema by its name, qualified.
    pub fn state_table(&self, name: &str) -> String {
        self.state(name)
    }
    /// The state schema, qualified.
    pub fn schema(&self) -> String {
        format!("{}.{}", quote(self.database), quote(STATE_SCHEMA))
    }

    /// The image columns, quoted, each prefixed with `alias.` when one is given.
    fn columns(&self, alias: &str) -> Vec<String> {
        self.spec
            .columns
            .iter()
            .map(|c| if alias.is_empty() { quote(c) } else { format!("{alias}.{}", quote(c)) })
            .collect()
    }

    /// The state schema and the shared tables; idempotent. Snowflake does not enforce PRIMARY
    /// KEY: every write below keeps keys unique by construction (MERGE on the key).
    pub fn create_state(&self) -> Vec<String> {
        vec![
            format!("CREATE SCHEMA IF NOT EXISTS {}.{}", quote(self.database), quote(STATE_SCHEMA)),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (SYNC_NAME VARCHAR NOT NULL, RUN_ID NUMBER(19,0) NOT NULL, \
                 STARTED_AT TIMESTAMP_TZ NOT NULL, FINISHED_AT TIMESTAMP_TZ, STATUS VARCHAR NOT NULL, \
                 INSERTED NUMBER(19,0) DEFAULT 0, UPDATED NUMBER(19,0) DEFAULT 0, DELETED NUMBER(19,0) DEFAULT 0, \
                 FAILED NUMBER(19,0) DEFAULT 0, INVALID NUMBER(19,0) DEFAULT 0, REQUESTS NUMBER(19,0) DEFAULT 0, \
                 CONFIG_FINGERPRINT VARCHAR NOT NULL, FULL_RESYNC BOOLEAN DEFAULT FALSE, ERROR VARCHAR, \
                 HOST VARCHAR NOT NULL, PID NUMBER(19,0) NOT NULL, RETRIES NUMBER(19,0) DEFAULT 0, \
                 SPLITS NUMBER(19,0) DEFAULT 0, REASONS VARCHAR)",
                self.runs()
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (SYNC_NAME VARCHAR NOT NULL, TOKEN VARCHAR NOT NULL, \
                 FENCE NUMBER(19,0) NOT NULL, RUN_ID NUMBER(19,0), HOLDER VARCHAR NOT NULL, \
                 ACQUIRED_AT TIMESTAMP_TZ NOT NULL, HEARTBEAT_AT TIMESTAMP_TZ NOT NULL)",
                self.locks()
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (SYNC_NAME VARCHAR NOT NULL, RUN_ID NUMBER(19,0) NOT NULL, \
                 PRIMARY_KEY VARCHAR, OPERATION VARCHAR NOT NULL, STATUS VARCHAR NOT NULL, ERROR_REASON VARCHAR, \
                 HTTP_STATUS NUMBER(3,0), SYNC_STARTED_AT TIMESTAMP_TZ NOT NULL, SYNC_FINISHED_AT TIMESTAMP_TZ NOT NULL, \
                 SEQ NUMBER(19,0) NOT NULL)",
                self.logs()
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (SYNC_NAME VARCHAR NOT NULL, RUN_ID NUMBER(19,0) NOT NULL, \
                 SEQ_LO NUMBER(19,0) NOT NULL, SEQ_HI NUMBER(19,0) NOT NULL, FAILED VARIANT, \
                 MOVE_FAILED BOOLEAN NOT NULL, RECORDED_AT TIMESTAMP_TZ NOT NULL)",
                self.outcomes()
            ),
            format!("CREATE TABLE IF NOT EXISTS {} (VERSION NUMBER(19,0) NOT NULL)", self.schema_table()),
        ]
    }

    /// The state tables' recorded schema version (null: none recorded).
    pub fn read_schema(&self) -> String {
        format!("SELECT MAX(VERSION) FROM {}", self.schema_table())
    }

    /// Records `version` as the only row: two statements, sent only when the version changes
    /// (a first run, an upgrade).
    pub fn write_schema(&self, version: i64) -> Vec<String> {
        let table = self.schema_table();
        vec![format!("DELETE FROM {table}"), format!("INSERT INTO {table} (VERSION) VALUES ({version})")]
    }

    /// Steps the recorded version from `from` to `to`, for an upgrade that changes no
    /// Snowflake table: one statement, so that two processes stepping at once leave one row.
    pub fn step_schema(&self, from: i64, to: i64) -> String {
        format!("UPDATE {} SET VERSION = {to} WHERE VERSION = {from}", self.schema_table())
    }

    /// Whether the state schema exists (a dry run creates nothing it cannot drop again).
    /// Binds: none.
    pub fn schema_exists(&self) -> String {
        format!(
            "SELECT COUNT(*) FROM {}.INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = '{}'",
            quote(self.database),
            STATE_SCHEMA
        )
    }

    /// Whether a table of the state schema exists. Binds: its name.
    pub fn table_exists(&self) -> String {
        format!(
            "SELECT COUNT(*) FROM {}.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = ?",
            quote(self.database),
            STATE_SCHEMA
        )
    }

    /// A table's columns with their types, in order. Binds: the table's name.
    pub fn table_columns(&self) -> String {
        format!(
            "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM {}.INFORMATION_SCHEMA.COLUMNS \
             WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            quote(self.database),
            STATE_SCHEMA
        )
    }

    /// The model's columns, without reading a row of it (the answer's column types).
    pub fn model_columns(&self) -> String {
        format!("SELECT * FROM ({}) M LIMIT 0", self.spec.sql)
    }

    /// The model's first `limit` rows (the studio's sample rows): the key as text, then the
    /// mapped columns, as the other engines read them.
    pub fn model_rows(&self, limit: usize) -> String {
        use crate::warehouse::diff;
        diff::model_rows(self.spec, &diff::model_image(self.spec), limit)
    }

    /// Makes `schema` of the database the session's again: `CREATE SCHEMA` switches the
    /// session to the new schema, and the model's unqualified names resolve in the source's.
    pub fn use_schema(&self, schema: &str) -> String {
        format!("USE SCHEMA {}.{}", quote(self.database), quote(schema))
    }

    /// A dry run's scratch schema, when the state schema does not exist yet (dropped when it
    /// ends, with [`RunSql::drop_schema`]).
    pub fn create_schema(&self) -> String {
        format!("CREATE SCHEMA IF NOT EXISTS {}", self.schema())
    }

    /// Drops the scratch schema a dry run created (it holds only the dry run's own tables).
    pub fn drop_schema(&self) -> String {
        format!("DROP SCHEMA IF EXISTS {}", self.schema())
    }

    /// Runs a dead holder left `running` are marked abandoned, while `?` holds the lock. Binds:
    /// error, sync, sync, token.
    pub fn fail_dead_runs(&self) -> String {
        format!(
            "UPDATE {runs} SET STATUS = 'abandoned', FINISHED_AT = CURRENT_TIMESTAMP(), ERROR = ? \
             WHERE SYNC_NAME = ? AND STATUS = 'running' \
             AND EXISTS (SELECT 1 FROM {locks} L WHERE L.SYNC_NAME = ? AND L.TOKEN = ?)",
            runs = self.runs(),
            locks = self.locks()
        )
    }

    /// `--full-resync`: every member counts as sent under no configuration, so the delta sends
    /// it again, and a crash half way leaves the rest marked. Binds: sync, token.
    pub fn clear_config(&self) -> String {
        format!(
            "UPDATE {} SET \"_AUDIENCE_CONFIG\" = NULL \
             WHERE EXISTS (SELECT 1 FROM {} L WHERE L.SYNC_NAME = ? AND L.TOKEN = ?)",
            self.baseline(),
            self.locks()
        )
    }

    /// Adds an image column to the baseline (a mapping that reads one more column); `ty` is
    /// Snowflake's own spelling of the snapshot column's type.
    pub fn widen_baseline(&self, column: &str, ty: &str) -> String {
        format!("ALTER TABLE {} ADD COLUMN {} {ty}", self.baseline(), quote(column))
    }

    /// The invalid rows' log rows (null or duplicate key), one per row, with the operation they
    /// would have had, while `?` holds the lock. Binds: sync, started at, started at, sync, token.
    pub fn log_invalid(&self) -> String {
        let key = "\"_AUDIENCE_KEY\"";
        format!(
            "INSERT INTO {logs} (SYNC_NAME, RUN_ID, PRIMARY_KEY, OPERATION, STATUS, ERROR_REASON, HTTP_STATUS, \
             SYNC_STARTED_AT, SYNC_FINISHED_AT, SEQ) \
             SELECT ?, {run}, TO_VARCHAR(S.{key}), \
             CASE WHEN EXISTS (SELECT 1 FROM {baseline} B WHERE B.{key} = S.{key}) THEN 'update' ELSE 'insert' END, \
             'invalid', CASE WHEN S.{key} IS NULL THEN 'the primary key is null' \
             ELSE 'the primary key is not unique: ' || TO_VARCHAR(S.N) || ' rows of the model have this value' END, \
             NULL, CAST(? AS TIMESTAMP_TZ), CAST(? AS TIMESTAMP_TZ), 0 \
             FROM (SELECT {key}, COUNT(*) OVER (PARTITION BY {key}) AS N FROM {snapshot}) S \
             WHERE (S.{key} IS NULL OR S.N > 1) \
             AND EXISTS (SELECT 1 FROM {locks} L WHERE L.SYNC_NAME = ? AND L.TOKEN = ?)",
            logs = self.logs(),
            run = self.run_id,
            baseline = self.baseline(),
            snapshot = self.snapshot(),
            locks = self.locks()
        )
    }

    /// A run's row (the latest of the sync, or run `?`): as `RunInfo` has it. Binds: sync, sync,
    /// run id (or null), run id (or null).
    pub fn select_run(&self) -> String {
        format!(
            "SELECT RUN_ID, STATUS, ERROR, CONFIG_FINGERPRINT, FULL_RESYNC, STARTED_AT, FINISHED_AT, INSERTED, UPDATED, \
             DELETED, FAILED, INVALID, REQUESTS FROM {runs} WHERE SYNC_NAME = ? AND RUN_ID = \
             (SELECT MAX(RUN_ID) FROM {runs} WHERE SYNC_NAME = ? AND (CAST(? AS NUMBER(19,0)) IS NULL \
             OR RUN_ID = CAST(? AS NUMBER(19,0))))",
            runs = self.runs()
        )
    }

    /// A sync's log rows of one run, in the order they were recorded (invalid rows, then the
    /// delta's order). Binds: sync, run id.
    pub fn select_logs(&self, failed_only: bool) -> String {
        let only = if failed_only { " AND STATUS <> 'succeeded'" } else { "" };
        format!(
            "SELECT PRIMARY_KEY, OPERATION, STATUS, ERROR_REASON, HTTP_STATUS, SYNC_STARTED_AT, SYNC_FINISHED_AT \
             FROM {} WHERE SYNC_NAME = ? AND RUN_ID = ?{only} ORDER BY SYNC_FINISHED_AT, SEQ, PRIMARY_KEY",
            self.logs()
        )
    }

    /// Deletes a sync's log rows of runs started before a time. Binds: sync, sync, cutoff.
    pub fn delete_old_logs(&self) -> String {
        format!(
            "DELETE FROM {logs} WHERE SYNC_NAME = ? AND RUN_ID <= \
             (SELECT COALESCE(MAX(RUN_ID), 0) FROM {runs} WHERE SYNC_NAME = ? AND STARTED_AT < CAST(? AS TIMESTAMP_TZ))",
            logs = self.logs(),
            runs = self.runs()
        )
    }

    /// The runs whose journal rows remain (runs that died before applying them), with the
    /// start and configuration of each. Binds: sync, sync.
    pub fn dead_journals(&self) -> String {
        format!(
            "SELECT R.RUN_ID, R.STARTED_AT, R.CONFIG_FINGERPRINT FROM {runs} R WHERE R.SYNC_NAME = ? \
             AND R.RUN_ID IN (SELECT O.RUN_ID FROM {outcomes} O WHERE O.SYNC_NAME = ?) ORDER BY R.RUN_ID",
            runs = self.runs(),
            outcomes = self.outcomes()
        )
    }

    /// Drops a table of the state schema, by name.
    pub fn drop_table(&self, name: &str) -> String {
        format!("DROP TABLE IF EXISTS {}", self.state(name))
    }

    /// Takes a free lock: inserts the lock row when there is none, or fills a released one
    /// (`TOKEN = ''`), never touching a held one. `number of rows inserted` + `updated` = 1:
    /// taken. Binds: sync, token, holder.
    pub fn acquire_lock(&self) -> String {
        format!(
            "MERGE INTO {locks} L USING (SELECT ? AS SYNC_NAME, ? AS TOKEN, ? AS HOLDER) N \
             ON L.SYNC_NAME = N.SYNC_NAME \
             WHEN MATCHED AND L.TOKEN = '' THEN UPDATE SET TOKEN = N.TOKEN, FENCE = L.FENCE + 1, RUN_ID = NULL, \
             HOLDER = N.HOLDER, ACQUIRED_AT = CURRENT_TIMESTAMP(), HEARTBEAT_AT = CURRENT_TIMESTAMP() \
             WHEN NOT MATCHED THEN INSERT (SYNC_NAME, TOKEN, FENCE, HOLDER, ACQUIRED_AT, HEARTBEAT_AT) \
             VALUES (N.SYNC_NAME, N.TOKEN, 1, N.HOLDER, CURRENT_TIMESTAMP(), CURRENT_TIMESTAMP())",
            locks = self.locks()
        )
    }

    /// Takes over a stale lock: compare-and-set on the token and fence the taker saw (the
    /// staleness rule of docs/design/sync.md decides when; this only makes the takeover atomic). 1 row
    /// updated: taken. Binds: new token, holder, sync, old token, old fence.
    pub fn take_over_lock(&self) -> String {
        format!(
            "UPDATE {} SET TOKEN = ?, FENCE = FENCE + 1, RUN_ID = NULL, HOLDER = ?, ACQUIRED_AT = CURRENT_TIMESTAMP(), \
             HEARTBEAT_AT = CURRENT_TIMESTAMP() WHERE SYNC_NAME = ? AND TOKEN = ? AND FENCE = ?",
            self.locks()
        )
    }

    /// The lock row as a taker reads it: token, fence, run, holder, heartbeat, taken at, and the newest
    /// recording of the holder's run (a batch recorded is a heartbeat too). Binds: sync.
    pub fn read_lock(&self) -> String {
        format!(
            "SELECT L.TOKEN, L.FENCE, L.RUN_ID, L.HOLDER, L.HEARTBEAT_AT, L.ACQUIRED_AT, \
             (SELECT MAX(O.RECORDED_AT) FROM {outcomes} O WHERE O.SYNC_NAME = L.SYNC_NAME AND O.RUN_ID = L.RUN_ID) \
             AS LAST_RECORDED_AT FROM {locks} L WHERE L.SYNC_NAME = ?",
            outcomes = self.outcomes(),
            locks = self.locks()
        )
    }

    /// Renews the heartbeat; 0 rows updated: the lock was lost. Binds: sync, token.
    pub fn heartbeat(&self) -> String {
        format!("UPDATE {} SET HEARTBEAT_AT = CURRENT_TIMESTAMP() WHERE SYNC_NAME = ? AND TOKEN = ?", self.locks())
    }

    /// Releases the lock (the row stays, with an empty token, so FENCE keeps counting). Binds:
    /// sync, token.
    pub fn release_lock(&self) -> String {
        format!("UPDATE {} SET TOKEN = '', RUN_ID = NULL WHERE SYNC_NAME = ? AND TOKEN = ?", self.locks())
    }

    /// The next run id. Binds: sync.
    pub fn next_run_id(&self) -> String {
        format!("SELECT COALESCE(MAX(RUN_ID), 0) + 1 FROM {} WHERE SYNC_NAME = ?", self.runs())
    }

    /// Records the run as started, only while holding the lock, and ties the lock to it. Two
    /// statements (one table each). Binds of the first: sync, started at (RFC 3339), config
    /// fingerprint, full resync, host, pid, sync, token; of the second: sync, token.
    pub fn start_run(&self) -> Vec<String> {
        vec![
            format!(
                "INSERT INTO {runs} (SYNC_NAME, RUN_ID, STARTED_AT, STATUS, CONFIG_FINGERPRINT, FULL_RESYNC, HOST, PID) \
                 SELECT ?, {run}, CAST(? AS TIMESTAMP_TZ), 'running', ?, ?, ?, ? FROM {locks} L \
                 WHERE L.SYNC_NAME = ? AND L.TOKEN = ?",
                runs = self.runs(),
                run = self.run_id,
                locks = self.locks()
            ),
            format!("UPDATE {} SET RUN_ID = {} WHERE SYNC_NAME = ? AND TOKEN = ?", self.locks(), self.run_id),
        ]
    }

    /// The snapshot: the model's rows, the key with the model's type (so that the delta is sent
    /// in the key's own order, numbers as numbers, as on the other engines; the log writes it as
    /// text), and a fingerprint of the configuration
    /// and the image: SHA-256 (first 64 bits, in hex) of the concatenated JSON texts of
    /// one-key objects `{"v": value}`, one per value. JSON keeps types apart (`1` ≠ `"1"`) and
    /// nulls explicit, and each text is self-delimiting, so the concatenation is unambiguous.
    /// One object per value rather than one object of every column: with several keys, the
    /// key order of the JSON text is not guaranteed (fakesnow's varies from run to run).
    pub fn snapshot_table(&self) -> String {
        let key = quote(&self.spec.primary_key);
        let value = |v: &str| format!("TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL('v', {v}))");
        let mut parts = vec![value(&self.config.to_string())];
        parts.extend(self.columns("M").iter().map(|c| value(c)));
        let fingerprint = format!("LEFT(SHA2({}, 256), 16)", parts.join(" || "));
        format!(
            "CREATE OR REPLACE TRANSIENT TABLE {snapshot} AS SELECT M.{key} AS \"_AUDIENCE_KEY\"{cols}, \
             {fingerprint} AS \"_AUDIENCE_FP\" FROM ({model}) M",
            snapshot = self.snapshot(),
            cols = self.columns("M").iter().map(|c| format!(", {c}")).collect::<String>(),
            model = self.spec.sql,
        )
    }

    /// The baseline, created empty with the snapshot's column types when missing.
    pub fn create_baseline(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {baseline} AS SELECT S.*, CAST(NULL AS VARCHAR) AS \"_AUDIENCE_CONFIG\" \
             FROM {snapshot} S WHERE 1 = 0",
            baseline = self.baseline(),
            snapshot = self.snapshot()
        )
    }

    /// The delta: inserts (valid keys not in the baseline), updates (valid keys whose
    /// fingerprint or configuration changed), deletes (baseline keys absent from the snapshot:
    /// a key whose rows are invalid counts as present), numbered in sending order (deletes,
    /// updates, inserts; by key within each). A member sent under another configuration is an
    /// insert again (a changed configuration is a full resync).
    pub fn delta_table(&self) -> String {
        let snap_cols = self.columns("S").iter().map(|c| format!(", {c}")).collect::<String>();
        let base_cols = self.columns("B").iter().map(|c| format!(", {c}")).collect::<String>();
        format!(
            "CREATE OR REPLACE TRANSIENT TABLE {delta} AS \
             SELECT ROW_NUMBER() OVER (ORDER BY C.\"_AUDIENCE_OP\", C.\"_AUDIENCE_KEY\") AS \"_AUDIENCE_SEQ\", C.* FROM (\
             SELECT CASE WHEN B.\"_AUDIENCE_KEY\" IS NULL OR {base_config} IS DISTINCT FROM '{config}' THEN 2 ELSE 1 END \
             AS \"_AUDIENCE_OP\", \
             S.\"_AUDIENCE_KEY\"{snap_cols}, S.\"_AUDIENCE_FP\" \
             FROM (SELECT * FROM {snapshot} WHERE \"_AUDIENCE_KEY\" IS NOT NULL \
             QUALIFY COUNT(*) OVER (PARTITION BY \"_AUDIENCE_KEY\") = 1) S \
             LEFT JOIN {baseline} B ON B.\"_AUDIENCE_KEY\" = S.\"_AUDIENCE_KEY\" \
             WHERE B.\"_AUDIENCE_KEY\" IS NULL OR B.\"_AUDIENCE_FP\" <> S.\"_AUDIENCE_FP\" \
             OR {base_config} IS DISTINCT FROM '{config}' \
             UNION ALL \
             SELECT 0, B.\"_AUDIENCE_KEY\"{base_cols}, B.\"_AUDIENCE_FP\" FROM {baseline} B \
             WHERE NOT EXISTS (SELECT 1 FROM {snapshot} S2 WHERE S2.\"_AUDIENCE_KEY\" = B.\"_AUDIENCE_KEY\")) C",
            delta = self.delta(),
            snapshot = self.snapshot(),
            baseline = self.baseline(),
            config = self.config,
            base_config = if self.resend_all { "CAST(NULL AS VARCHAR)" } else { "B.\"_AUDIENCE_CONFIG\"" },
        )
    }

    /// Per operation: count and sequence range, for the batches and the removal guard.
    pub fn delta_stats(&self) -> String {
        format!(
            "SELECT \"_AUDIENCE_OP\", COUNT(*), MIN(\"_AUDIENCE_SEQ\"), MAX(\"_AUDIENCE_SEQ\") FROM {} \
             GROUP BY \"_AUDIENCE_OP\" ORDER BY \"_AUDIENCE_OP\"",
            self.delta()
        )
    }

    /// Rows, invalid rows and baseline members.
    pub fn snapshot_stats(&self) -> String {
        format!(
            "SELECT (SELECT COUNT(*) FROM {snapshot}), \
             (SELECT COUNT(*) FROM (SELECT \"_AUDIENCE_KEY\" FROM {snapshot} \
             QUALIFY \"_AUDIENCE_KEY\" IS NULL OR COUNT(*) OVER (PARTITION BY \"_AUDIENCE_KEY\") > 1)), \
             (SELECT COUNT(*) FROM {baseline})",
            snapshot = self.snapshot(),
            baseline = self.baseline()
        )
    }

    /// One page of the delta by sequence range, in order. Binds: first seq, last seq.
    pub fn read_page(&self) -> String {
        format!(
            "SELECT \"_AUDIENCE_SEQ\", \"_AUDIENCE_OP\", \"_AUDIENCE_KEY\"{cols} FROM {delta} \
             WHERE \"_AUDIENCE_SEQ\" BETWEEN ? AND ? ORDER BY \"_AUDIENCE_SEQ\"",
            cols = self.columns("").iter().map(|c| format!(", {c}")).collect::<String>(),
            delta = self.delta()
        )
    }

    /// A batch's outcomes, one journal row, written only while the token holds the lock (0
    /// rows inserted: lost). `FAILED` is a JSON array of `{"seq", "reason", "status", "sent"}`
    /// (`sent: false`: not delivered, stays in the delta). Binds: seq lo, seq hi, failures
    /// (JSON text), move failed, sync, token.
    pub fn record_batch(&self) -> String {
        format!(
            "INSERT INTO {outcomes} (SYNC_NAME, RUN_ID, SEQ_LO, SEQ_HI, FAILED, MOVE_FAILED, RECORDED_AT) \
             SELECT L.SYNC_NAME, {run}, ?, ?, PARSE_JSON(?), ?, CURRENT_TIMESTAMP() FROM {locks} L \
             WHERE L.SYNC_NAME = ? AND L.TOKEN = ?",
            outcomes = self.outcomes(),
            run = self.run_id,
            locks = self.locks()
        )
    }

    /// The delta rows of this run's recorded batches (`D`), with their failure when they failed
    /// (`F`, null when they succeeded), while `?` (the token) holds the lock. Binds: sync, sync,
    /// token.
    ///
    /// A journal row recorded twice (a statement resent after its connection closed) counts
    /// once: both sides are `DISTINCT`, so that the `MERGE` never sees a record twice.
    fn recorded(&self, select: &str) -> String {
        format!(
            "SELECT {select} FROM {delta} D \
             JOIN (SELECT DISTINCT SYNC_NAME, SEQ_LO, SEQ_HI, MOVE_FAILED FROM {outcomes} WHERE RUN_ID = {run}) O \
             ON O.SYNC_NAME = ? AND D.\"_AUDIENCE_SEQ\" BETWEEN O.SEQ_LO AND O.SEQ_HI \
             LEFT JOIN (SELECT DISTINCT O2.SYNC_NAME, F.VALUE:seq::NUMBER(19,0) AS SEQ, F.VALUE:reason::VARCHAR AS REASON, \
             F.VALUE:status::NUMBER(3,0) AS HTTP_STATUS, F.VALUE:sent::BOOLEAN AS SENT \
             FROM {outcomes} O2, LATERAL FLATTEN(INPUT => O2.FAILED) F WHERE O2.RUN_ID = {run}) X \
             ON X.SYNC_NAME = O.SYNC_NAME AND X.SEQ = D.\"_AUDIENCE_SEQ\" \
             JOIN {locks} L ON L.SYNC_NAME = O.SYNC_NAME AND L.TOKEN = ?",
            delta = self.delta(),
            outcomes = self.outcomes(),
            locks = self.locks(),
            run = self.run_id
        )
    }

    /// Moves the baseline to what the API accepted, in one MERGE: succeeded deletes leave,
    /// succeeded inserts and updates take their new image; failed records stay as they were
    /// (unless their batch says failures move), undelivered ones always. Binds: sync, token.
    pub fn apply_outcomes(&self) -> String {
        let cols = self.columns("");
        let set: String = cols.iter().map(|c| format!("{c} = M.{c}, ")).collect();
        let names: String = cols.iter().map(|c| format!(", {c}")).collect();
        let values: String = cols.iter().map(|c| format!(", M.{c}")).collect();
        let source = self.recorded(&format!(
            "D.\"_AUDIENCE_OP\", D.\"_AUDIENCE_KEY\"{d_cols}, D.\"_AUDIENCE_FP\"",
            d_cols = self.columns("D").iter().map(|c| format!(", {c}")).collect::<String>()
        ));
        format!(
            "MERGE INTO {baseline} B USING ({source} \
             WHERE X.SEQ IS NULL OR (O.MOVE_FAILED AND X.SENT)) M \
             ON B.\"_AUDIENCE_KEY\" = M.\"_AUDIENCE_KEY\" \
             WHEN MATCHED AND M.\"_AUDIENCE_OP\" = 0 THEN DELETE \
             WHEN MATCHED THEN UPDATE SET {set}\"_AUDIENCE_FP\" = M.\"_AUDIENCE_FP\", \"_AUDIENCE_CONFIG\" = '{config}' \
             WHEN NOT MATCHED AND M.\"_AUDIENCE_OP\" <> 0 THEN INSERT (\"_AUDIENCE_KEY\"{names}, \"_AUDIENCE_FP\", \"_AUDIENCE_CONFIG\") \
             VALUES (M.\"_AUDIENCE_KEY\"{values}, M.\"_AUDIENCE_FP\", '{config}')",
            baseline = self.baseline(),
            config = self.config,
        )
    }

    /// The run's log rows, derived from the journal: one per record sent, `succeeded` or
    /// `failed` with its reason and status. Idempotent (nothing when the run's rows are there
    /// already), so a run applied twice logs once. Binds: sync, started at, finished at, sync,
    /// token, sync.
    pub fn log_outcomes(&self) -> String {
        let select = format!(
            "?, {run}, TO_VARCHAR(D.\"_AUDIENCE_KEY\"), CASE D.\"_AUDIENCE_OP\" WHEN 0 THEN 'delete' WHEN 1 THEN 'update' ELSE 'insert' END, \
             CASE WHEN X.SEQ IS NULL THEN 'succeeded' ELSE 'failed' END, X.REASON, X.HTTP_STATUS, \
             CAST(? AS TIMESTAMP_TZ), CAST(? AS TIMESTAMP_TZ), D.\"_AUDIENCE_SEQ\"",
            run = self.run_id
        );
        format!(
            "INSERT INTO {logs} (SYNC_NAME, RUN_ID, PRIMARY_KEY, OPERATION, STATUS, ERROR_REASON, HTTP_STATUS, \
             SYNC_STARTED_AT, SYNC_FINISHED_AT, SEQ) {recorded} \
             WHERE COALESCE(X.SENT, TRUE) AND NOT EXISTS (SELECT 1 FROM {logs} G WHERE G.SYNC_NAME = ? AND G.RUN_ID = {run})",
            logs = self.logs(),
            recorded = self.recorded(&select),
            run = self.run_id
        )
    }

    /// Ends the run with its counts, while holding the lock. Binds: finished at, status, error,
    /// inserted, updated, deleted, failed, invalid, requests, retries, splits, reasons (JSON
    /// text), sync, sync, token.
    pub fn finish_run(&self) -> String {
        format!(
            "UPDATE {runs} SET FINISHED_AT = CAST(? AS TIMESTAMP_TZ), STATUS = ?, ERROR = ?, INSERTED = ?, UPDATED = ?, \
             DELETED = ?, FAILED = ?, INVALID = ?, REQUESTS = ?, RETRIES = ?, SPLITS = ?, REASONS = ? \
             WHERE SYNC_NAME = ? AND RUN_ID = {run} \
             AND EXISTS (SELECT 1 FROM {locks} L WHERE L.SYNC_NAME = ? AND L.TOKEN = ?)",
            runs = self.runs(),
            locks = self.locks(),
            run = self.run_id
        )
    }

    /// The sync's newest `limit` runs, newest first, in the columns of `audience runs`. Bind:
    /// sync.
    pub fn select_runs(&self, limit: u64) -> String {
        format!(
            "SELECT RUN_ID, STATUS, STARTED_AT, FINISHED_AT, INSERTED, UPDATED, DELETED, FAILED, INVALID, REQUESTS, \
             RETRIES, SPLITS, REASONS, ERROR FROM {} WHERE SYNC_NAME = ? ORDER BY RUN_ID DESC LIMIT {}",
            self.runs(),
            limit.min(i64::MAX as u64)
        )
    }

    /// The run's per-run state, once applied: its delta and its journal rows, the latter only
    /// while `?` holds the lock (a run taken over must not delete the journal its taker has yet
    /// to apply). Binds of the second: sync, sync, token.
    pub fn drop_run_state(&self) -> Vec<String> {
        vec![
            format!("DROP TABLE IF EXISTS {}", self.delta()),
            format!(
                "DELETE FROM {} WHERE SYNC_NAME = ? AND RUN_ID = {} \
                 AND EXISTS (SELECT 1 FROM {} L WHERE L.SYNC_NAME = ? AND L.TOKEN = ?)",
                self.outcomes(),
                self.run_id,
                self.locks()
            ),
        ]
    }

    /// The sync's snapshot tables, for retention (`SNAPSHOT_<SYNC>_<RUN>`; the caller keeps the
    /// newest and drops the rest by name, the `_` wildcards of `LIKE` only widening the list).
    /// Binds: the name prefix, then `%`.
    pub fn list_snapshots(&self) -> String {
        format!(
            "SELECT TABLE_NAME FROM {}.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME LIKE ? \
             ORDER BY TABLE_NAME",
            quote(self.database),
            STATE_SCHEMA
        )
    }

    /// Every statement of a run, in order, one batch shown: what the golden file holds.
    pub fn all(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for sql in self.create_state() {
            out.push(("create state", sql));
        }
        out.push(("model columns (check --connect, every run)", self.model_columns()));
        out.push(("model's first rows (the studio's sample rows)", self.model_rows(20)));
        out.push(("read schema version", self.read_schema()));
        for sql in self.write_schema(super::super::schema::SCHEMA_VERSION) {
            out.push(("write schema version (first run, upgrade)", sql));
        }
        out.push(("upgrade from version 3 (no table changes)", self.step_schema(3, 4)));
        out.push(("back to the model's schema (after creating the state schema)", self.use_schema("MARTS")));
        out.push(("schema exists (dry run)", self.schema_exists()));
        out.push(("dry run's scratch schema", self.create_schema()));
        out.push(("drop the dry run's scratch schema", self.drop_schema()));
        out.push(("table exists", self.table_exists()));
        out.push(("table columns", self.table_columns()));
        out.push(("read lock", self.read_lock()));
        out.push(("acquire lock", self.acquire_lock()));
        out.push(("take over lock", self.take_over_lock()));
        out.push(("close abandoned runs", self.fail_dead_runs()));
        out.push(("dead runs' journals", self.dead_journals()));
        out.push(("next run id", self.next_run_id()));
        for sql in self.start_run() {
            out.push(("start run", sql));
        }
        out.push(("snapshot", self.snapshot_table()));
        out.push(("create baseline", self.create_baseline()));
        out.push(("widen baseline (a new mapped column)", self.widen_baseline("PHONE", "VARCHAR")));
        out.push(("full resync", self.clear_config()));
        out.push(("delta", self.delta_table()));
        out.push(("snapshot stats", self.snapshot_stats()));
        out.push(("delta stats", self.delta_stats()));
        out.push(("log invalid rows", self.log_invalid()));
        out.push(("read page (per batch)", self.read_page()));
        out.push(("record batch (per batch)", self.record_batch()));
        out.push(("heartbeat (when no batch was recorded for half a lease)", self.heartbeat()));
        out.push(("apply outcomes to the baseline", self.apply_outcomes()));
        out.push(("log outcomes", self.log_outcomes()));
        out.push(("finish run", self.finish_run()));
        for sql in self.drop_run_state() {
            out.push(("drop run state", sql));
        }
        out.push(("list snapshots", self.list_snapshots()));
        out.push(("drop a table (old snapshot, dry run's tables)", self.drop_table(&self.snapshot_name())));
        out.push(("delete old log rows", self.delete_old_logs()));
        out.push(("run row", self.select_run()));
        out.push(("run history (audience runs)", self.select_runs(20)));
        out.push(("log rows", self.select_logs(false)));
        out.push(("failed log rows", self.select_logs(true)));
        out.push(("release lock", self.release_lock()));
        out
    }
}

/// Constructs other engines have and Snowflake lacks (or that break the design's rules):
/// found in a statement outside string literals and quoted identifiers, they are an error.
pub const FORBIDDEN: &[(&str, &str)] = &[
    ("ON CONFLICT", "PostgreSQL/SQLite upsert; Snowflake uses MERGE"),
    ("RETURNING", "Snowflake DML returns counts only"),
    ("PG_ADVISORY", "PostgreSQL advisory locks; Snowflake has none (the lock is a row)"),
    ("PG_TRY_ADVISORY", "PostgreSQL advisory locks; Snowflake has none (the lock is a row)"),
    ("FOR UPDATE", "row locks exist only on Snowflake hybrid tables"),
    ("LOCK TABLE", "Snowflake has no LOCK TABLE"),
    ("INSERT OR", "SQLite's INSERT OR REPLACE/IGNORE"),
    ("REPLACE INTO", "MySQL/SQLite; Snowflake uses MERGE"),
    ("DISTINCT ON", "PostgreSQL only; Snowflake uses QUALIFY"),
    ("JSONB", "PostgreSQL type; Snowflake has VARIANT"),
    ("BYTEA", "PostgreSQL type; Snowflake has BINARY"),
    ("SERIAL", "PostgreSQL type; Snowflake has AUTOINCREMENT/sequences"),
    ("BEGIN", "no transaction spans round trips: every statement autocommits"),
    ("COMMIT", "no transaction spans round trips: every statement autocommits"),
    ("ROLLBACK", "no transaction spans round trips: every statement autocommits"),
    ("START TRANSACTION", "no transaction spans round trips: every statement autocommits"),
    ("TEMPORARY", "per-run state is TRANSIENT, named after the run: it must outlive the session"),
    ("$1", "PostgreSQL placeholders; Snowflake binds are ?"),
    (";", "one statement per request (Snowflake refuses several unless asked)"),
];

/// Checks that `sql` uses none of the [`FORBIDDEN`] constructs; the error names the construct
/// and why.
pub fn check_statement(sql: &str) -> Result<(), String> {
    let bare = strip_quoted(sql).to_ascii_uppercase();
    let words: Vec<&str> =
        bare.split(|c: char| c.is_whitespace() || "(),".contains(c)).filter(|w| !w.is_empty()).collect();
    let normalized = format!(" {} ", words.join(" "));
    for (construct, why) in FORBIDDEN {
        let found = if construct.chars().all(|c| c.is_ascii_alphabetic() || c == ' ' || c == '_') {
            // Whole words: `BEGIN` must not match `BEGINNING`, `PG_ADVISORY` matches the
            // start of `PG_ADVISORY_LOCK`.
            normalized.contains(&format!(" {construct} "))
                || (construct.starts_with("PG_") && normalized.contains(&format!(" {construct}")))
        } else {
            bare.contains(construct)
        };
        if found {
            return Err(format!("uses {construct}: {why}"));
        }
    }
    Ok(())
}

/// `sql` with the contents of string literals and quoted identifiers blanked out.
fn strip_quoted(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None => out.push(c),
            // A doubled quote closes and reopens: the blanked text is the same either way.
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => out.push('x'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_constructs_are_found() {
        let cases = [
            ("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO NOTHING", "ON CONFLICT"),
            ("INSERT INTO t (a) VALUES (1) RETURNING a", "RETURNING"),
            ("SELECT pg_advisory_lock(1)", "PG_ADVISORY"),
            ("SELECT pg_try_advisory_lock(1)", "PG_TRY_ADVISORY"),
            ("SELECT * FROM t FOR UPDATE", "FOR UPDATE"),
            ("INSERT OR REPLACE INTO t VALUES (1)", "INSERT OR"),
            ("BEGIN", "BEGIN"),
            ("CREATE TEMPORARY TABLE t (a INT)", "TEMPORARY"),
            ("SELECT $1", "$1"),
            ("SELECT 1; SELECT 2", ";"),
            ("CREATE TABLE t (a jsonb)", "JSONB"),
        ];
        for (sql, construct) in cases {
            let err = check_statement(sql).unwrap_err();
            assert!(err.starts_with(&format!("uses {construct}:")), "{sql}: {err}");
        }
        for sql in [
            "SELECT 'ON CONFLICT; RETURNING' AS \"BEGIN\"",
            "SELECT BEGINNING, RETURNING_CUSTOMERS FROM t",
            "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
        ] {
            assert_eq!(check_statement(sql), Ok(()), "{sql}");
        }
    }
}
