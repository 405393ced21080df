//! The Snowflake connector: [`Warehouse`] over the protocol layer of this folder, with the
//! statements of [`super::sql`] (the design is docs/design/snowflake.md).
//!
//! * **No transaction spans round trips.** Every statement autocommits; every write names the
//!   run's lock token inside it (`… WHERE EXISTS (SELECT 1 FROM LOCKS WHERE TOKEN = ?)`), so a
//!   run whose lock was taken over changes nothing.
//! * **The lock** is a row of `_AUDIENCE.LOCKS` (Snowflake has no session locks), taken by a
//!   `MERGE` when free, and from a stale holder (judged by [`lock::judge`], as SQLite's) by a
//!   compare-and-set on its token and fence. The heartbeat is the row's `HEARTBEAT_AT` or the
//!   newest journal row of its run, whichever is later: a recorded batch is a heartbeat, and a
//!   thread of its own renews the row only when no batch was recorded for half a lease.
//! * **A batch's recording** is one journal row (`OUTCOMES`); the baseline moves, the log rows
//!   and the run's counts are derived from the journal at the end of the run, or, for a run
//!   that died, by the next run before its own diff.
//! * **A dry run** writes no state: its snapshot and delta are `…_DRY` tables, and what it had
//!   to create (the schema, an empty baseline) is dropped when it ends.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::heartbeat::{Beat, Beater, Heartbeat, TAKEN};
use super::session::{Bind, QueryResult, Session, SessionOptions};
use super::source::SnowflakeSource;
use super::sql::{RunSql, STATE_SCHEMA};
use crate::fields::OwnedValue;
use crate::warehouse::lease::{Lease, lost_message};
use crate::warehouse::lock::{self, Identity, Judgement, LockHolder, Me};
use crate::warehouse::schema::{self, SCHEMA_VERSION};
use crate::warehouse::state::log_cutoff;
use crate::warehouse::{
    ChunkOutcome, DeltaRecord, DeltaStats, Locked, LogRow, ModelSpec, Op, RESERVED_COLUMNS, Result, RunCounts, RunEnd,
    RunInfo, RunRef, RunRow, RunStart, SyncName, Warehouse, WarehouseError, now_utc,
};

/// Delta records read per statement (at least a batch): several batches per round trip, so that
/// a run costs about one statement per batch (its recording), while a page stays small enough for
/// Snowflake to answer inline (a larger result comes in chunks, which is an error naming the page
/// size). Snowflake does not document its inline limit: to be measured on a real account.
const PAGE_ROWS: usize = 5_000;

/// How often a taker looks at a lock row whose holder it watches.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// A Snowflake warehouse: one session.
pub struct SnowflakeWarehouse {
    db: Db,
    /// Where the session logged in (the heartbeat logs in again with it).
    source: SnowflakeSource,
    /// The database holding the model and the state schema.
    database: String,
    /// The model's schema: the session's again after creating the state schema (`CREATE
    /// SCHEMA` makes the new schema the session's, on Snowflake as on fakesnow).
    schema: String,
    me: Option<Me>,
    dry_run: bool,
    lease: Option<Arc<Lease>>,
    heartbeat: Option<Heartbeat>,
    /// The run whose delta was built, for the reads and the statements at its end.
    current: Option<Current>,
    /// The state tables are known to exist (this run created or found them at its version).
    has_state: bool,
    /// Delta rows read ahead (one page, in sequence order), not yet visited.
    page: VecDeque<Vec<OwnedValue>>,
    /// Tables a dry run created and drops when it ends (by name), and whether it created the
    /// state schema itself.
    dry_created: Vec<String>,
    dry_schema: bool,
}

impl std::fmt::Debug for SnowflakeWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnowflakeWarehouse").field("database", &self.database).finish_non_exhaustive()
    }
}

/// The run being built.
#[derive(Clone, Debug)]
struct Current {
    spec: ModelSpec,
    run_id: i64,
    config: i64,
    resend_all: bool,
}

/// The session, and the statements sent through it.
struct Db {
    session: Session,
    statements: u64,
}

impl Db {
    async fn run(&mut self, doing: &str, sql: &str, binds: &[Bind]) -> Result<QueryResult> {
        self.statements += 1;
        tracing::trace!("Snowflake statement {}: {doing}", self.statements);
        self.session.query(sql, binds).await.map_err(|e| WarehouseError::sql(doing, e))
    }

    /// Like [`Db::run`], for a page of at most `rows` rows answered inline.
    async fn page(&mut self, doing: &str, sql: &str, binds: &[Bind], rows: usize) -> Result<QueryResult> {
        self.statements += 1;
        tracing::trace!("Snowflake statement {}: {doing}", self.statements);
        self.session.query_page(sql, binds, rows).await.map_err(|e| WarehouseError::sql(doing, e))
    }

    /// The first cell of the first row as an integer (`None`: null or no row).
    async fn int(&mut self, doing: &str, sql: &str, binds: &[Bind]) -> Result<Option<i64>> {
        let result = self.run(doing, sql, binds).await?;
        Ok(result.rows.first().and_then(|r| r.first()).and_then(int))
    }

    /// Runs a DML statement and returns the rows it changed.
    async fn dml(&mut self, doing: &str, sql: &str, binds: &[Bind]) -> Result<i64> {
        let result = self.run(doing, sql, binds).await?;
        Ok(result.affected_rows().unwrap_or(0))
    }
}

fn int(v: &OwnedValue) -> Option<i64> {
    match v {
        OwnedValue::Int(n) => Some(*n),
        OwnedValue::Numeric(s) | OwnedValue::Text(s) => s.parse().ok(),
        OwnedValue::Float(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

/// Column `i` of a result row as a count; missing or negative reads as 0.
fn count(r: &[OwnedValue], i: usize) -> u64 {
    r.get(i).and_then(int).unwrap_or(0).max(0) as u64
}

/// The six counts of a runs-table row, read from column `at` on (inserted, updated, deleted,
/// failed, invalid, requests).
fn run_counts(r: &[OwnedValue], at: usize) -> RunCounts {
    let n = |i: usize| count(r, at + i);
    RunCounts { inserted: n(0), updated: n(1), deleted: n(2), failed: n(3), invalid: n(4), requests: n(5) }
}

fn text(v: &OwnedValue) -> Option<String> {
    match v {
        OwnedValue::Text(s) | OwnedValue::Numeric(s) => Some(s.clone()),
        OwnedValue::Timestamp(s) => Some(timestamp(s)),
        OwnedValue::Int(n) => Some(n.to_string()),
        OwnedValue::Json(Value::String(s)) => Some(s.clone()),
        OwnedValue::Json(v) => Some(v.to_string()),
        _ => None,
    }
}

/// A timestamp as the state tables of the other engines give it: RFC 3339 in UTC with
/// milliseconds (so that text order is time order).
fn timestamp(s: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|_| s.to_owned())
}

fn t(s: &str) -> Bind {
    Bind::Text(s.to_owned())
}

/// The spec of statements that touch only the shared state tables.
fn state_spec(sync: &SyncName) -> ModelSpec {
    ModelSpec { sync: sync.clone(), sql: String::new(), primary_key: String::new(), columns: Vec::new() }
}

/// The spec of statements about model `sql` alone, before any sync is named.
fn model_spec(sql: &str) -> Result<ModelSpec> {
    let sync = SyncName::new("model").map_err(|e| WarehouseError::sql("reading the model", e))?;
    Ok(ModelSpec { sql: sql.to_owned(), ..state_spec(&sync) })
}

/// The configuration fingerprint of a runs-table row (`CONFIG_FINGERPRINT`: 16 hex digits,
/// then its parts), as the baseline's `_AUDIENCE_CONFIG` stores it.
fn config_of(text: &str) -> Option<i64> {
    u64::from_str_radix(text.get(..16)?, 16).ok().map(|v| v as i64)
}

/// A lock row's `HOLDER`: the holder's identity and lease as JSON.
fn holder_json(me: &Me) -> String {
    let id = &me.identity;
    json!({
        "host": id.host,
        "pid": id.pid,
        "boot_id": id.boot_id,
        "pid_ns": id.pid_ns,
        "start_time": id.start_time,
        "lease_ms": me.lease.as_millis() as u64,
    })
    .to_string()
}

/// A lock row as read: the holder, with the token and fence a takeover compares.
struct LockRow {
    holder: LockHolder,
    token: String,
    fence: i64,
}

impl SnowflakeWarehouse {
    /// Logs in to the source `url` (a secret: it may hold a password); `shown` names it in
    /// errors.
    pub async fn connect(url: &str, shown: &str) -> Result<SnowflakeWarehouse> {
        let source = SnowflakeSource::parse(url).map_err(|e| WarehouseError::Connect(format!("{shown}: {e}")))?;
        let session = Session::login(&source, &SessionOptions::default())
            .await
            .map_err(|e| WarehouseError::Connect(format!("{shown}: {e}")))?;
        Ok(SnowflakeWarehouse {
            db: Db { session, statements: 0 },
            database: source.database.clone(),
            schema: source.schema.clone(),
            source,
            me: None,
            dry_run: false,
            lease: None,
            heartbeat: None,
            current: None,
            page: VecDeque::new(),
            has_state: false,
            dry_created: Vec::new(),
            dry_schema: false,
        })
    }

    /// Statements sent so far, and HTTP round trips (the login and any polling included).
    pub fn counts(&self) -> (u64, u64) {
        (self.db.statements, self.db.session.round_trips())
    }

    fn sql<'a>(&'a self, spec: &'a ModelSpec, run_id: i64, config: i64) -> RunSql<'a> {
        run_sql(&self.database, spec, run_id, config, self.dry_run)
    }

    fn token(&self) -> String {
        self.me.as_ref().map_or(String::new(), |m| m.token.clone())
    }

    fn current(&self) -> Result<&Current> {
        self.current.as_ref().ok_or_else(|| WarehouseError::sql("reading the delta", "no delta was built"))
    }

    /// Makes the model's schema the session's again (after a `CREATE SCHEMA`).
    async fn use_model_schema(&mut self) -> Result<()> {
        let spec = model_spec("")?;
        let sql = run_sql(&self.database, &spec, 0, 0, false).use_schema(&self.schema);
        self.db.run("returning to the model's schema", &sql, &[]).await.map(|_| ())
    }

    async fn table_exists(&mut self, sync: &SyncName, name: &str) -> Result<bool> {
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).table_exists();
        Ok(self.db.int("looking for a table", &sql, &[t(name)]).await?.unwrap_or(0) > 0)
    }

    /// The state tables' recorded version (`None`: none recorded); an error when they are missing.
    async fn schema_version(&mut self, sync: &SyncName) -> Result<Option<i64>> {
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).read_schema();
        self.db.int("reading the state tables' schema version", &sql, &[]).await
    }

    /// Creates the state tables when missing and records the schema version; refuses a newer
    /// one. A state at the current version costs one statement.
    async fn create_state(&mut self, sync: &SyncName) -> Result<()> {
        if let Ok(Some(found)) = self.schema_version(sync).await {
            return self.at_version(sync, found).await;
        }
        let spec = state_spec(sync);
        let statements = self.sql(&spec, 0, 0).create_state();
        for sql in statements {
            self.db.run("creating the state tables", &sql, &[]).await?;
        }
        self.use_model_schema().await?;
        match self.schema_version(sync).await? {
            // Another process recorded a version meanwhile.
            Some(found) => return self.at_version(sync, found).await,
            None => {
                let writes = self.sql(&spec, 0, 0).write_schema(SCHEMA_VERSION);
                for sql in writes {
                    self.db.run("recording the state tables' schema version", &sql, &[]).await?;
                }
            }
        }
        self.has_state = true;
        Ok(())
    }

    /// State tables that record version `found`: the current one is ready; a newer one is
    /// refused; version 3 steps to 4, which changes no Snowflake table (the fingerprint that
    /// version changed is PostgreSQL's). Snowflake's layout began at version 3 (the `CREATE`
    /// statements of `RunSql::create_state` make the current layout): a version that changes a
    /// state table adds its `ALTER`s here, for the states an older binary made.
    async fn at_version(&mut self, sync: &SyncName, found: i64) -> Result<()> {
        match schema::upgrade_from(Some(found))? {
            None => {}
            Some(3) => {
                let sql = self.sql(&state_spec(sync), 0, 0).step_schema(3, SCHEMA_VERSION);
                self.db.run("recording the state tables' schema version", &sql, &[]).await?;
            }
            Some(older) => {
                return Err(WarehouseError::sql(
                    "upgrading the state tables",
                    format!(
                        "Snowflake's state tables are at schema version {older}, and this audience has no step from \
                         it to version {SCHEMA_VERSION} (nothing was changed)"
                    ),
                ));
            }
        }
        self.has_state = true;
        Ok(())
    }

    async fn read_lock(&mut self, sync: &SyncName) -> Result<Option<LockRow>> {
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).read_lock();
        let result = self.db.run("reading the lock", &sql, &[t(sync.as_str())]).await?;
        let Some(row) = result.rows.first() else { return Ok(None) };
        let cell = |i: usize| row.get(i).and_then(text);
        let token = cell(0).unwrap_or_default();
        let fence = row.get(1).and_then(int).unwrap_or(0);
        let holder: Value = cell(3).and_then(|h| serde_json::from_str(&h).ok()).unwrap_or(Value::Null);
        let beat = cell(4).unwrap_or_default();
        let recorded = cell(6).unwrap_or_default();
        let identity = Identity {
            host: holder["host"].as_str().unwrap_or("unknown").to_owned(),
            boot_id: holder["boot_id"].as_str().map(str::to_owned),
            pid_ns: holder["pid_ns"].as_u64(),
            pid: holder["pid"].as_u64().and_then(|p| u32::try_from(p).ok()).unwrap_or(0),
            start_time: holder["start_time"].as_u64(),
        };
        let holder = LockHolder {
            identity,
            token: Some(token.clone()),
            lease: holder["lease_ms"].as_u64().map(Duration::from_millis),
            run_id: row.get(2).and_then(int),
            since: cell(5).unwrap_or_else(|| "unknown".into()),
            heartbeat: beat.max(recorded),
        };
        Ok(Some(LockRow { holder, token, fence }))
    }

    /// Takes the lock (see the module's doc); `write: false` (a dry run) only checks that no
    /// live run holds it.
    async fn acquire(&mut self, sync: &SyncName, me: &Me, write: bool) -> Result<Locked> {
        let spec = state_spec(sync);
        let mut watched: Option<(String, String, Instant)> = None;
        loop {
            let row = self.read_lock(sync).await?;
            let mut taken_over = None;
            match row {
                Some(row) if !row.token.is_empty() => {
                    let why = match lock::judge(&row.holder, me, &lock::process_liveness) {
                        Judgement::Live => return Err(WarehouseError::Locked(Box::new(row.holder))),
                        Judgement::Stale(why) => why,
                        Judgement::Watch(lease) => match watched.take() {
                            Some((token, beat, since)) if token == row.token => {
                                if beat != row.holder.heartbeat {
                                    return Err(WarehouseError::Locked(Box::new(row.holder)));
                                }
                                if since.elapsed() < lease {
                                    watched = Some((token, beat, since));
                                    tokio::time::sleep(WATCH_EVERY).await;
                                    continue;
                                }
                                format!(
                                    "its heartbeat stood still for its whole lease ({} s) while this run watched",
                                    lease.as_secs_f64()
                                )
                            }
                            _ => {
                                watched = Some((row.token.clone(), row.holder.heartbeat.clone(), Instant::now()));
                                tokio::time::sleep(WATCH_EVERY).await;
                                continue;
                            }
                        },
                    };
                    if !write {
                        return Ok(Locked { taken_over: Some((row.holder, why)) });
                    }
                    let sql = self.sql(&spec, 0, 0).take_over_lock();
                    let binds =
                        [t(&me.token), t(&holder_json(me)), t(sync.as_str()), t(&row.token), Bind::Fixed(row.fence)];
                    if self.db.dml("taking the lock over", &sql, &binds).await? == 1 {
                        taken_over = Some((row.holder, why));
                    } else {
                        // Another taker won the compare-and-set: look again.
                        continue;
                    }
                }
                _ => {
                    if !write {
                        return Ok(Locked { taken_over: None });
                    }
                    let sql = self.sql(&spec, 0, 0).acquire_lock();
                    let binds = [t(sync.as_str()), t(&me.token), t(&holder_json(me))];
                    if self.db.dml("taking the lock", &sql, &binds).await? != 1 {
                        // Taken between our read and our MERGE: look again (and name the holder).
                        continue;
                    }
                }
            }
            let sql = self.sql(&spec, 0, 0).fail_dead_runs();
            let why = "abandoned: the run stopped before it finished";
            self.db
                .run("closing abandoned runs", &sql, &[t(why), t(sync.as_str()), t(sync.as_str()), t(&me.token)])
                .await?;
            return Ok(Locked { taken_over });
        }
    }

    /// Applies the journals of runs that died (their recorded batches move the baseline and
    /// are logged), then drops their deltas and journal rows, and the deltas of runs that left
    /// no journal. We hold the lock: no live run owns any of them.
    async fn apply_dead_runs(&mut self, sync: &SyncName, current: i64, write_logs: bool) -> Result<()> {
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).dead_journals();
        let dead =
            self.db.run("reading the journals of runs that died", &sql, &[t(sync.as_str()), t(sync.as_str())]).await?;
        let token = self.token();
        for row in dead.rows {
            let (Some(run_id), Some(started)) = (row.first().and_then(int), row.get(1).and_then(text)) else {
                continue;
            };
            if run_id == current {
                continue;
            }
            let config = row.get(2).and_then(text).as_deref().and_then(config_of).unwrap_or(0);
            let database = self.database.clone();
            let delta = run_sql(&database, &spec, run_id, config, false).delta_name();
            let columns_sql = self.sql(&spec, 0, 0).table_columns();
            let columns = self.db.run("reading a dead run's delta", &columns_sql, &[t(&delta)]).await?;
            let image: Vec<String> = columns
                .rows
                .iter()
                .filter_map(|r| r.first().and_then(text))
                .filter(|c| !RESERVED_COLUMNS.iter().any(|r| r.eq_ignore_ascii_case(c)))
                .collect();
            let dead_spec = ModelSpec { columns: image, ..spec.clone() };
            let dead_sql = run_sql(&database, &dead_spec, run_id, config, false);
            if !columns.rows.is_empty() {
                let doing = "applying the batches a run recorded before it died";
                self.db.run(doing, &dead_sql.apply_outcomes(), &[t(sync.as_str()), t(&token)]).await?;
                if write_logs {
                    let binds =
                        [t(sync.as_str()), t(&started), t(&now_utc()), t(sync.as_str()), t(&token), t(sync.as_str())];
                    self.db.run(doing, &dead_sql.log_outcomes(), &binds).await?;
                }
            }
            let [drop_delta, clear] = <[String; 2]>::try_from(dead_sql.drop_run_state())
                .map_err(|_| WarehouseError::sql("dropping a dead run's state", "unexpected statements"))?;
            self.db.run("dropping a dead run's delta", &drop_delta, &[]).await?;
            self.db
                .run("clearing a dead run's journal", &clear, &[t(sync.as_str()), t(sync.as_str()), t(&token)])
                .await?;
        }
        // Deltas of runs that ended without a journal row (or failed before their retention).
        let prefix = format!("DELTA_{}_", sync.as_str().to_ascii_uppercase());
        for (run_id, name) in self.list_tables(sync, &prefix).await? {
            if run_id != current {
                let sql = self.sql(&spec, 0, 0).drop_table(&name);
                self.db.run("dropping an old delta", &sql, &[]).await?;
            }
        }
        Ok(())
    }

    /// The state schema's tables named `prefix` then a run id, with that id.
    async fn list_tables(&mut self, sync: &SyncName, prefix: &str) -> Result<Vec<(i64, String)>> {
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).list_snapshots();
        let rows = self.db.run("listing tables", &sql, &[t(&format!("{prefix}%"))]).await?.rows;
        Ok(rows
            .iter()
            .filter_map(|r| r.first().and_then(text))
            .filter_map(|name| Some((name.strip_prefix(prefix)?.parse::<i64>().ok()?, name.clone())))
            .collect())
    }

    /// Adds to the baseline the image columns it lacks, typed as the snapshot has them.
    async fn widen_baseline(&mut self, sql: &RunSql<'_>) -> Result<Vec<String>> {
        let doing = "adding a column to the baseline";
        let columns = sql.table_columns();
        let have = self.db.run(doing, &columns, &[t(&sql.baseline_name())]).await?.rows;
        let have: Vec<String> = have.iter().filter_map(|r| r.first().and_then(text)).collect();
        let missing: Vec<&String> = sql.spec.columns.iter().filter(|c| !have.contains(c)).collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let snapshot = self.db.run(doing, &columns, &[t(&sql.snapshot_name())]).await?.rows;
        let mut out = Vec::new();
        for column in missing {
            let Some(row) = snapshot.iter().find(|r| r.first().and_then(text).as_ref() == Some(column)) else {
                continue;
            };
            out.push(sql.widen_baseline(column, &snowflake_type(row)));
        }
        Ok(out)
    }

    async fn build(&mut self, spec: &ModelSpec, run: &RunRef, full_resync: bool) -> Result<DeltaStats> {
        let sync = &spec.sync;
        let token = self.token();
        if self.dry_run {
            let probe = state_spec(sync);
            let sql = self.sql(&probe, 0, 0).schema_exists();
            if self.db.int("looking for the state schema", &sql, &[]).await?.unwrap_or(0) == 0 {
                let create = self.sql(&probe, 0, 0).create_schema();
                self.db.run("creating the dry run's scratch schema", &create, &[]).await?;
                self.dry_schema = true;
                self.use_model_schema().await?;
            }
        } else {
            self.apply_dead_runs(sync, run.run_id, run.write_logs).await?;
        }
        let resend_all = self.dry_run && full_resync;
        let database = self.database.clone();
        let sql = RunSql { resend_all, ..run_sql(&database, spec, run.run_id, run.config, self.dry_run) };
        if self.dry_run {
            self.dry_created.push(sql.snapshot_name());
        }
        self.db.run("taking the snapshot of the model", &sql.snapshot_table(), &[]).await?;
        let has_baseline = self.table_exists(sync, &sql.baseline_name()).await?;
        if has_baseline {
            for statement in self.widen_baseline(&sql).await? {
                self.db.run("adding a column to the baseline", &statement, &[]).await?;
            }
        } else {
            if self.dry_run {
                self.dry_created.push(sql.baseline_name());
            }
            self.db.run("creating the baseline", &sql.create_baseline(), &[]).await?;
        }
        if full_resync && !self.dry_run {
            self.db
                .run("marking every member for a full resync", &sql.clear_config(), &[t(sync.as_str()), t(&token)])
                .await?;
        }
        if self.dry_run {
            self.dry_created.push(sql.delta_name());
        }
        self.db.run("building the delta", &sql.delta_table(), &[]).await?;
        let counted = self.db.run("counting the snapshot", &sql.snapshot_stats(), &[]).await?;
        let row = counted.rows.first().cloned().unwrap_or_default();
        let n = |i: usize| count(&row, i);
        let mut stats = DeltaStats { snapshot_rows: n(0), invalid: n(1), baseline: n(2), ..DeltaStats::default() };
        let ranges = self.db.run("counting the delta", &sql.delta_stats(), &[]).await?;
        for row in &ranges.rows {
            let cells: Vec<Option<i64>> = row.iter().map(int).collect();
            let [Some(code), Some(count), Some(lo), Some(hi)] = cells.as_slice() else { continue };
            let op = Op::from_code(*code)
                .ok_or_else(|| WarehouseError::sql("counting the delta", "an unknown operation"))?;
            stats.counts[op.index()] = *count as u64;
            stats.ranges[op.index()] = Some((*lo, *hi));
        }
        if stats.invalid > 0 && run.write_logs && !self.dry_run {
            let binds = [t(sync.as_str()), t(&run.started_at), t(&run.started_at), t(sync.as_str()), t(&token)];
            self.db.run("logging invalid rows", &sql.log_invalid(), &binds).await?;
        }
        self.page.clear();
        self.current = Some(Current { spec: spec.clone(), run_id: run.run_id, config: run.config, resend_all });
        Ok(stats)
    }

    /// Starts the lease and its heartbeat thread once the lock row is ours. The heartbeat has a
    /// session of its own: Snowflake runs a session's statements concurrently, but fakesnow
    /// refuses a second statement while one runs, and a session of its own keeps a slow
    /// statement of the run from delaying a heartbeat anyway.
    async fn hold(&mut self, sync: &SyncName, me: &Me) -> Result<()> {
        let session = Session::login(&self.source, &SessionOptions::default())
            .await
            .map_err(|e| WarehouseError::sql("logging the heartbeat's session in", e))?;
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).heartbeat();
        let (tx, rx) = mpsc::channel::<Beat>();
        // The lease calls `renew` under its own lock: the sender needs none of its own.
        let requests = tx.clone();
        let renew = Box::new(move || {
            let (reply, answer) = mpsc::channel();
            requests.send(Beat::Renew(reply)).map_err(|_| "the heartbeat's thread is gone".to_owned())?;
            answer.recv().map_err(|_| "the heartbeat's thread is gone".to_owned())?
        });
        let lease = Arc::new(Lease::new(me.lease, renew));
        let beat = Beater { session: Some(session), sql, sync: sync.as_str().to_owned(), token: me.token.clone() };
        self.heartbeat = Some(Heartbeat::start(beat, lease.clone(), me.lease, tx, rx)?);
        self.lease = Some(lease);
        Ok(())
    }
}

/// The statements of run `run_id` of `spec` in `database`.
fn run_sql<'a>(database: &'a str, spec: &'a ModelSpec, run_id: i64, config: i64, dry_run: bool) -> RunSql<'a> {
    RunSql { database, spec, run_id, config, dry_run, resend_all: false }
}

/// Snowflake's spelling of a column's type from its `INFORMATION_SCHEMA.COLUMNS` row
/// (name, data type, precision, scale).
fn snowflake_type(row: &[OwnedValue]) -> String {
    let ty = row.get(1).and_then(text).unwrap_or_else(|| "VARIANT".into()).to_ascii_uppercase();
    match (ty.as_str(), row.get(2).and_then(int), row.get(3).and_then(int)) {
        ("NUMBER" | "DECIMAL" | "NUMERIC", Some(p), Some(s)) => format!("NUMBER({p},{s})"),
        ("TEXT", _, _) => "VARCHAR".into(),
        _ => ty,
    }
}

impl Warehouse for SnowflakeWarehouse {
    fn engine(&self) -> &'static str {
        "Snowflake"
    }

    async fn model_columns(&mut self, sql: &str) -> Result<Vec<String>> {
        let spec = model_spec(sql)?;
        let probe = run_sql(&self.database, &spec, 0, 0, false).model_columns();
        let result = self.db.run("reading the model's columns", &probe, &[]).await?;
        Ok(result.columns.into_iter().map(|c| c.name).collect())
    }

    async fn model_rows(
        &mut self,
        spec: &ModelSpec,
        limit: usize,
        visit: &mut dyn FnMut(Option<&str>, &dyn crate::fields::Row),
    ) -> Result<()> {
        // One statement, answered inline: the studio asks for at most a page of rows.
        let sql = self.sql(spec, 0, 0).model_rows(limit);
        let rows = self.db.run("reading the model's first rows", &sql, &[]).await?.rows;
        for row in &rows {
            let key = row.first().and_then(text);
            visit(key.as_deref(), &row.get(1..).unwrap_or_default().to_vec());
        }
        Ok(())
    }

    async fn begin(&mut self, sync: &SyncName, me: &Me, dry_run: bool) -> Result<Locked> {
        self.me = Some(me.clone());
        self.dry_run = dry_run;
        self.dry_created.clear();
        self.dry_schema = false;
        if dry_run {
            let spec = state_spec(sync);
            let sql = self.sql(&spec, 0, 0).schema_exists();
            let has_schema = self.db.int("looking for the state schema", &sql, &[]).await?.unwrap_or(0) > 0;
            if !has_schema || !self.table_exists(sync, "LOCKS").await? {
                return Ok(Locked { taken_over: None });
            }
            if self.table_exists(sync, "SCHEMA").await? {
                schema::upgrade_from(self.schema_version(sync).await?)?;
            }
            return self.acquire(sync, me, false).await;
        }
        self.create_state(sync).await?;
        let locked = self.acquire(sync, me, true).await?;
        if let Err(e) = self.hold(sync, me).await {
            let spec = state_spec(sync);
            let sql = self.sql(&spec, 0, 0).release_lock();
            let _ = self.db.run("releasing the lock", &sql, &[t(sync.as_str()), t(&me.token)]).await;
            return Err(e);
        }
        Ok(locked)
    }

    fn lease(&self) -> Option<Arc<Lease>> {
        self.lease.clone()
    }

    async fn start_run(&mut self, sync: &SyncName, start: &RunStart) -> Result<i64> {
        let doing = "starting the run";
        let run_id = self.next_run_id(sync).await?;
        let spec = state_spec(sync);
        let statements = self.sql(&spec, run_id, start.config).start_run();
        let token = start.me.token.clone();
        let binds = [
            t(sync.as_str()),
            t(&start.started_at),
            t(&start.config_text()),
            Bind::Boolean(start.full_resync),
            t(start.me.host()),
            Bind::Fixed(i64::from(start.me.pid())),
            t(sync.as_str()),
            t(&token),
        ];
        if self.db.dml(doing, &statements[0], &binds).await? != 1 {
            return Err(WarehouseError::LostLock(lost_message(TAKEN)));
        }
        self.db.run(doing, &statements[1], &[t(sync.as_str()), t(&token)]).await?;
        if let Some(lease) = &self.lease {
            lease.renewed();
        }
        Ok(run_id)
    }

    async fn run_info(&mut self, sync: &SyncName, run: Option<i64>) -> Result<Option<RunInfo>> {
        if !self.has_state && !self.table_exists(sync, "RUNS").await? {
            return Ok(None);
        }
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).select_run();
        let id = run.map_or(Bind::Null, Bind::Fixed);
        let result =
            self.db.run("reading the run", &sql, &[t(sync.as_str()), t(sync.as_str()), id.clone(), id]).await?;
        let Some(r) = result.rows.first() else { return Ok(None) };
        Ok(Some(RunInfo {
            run_id: r.first().and_then(int).unwrap_or(0),
            status: r.get(1).and_then(text).unwrap_or_default(),
            error: r.get(2).and_then(text),
            config: r.get(3).and_then(text).unwrap_or_default(),
            full_resync: matches!(r.get(4), Some(OwnedValue::Bool(true))),
            started_at: r.get(5).and_then(text).unwrap_or_default(),
            finished_at: r.get(6).and_then(text),
            counts: run_counts(r, 7),
        }))
    }

    async fn next_run_id(&mut self, sync: &SyncName) -> Result<i64> {
        if self.dry_run && !self.table_exists(sync, "RUNS").await? {
            return Ok(1);
        }
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).next_run_id();
        Ok(self.db.int("numbering the run", &sql, &[t(sync.as_str())]).await?.unwrap_or(1))
    }

    async fn build_delta(&mut self, spec: &ModelSpec, run: &RunRef, full_resync: bool) -> Result<DeltaStats> {
        self.build(spec, run, full_resync).await
    }

    async fn read_delta(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        last: i64,
        limit: usize,
        visit: &mut dyn FnMut(&DeltaRecord<'_>),
    ) -> Result<Option<i64>> {
        let &Current { run_id, config, resend_all, .. } = self.current()?;
        let doing = "reading the delta";
        let first = after.saturating_add(1);
        if first > last {
            return Ok(None);
        }
        // Served from the page read ahead when it holds the next record; else the next page.
        if self.page.front().and_then(|r| r.first()).and_then(int) != Some(first) {
            self.page.clear();
            let rows = PAGE_ROWS.max(limit);
            let hi = after.saturating_add(rows as i64).min(last);
            let sql = RunSql { resend_all, ..self.sql(spec, run_id, config) }.read_page();
            let page = self.db.page(doing, &sql, &[Bind::Fixed(first), Bind::Fixed(hi)], rows).await?;
            self.page.extend(page.rows);
        }
        let mut read = None;
        let mut image: Vec<OwnedValue> = Vec::with_capacity(spec.columns.len());
        for _ in 0..limit {
            let Some(seq) = self.page.front().and_then(|r| r.first()).and_then(int).filter(|s| *s <= last) else {
                break;
            };
            let Some(mut row) = self.page.pop_front() else { break };
            if row.len() != 3 + spec.columns.len() {
                return Err(WarehouseError::sql(doing, "a delta row without the image's columns"));
            }
            let op = int(&row[1])
                .and_then(Op::from_code)
                .ok_or_else(|| WarehouseError::sql(doing, "an unknown operation in the delta"))?;
            // The key moved out of the row it came in, not copied.
            let key = match std::mem::replace(&mut row[2], OwnedValue::Null) {
                OwnedValue::Text(key) => key,
                other => text(&other).unwrap_or_default(),
            };
            image.clear();
            image.extend(row.drain(3..));
            visit(&DeltaRecord { seq, op, key: &key, row: &image });
            read = Some(seq);
        }
        Ok(read)
    }

    async fn record_chunks(&mut self, _spec: &ModelSpec, run: &RunRef, chunks: &[ChunkOutcome<'_>]) -> Result<()> {
        let current = self.current()?;
        let sql = self.sql(&current.spec, current.run_id, current.config).record_batch();
        let token = self.token();
        for chunk in chunks {
            let mut failed: Vec<Value> = chunk
                .failed
                .iter()
                .map(|f| json!({"seq": f.seq, "reason": f.reason, "status": f.status, "sent": true}))
                .collect();
            failed.extend(chunk.undelivered.iter().map(|seq| json!({"seq": seq, "sent": false})));
            let binds = [
                Bind::Fixed(chunk.lo),
                Bind::Fixed(chunk.hi),
                Bind::Text(Value::Array(failed).to_string()),
                Bind::Boolean(chunk.move_failed),
                t(run.sync.as_str()),
                t(&token),
            ];
            if self.db.dml("recording outcomes", &sql, &binds).await? != 1 {
                if let Some(lease) = &self.lease {
                    lease.lose(TAKEN);
                }
                return Err(WarehouseError::LostLock(lost_message(TAKEN)));
            }
        }
        if let Some(lease) = &self.lease {
            lease.renewed();
        }
        Ok(())
    }

    async fn finish_run(&mut self, run: &RunRef, end: &RunEnd<'_>) -> Result<()> {
        let (status, counts, error) = (end.status, end.counts, end.error);
        if self.dry_run {
            return Ok(());
        }
        let sync = run.sync.as_str();
        let token = self.token();
        let finished = now_utc();
        let spec = self.current.as_ref().map_or_else(|| state_spec(&run.sync), |c| c.spec.clone());
        let database = self.database.clone();
        let sql = run_sql(&database, &spec, run.run_id, run.config, false);
        if self.current.is_some() {
            let doing = "moving the baseline to what the API accepted";
            self.db.run(doing, &sql.apply_outcomes(), &[t(sync), t(&token)]).await?;
            if run.write_logs {
                let binds = [t(sync), t(&run.started_at), t(&finished), t(sync), t(&token), t(sync)];
                self.db.run("writing the sync log", &sql.log_outcomes(), &binds).await?;
            }
        }
        let n = |v: u64| Bind::Fixed(v as i64);
        let reasons = serde_json::to_string(end.reasons).unwrap_or_else(|_| "[]".to_owned());
        let binds = [
            t(&finished),
            t(status.as_str()),
            error.map_or(Bind::Null, t),
            n(counts.inserted),
            n(counts.updated),
            n(counts.deleted),
            n(counts.failed),
            n(counts.invalid),
            n(counts.requests),
            n(end.retries),
            n(end.splits),
            t(&reasons),
            t(sync),
            t(sync),
            t(&token),
        ];
        if self.db.dml("finishing the run", &sql.finish_run(), &binds).await? == 0 {
            return Err(WarehouseError::LostLock(lost_message(TAKEN)));
        }
        Ok(())
    }

    async fn retention(&mut self, run: &RunRef, snapshots: u32, log_days: u32) -> Result<()> {
        // A run that lost its lock leaves its delta and journal to the run that took it over.
        if self.dry_run || self.lease.as_ref().is_some_and(|l| l.lost().is_some()) {
            return Ok(());
        }
        let sync = &run.sync;
        let token = self.token();
        let spec = self.current.as_ref().map_or_else(|| state_spec(sync), |c| c.spec.clone());
        let database = self.database.clone();
        let sql = run_sql(&database, &spec, run.run_id, run.config, false);
        let [drop_delta, clear] = <[String; 2]>::try_from(sql.drop_run_state())
            .map_err(|_| WarehouseError::sql("dropping the run's state", "unexpected statements"))?;
        self.db.run("dropping the delta", &drop_delta, &[]).await?;
        self.db.run("clearing the journal", &clear, &[t(sync.as_str()), t(sync.as_str()), t(&token)]).await?;
        let prefix = format!("SNAPSHOT_{}_", sync.as_str().to_ascii_uppercase());
        let mut runs = self.list_tables(sync, &prefix).await?;
        runs.sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
        for (_, name) in runs.iter().skip(snapshots.max(1) as usize) {
            let drop = self.sql(&spec, 0, 0).drop_table(name);
            self.db.run("dropping an old snapshot", &drop, &[]).await?;
        }
        let cutoff = log_cutoff(&run.started_at, log_days);
        let delete = self.sql(&spec, 0, 0).delete_old_logs();
        self.db.run("deleting old log rows", &delete, &[t(sync.as_str()), t(sync.as_str()), t(&cutoff)]).await?;
        Ok(())
    }

    async fn end(&mut self, sync: &SyncName) -> Result<()> {
        if let Some(lease) = self.lease.take() {
            lease.close();
        }
        self.heartbeat = None;
        self.current = None;
        self.page.clear();
        let spec = state_spec(sync);
        let result = if self.dry_run {
            let mut result = Ok(());
            for name in std::mem::take(&mut self.dry_created) {
                let sql = self.sql(&spec, 0, 0).drop_table(&name);
                result = result.and(self.db.run("dropping the dry run's tables", &sql, &[]).await.map(|_| ()));
            }
            if std::mem::take(&mut self.dry_schema) {
                let sql = self.sql(&spec, 0, 0).drop_schema();
                result = result.and(self.db.run("dropping the dry run's schema", &sql, &[]).await.map(|_| ()));
            }
            result
        } else {
            let sql = self.sql(&spec, 0, 0).release_lock();
            let token = self.token();
            self.db.run("releasing the lock", &sql, &[t(sync.as_str()), t(&token)]).await.map(|_| ())
        };
        let (statements, round_trips) = self.counts();
        tracing::debug!("Snowflake: {statements} statements in {round_trips} round trips (login included)");
        self.dry_run = false;
        result
    }

    async fn runs(&mut self, sync: &SyncName, limit: u64) -> Result<Vec<RunRow>> {
        if !self.table_exists(sync, "RUNS").await? {
            return Ok(Vec::new());
        }
        schema::upgrade_from(self.schema_version(sync).await?)?;
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).select_runs(limit);
        let rows = self.db.run("reading the runs", &sql, &[t(sync.as_str())]).await?.rows;
        Ok(rows
            .iter()
            .map(|r| RunRow {
                sync: sync.as_str().to_owned(),
                run_id: r.first().and_then(int).unwrap_or(0),
                status: r.get(1).and_then(text).unwrap_or_default(),
                started_at: r.get(2).and_then(text).unwrap_or_default(),
                finished_at: r.get(3).and_then(text),
                counts: run_counts(r, 4),
                retries: count(r, 10),
                splits: count(r, 11),
                reasons: crate::warehouse::state::parse_reasons(r.get(12).and_then(text).as_deref()),
                error: r.get(13).and_then(text),
            })
            .collect())
    }

    async fn logs(
        &mut self,
        sync: &SyncName,
        run: Option<i64>,
        failed_only: bool,
    ) -> Result<Option<(i64, Vec<LogRow>)>> {
        if !self.table_exists(sync, "RUNS").await? {
            return Ok(None);
        }
        schema::upgrade_from(self.schema_version(sync).await?)?;
        let Some(info) = self.run_info(sync, run).await? else { return Ok(None) };
        let spec = state_spec(sync);
        let sql = self.sql(&spec, 0, 0).select_logs(failed_only);
        let rows = self.db.run("reading the sync log", &sql, &[t(sync.as_str()), Bind::Fixed(info.run_id)]).await?.rows;
        let rows = rows
            .iter()
            .map(|r| LogRow {
                primary_key: r.first().and_then(text),
                operation: r.get(1).and_then(text).unwrap_or_default(),
                status: r.get(2).and_then(text).unwrap_or_default(),
                error_reason: r.get(3).and_then(text),
                http_status: r.get(4).and_then(int),
                sync_started_at: r.get(5).and_then(text).unwrap_or_default(),
                sync_finished_at: r.get(6).and_then(text).unwrap_or_default(),
            })
            .collect();
        Ok(Some((info.run_id, rows)))
    }
}

/// The state schema's name, for tests that look at the tables.
pub const SCHEMA_NAME: &str = STATE_SCHEMA;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fingerprints_read_back_as_the_baseline_stores_them() {
        assert_eq!(config_of("ffffffffffffffff templates=1"), Some(-1));
        assert_eq!(config_of("0000000000001092"), Some(4242));
        assert_eq!(config_of("xyz"), None);
    }

    #[test]
    fn timestamps_come_back_with_milliseconds_in_utc() {
        assert_eq!(timestamp("2024-01-02T03:04:05.123456Z"), "2024-01-02T03:04:05.123Z");
        assert_eq!(timestamp("2024-01-02T04:04:05+01:00"), "2024-01-02T03:04:05.000Z");
    }
}
