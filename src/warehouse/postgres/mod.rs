//! The PostgreSQL connector: a real warehouse. State lives in the schema `_audience`; the diff
//! runs in PostgreSQL (see [`crate::warehouse::diff`]); the delta is read by ranges of its sequence numbers.
//!
//! * **The lock** is a session advisory lock (`pg_try_advisory_lock`) on a 64-bit key derived
//!   from the sync's name: it dies with the session, so a crashed run never leaves it behind.
//!   A row of `_audience.locks` says who holds it, for the message a second run prints. Every
//!   state write of a run goes through the session that holds the advisory lock (this
//!   connector's one connection), and each recording also renews the lock row's heartbeat
//!   naming the run's token: a session that ended (its lock gone with it) or a row no longer
//!   ours stops the run ("lost the lock …").
//! * **TLS** follows `sslmode` by docs/design/sync.md's table, libpq's meanings and never weaker: a failed
//!   handshake is never retried in plaintext; `sslrootcert` may name a self-signed server
//!   certificate; an unverified connection to another machine is logged as a warning; connecting
//!   is bounded by `connect_timeout` (module `connect`).
//! * **Recording** runs on a task of its own, on this session, while the runner reads on: each
//!   hand-over of completed batches one transaction, its statements sent as one pipeline
//!   (module `recorder`).
//! * **A dry run** works in one transaction, with an advisory lock held for the transaction,
//!   temporary tables, and a rollback at the end.
//! * **Values** are decoded from the binary protocol by module `value`.

mod connect;
mod delta;
mod fingerprint;
mod recorder;
mod value;

use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::warehouse::diff::{self, Dialect, DiffHints, Place, Tables};
use recorder::{Recorder, Recording};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::warehouse::lease::{Lease, Renewed};
use crate::warehouse::lock::{Identity, LockHolder, Me};
use crate::warehouse::schema;
use crate::warehouse::state::{StateTables, log_cutoff};
use crate::warehouse::{
    ChunkOutcome, DeltaRecord, DeltaStats, Locked, LogRow, ModelSpec, Op, Result, RunCounts, RunEnd, RunInfo, RunRef,
    RunRow, RunStart, RunStatus, SyncName, Warehouse, WarehouseError, now_utc,
};
pub use connect::{ConnectionString, Session, TlsMode, open_session, parse_connection_string};
use value::{PgCell, PgColumn, numeric_cell};

use crate::fields::OwnedValue;

/// A PostgreSQL warehouse, one session.
pub struct PgWarehouse {
    /// The session; shared with the recording task, which writes through it too.
    client: Arc<Client>,
    connection: JoinHandle<()>,
    /// Set when the connection task ends: the session, and its advisory lock, are gone.
    ended: Arc<AtomicBool>,
    /// The run's lease: it has no heartbeat to renew (the advisory lock lives as long as the
    /// session), but tells delivery, before each request, whether the session still holds it.
    lease: Option<Arc<Lease>>,
    state: StateTables,
    sync: Option<SyncName>,
    me: Option<Me>,
    dry_run: bool,
    tables: Option<Tables>,
    /// The prepared delta read of this run, and how each image column is read.
    reader: Option<(Statement, Vec<PgColumn>)>,
    /// The baseline had no members when this run's delta was built: its recordings insert
    /// plainly and have no deletes to move (see `diff::baseline_insert_new`).
    first_run: bool,
    /// The task recording the run's outcomes (module `recorder`), from the first hand-over to
    /// [`PgWarehouse::stop_recorder`].
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for PgWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgWarehouse").field("sync", &self.sync).field("dry_run", &self.dry_run).finish_non_exhaustive()
    }
}

/// The transaction advisory-lock key under which the state tables are created and upgraded
/// (the ASCII bytes of `audience`: fixed, and unlike any sync's key in practice, those being
/// hashes).
const SCHEMA_LOCK_KEY: i64 = 0x6175_6469_656e_6365;

/// Who holds the lock once our session ended, as a run that lost it says.
const SESSION_ENDED: &str = "whichever run took it after this run's PostgreSQL session ended";

/// The advisory-lock key of a sync: 64 bits of SHA-256 of a fixed prefix and the name, so that
/// it collides neither with another sync's nor (in practice) with another application's.
pub fn lock_key(sync: &SyncName) -> i64 {
    let digest = Sha256::digest(format!("audience sync lock:{sync}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl PgWarehouse {
    /// Connects to `url` (a secret: it may hold a password); `shown` is the URL with the
    /// password masked, for errors.
    pub async fn connect(url: &str, shown: &str) -> Result<PgWarehouse> {
        let connect::Session { client, connection, warning } = connect::open_session(url, shown).await?;
        if let Some(warning) = warning {
            tracing::warn!("{warning}");
        }
        let ended = Arc::new(AtomicBool::new(false));
        let flag = ended.clone();
        let connection = tokio::spawn(async move {
            /// Aborting the watcher aborts the connection task too (dropping a handle would not).
            struct AbortOnDrop(JoinHandle<()>);
            impl Drop for AbortOnDrop {
                fn drop(&mut self) {
                    self.0.abort();
                }
            }
            let mut task = AbortOnDrop(connection);
            let _ = (&mut task.0).await;
            flag.store(true, Ordering::SeqCst);
        });
        Ok(PgWarehouse {
            client: Arc::new(client),
            connection,
            ended,
            lease: None,
            state: StateTables::new(Dialect::Postgres),
            sync: None,
            me: None,
            dry_run: false,
            tables: None,
            reader: None,
            first_run: false,
            recorder: None,
        })
    }

    /// The session (for tests that look at the tables).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn exec(&self, doing: &str, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(|e| sql_error(doing, &e))
    }

    async fn execute(&self, doing: &str, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.client.execute(sql, params).await.map_err(|e| sql_error(doing, &e))
    }

    async fn table_exists(&self, qualified: &str) -> Result<bool> {
        table_exists(&self.client, qualified).await
    }

    /// Creates the state tables that are missing and brings an older layout up to the current
    /// version ([`schema`]), refusing a newer one: in one transaction, under a transaction
    /// advisory lock every process takes for this, so that two never upgrade (or create the
    /// schema) at once.
    async fn create_state(&self) -> Result<()> {
        let doing = "creating the state tables";
        self.begin_tx(doing).await?;
        let result = async {
            self.execute(doing, "SELECT pg_advisory_xact_lock($1::bigint)", &[&SCHEMA_LOCK_KEY]).await?;
            let upgrade = schema::upgrade_from(self.schema_version().await?)?;
            for sql in self.state.create().iter().chain([&self.state.create_schema()]) {
                self.exec(doing, sql).await?;
            }
            if upgrade.is_some() {
                // Version 0 to 1 changes no table (see `schema`); 1 to 2 adds the lock row's
                // identity columns.
                for sql in self.state.add_lock_identity(&[]) {
                    self.exec("adding the lock's identity columns", &sql).await?;
                }
                // 2 to 3: the run tallies.
                for sql in self.state.add_run_tallies(&[]) {
                    self.exec("adding the run tallies", &sql).await?;
                }
                // 3 to 4: each baseline marked as holding SHA-256 fingerprints, which its
                // sync's next run rewrites (see `fingerprint`).
                let doing = "marking the baselines' fingerprints";
                let rows = self
                    .client
                    .query(fingerprint::unmarked_baselines(), &[])
                    .await
                    .map_err(|e| sql_error(doing, &e))?;
                for row in rows {
                    self.exec(doing, &fingerprint::mark(row.get(0))).await?;
                }
                for sql in self.state.write_schema() {
                    self.exec("recording the state tables' schema version", &sql).await?;
                }
            }
            self.commit(doing).await
        }
        .await;
        if result.is_err() {
            self.rollback().await;
        }
        result
    }

    /// The state tables' recorded schema version (`None`: none recorded).
    async fn schema_version(&self) -> Result<Option<i64>> {
        if !self.table_exists(&self.state.schema.qualified()).await? {
            return Ok(None);
        }
        let row = self
            .client
            .query_one(&self.state.read_schema(), &[])
            .await
            .map_err(|e| sql_error("reading the state tables' schema version", &e))?;
        Ok(row.get(0))
    }

    /// Refuses state tables newer than this binary (for what only reads them).
    async fn refuse_newer_schema(&self) -> Result<()> {
        schema::upgrade_from(self.schema_version().await?).map(|_| ())
    }

    async fn read_lock(&self, sync: &SyncName) -> Result<Option<LockHolder>> {
        read_lock(&self.client, &self.state, sync).await
    }

    /// Calls `function` (`pg_try_advisory_lock`, or its transaction-scoped twin for a dry run)
    /// on the sync's lock key: whether the lock was taken.
    async fn try_advisory_lock(&self, function: &str, key: i64) -> Result<bool> {
        let row = self
            .client
            .query_one(&format!("SELECT {function}($1::bigint)"), &[&key])
            .await
            .map_err(|e| sql_error("taking the lock", &e))?;
        Ok(row.get::<_, bool>(0))
    }

    /// The holder to name when the advisory lock is taken (its lock row may not be written yet).
    async fn holder(&self, sync: &SyncName) -> LockHolder {
        self.read_lock(sync).await.ok().flatten().unwrap_or_else(|| LockHolder {
            identity: Identity {
                host: "another session".into(),
                boot_id: None,
                pid_ns: None,
                pid: 0,
                start_time: None,
            },
            token: None,
            lease: None,
            run_id: None,
            since: "unknown".into(),
            heartbeat: "unknown".into(),
        })
    }

    /// Runs `work` in a transaction (inside the dry run's, for a dry run).
    async fn begin_tx(&self, doing: &str) -> Result<()> {
        if !self.dry_run {
            self.exec(doing, "BEGIN").await?;
        }
        Ok(())
    }

    async fn commit(&self, doing: &str) -> Result<()> {
        if !self.dry_run {
            self.exec(doing, "COMMIT").await?;
        }
        Ok(())
    }

    async fn rollback(&self) {
        if !self.dry_run {
            let _ = self.client.batch_execute("ROLLBACK").await;
        }
    }

    fn tables(&self) -> Result<Tables> {
        self.tables.clone().ok_or_else(|| WarehouseError::sql("reading the delta", "no delta was built"))
    }

    /// Adds the model's new image columns to the baseline; returns the columns it had.
    async fn widen_baseline(&self, t: &Tables, spec: &ModelSpec) -> Result<Vec<String>> {
        let doing = "adding a column to the baseline";
        let rows = self
            .client
            .query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1::text) AND attnum > 0 AND NOT attisdropped",
                &[&t.baseline.qualified()],
            )
            .await
            .map_err(|e| sql_error(doing, &e))?;
        let have: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        for column in spec.columns.iter().filter(|c| !have.contains(c)) {
            let row = self
                .client
                .query_one(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1::text) AND attname = $2::text",
                    &[&t.snapshot.qualified(), column],
                )
                .await
                .map_err(|e| sql_error(doing, &e))?;
            let ty: String = row.get(0);
            // `ty` is PostgreSQL's own spelling of a type (format_type), not user text.
            let sql = format!(
                "ALTER TABLE {} ADD COLUMN {} {ty}",
                t.baseline.qualified(),
                crate::warehouse::ident::quote(column)
            );
            self.exec(doing, &sql).await?;
        }
        Ok(have)
    }

    /// Rewrites the baseline's SHA-256 fingerprints (schema version 3 and before) as the
    /// current function of its image columns, in the transaction that builds the delta (the
    /// dry run's, which it rolls back): see `fingerprint`. `have`: the baseline's columns.
    async fn migrate_fingerprints(&self, t: &Tables, spec: &ModelSpec, have: &[String]) -> Result<()> {
        let marked = have.iter().any(|c| c == fingerprint::SHA256_COLUMN);
        if marked || (self.dry_run && self.schema_version().await?.unwrap_or(0) < schema::BINARY_FINGERPRINT) {
            for sql in fingerprint::migrate(&t.baseline, &spec.columns, marked) {
                self.exec("rewriting the baseline's fingerprints", &sql).await?;
            }
        }
        Ok(())
    }

    async fn build(&mut self, spec: &ModelSpec, run: &RunRef, full_resync: bool) -> Result<DeltaStats> {
        let dry = self.dry_run;
        let main_baseline = Tables::new(Dialect::Postgres, &spec.sync, run.run_id, Place::Main, Place::Main).baseline;
        let has_baseline = self.table_exists(&main_baseline.qualified()).await?;
        let scratch = if dry { Place::Temp } else { Place::Main };
        let baseline_place = if has_baseline || !dry { Place::Main } else { Place::Temp };
        let t = Tables::new(Dialect::Postgres, &spec.sync, run.run_id, scratch, baseline_place);
        if self.dry_run {
            self.exec("dropping an old delta", &format!("DROP TABLE IF EXISTS {}", t.delta.qualified())).await?;
        } else {
            // Deltas of runs that ended (a dead run's, or the shared one of an older layout):
            // we hold the lock, so no live run owns any of them.
            let rows = self
                .client
                .query("SELECT tablename::text FROM pg_tables WHERE schemaname = '_audience'", &[])
                .await
                .map_err(|e| sql_error("listing old deltas", &e))?;
            for row in rows {
                let name: String = row.get(0);
                if diff::is_delta_of(Dialect::Postgres, &spec.sync, &name) {
                    let sql = format!("DROP TABLE IF EXISTS \"_audience\".{}", crate::warehouse::ident::quote(&name));
                    self.exec("dropping an old delta", &sql).await?;
                }
            }
        }
        self.exec("dropping an old snapshot", &format!("DROP TABLE IF EXISTS {}", t.snapshot.qualified())).await?;
        let doing = "taking the snapshot of the model";
        // The statement's own count of the rows it wrote (its command tag): counting them again
        // would read the whole snapshot.
        let rows = self.execute(doing, &diff::snapshot_table(&t, spec, run.config), &[]).await?;
        let unique = self.key_index(&t).await?;
        // Statistics only when keys repeat: the duplicate check's `GROUP BY` then reads the key
        // index in order (0.27 s at a million rows) where, planned blind, it hashes and spills
        // (0.92 s). With unique keys there is no such check, and the diff's full join is the
        // same hash join with statistics or without: `ANALYZE` would cost 0.1 s of every run
        // for nothing (BENCHMARKS.md, "Where each target stands").
        if !unique {
            self.exec(doing, &format!("ANALYZE {}", t.snapshot.qualified())).await?;
        }
        if has_baseline {
            let have = self.widen_baseline(&t, spec).await?;
            self.migrate_fingerprints(&t, spec, &have).await?;
        } else {
            for sql in diff::create_baseline(&t, spec, dry, &[]) {
                self.exec("creating the baseline", &sql).await?;
            }
        }
        if full_resync {
            self.exec("marking every member for a full resync", &diff::clear_config(&t)).await?;
        }
        let baseline: i64 = self.query_i64("counting the members", &diff::baseline_count(&t)).await?;
        let dup = if unique { delta::no_duplicates(&t) } else { diff::duplicates(&t) };
        for sql in dup {
            self.exec("finding duplicate keys", &sql).await?;
        }
        let duplicates = self.query_i64("finding duplicate keys", &diff::has_duplicates(&t)).await?;
        for sql in delta::delta(&t, spec, run.config, DiffHints { duplicates: duplicates > 0, ..DiffHints::ALL }) {
            self.exec("computing the delta", &sql).await?;
        }
        let invalid =
            self.query_i64("counting the invalid rows", &format!("SELECT {}", diff::invalid_rows(&t))).await?;
        let mut stats = DeltaStats {
            baseline: baseline as u64,
            snapshot_rows: rows,
            invalid: invalid as u64,
            ..DeltaStats::default()
        };
        for r in
            self.client.query(&diff::delta_stats(&t), &[]).await.map_err(|e| sql_error("counting the delta", &e))?
        {
            if let Some(op) = Op::from_code(r.get(0)) {
                stats.counts[op.index()] = r.get::<_, i64>(1) as u64;
                stats.ranges[op.index()] = Some((r.get(2), r.get(3)));
            }
        }
        if invalid > 0 && run.write_logs && !dry {
            self.execute(
                "logging invalid rows",
                &diff::log_invalid(&t),
                &[&spec.sync.as_str(), &run.run_id, &run.started_at],
            )
            .await?;
        }
        // The delta's image columns, read by type (see `value`).
        let types = self
            .client
            .prepare(&format!("SELECT * FROM {} LIMIT 0", t.delta.qualified()))
            .await
            .map_err(|e| sql_error("reading the delta's columns", &e))?;
        let kinds: Vec<PgColumn> =
            types.columns()[3..3 + spec.columns.len()].iter().map(|c| PgColumn::for_type(c.type_())).collect();
        let select: Vec<String> =
            spec.columns.iter().zip(&kinds).map(|(c, k)| k.select(&crate::warehouse::ident::quote(c))).collect();
        let statement = self
            .client
            .prepare(&delta::read_delta(&t, &select))
            .await
            .map_err(|e| sql_error("reading the delta", &e))?;
        self.reader = Some((statement, kinds));
        self.tables = Some(t);
        self.first_run = baseline == 0;
        Ok(stats)
    }

    /// Indexes the snapshot by key, with a unique index when the model's keys are unique
    /// (whether they are is the index build's own check, tried under a savepoint): then no key
    /// is on several rows, and the duplicate check, a `GROUP BY` of the whole snapshot (0.6-0.8 s
    /// at a million rows), is not needed. Keys on several rows make the build fail; the
    /// snapshot then gets a plain index and the check runs. Null keys never conflict.
    async fn key_index(&self, t: &Tables) -> Result<bool> {
        let doing = "indexing the snapshot";
        let index = |unique| diff::create_index(Dialect::Postgres, &t.snapshot, "key", &["_audience_key"], unique);
        self.exec(doing, "SAVEPOINT audience_key_index").await?;
        match self.client.batch_execute(&index(true)).await {
            Ok(()) => {
                self.exec(doing, "RELEASE SAVEPOINT audience_key_index").await?;
                Ok(true)
            }
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                self.exec(doing, "ROLLBACK TO SAVEPOINT audience_key_index").await?;
                self.exec(doing, &index(false)).await?;
                Ok(false)
            }
            Err(e) => Err(sql_error(doing, &e)),
        }
    }

    async fn query_i64(&self, doing: &str, sql: &str) -> Result<i64> {
        let row = self.client.query_one(sql, &[]).await.map_err(|e| sql_error(doing, &e))?;
        Ok(row.get(0))
    }

    /// What recording the current run's outcomes needs.
    fn recording(&self, spec: &ModelSpec, run: &RunRef) -> Result<Recording> {
        Ok(Recording {
            tables: self.tables()?,
            spec: spec.clone(),
            run: run.clone(),
            state: self.state.clone(),
            token: if self.dry_run { None } else { self.me.as_ref().map(|m| m.token.clone()) },
            first_run: self.first_run,
        })
    }

    /// Waits for the recording task to record everything handed over, and stops it.
    async fn stop_recorder(&mut self) -> Result<()> {
        match self.recorder.take() {
            Some(recorder) => recorder.finish().await,
            None => Ok(()),
        }
    }
}

impl Drop for PgWarehouse {
    fn drop(&mut self) {
        // The session ends with the connection task: its advisory locks go with it.
        self.connection.abort();
    }
}

/// Whether the table `qualified` exists.
async fn table_exists(client: &Client, qualified: &str) -> Result<bool> {
    let row = client
        .query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&qualified])
        .await
        .map_err(|e| sql_error("looking for a table", &e))?;
    Ok(row.get(0))
}

/// Who the sync's lock row names, if it has one.
async fn read_lock(client: &Client, state: &StateTables, sync: &SyncName) -> Result<Option<LockHolder>> {
    if !table_exists(client, &state.locks.qualified()).await? {
        return Ok(None);
    }
    let row =
        client.query_opt(&state.read_lock(), &[&sync.as_str()]).await.map_err(|e| sql_error("reading the lock", &e))?;
    Ok(row.map(|r| LockHolder {
        identity: Identity {
            host: r.get(0),
            pid: r.get::<_, i64>(1).try_into().unwrap_or(0),
            boot_id: r.get(6),
            pid_ns: r.get::<_, Option<i64>>(7).map(|v| v as u64),
            start_time: r.get::<_, Option<i64>>(8).map(|v| v as u64),
        },
        token: r.get(5),
        lease: r.get::<_, Option<i64>>(9).map(|ms| std::time::Duration::from_millis(ms.max(0) as u64)),
        run_id: r.get(2),
        since: r.get(3),
        heartbeat: r.get(4),
    }))
}

/// A tokio-postgres error on one line: the server's message and SQLSTATE, or the client's
/// description with its causes. Never the connection string.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

fn sql_error(doing: &str, e: &tokio_postgres::Error) -> WarehouseError {
    WarehouseError::sql(doing, describe(e))
}

impl Warehouse for PgWarehouse {
    fn engine(&self) -> &'static str {
        "PostgreSQL"
    }

    async fn model_columns(&mut self, sql: &str) -> Result<Vec<String>> {
        let stmt = self.client.prepare(sql).await.map_err(|e| sql_error("preparing the model query", &e))?;
        Ok(stmt.columns().iter().map(|c| c.name().to_owned()).collect())
    }

    async fn model_rows(
        &mut self,
        spec: &ModelSpec,
        limit: usize,
        visit: &mut dyn FnMut(Option<&str>, &dyn crate::fields::Row),
    ) -> Result<()> {
        let doing = "reading the model's first rows";
        let quoted = diff::model_image(spec);
        // The columns read by type, as the delta's are (see `value`).
        let types = self.client.prepare(&diff::model_rows(spec, &quoted, 0)).await.map_err(|e| sql_error(doing, &e))?;
        let kinds: Vec<PgColumn> = types.columns()[1..].iter().map(|c| PgColumn::for_type(c.type_())).collect();
        let image: Vec<String> = quoted.iter().zip(&kinds).map(|(q, k)| k.select(q)).collect();
        let rows =
            self.client.query(&diff::model_rows(spec, &image, limit), &[]).await.map_err(|e| sql_error(doing, &e))?;
        let mut values: Vec<OwnedValue> = Vec::with_capacity(kinds.len());
        for row in &rows {
            let key: Option<String> = row.try_get(0).map_err(|e| sql_error(doing, &e))?;
            values.clear();
            for (i, kind) in kinds.iter().enumerate() {
                values.push(match kind {
                    PgColumn::NumericText => numeric_cell(row.try_get(1 + i).map_err(|e| sql_error(doing, &e))?),
                    _ => row.try_get::<_, PgCell>(1 + i).map_err(|e| sql_error(doing, &e))?.0,
                });
            }
            visit(key.as_deref(), &values);
        }
        Ok(())
    }

    async fn begin(&mut self, sync: &SyncName, me: &Me, dry_run: bool) -> Result<Locked> {
        self.sync = Some(sync.clone());
        self.me = Some(me.clone());
        self.dry_run = dry_run;
        let key = lock_key(sync);
        if dry_run {
            self.exec("starting the dry run", "BEGIN").await?;
            if !self.try_advisory_lock("pg_try_advisory_xact_lock", key).await? {
                let holder = self.holder(sync).await;
                let _ = self.client.batch_execute("ROLLBACK").await;
                return Err(WarehouseError::Locked(Box::new(holder)));
            }
            if let Err(e) = self.refuse_newer_schema().await {
                let _ = self.client.batch_execute("ROLLBACK").await;
                return Err(e);
            }
            return Ok(Locked { taken_over: None });
        }
        if !self.try_advisory_lock("pg_try_advisory_lock", key).await? {
            return Err(WarehouseError::Locked(Box::new(self.holder(sync).await)));
        }
        let setup = async {
            self.create_state().await?;
            // A lock row without the advisory lock is what a dead session leaves: replace it.
            let taken_over = self.read_lock(sync).await?.map(|h| (h, "its session is gone".to_owned()));
            let now = now_utc();
            let id = &me.identity;
            self.execute(
                "taking the lock",
                &self.state.write_lock(),
                &[
                    &sync.as_str(),
                    &id.host,
                    &(id.pid as i64),
                    &now,
                    &me.token,
                    &id.boot_id,
                    &id.pid_ns.map(|v| v as i64),
                    &id.start_time.map(|v| v as i64),
                    &(me.lease.as_millis() as i64),
                ],
            )
            .await?;
            self.execute(
                "closing abandoned runs",
                &self.state.fail_dead_runs(),
                &[&sync.as_str(), &now, &"abandoned: the session running it ended before it finished"],
            )
            .await?;
            Ok(Locked { taken_over })
        };
        let result = setup.await;
        if result.is_err() {
            let _ = self.client.execute("SELECT pg_advisory_unlock($1::bigint)", &[&key]).await;
        }
        if result.is_ok() {
            let ended = self.ended.clone();
            let flag = ended.clone();
            let renew = Box::new(move || {
                if flag.load(Ordering::SeqCst) { Ok(Renewed::Lost(SESSION_ENDED.into())) } else { Ok(Renewed::Yes) }
            });
            self.lease = Some(Arc::new(Lease::new(me.lease, renew).ending_with(ended)));
        }
        result
    }

    fn lease(&self) -> Option<Arc<Lease>> {
        self.lease.clone()
    }

    async fn start_run(&mut self, sync: &SyncName, start: &RunStart) -> Result<i64> {
        let doing = "starting the run";
        self.begin_tx(doing).await?;
        let result = async {
            let row = self
                .client
                .query_one(&self.state.next_run_id(), &[&sync.as_str()])
                .await
                .map_err(|e| sql_error(doing, &e))?;
            let run_id: i64 = row.get(0);
            self.execute(
                doing,
                &self.state.insert_run(),
                &[
                    &sync.as_str(),
                    &run_id,
                    &start.started_at,
                    &start.config_text(),
                    &(start.full_resync as i64),
                    &start.me.host(),
                    &(start.me.pid() as i64),
                ],
            )
            .await?;
            self.execute(doing, &self.state.lock_run(), &[&sync.as_str(), &start.me.token, &run_id]).await?;
            Ok(run_id)
        }
        .await;
        match result {
            Ok(id) => self.commit(doing).await.map(|()| id),
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }

    async fn next_run_id(&mut self, sync: &SyncName) -> Result<i64> {
        if !self.table_exists(&self.state.runs.qualified()).await? {
            return Ok(1);
        }
        let row = self
            .client
            .query_one(&self.state.next_run_id(), &[&sync.as_str()])
            .await
            .map_err(|e| sql_error("numbering the run", &e))?;
        Ok(row.get(0))
    }

    async fn run_info(&mut self, sync: &SyncName, run: Option<i64>) -> Result<Option<RunInfo>> {
        if !self.table_exists(&self.state.runs.qualified()).await? {
            return Ok(None);
        }
        let row = self
            .client
            .query_opt(&self.state.select_run(), &[&sync.as_str(), &run])
            .await
            .map_err(|e| sql_error("reading the run", &e))?;
        let n = |r: &tokio_postgres::Row, i: usize| r.get::<_, i64>(i) as u64;
        Ok(row.map(|r| RunInfo {
            run_id: r.get(0),
            status: r.get(1),
            error: r.get(2),
            config: r.get(3),
            full_resync: r.get::<_, i64>(4) != 0,
            started_at: r.get(5),
            finished_at: r.get(6),
            counts: RunCounts {
                inserted: n(&r, 7),
                updated: n(&r, 8),
                deleted: n(&r, 9),
                failed: n(&r, 10),
                invalid: n(&r, 11),
                requests: n(&r, 12),
            },
        }))
    }

    async fn build_delta(&mut self, spec: &ModelSpec, run: &RunRef, full_resync: bool) -> Result<DeltaStats> {
        let doing = "building the snapshot and the delta";
        self.begin_tx(doing).await?;
        match self.build(spec, run, full_resync).await {
            Ok(stats) => self.commit(doing).await.map(|()| stats),
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }

    async fn read_delta(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        last: i64,
        limit: usize,
        visit: &mut dyn FnMut(&DeltaRecord<'_>),
    ) -> Result<Option<i64>> {
        let doing = "reading the delta";
        let Some((statement, kinds)) = &self.reader else {
            return Err(WarehouseError::sql(doing, "no delta was built"));
        };
        // The delta's `seq` has no gaps (`row_number()`, see `delta`), so the next `limit` records
        // are exactly those up to `after + limit`: with that bound the range is the batch itself.
        // Without it, the first five executions (custom plans, before PostgreSQL settles on a
        // generic one) read the whole rest of the fresh, unanalysed delta and sorted it, for
        // each batch (0.7-0.8 s a read at a million rows).
        let upto = last.min(after.saturating_add(limit as i64));
        let read = self.client.query(statement, &[&after, &upto, &(limit as i64)]).await;
        let rows = match read {
            Ok(rows) => rows,
            Err(e) => {
                // A read takes its turn between the recording task's statements: a recording
                // that failed makes it fail too, and the recording's error is the one that
                // says why.
                self.stop_recorder().await?;
                return Err(sql_error(doing, &e));
            }
        };
        let mut read = None;
        let mut image: Vec<OwnedValue> = Vec::with_capacity(spec.columns.len());
        for row in &rows {
            let seq: i64 = row.get(0);
            let op = Op::from_code(row.get(1))
                .ok_or_else(|| WarehouseError::sql(doing, "an unknown operation in the delta"))?;
            let key: Option<String> = row.get(2);
            image.clear();
            for (i, kind) in kinds.iter().enumerate() {
                let value = match kind {
                    PgColumn::NumericText => {
                        numeric_cell(row.try_get::<_, Option<String>>(3 + i).map_err(|e| sql_error(doing, &e))?)
                    }
                    _ => row.try_get::<_, PgCell>(3 + i).map_err(|e| sql_error(doing, &e))?.0,
                };
                image.push(value);
            }
            visit(&DeltaRecord { seq, op, key: key.as_deref().unwrap_or(""), row: &image });
            read = Some(seq);
        }
        Ok(read)
    }

    async fn record_chunks(&mut self, spec: &ModelSpec, run: &RunRef, chunks: &[ChunkOutcome<'_>]) -> Result<()> {
        if self.dry_run {
            // Inside the dry run's one transaction, which its end rolls back.
            let recording = self.recording(spec, run)?;
            return recorder::write_chunks(&self.client, &recording, chunks, &mut recorder::Prepared::new(), None)
                .await;
        }
        // Recorded by a task on this session while the runner reads on (module `recorder`).
        if self.recorder.is_none() {
            self.recorder = Some(Recorder::start(self.client.clone(), self.recording(spec, run)?));
        }
        match &mut self.recorder {
            Some(recorder) => recorder.record(chunks).await,
            None => Ok(()),
        }
    }

    async fn finish_run(&mut self, run: &RunRef, end: &RunEnd<'_>) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        // Everything handed over is recorded first; should that fail, the run row says so.
        let recorded = self.stop_recorder().await;
        let (status, error) = match &recorded {
            Ok(()) => (end.status, end.error.map(str::to_owned)),
            Err(e) => (RunStatus::Failed, Some(e.to_string())),
        };
        let reasons = serde_json::to_string(end.reasons).unwrap_or_else(|_| "[]".to_owned());
        let (retries, splits) = (end.retries as i64, end.splits as i64);
        let written = async {
            recorder::update_counts(&self.client, &self.state, run, end.counts).await?;
            self.execute(
                "finishing the run",
                &self.state.finish_run(),
                &[&run.sync.as_str(), &run.run_id, &now_utc(), &status.as_str(), &error, &retries, &splits, &reasons],
            )
            .await
        }
        .await;
        // A recording's error says why first (a session that ended fails both).
        recorded.and(written.map(|_| ()))
    }

    async fn retention(&mut self, run: &RunRef, snapshots: u32, log_days: u32) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        self.stop_recorder().await?;
        let sync = &run.sync;
        let prefix = diff::table_name(Dialect::Postgres, &format!("snapshot_{sync}_"));
        let rows = self
            .client
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = '_audience' AND left(tablename, length($1::text)) = $1::text",
                &[&prefix],
            )
            .await
            .map_err(|e| sql_error("listing snapshots", &e))?;
        let mut runs: Vec<(i64, String)> = rows
            .iter()
            .filter_map(|r| {
                let name: String = r.get(0);
                diff::snapshot_run(Dialect::Postgres, sync, &name).map(|id| (id, name))
            })
            .collect();
        runs.sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
        for (_, name) in runs.iter().skip(snapshots.max(1) as usize) {
            self.exec(
                "dropping an old snapshot",
                &format!("DROP TABLE IF EXISTS \"_audience\".{}", crate::warehouse::ident::quote(name)),
            )
            .await?;
        }
        let delta = Tables::new(Dialect::Postgres, sync, run.run_id, Place::Main, Place::Main).delta;
        self.exec("dropping the delta", &format!("DROP TABLE IF EXISTS {}", delta.qualified())).await?;
        let cutoff = log_cutoff(&run.started_at, log_days);
        self.execute("deleting old log rows", &self.state.delete_old_logs(), &[&sync.as_str(), &cutoff]).await?;
        Ok(())
    }

    async fn end(&mut self, sync: &SyncName) -> Result<()> {
        // Whatever was handed over is recorded (or failed, which the run already heard of)
        // before the lock is released.
        let _ = self.stop_recorder().await;
        if let Some(lease) = self.lease.take() {
            lease.close();
        }
        self.tables = None;
        self.reader = None;
        self.first_run = false;
        let result = if self.dry_run {
            // The rollback drops the temporary tables and releases the transaction's lock.
            self.exec("ending the dry run", "ROLLBACK").await
        } else {
            let token = self.me.as_ref().map_or(String::new(), |m| m.token.clone());
            let deleted =
                self.execute("releasing the lock", &self.state.delete_lock(), &[&sync.as_str(), &token]).await;
            let unlocked = self
                .client
                .execute("SELECT pg_advisory_unlock($1::bigint)", &[&lock_key(sync)])
                .await
                .map_err(|e| sql_error("releasing the lock", &e));
            deleted.and(unlocked).map(|_| ())
        };
        self.sync = None;
        self.dry_run = false;
        result
    }

    async fn runs(&mut self, sync: &SyncName, limit: u64) -> Result<Vec<RunRow>> {
        if !self.table_exists(&self.state.runs.qualified()).await? {
            return Ok(Vec::new());
        }
        let version = self.schema_version().await?;
        schema::upgrade_from(version)?;
        let legacy = schema::before_run_tallies(version);
        let limit = limit.min(i64::MAX as u64) as i64;
        let rows = self
            .client
            .query(&self.state.select_runs(legacy), &[&sync.as_str(), &limit])
            .await
            .map_err(|e| sql_error("reading the runs", &e))?;
        let n = |r: &tokio_postgres::Row, i: usize| r.get::<_, i64>(i).max(0) as u64;
        Ok(rows
            .iter()
            .map(|r| RunRow {
                sync: sync.as_str().to_owned(),
                run_id: r.get(0),
                status: r.get(1),
                started_at: r.get(2),
                finished_at: r.get(3),
                counts: RunCounts {
                    inserted: n(r, 4),
                    updated: n(r, 5),
                    deleted: n(r, 6),
                    failed: n(r, 7),
                    invalid: n(r, 8),
                    requests: n(r, 9),
                },
                retries: n(r, 10),
                splits: n(r, 11),
                reasons: crate::warehouse::state::parse_reasons(r.get::<_, Option<&str>>(12)),
                error: r.get(13),
            })
            .collect())
    }

    async fn logs(
        &mut self,
        sync: &SyncName,
        run: Option<i64>,
        failed_only: bool,
    ) -> Result<Option<(i64, Vec<LogRow>)>> {
        if !self.table_exists(&self.state.runs.qualified()).await? {
            return Ok(None);
        }
        self.refuse_newer_schema().await?;
        let doing = "reading the sync log";
        let row = self
            .client
            .query_one(&self.state.pick_run(), &[&sync.as_str(), &run])
            .await
            .map_err(|e| sql_error(doing, &e))?;
        let Some(run_id) = row.get::<_, Option<i64>>(0) else { return Ok(None) };
        let rows = self
            .client
            .query(&self.state.select_logs(failed_only), &[&sync.as_str(), &run_id])
            .await
            .map_err(|e| sql_error(doing, &e))?;
        let rows = rows
            .iter()
            .map(|r| LogRow {
                primary_key: r.get(0),
                operation: r.get(1),
                status: r.get(2),
                error_reason: r.get(3),
                http_status: r.get::<_, Option<i32>>(4).map(i64::from),
                sync_started_at: r.get(5),
                sync_finished_at: r.get(6),
            })
            .collect();
        Ok(Some((run_id, rows)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_differ_per_sync() {
        let a = lock_key(&SyncName::new("a").unwrap());
        assert_eq!(a, lock_key(&SyncName::new("a").unwrap()));
        assert_ne!(a, lock_key(&SyncName::new("b").unwrap()));
    }
}
