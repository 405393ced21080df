//! The SQLite connector: the embedded default. The source database holds the model's tables and
//! our state (`_audience_*` tables); the diff runs in SQLite itself.
//!
//! * The row fingerprint is `audience_fingerprint(...)`, a function registered on our connection
//!   (SQLite has no hash function of its own): SipHash-1-3 over each value's type and bytes. It
//!   is only ever compared with fingerprints this same function computed.
//! * The lock is a row of `_audience_locks` holding the run's random token, the holder's
//!   identity and its lease, written in a `BEGIN IMMEDIATE` transaction (so two processes cannot
//!   both see it free); [`lock::judge`] says when a row may be taken over, and a holder
//!   elsewhere is watched for a whole lease first. A thread refreshes the heartbeat (see
//!   [`Lease`]); each of our own write transactions refreshes it too, just before it commits,
//!   so that a long statement (a big snapshot) never leaves an old heartbeat behind. Every such
//!   refresh names the token: one that finds the token changed rolls its transaction back and
//!   stops the run ("lost the lock to …").
//! * A run puts the database in WAL mode once its delta is built, and the last run to end puts
//!   back the rollback journal the database had (module `journal`): commits then never wait for
//!   the disk, and outcomes are recorded by a thread of their own while the runner reads on
//!   (module `recorder`). Otherwise our connections only set per-connection settings (a busy
//!   timeout, a page cache).
//! * A dry run takes the lock like a run (a lock row of its own, deleted at its end; only
//!   checked, not written, in state tables of an older layout, which a dry run does not
//!   upgrade), puts its snapshot, delta and any baseline it would change in the `temp` schema,
//!   and drops them at its end: nothing is left behind, no other run can take the lock while it
//!   runs, and it holds no transaction open, so other connections write to the database
//!   meanwhile.

mod delta;
mod first_run;
mod heartbeat;
mod journal;
mod log;
mod recorder;
mod resync;
mod unique;
mod value;
mod writeback;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::warehouse::diff::{self, Dialect, DiffHints, Place, TableName, Tables};
use crate::warehouse::lease::{Lease, Renew, Renewed};
use crate::warehouse::lock::{self, Identity, Judgement, LockHolder, Me};
use crate::warehouse::schema;
use crate::warehouse::state::{StateTables, log_cutoff};
use crate::warehouse::{
    ChunkOutcome, DeltaRecord, DeltaStats, Locked, LogRow, ModelSpec, Op, Result, RunCounts, RunEnd, RunInfo, RunRef,
    RunRow, RunStart, RunStatus, SyncName, Warehouse, WarehouseError, now_millis, now_utc,
};
use delta::Images;
use heartbeat::Heartbeat;
use recorder::{Recorder, Recording};
use value::SqliteRow;

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// The runner's connection's page cache (KiB): SQLite's default. A larger one made the snapshot
/// slower (1M rows, 32 MB: about 0.1 s more written through the cache), and index builds no
/// faster.
const RUNNER_CACHE_KIB: i64 = 2 * 1024;
/// The page cache of the background connections (heartbeat, recording).
const BACKGROUND_CACHE_KIB: i64 = 8 * 1024;

/// A SQLite source database.
pub struct SqliteWarehouse {
    conn: Connection,
    path: PathBuf,
    state: StateTables,
    /// The sync between `begin` and `end`.
    sync: Option<SyncName>,
    me: Option<Me>,
    dry_run: bool,
    heartbeat: Option<Heartbeat>,
    /// Our hold on the lock row, once taken (not in a dry run on an older layout).
    lease: Option<Arc<Lease>>,
    /// The current run's tables, once `build_delta` made them.
    tables: Option<Tables>,
    /// The sequence numbers of the current delta's deletes.
    deletes: Option<(i64, i64)>,
    /// The current delta is the first run's view, which holds the images.
    inline: bool,
    /// The database is in WAL mode for the run (see [`journal`]).
    wal: bool,
    /// The thread recording the run's outcomes (WAL mode only).
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for SqliteWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWarehouse")
            .field("sync", &self.sync)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl SqliteWarehouse {
    /// Opens the database at `path`, which must exist (a typo must not create an empty
    /// warehouse whose empty model would remove every member). `shown` names it in errors.
    pub fn open(path: &Path, shown: &str) -> Result<SqliteWarehouse> {
        if !path.exists() {
            return Err(WarehouseError::Connect(format!("the SQLite database {shown} does not exist")));
        }
        let conn = connect(path).map_err(|e| WarehouseError::Connect(format!("{shown}: {e}")))?;
        register_fingerprint(&conn).map_err(|e| WarehouseError::Connect(e.to_string()))?;
        Ok(SqliteWarehouse {
            conn,
            path: path.to_owned(),
            state: StateTables::new(Dialect::Sqlite),
            sync: None,
            me: None,
            dry_run: false,
            heartbeat: None,
            lease: None,
            tables: None,
            deletes: None,
            inline: false,
            wal: false,
            recorder: None,
        })
    }

    /// The connection (for tests and benchmarks that look at the tables).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Runs `sql`; its time is logged at debug level (`AUDIENCE_LOG=debug`), step by step.
    fn exec(&self, doing: &str, sql: &str) -> Result<()> {
        let started = std::time::Instant::now();
        let result = self.conn.execute_batch(sql).map_err(|e| WarehouseError::sql(doing, e));
        tracing::debug!(step = doing, statement = %statement(sql), seconds = started.elapsed().as_secs_f64(), "warehouse");
        result
    }

    /// Creates the state tables that are missing, and the log's view (moving a log kept in the
    /// earlier layout into the current one: see `log::migrate`), and brings an older layout up
    /// to the current version ([`schema`]), refusing a newer one. All in one transaction, which
    /// holds the database's write lock (so no two processes upgrade at once): in a rollback
    /// journal each statement on its own would also wait for the disk twice.
    fn create_state(&self) -> Result<()> {
        let doing = "creating the state tables";
        let runs = self.state.runs.qualified();
        self.exec(doing, "BEGIN IMMEDIATE")?;
        let created = self.schema_version().and_then(schema::upgrade_from).and_then(|upgrade| {
            self.state
                .create()
                .iter()
                .chain(&log::create())
                .chain([&self.state.create_schema()])
                .try_for_each(|sql| self.exec(doing, sql))?;
            // A table by the view's name is the earlier layout (the view itself is no table).
            if self.table_exists("main", log::VIEW)? {
                let doing = "moving the sync log to its current layout";
                log::migrate(&self.conn, &runs).map_err(|e| WarehouseError::sql(doing, e))?;
            } else {
                log::ensure_view(&self.conn, &runs).map_err(|e| WarehouseError::sql(doing, e))?;
            }
            if let Some(from) = upgrade {
                // Version 0 to 1 changes no table (see `schema`); 1 to 2 adds the lock row's
                // identity columns, 2 to 3 the run tallies (a table created just now has them
                // already).
                debug_assert!(from < schema::SCHEMA_VERSION);
                let have: Vec<String> = self.columns(&self.state.locks)?.into_iter().map(|(c, _)| c).collect();
                for sql in self.state.add_lock_identity(&have) {
                    self.exec("adding the lock's identity columns", &sql)?;
                }
                let have: Vec<String> = self.columns(&self.state.runs)?.into_iter().map(|(c, _)| c).collect();
                for sql in self.state.add_run_tallies(&have) {
                    self.exec("adding the run tallies", &sql)?;
                }
                let doing = "recording the state tables' schema version";
                self.state.write_schema().iter().try_for_each(|sql| self.exec(doing, sql))?;
            }
            self.exec(doing, "COMMIT")
        });
        if created.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        created
    }

    /// The state tables' recorded schema version (`None`: none recorded).
    fn schema_version(&self) -> Result<Option<i64>> {
        if !self.table_exists("main", &self.state.schema.name)? {
            return Ok(None);
        }
        self.conn
            .query_row(&self.state.read_schema(), [], |r| r.get(0))
            .map_err(|e| WarehouseError::sql("reading the state tables' schema version", e))
    }

    /// Refuses state tables newer than this binary (for the commands that only read them).
    fn refuse_newer_schema(&self) -> Result<()> {
        schema::upgrade_from(self.schema_version()?).map(|_| ())
    }

    /// Switches to WAL mode for the rest of the run (see `journal`), and lets the heartbeat's
    /// connection copy the log back from now on.
    fn enter_wal(&mut self) {
        self.wal = journal::enter_wal(&self.conn);
        if let (true, Some(me)) = (self.wal, &self.me) {
            // The heartbeat is started afresh with checkpoints (the old one is stopped first).
            self.heartbeat = None;
            self.heartbeat = Some(Heartbeat::start(&self.path, self.lease.clone(), me.lease, true));
        }
    }

    fn table_exists(&self, schema: &str, name: &str) -> Result<bool> {
        let sql = format!("SELECT 1 FROM {}.sqlite_master WHERE type = 'table' AND name = ?1", diff_quote(schema));
        self.conn
            .query_row(&sql, [name], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| WarehouseError::sql("looking for a table", e))
    }

    /// Our heartbeat, inside the current transaction (just before it commits): the fence.
    fn touch(&self) -> Result<()> {
        if let (Some(sync), Some(me), false) = (&self.sync, &self.me, self.dry_run) {
            fence(&self.conn, &self.state, sync.as_str(), &me.token, self.lease.as_deref())?;
        }
        Ok(())
    }

    /// Runs `work` in a write transaction that refreshes our heartbeat before committing, and
    /// rolls back on error.
    fn write<T>(&self, doing: &str, work: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        if self.dry_run {
            // The dry run's one transaction is already open, and is rolled back at the end.
            return work(self);
        }
        self.exec(doing, "BEGIN IMMEDIATE")?;
        // Fenced at the start (nothing is written by a run that lost its lock) and refreshed
        // again before the commit (a long statement leaves no old heartbeat behind).
        let result = self.touch().and_then(|()| work(self)).and_then(|value| {
            self.touch()?;
            self.exec(doing, "COMMIT")?;
            Ok(value)
        });
        if result.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result
    }

    /// The delta's counts and ranges (see [`DeltaStats`]) after [`delta::delta`].
    fn delta_stats(&self, t: &Tables, baseline: i64) -> Result<DeltaStats> {
        let (rows, invalid): (i64, i64) = self
            .conn
            .query_row(&diff::snapshot_stats(t), [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| WarehouseError::sql("counting the snapshot", e))?;
        let mut stats = DeltaStats {
            baseline: baseline as u64,
            snapshot_rows: rows as u64,
            invalid: invalid as u64,
            ..DeltaStats::default()
        };
        let doing = "counting the delta";
        let mut stmt = self.conn.prepare(&diff::delta_stats(t)).map_err(|e| WarehouseError::sql(doing, e))?;
        let mut rows = stmt.query([]).map_err(|e| WarehouseError::sql(doing, e))?;
        while let Some(r) = rows.next().map_err(|e| WarehouseError::sql(doing, e))? {
            if let Some(op) = Op::from_code(r.get(0).unwrap_or(-1)) {
                stats.counts[op.index()] = r.get::<_, i64>(1).unwrap_or(0) as u64;
                stats.ranges[op.index()] = Some((r.get(2).unwrap_or(0), r.get(3).unwrap_or(0)));
            }
        }
        Ok(stats)
    }

    /// The delta's counts and ranges after [`first_run::delta`] (no members: every record an
    /// insert).
    fn first_run_stats(&self, t: &Tables) -> Result<DeltaStats> {
        type Counts = (i64, i64, i64, Option<i64>, Option<i64>);
        let (rows, nulls, duplicated, lo, hi): Counts = self
            .conn
            .query_row(&first_run::stats(t), [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .map_err(|e| WarehouseError::sql("counting the snapshot", e))?;
        let invalid = nulls + duplicated;
        let mut stats =
            DeltaStats { baseline: 0, snapshot_rows: rows as u64, invalid: invalid as u64, ..DeltaStats::default() };
        if let (Some(lo), Some(hi)) = (lo, hi) {
            stats.counts[Op::Insert.index()] = (rows - invalid).max(0) as u64;
            stats.ranges[Op::Insert.index()] = Some((lo, hi));
        }
        Ok(stats)
    }

    /// Whether a table has a row.
    fn has_rows(&self, table: &TableName) -> Result<bool> {
        self.conn
            .query_row(&format!("SELECT EXISTS (SELECT 1 FROM {})", table.qualified()), [], |r| r.get(0))
            .map_err(|e| WarehouseError::sql("counting the members", e))
    }

    /// Drops a delta, a table or (after a first run) a view.
    fn drop_delta(&self, delta: &TableName) -> Result<()> {
        let sql = format!("SELECT type FROM {}.sqlite_master WHERE name = ?1", diff_quote(delta.schema));
        let kind: Option<String> = self
            .conn
            .query_row(&sql, [&delta.name], |r| r.get(0))
            .optional()
            .map_err(|e| WarehouseError::sql("dropping the delta", e))?;
        match kind.as_deref() {
            Some("view") => self.exec("dropping the delta", &format!("DROP VIEW IF EXISTS {}", delta.qualified())),
            Some(_) => self.exec("dropping the delta", &format!("DROP TABLE IF EXISTS {}", delta.qualified())),
            None => Ok(()),
        }
    }

    /// What recording the current run's outcomes needs.
    fn recording(&self, spec: &ModelSpec, run: &RunRef) -> Result<Recording> {
        Ok(Recording {
            tables: self.tables()?.clone(),
            spec: spec.clone(),
            run: run.clone(),
            inline: self.inline,
            deletes: self.deletes,
            state: self.state.clone(),
            nudge: self.heartbeat.as_ref().filter(|_| self.wal).map(Heartbeat::nudge),
            lock: match (&self.sync, &self.me, self.dry_run) {
                (Some(sync), Some(me), false) => Some((sync.as_str().to_owned(), me.token.clone())),
                _ => None,
            },
            lease: self.lease.clone(),
        })
    }

    /// Waits for the recording thread to record everything handed over, and stops it.
    fn stop_recorder(&mut self) -> Result<()> {
        match self.recorder.take() {
            Some(recorder) => recorder.finish(),
            None => Ok(()),
        }
    }

    fn tables(&self) -> Result<&Tables> {
        self.tables.as_ref().ok_or_else(|| WarehouseError::sql("reading the delta", "no delta was built"))
    }

    /// Takes the sync's lock (docs/design/sync.md, step 1): a free or stale row is replaced by ours (when
    /// `write`; a dry run on an older layout only checks), a live holder stops us, and a holder
    /// elsewhere is watched until its heartbeat moves (live: we stop) or stands still for its
    /// whole lease on our monotonic clock (stale). `legacy`: the locks table lacks the identity
    /// columns (an older layout).
    async fn acquire(&mut self, sync: &SyncName, me: &Me, write: bool, legacy: bool) -> Result<Locked> {
        // The holder being watched: its token and heartbeat when first seen, and since when.
        let mut watched: Option<(Option<String>, String, Instant)> = None;
        loop {
            self.exec("taking the lock", "BEGIN IMMEDIATE")?;
            let step = self.try_acquire(sync, me, write, legacy, &mut watched);
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            match step? {
                Some(locked) => return Ok(locked),
                // Often enough to see a live holder's heartbeat move soon after it does.
                None => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// One look at the lock row, inside `BEGIN IMMEDIATE`: `Some` when the lock is ours (the
    /// transaction committed), `None` to look again later (a holder elsewhere being watched).
    fn try_acquire(
        &self,
        sync: &SyncName,
        me: &Me,
        write: bool,
        legacy: bool,
        watched: &mut Option<(Option<String>, String, Instant)>,
    ) -> Result<Option<Locked>> {
        let mut taken_over = None;
        if let Some(holder) = read_lock(&self.conn, &self.state, sync.as_str(), legacy)
            .map_err(|e| WarehouseError::sql("reading the lock", e))?
        {
            match lock::judge(&holder, me, &lock::process_liveness) {
                Judgement::Live => return Err(WarehouseError::Locked(Box::new(holder))),
                Judgement::Stale(why) => taken_over = Some((holder, why)),
                Judgement::Watch(lease) => match watched.take() {
                    Some((token, beat, since)) if token == holder.token => {
                        if beat != holder.heartbeat {
                            // Its heartbeat moved while we watched: it lives.
                            return Err(WarehouseError::Locked(Box::new(holder)));
                        }
                        if since.elapsed() < lease {
                            *watched = Some((token, beat, since));
                            return Ok(None);
                        }
                        let why = format!(
                            "its heartbeat stood still for its whole lease ({} s) while this run watched",
                            lease.as_secs_f64()
                        );
                        taken_over = Some((holder, why));
                    }
                    // First seen, or another holder since: watch this one from now.
                    _ => {
                        *watched = Some((holder.token.clone(), holder.heartbeat.clone(), Instant::now()));
                        return Ok(None);
                    }
                },
            }
        }
        if !write {
            return Ok(Some(Locked { taken_over }));
        }
        let now = now_utc();
        let id = &me.identity;
        self.conn
            .execute(
                &self.state.write_lock(),
                params![
                    sync.as_str(),
                    id.host,
                    id.pid,
                    now,
                    me.token,
                    id.boot_id,
                    id.pid_ns.map(|v| v as i64),
                    id.start_time.map(|v| v as i64),
                    me.lease.as_millis() as i64
                ],
            )
            .map_err(|e| WarehouseError::sql("taking the lock", e))?;
        // We hold the lock: any run still `running` belongs to a process that is gone.
        self.conn
            .execute(
                &self.state.fail_dead_runs(),
                params![sync.as_str(), now, "abandoned: the process running it stopped before it finished"],
            )
            .map_err(|e| WarehouseError::sql("closing abandoned runs", e))?;
        self.exec("taking the lock", "COMMIT")?;
        Ok(Some(Locked { taken_over }))
    }

    /// Starts our hold on the lock row just written: the lease and the heartbeat's thread. When
    /// that fails, the row is deleted again (no `end` follows a failed `begin`).
    fn hold(&mut self, sync: &SyncName, me: &Me) -> Result<()> {
        let renew = match renewer(&self.path, &self.state, sync, &me.token) {
            Ok(renew) => renew,
            Err(e) => {
                let _ = self.conn.execute(&self.state.delete_lock(), params![sync.as_str(), me.token]);
                return Err(WarehouseError::sql("opening the heartbeat's connection", e));
            }
        };
        let lease = Arc::new(Lease::new(me.lease, renew));
        self.lease = Some(lease.clone());
        self.heartbeat = Some(Heartbeat::start(&self.path, Some(lease), me.lease, false));
        Ok(())
    }

    /// Drops the deltas runs of this sync left (a run that died, or failed before its
    /// retention; and the one shared delta of an older layout). Called with the lock held, so
    /// no live run owns any of them.
    fn drop_dead_deltas(&self, sync: &SyncName) -> Result<()> {
        let doing = "dropping the deltas of runs that ended";
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM main.sqlite_master WHERE type IN ('table', 'view')")
            .map_err(|e| WarehouseError::sql(doing, e))?;
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| WarehouseError::sql(doing, e))?;
        drop(stmt);
        for name in names.into_iter().filter(|n| diff::is_delta_of(Dialect::Sqlite, sync, n)) {
            self.drop_delta(&TableName { schema: "main", name })?;
        }
        Ok(())
    }

    /// Drops what a dry run made in the `temp` schema (our connection's alone).
    fn drop_temp(&self) -> Result<()> {
        let doing = "dropping the dry run's tables";
        let mut stmt = self
            .conn
            .prepare("SELECT type, name FROM temp.sqlite_master WHERE type IN ('table', 'view')")
            .map_err(|e| WarehouseError::sql(doing, e))?;
        let objects: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| WarehouseError::sql(doing, e))?;
        drop(stmt);
        for (kind, name) in objects {
            let kind = if kind == "view" { "VIEW" } else { "TABLE" };
            self.exec(doing, &format!("DROP {kind} IF EXISTS temp.{}", diff_quote(&name)))?;
        }
        Ok(())
    }

    /// Adds to the baseline the image columns it lacks (the mapping grew): old members have no
    /// value for them, which is all we know. `have`: the baseline's columns.
    fn widen_baseline(&self, t: &Tables, spec: &ModelSpec, have: &[(String, String)]) -> Result<()> {
        for column in &spec.columns {
            if !have.iter().any(|(h, _)| h.eq_ignore_ascii_case(column)) {
                let sql = format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    t.baseline.qualified(),
                    crate::warehouse::ident::quote(column)
                );
                self.exec("adding a column to the baseline", &sql)?;
            }
        }
        Ok(())
    }

    /// A table's columns, (name, declared type), in order.
    fn columns(&self, table: &TableName) -> Result<Vec<(String, String)>> {
        let doing = "reading a table's columns";
        let sql = format!("SELECT name, type FROM {}.pragma_table_info(?1) ORDER BY cid", diff_quote(table.schema));
        let mut stmt = self.conn.prepare(&sql).map_err(|e| WarehouseError::sql(doing, e))?;
        stmt.query_map([&table.name], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| WarehouseError::sql(doing, e))
    }

    /// Whether SQLite reads the model in key order with no sort (a table read by its integer
    /// primary key, say), from its plan for the snapshot's rows in key order. A model that
    /// cannot be planned here says no, and its error comes from the snapshot itself.
    fn comes_in_key_order(&self, t: &Tables, spec: &ModelSpec, config: i64) -> bool {
        let sql = format!("EXPLAIN QUERY PLAN {}", diff::in_key_order(t, spec, config));
        let plan: rusqlite::Result<Vec<String>> =
            self.conn.prepare(&sql).and_then(|mut stmt| stmt.query_map([], |r| r.get::<_, String>(3))?.collect());
        matches!(plan, Ok(steps) if !steps.iter().any(|s| s.contains("TEMP B-TREE") && s.contains("ORDER BY")))
    }

    /// The delta of a run with members, by merges (see `resync`): the changed rows, then the
    /// deletes unless the counts show that every member's key is still in the model.
    fn merge_delta(&self, t: &Tables, config: i64, members: i64, duplicates: bool) -> Result<()> {
        for sql in resync::changed(t) {
            self.exec("finding the changed rows", &sql)?;
        }
        let deletes = duplicates || {
            let (keys, new): (i64, i64) = self
                .conn
                .query_row(&resync::present(t), [], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| WarehouseError::sql("counting the members present", e))?;
            keys - new < members
        };
        for sql in resync::delta(t, config, deletes, duplicates) {
            self.exec("computing the delta", &sql)?;
        }
        Ok(())
    }
}

/// What a statement does, for the debug line of a step of several (`CREATE TABLE
/// "_audience_runs"`): its leading keywords and the state table it names, nothing from a model
/// (whose query may hold a secret).
fn statement(sql: &str) -> String {
    let keyword = |t: &&str| t.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !t.is_empty();
    sql.split_whitespace()
        .take(6)
        .take_while(|t| keyword(t) || t.contains("_audience"))
        .map(|t| t.trim_end_matches('('))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Logs a warehouse step's time at debug level (`AUDIENCE_LOG=debug`).
fn log_time(step: &str, started: std::time::Instant) {
    tracing::debug!(step, seconds = started.elapsed().as_secs_f64(), "warehouse");
}

fn diff_quote(name: &str) -> String {
    crate::warehouse::ident::quote(name)
}

/// A connection with our per-connection settings.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    connect_with_cache(path, RUNNER_CACHE_KIB)
}

/// A connection with our per-connection settings and a page cache of `cache_kib` KiB.
fn connect_with_cache(path: &Path, cache_kib: i64) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{cache_kib}"))?;
    Ok(conn)
}

/// A fresh database path in a directory of its own, `(directory, database)`, for the unit tests
/// of this module and its children.
#[cfg(test)]
fn scratch_db(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("audience-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("w.db");
    let _ = std::fs::remove_file(&path);
    (dir, path)
}

/// A background thread's connection (heartbeat, recording), with our WAL settings when the
/// database is in WAL mode.
fn connect_background(path: &Path, wal: bool) -> rusqlite::Result<Connection> {
    let conn = connect_with_cache(path, BACKGROUND_CACHE_KIB)?;
    if wal {
        conn.execute_batch(journal::WAL_SETTINGS)?;
    }
    Ok(conn)
}

/// Registers `audience_fingerprint(v1, v2, ...)`: SipHash-1-3 (fixed keys) over each value's
/// type tag and bytes (lengths included, so that no two rows share an encoding), as a signed
/// 64-bit integer.
///
/// Why SipHash and not a cryptographic hash: the fingerprint only tells whether a member's row
/// changed, 64 bits make an accidental match as unlikely as the 64 bits of a cut SHA-256 did,
/// and every row of every snapshot is hashed while the snapshot is written: SHA-256 cost about
/// 0.15 s per million rows there, SipHash-1-3 about half that.
///
/// Deterministic, so SQLite may evaluate it once per row wherever it likes. Changing this
/// encoding makes every member an update once (its stored fingerprint no longer matches).
pub fn register_fingerprint(conn: &Connection) -> rusqlite::Result<()> {
    // The row's encoding is built in one reused buffer and hashed in one call: feeding the
    // hasher value by value costs more than the hashing itself for rows this small.
    let buffer = std::cell::RefCell::new(Vec::<u8>::with_capacity(256));
    conn.create_scalar_function(
        "audience_fingerprint",
        -1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let mut buf = buffer.borrow_mut();
            buf.clear();
            for i in 0..ctx.len() {
                match ctx.get_raw(i) {
                    ValueRef::Null => buf.push(0),
                    ValueRef::Integer(v) => {
                        buf.push(1);
                        buf.extend_from_slice(&v.to_be_bytes());
                    }
                    ValueRef::Real(v) => {
                        buf.push(2);
                        buf.extend_from_slice(&v.to_bits().to_be_bytes());
                    }
                    ValueRef::Text(b) => {
                        buf.push(3);
                        buf.extend_from_slice(&(b.len() as u64).to_be_bytes());
                        buf.extend_from_slice(b);
                    }
                    ValueRef::Blob(b) => {
                        buf.push(4);
                        buf.extend_from_slice(&(b.len() as u64).to_be_bytes());
                        buf.extend_from_slice(b);
                    }
                }
            }
            Ok(row_hash(&buf))
        },
    )
}

/// The fingerprint's hash of a row's encoding. The keys are arbitrary and fixed forever: stored
/// fingerprints are compared with new ones.
fn row_hash(encoded: &[u8]) -> i64 {
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher13::new_with_keys(0x6175_6469_656e_6365, 0x726f_7766_7072_696e);
    h.write(encoded);
    h.finish() as i64
}

/// A sync's lock row. `legacy`: the locks table of an older layout, without the identity
/// columns.
fn read_lock(conn: &Connection, state: &StateTables, sync: &str, legacy: bool) -> rusqlite::Result<Option<LockHolder>> {
    let sql = if legacy { state.read_lock_legacy() } else { state.read_lock() };
    conn.query_row(&sql, [sync], |r| {
        Ok(LockHolder {
            identity: Identity {
                host: r.get(0)?,
                pid: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
                boot_id: r.get(6)?,
                pid_ns: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
                start_time: r.get::<_, Option<i64>>(8)?.map(|v| v as u64),
            },
            run_id: r.get(2)?,
            since: r.get(3)?,
            heartbeat: r.get(4)?,
            token: r.get(5)?,
            lease: r.get::<_, Option<i64>>(9)?.map(|ms| Duration::from_millis(ms.max(0) as u64)),
        })
    })
    .optional()
}

/// Who holds the lock now, for the message of a run that lost it.
fn holder_now(conn: &Connection, state: &StateTables, sync: &str) -> String {
    match read_lock(conn, state, sync, false) {
        Ok(Some(holder)) => holder.to_string(),
        Ok(None) => "nobody (the lock row is gone)".into(),
        Err(e) => format!("another run (the lock row could not be read: {e})"),
    }
}

/// Refreshes our heartbeat in the connection's current transaction, naming our token: the
/// fence of every write of a run. A row no longer ours fails with [`WarehouseError::LostLock`]
/// (and marks the lease lost), so that the transaction is rolled back.
fn fence(conn: &Connection, state: &StateTables, sync: &str, token: &str, lease: Option<&Lease>) -> Result<()> {
    let updated = conn
        .execute(&state.heartbeat(), params![sync, token, now_utc()])
        .map_err(|e| WarehouseError::sql("refreshing the lock's heartbeat", e))?;
    if updated == 0 {
        let to = holder_now(conn, state, sync);
        let message = match lease {
            Some(lease) => {
                lease.lose(&to);
                lease.lost().unwrap_or_else(|| crate::warehouse::lease::lost_message(&to))
            }
            None => crate::warehouse::lease::lost_message(&to),
        };
        return Err(WarehouseError::LostLock(message));
    }
    if let Some(lease) = lease {
        lease.renewed();
    }
    Ok(())
}

/// The lease's renewal: a connection of its own that refreshes our heartbeat, fenced by the
/// token.
fn renewer(path: &Path, state: &StateTables, sync: &SyncName, token: &str) -> rusqlite::Result<Renew> {
    let conn = connect_background(path, false)?;
    let (state, sync, token) = (state.clone(), sync.as_str().to_owned(), token.to_owned());
    Ok(Box::new(move || {
        let updated = conn.execute(&state.heartbeat(), params![sync, token, now_utc()]).map_err(|e| e.to_string())?;
        if updated > 0 { Ok(Renewed::Yes) } else { Ok(Renewed::Lost(holder_now(&conn, &state, &sync))) }
    }))
}

impl Drop for SqliteWarehouse {
    fn drop(&mut self) {
        self.heartbeat = None;
    }
}

impl SqliteWarehouse {
    /// [`Warehouse::read_delta`] itself.
    fn read_range(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        last: i64,
        limit: usize,
        visit: &mut dyn FnMut(&DeltaRecord<'_>),
    ) -> Result<Option<i64>> {
        let t = self.tables()?;
        // A range within the deletes reads the baseline's images; one past them, the snapshot's.
        let images = match self.deletes {
            _ if self.inline => Images::Inline,
            None => Images::Current,
            Some((_, hi)) if after >= hi => Images::Current,
            Some((_, hi)) if last <= hi => Images::Removed,
            Some(_) => Images::Either,
        };
        let sql = delta::read_images(t, spec, images);
        let doing = "reading the delta";
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| WarehouseError::sql(doing, e))?;
        let mut rows = stmt.query(params![after, last, limit as i64]).map_err(|e| WarehouseError::sql(doing, e))?;
        let mut read = None;
        let width = spec.columns.len();
        while let Some(row) = rows.next().map_err(|e| WarehouseError::sql(doing, e))? {
            let seq: i64 = row.get(0).map_err(|e| WarehouseError::sql(doing, e))?;
            let op = Op::from_code(row.get(1).map_err(|e| WarehouseError::sql(doing, e))?)
                .ok_or_else(|| WarehouseError::sql(doing, "an unknown operation in the delta"))?;
            let key = match row.get_ref(2).map_err(|e| WarehouseError::sql(doing, e))? {
                ValueRef::Text(b) => String::from_utf8_lossy(b),
                _ => "".into(),
            };
            let image = SqliteRow { row, offset: 3, width };
            visit(&DeltaRecord { seq, op, key: &key, row: &image });
            read = Some(seq);
        }
        Ok(read)
    }
}

impl Warehouse for SqliteWarehouse {
    fn engine(&self) -> &'static str {
        "SQLite"
    }

    fn refuses_column(&self, name: &str) -> Option<&'static str> {
        // The snapshot's statements read its rows' rowid by that name, which a column would hide
        // (`oid` and `_rowid_`, which they never use, are fine).
        name.eq_ignore_ascii_case("rowid")
            .then_some("SQLite would read it in place of the rowid of audience's snapshot tables")
    }

    async fn model_columns(&mut self, sql: &str) -> Result<Vec<String>> {
        let stmt = self.conn.prepare(sql).map_err(|e| WarehouseError::sql("preparing the model query", e))?;
        Ok(stmt.column_names().into_iter().map(str::to_owned).collect())
    }

    async fn model_rows(
        &mut self,
        spec: &ModelSpec,
        limit: usize,
        visit: &mut dyn FnMut(Option<&str>, &dyn crate::fields::Row),
    ) -> Result<()> {
        let image = diff::model_image(spec);
        let doing = "reading the model's first rows";
        let mut stmt =
            self.conn.prepare(&diff::model_rows(spec, &image, limit)).map_err(|e| WarehouseError::sql(doing, e))?;
        let mut rows = stmt.query([]).map_err(|e| WarehouseError::sql(doing, e))?;
        let width = spec.columns.len();
        while let Some(row) = rows.next().map_err(|e| WarehouseError::sql(doing, e))? {
            let key = match row.get_ref(0).map_err(|e| WarehouseError::sql(doing, e))? {
                ValueRef::Null => None,
                ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(f) => Some(f.to_string()),
            };
            visit(key.as_deref(), &SqliteRow { row, offset: 1, width });
        }
        Ok(())
    }

    async fn begin(&mut self, sync: &SyncName, me: &Me, dry_run: bool) -> Result<Locked> {
        self.sync = Some(sync.clone());
        self.me = Some(me.clone());
        self.dry_run = dry_run;
        if dry_run {
            // No state is created or upgraded: on an older layout the lock is only checked.
            let version = self.schema_version()?;
            schema::upgrade_from(version)?;
            if !self.table_exists("main", &self.state.locks.name)? {
                return Ok(Locked { taken_over: None });
            }
            // SQLite's tables are the same at versions 3 and 4 (see `schema`).
            let current = !schema::before_run_tallies(version);
            let locked = self.acquire(sync, me, current, !current).await?;
            if current {
                self.hold(sync, me)?;
            }
            return Ok(locked);
        }
        self.create_state()?;
        let locked = self.acquire(sync, me, true, false).await?;
        // The snapshot and the diff are written in the database's own journal mode (see
        // `journal`): a mode left by a run that was killed is restored first, if this is the
        // only connection.
        journal::leave_wal(&self.conn);
        self.hold(sync, me)?;
        Ok(locked)
    }

    fn lease(&self) -> Option<Arc<Lease>> {
        self.lease.clone()
    }

    async fn start_run(&mut self, sync: &SyncName, start: &RunStart) -> Result<i64> {
        self.write("starting the run", |w| {
            let run_id: i64 = w
                .conn
                .query_row(&w.state.next_run_id(), [sync.as_str()], |r| r.get(0))
                .map_err(|e| WarehouseError::sql("numbering the run", e))?;
            w.conn
                .execute(
                    &w.state.insert_run(),
                    params![
                        sync.as_str(),
                        run_id,
                        start.started_at,
                        start.config_text(),
                        start.full_resync as i64,
                        start.me.host(),
                        start.me.pid()
                    ],
                )
                .map_err(|e| WarehouseError::sql("recording the run", e))?;
            w.conn
                .execute(&w.state.lock_run(), params![sync.as_str(), start.me.token, run_id])
                .map_err(|e| WarehouseError::sql("recording the run", e))?;
            Ok(run_id)
        })
    }

    async fn next_run_id(&mut self, sync: &SyncName) -> Result<i64> {
        if !self.table_exists("main", &self.state.runs.name)? {
            return Ok(1);
        }
        self.conn
            .query_row(&self.state.next_run_id(), [sync.as_str()], |r| r.get(0))
            .map_err(|e| WarehouseError::sql("numbering the run", e))
    }

    async fn run_info(&mut self, sync: &SyncName, run: Option<i64>) -> Result<Option<RunInfo>> {
        if !self.table_exists("main", &self.state.runs.name)? {
            return Ok(None);
        }
        let found = self.conn.query_row(&self.state.select_run(), params![sync.as_str(), run], |r| {
            Ok(RunInfo {
                run_id: r.get(0)?,
                status: r.get(1)?,
                error: r.get(2)?,
                config: r.get(3)?,
                full_resync: r.get::<_, i64>(4)? != 0,
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
                counts: RunCounts {
                    inserted: r.get::<_, i64>(7)? as u64,
                    updated: r.get::<_, i64>(8)? as u64,
                    deleted: r.get::<_, i64>(9)? as u64,
                    failed: r.get::<_, i64>(10)? as u64,
                    invalid: r.get::<_, i64>(11)? as u64,
                    requests: r.get::<_, i64>(12)? as u64,
                },
            })
        });
        match found {
            Ok(info) => Ok(Some(info)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(WarehouseError::sql("reading the run", e)),
        }
    }

    async fn build_delta(&mut self, spec: &ModelSpec, run: &RunRef, full_resync: bool) -> Result<DeltaStats> {
        let dry = self.dry_run;
        let baseline_name = diff::table_name(Dialect::Sqlite, &format!("baseline_{}", spec.sync));
        let has_baseline = self.table_exists("main", &baseline_name)?;
        let scratch = if dry { Place::Temp } else { Place::Main };
        // A dry run changes no table of `main`: a baseline it would change (a full resync
        // clears its configurations, a grown mapping adds columns) is copied into `temp` first.
        let copy = dry && has_baseline && {
            let main = TableName { schema: "main", name: baseline_name.clone() };
            let have = self.columns(&main)?;
            full_resync || spec.columns.iter().any(|c| !have.iter().any(|(h, _)| h.eq_ignore_ascii_case(c)))
        };
        if copy {
            let name = diff_quote(&baseline_name);
            self.exec("copying the baseline", &format!("DROP TABLE IF EXISTS temp.{name}"))?;
            self.exec("copying the baseline", &format!("CREATE TEMP TABLE {name} AS SELECT * FROM main.{name}"))?;
        }
        let baseline_place = if (has_baseline || !dry) && !copy { Place::Main } else { Place::Temp };
        let t = Tables::new(Dialect::Sqlite, &spec.sync, run.run_id, scratch, baseline_place);
        // Without members, every valid row is an insert: see `first_run`.
        let members = has_baseline && self.has_rows(&t.baseline)?;
        let unique = unique::key_is_unique(&self.conn, &spec.sql, &spec.primary_key);
        // The snapshot commits on its own: a run that dies before the delta is built leaves a
        // snapshot that retention drops in time. With members, the snapshot is indexed by key:
        // as it is written when the model comes in key order, after it is written otherwise.
        let config = run.config;
        let (snapshot, index) = match (members, members && self.comes_in_key_order(&t, spec, config)) {
            (false, _) => (vec![first_run::snapshot(&t, spec, config)], vec![]),
            (true, true) => (diff::snapshot_indexed_in_key_order(&t, spec, config), vec![]),
            (true, false) => {
                let mut snapshot = diff::snapshot(&t, spec, config);
                let index = snapshot.split_off(1);
                (snapshot, index)
            }
        };
        self.write("taking the snapshot of the model", |w| {
            // Deltas left by runs that ended are of no use: this run diffs afresh.
            if dry {
                w.drop_delta(&t.delta)?;
            } else {
                w.drop_dead_deltas(&spec.sync)?;
            }
            w.exec("dropping an old snapshot", &format!("DROP TABLE IF EXISTS {}", t.snapshot.qualified()))?;
            for sql in &snapshot {
                w.exec("taking the snapshot of the model", sql)?;
            }
            Ok(())
        })?;
        // Whether the delta is the first run's view (see `first_run::delta`).
        let mut inline = false;
        let stats = self.write("building the delta", |w| {
            for sql in &index {
                w.exec("indexing the snapshot", sql)?;
            }
            // The snapshot's and the baseline's columns are read once: the baseline takes the
            // snapshot's declared types, and the diff's path depends on both.
            let snapshot_columns = w.columns(&t.snapshot)?;
            let baseline_columns = if has_baseline {
                let columns = w.columns(&t.baseline)?;
                w.widen_baseline(&t, spec, &columns)?;
                columns
            } else {
                let types: Vec<String> = snapshot_columns.iter().map(|(_, ty)| ty.clone()).collect();
                for sql in diff::create_baseline(&t, spec, dry, &types) {
                    w.exec("creating the baseline", &sql)?;
                }
                Vec::new()
            };
            if full_resync {
                w.exec("marking every member for a full resync", &diff::clear_config(&t))?;
            }
            let baseline: i64 = if members {
                w.conn
                    .query_row(&diff::baseline_count(&t), [], |r| r.get(0))
                    .map_err(|e| WarehouseError::sql("counting the members", e))?
            } else {
                0
            };
            let find = match (unique, members) {
                (true, _) => diff::no_duplicates(&t),
                (false, true) => diff::duplicates(&t),
                (false, false) => first_run::duplicates(&t),
            };
            for sql in find {
                w.exec("finding duplicate keys", &sql)?;
            }
            let duplicates: i64 = w
                .conn
                .query_row(&diff::has_duplicates(&t), [], |r| r.get(0))
                .map_err(|e| WarehouseError::sql("finding duplicate keys", e))?;
            if members {
                let hints = DiffHints::from_columns(duplicates > 0, &baseline_columns, &snapshot_columns);
                if hints.can_merge() {
                    w.merge_delta(&t, run.config, baseline, duplicates > 0)?;
                } else {
                    for sql in delta::delta(&t, run.config, hints) {
                        w.exec("computing the delta", &sql)?;
                    }
                }
            } else {
                let (delta, view) = first_run::delta(&t, spec, duplicates > 0);
                for sql in &delta {
                    w.exec("computing the delta", sql)?;
                }
                inline = view;
            }
            let stats = if members { w.delta_stats(&t, baseline)? } else { w.first_run_stats(&t)? };
            let invalid = stats.invalid;
            if invalid > 0 && run.write_logs && !dry {
                w.conn
                    .execute(&log::invalid(&t), params![spec.sync.as_str(), run.run_id, now_millis()])
                    .map_err(|e| WarehouseError::sql("logging invalid rows", e))?;
            }
            Ok(stats)
        })?;
        self.tables = Some(t);
        self.deletes = stats.ranges[Op::Delete.index()];
        self.inline = inline;
        if !dry {
            self.enter_wal();
            if self.wal {
                let recording = self.recording(spec, run)?;
                self.recorder =
                    connect_background(&self.path, true).ok().and_then(|conn| Recorder::start(conn, recording));
            }
        }
        Ok(stats)
    }

    async fn read_delta(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        last: i64,
        limit: usize,
        visit: &mut dyn FnMut(&DeltaRecord<'_>),
    ) -> Result<Option<i64>> {
        // A run that lost its lock reads nothing more: its taker may have dropped its delta.
        if let Some(lease) = &self.lease {
            lease.ensure().map_err(WarehouseError::LostLock)?;
        }
        let read = self.read_range(spec, after, last, limit, visit);
        match (&read, self.lease.as_ref().and_then(|l| l.lost())) {
            (Err(_), Some(lost)) => Err(WarehouseError::LostLock(lost)),
            _ => read,
        }
    }

    async fn record_chunks(&mut self, spec: &ModelSpec, run: &RunRef, chunks: &[ChunkOutcome<'_>]) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        if let Some(recorder) = &mut self.recorder {
            return recorder.record(chunks);
        }
        let recording = self.recording(spec, run)?;
        self.write("recording outcomes", |w| recorder::write_chunks(&w.conn, &recording, chunks))
    }

    async fn finish_run(&mut self, run: &RunRef, end: &RunEnd<'_>) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        // Everything handed over is recorded first; should that fail, the run row says so.
        let recorded = self.stop_recorder();
        let (status, error) = match &recorded {
            Ok(()) => (end.status, end.error.map(str::to_owned)),
            Err(e) => (RunStatus::Failed, Some(e.to_string())),
        };
        let error = error.as_deref();
        let reasons = serde_json::to_string(end.reasons).unwrap_or_else(|_| "[]".to_owned());
        let (retries, splits) = (end.retries as i64, end.splits as i64);
        self.write("finishing the run", |w| {
            recorder::update_counts(&w.conn, &w.state, run, end.counts)?;
            w.conn
                .execute(
                    &w.state.finish_run(),
                    params![run.sync.as_str(), run.run_id, now_utc(), status.as_str(), error, retries, splits, reasons],
                )
                .map_err(|e| WarehouseError::sql("finishing the run", e))?;
            Ok(())
        })?;
        recorded
    }

    async fn retention(&mut self, run: &RunRef, snapshots: u32, log_days: u32) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        self.stop_recorder()?;
        let sync = &run.sync;
        let prefix = diff::table_name(Dialect::Sqlite, &format!("snapshot_{sync}_"));
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM main.sqlite_master WHERE type = 'table' AND substr(name, 1, length(?1)) = ?1")
            .map_err(|e| WarehouseError::sql("listing snapshots", e))?;
        let names: Vec<String> = stmt
            .query_map([&prefix], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| WarehouseError::sql("listing snapshots", e))?;
        drop(stmt);
        let mut runs: Vec<(i64, String)> =
            names.into_iter().filter_map(|n| diff::snapshot_run(Dialect::Sqlite, sync, &n).map(|r| (r, n))).collect();
        runs.sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
        let keep = snapshots.max(1) as usize;
        let cutoff = log_cutoff(&run.started_at, log_days);
        let delta = Tables::new(Dialect::Sqlite, sync, run.run_id, Place::Main, Place::Main).delta;
        self.write("applying retention", |w| {
            for (_, name) in runs.iter().skip(keep) {
                w.exec(
                    "dropping an old snapshot",
                    &format!("DROP TABLE IF EXISTS main.{}", crate::warehouse::ident::quote(name)),
                )?;
            }
            w.drop_delta(&delta)?;
            for sql in log::delete_old(&w.state.runs.qualified()) {
                w.conn
                    .execute(&sql, params![sync.as_str(), cutoff])
                    .map_err(|e| WarehouseError::sql("deleting old log rows", e))?;
            }
            Ok(())
        })
    }

    async fn end(&mut self, sync: &SyncName) -> Result<()> {
        // Its error, if any, was the run's (finish_run reports it).
        let _ = self.stop_recorder();
        self.heartbeat = None;
        // Its connection closes with it (the journal mode is switched back below).
        let lease = self.lease.take();
        if let Some(lease) = &lease {
            lease.close();
        }
        self.tables = None;
        self.deletes = None;
        self.inline = false;
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let dropped = if self.dry_run { self.drop_temp() } else { Ok(()) };
        // Only our own row: a run that lost its lock leaves its taker's alone.
        let result = match (&lease, &self.me) {
            (Some(_), Some(me)) => self
                .conn
                .execute(&self.state.delete_lock(), params![sync.as_str(), me.token])
                .map(|_| ())
                .map_err(|e| WarehouseError::sql("releasing the lock", e)),
            _ => Ok(()),
        }
        .and(dropped);
        if !self.dry_run {
            // Our other connections are closed by now (heartbeat, recorder).
            let started = std::time::Instant::now();
            journal::leave_wal(&self.conn);
            log_time("restoring the journal mode", started);
        }
        self.wal = false;
        self.sync = None;
        self.dry_run = false;
        result
    }

    async fn runs(&mut self, sync: &SyncName, limit: u64) -> Result<Vec<RunRow>> {
        if !self.table_exists("main", &self.state.runs.name)? {
            return Ok(Vec::new());
        }
        let version = self.schema_version()?;
        schema::upgrade_from(version)?;
        let legacy = schema::before_run_tallies(version);
        let doing = "reading the runs";
        let mut stmt = self.conn.prepare(&self.state.select_runs(legacy)).map_err(|e| WarehouseError::sql(doing, e))?;
        let n = |r: &rusqlite::Row<'_>, i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
        let rows = stmt
            .query_map(params![sync.as_str(), limit.min(i64::MAX as u64) as i64], |r| {
                let reasons: Option<String> = r.get(12)?;
                Ok(RunRow {
                    sync: sync.as_str().to_owned(),
                    run_id: r.get(0)?,
                    status: r.get(1)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    counts: RunCounts {
                        inserted: n(r, 4)?,
                        updated: n(r, 5)?,
                        deleted: n(r, 6)?,
                        failed: n(r, 7)?,
                        invalid: n(r, 8)?,
                        requests: n(r, 9)?,
                    },
                    retries: n(r, 10)?,
                    splits: n(r, 11)?,
                    reasons: super::state::parse_reasons(reasons.as_deref()),
                    error: r.get(13)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| WarehouseError::sql(doing, e))?;
        Ok(rows)
    }

    async fn logs(
        &mut self,
        sync: &SyncName,
        run: Option<i64>,
        failed_only: bool,
    ) -> Result<Option<(i64, Vec<LogRow>)>> {
        if !self.table_exists("main", &self.state.runs.name)? {
            return Ok(None);
        }
        self.refuse_newer_schema()?;
        let doing = "reading the sync log";
        let picked: Option<i64> = self
            .conn
            .query_row(&self.state.pick_run(), params![sync.as_str(), run], |r| r.get(0))
            .map_err(|e| WarehouseError::sql(doing, e))?;
        let Some(run_id) = picked else { return Ok(None) };
        let mut stmt = self
            .conn
            .prepare(&log::select(&self.state.runs.qualified(), failed_only, self.table_exists("main", log::BATCHES)?))
            .map_err(|e| WarehouseError::sql(doing, e))?;
        let rows = stmt
            .query_map(params![sync.as_str(), run_id], |r| {
                Ok(LogRow {
                    primary_key: r.get(0)?,
                    operation: r.get(1)?,
                    status: r.get(2)?,
                    error_reason: r.get(3)?,
                    http_status: r.get(4)?,
                    sync_started_at: r.get(5)?,
                    sync_finished_at: r.get(6)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| WarehouseError::sql(doing, e))?;
        Ok(Some((run_id, rows)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_types_and_boundaries_apart() {
        let conn = Connection::open_in_memory().unwrap();
        register_fingerprint(&conn).unwrap();
        let fp = |sql: &str| -> i64 {
            conn.query_row(&format!("SELECT audience_fingerprint({sql})"), [], |r| r.get(0)).unwrap()
        };
        assert_eq!(fp("1, 'a'"), fp("1, 'a'"));
        assert_ne!(fp("1"), fp("'1'"));
        assert_ne!(fp("1"), fp("1.0"));
        assert_ne!(fp("'ab', 'c'"), fp("'a', 'bc'"));
        assert_ne!(fp("NULL"), fp("''"));
        assert_ne!(fp("'x'"), fp("x'78'"));
        // Pinned: the fingerprint is stored, so it must not change silently.
        assert_eq!(fp("1, 'a', NULL"), fp("1, 'a', NULL"));
        assert_eq!(format!("{:016x}", fp("")), "d2423a8b7f40005b");
        assert_eq!(format!("{:016x}", fp("1, 'a', NULL, 2.5, x'00'")), "fd03df89caf7ec41");
    }
}
