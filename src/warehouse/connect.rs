//! The one seam from a source to a connector: [`open`] turns a [`Source`] into a [`Connector`],
//! and every command that reaches a warehouse (sync, run, logs, dry run) goes through it.
//!
//! A new engine is a folder of its own beside `sqlite/` and `postgres/` (connection, TLS,
//! dialect SQL, value decoding), a variant of [`Source`] and of [`Connector`] here, and the
//! parsing of its `source` URL in the config (`src/destination/source.rs`, converted to a
//! [`Source`] by `src/sync/connect.rs`). Nothing else names an engine.

use std::path::PathBuf;

use super::postgres::PgWarehouse;
use super::snowflake::SnowflakeWarehouse;
use super::sqlite::SqliteWarehouse;
use super::{
    ChunkOutcome, DeltaRecord, DeltaStats, Locked, LogRow, Me, ModelSpec, Result, RunEnd, RunInfo, RunRef, RunRow,
    RunStart, SyncName, Warehouse,
};
use crate::fields::Row;

/// Where a sync's model runs and its state lives, as the connectors take it. `shown` is how
/// errors name it: the URL with its password masked, or `***` when it came from the
/// environment.
#[derive(Clone)]
pub enum Source {
    /// A SQLite database file, which must exist.
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// How errors name it.
        shown: String,
    },
    /// A `postgres://` URL, kept whole (it may hold a password, so it is never shown).
    Postgres {
        /// The whole URL.
        url: String,
        /// How errors name it.
        shown: String,
    },
    /// A `snowflake://` URL, kept whole (it may hold a password or a key's passphrase).
    Snowflake {
        /// The whole URL.
        url: String,
        /// How errors name it.
        shown: String,
    },
}

impl std::fmt::Debug for Source {
    // Only what may be shown: a PostgreSQL URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Sqlite { shown, .. } => f.debug_tuple("Sqlite").field(shown).finish(),
            Source::Postgres { shown, .. } => f.debug_tuple("Postgres").field(shown).finish(),
            Source::Snowflake { shown, .. } => f.debug_tuple("Snowflake").field(shown).finish(),
        }
    }
}

/// An open connector, whichever the engine. Made once per run, so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Connector {
    /// A SQLite database file.
    Sqlite(SqliteWarehouse),
    /// A PostgreSQL server.
    Postgres(Box<PgWarehouse>),
    /// A Snowflake account.
    Snowflake(Box<SnowflakeWarehouse>),
}

/// Opens the warehouse `source` names.
pub async fn open(source: &Source) -> Result<Connector> {
    match source {
        Source::Sqlite { path, shown } => SqliteWarehouse::open(path, shown).map(Connector::Sqlite),
        Source::Postgres { url, shown } => {
            PgWarehouse::connect(url, shown).await.map(|w| Connector::Postgres(Box::new(w)))
        }
        Source::Snowflake { url, shown } => {
            SnowflakeWarehouse::connect(url, shown).await.map(|w| Connector::Snowflake(Box::new(w)))
        }
    }
}

/// Calls the same method on whichever engine is open.
macro_rules! each {
    ($self:ident, $w:ident => $call:expr) => {
        match $self {
            Connector::Sqlite($w) => $call,
            Connector::Postgres($w) => $call,
            Connector::Snowflake($w) => $call,
        }
    };
}

impl Warehouse for Connector {
    fn engine(&self) -> &'static str {
        each!(self, w => w.engine())
    }

    fn refuses_column(&self, name: &str) -> Option<&'static str> {
        each!(self, w => w.refuses_column(name))
    }

    async fn model_columns(&mut self, sql: &str) -> Result<Vec<String>> {
        each!(self, w => w.model_columns(sql).await)
    }

    async fn model_rows(
        &mut self,
        spec: &ModelSpec,
        limit: usize,
        visit: &mut dyn FnMut(Option<&str>, &dyn Row),
    ) -> Result<()> {
        each!(self, w => w.model_rows(spec, limit, visit).await)
    }

    async fn begin(&mut self, sync: &SyncName, me: &Me, dry_run: bool) -> Result<Locked> {
        each!(self, w => w.begin(sync, me, dry_run).await)
    }

    fn lease(&self) -> Option<std::sync::Arc<super::lease::Lease>> {
        each!(self, w => w.lease())
    }

    async fn start_run(&mut self, sync: &SyncName, start: &RunStart) -> Result<i64> {
        each!(self, w => w.start_run(sync, start).await)
    }

    async fn next_run_id(&mut self, sync: &SyncName) -> Result<i64> {
        each!(self, w => w.next_run_id(sync).await)
    }

    async fn run_info(&mut self, sync: &SyncName, run: Option<i64>) -> Result<Option<RunInfo>> {
        each!(self, w => w.run_info(sync, run).await)
    }

    async fn build_delta(&mut self, spec: &ModelSpec, run: &RunRef, full_resync: bool) -> Result<DeltaStats> {
        each!(self, w => w.build_delta(spec, run, full_resync).await)
    }

    async fn read_delta(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        last: i64,
        limit: usize,
        visit: &mut dyn FnMut(&DeltaRecord<'_>),
    ) -> Result<Option<i64>> {
        each!(self, w => w.read_delta(spec, after, last, limit, visit).await)
    }

    async fn record_chunks(&mut self, spec: &ModelSpec, run: &RunRef, chunks: &[ChunkOutcome<'_>]) -> Result<()> {
        each!(self, w => w.record_chunks(spec, run, chunks).await)
    }

    async fn finish_run(&mut self, run: &RunRef, end: &RunEnd<'_>) -> Result<()> {
        each!(self, w => w.finish_run(run, end).await)
    }

    async fn runs(&mut self, sync: &SyncName, limit: u64) -> Result<Vec<RunRow>> {
        each!(self, w => w.runs(sync, limit).await)
    }

    async fn retention(&mut self, run: &RunRef, snapshots: u32, log_days: u32) -> Result<()> {
        each!(self, w => w.retention(run, snapshots, log_days).await)
    }

    async fn end(&mut self, sync: &SyncName) -> Result<()> {
        each!(self, w => w.end(sync).await)
    }

    async fn logs(
        &mut self,
        sync: &SyncName,
        run: Option<i64>,
        failed_only: bool,
    ) -> Result<Option<(i64, Vec<LogRow>)>> {
        each!(self, w => w.logs(sync, run, failed_only).await)
    }
}
