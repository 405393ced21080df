//! The command line's way to a warehouse: a sync's `source` (as the config reads it) handed to
//! the warehouse's seam ([`crate::warehouse::connect`]), a run of a sync on whatever engine it
//! names ([`run_job`]), and a run's sync log ([`read_logs`]). The commands never name an engine.

use serde::Serialize;

use super::run::{Job, RunOptions, run_sync};
use super::summary::{Status, SyncSummary};
use crate::delivery::{DeliveryClient, StopToken};
use crate::destination::{MASK, Sync, WarehouseSource};
use crate::warehouse::connect::{Connector, Source, open};
use crate::warehouse::{LogRow, SyncName, Warehouse, WarehouseError};

/// The config's source as the connectors take it.
pub fn source(source: &WarehouseSource) -> Source {
    match source {
        WarehouseSource::Sqlite { path, secret } => {
            let shown = if *secret { MASK.to_owned() } else { path.display().to_string() };
            Source::Sqlite { path: path.clone(), shown }
        }
        WarehouseSource::Postgres { url, shown } => {
            Source::Postgres { url: url.as_str().to_owned(), shown: shown.clone() }
        }
    }
}

/// Opens the warehouse of `sync`.
pub async fn connect(sync: &Sync) -> Result<Connector, WarehouseError> {
    open(&source(&sync.source)).await
}

/// Opens the job's warehouse and runs the sync there ([`run_sync`]). A warehouse that cannot be
/// opened makes a failed run, its error redacted.
pub async fn run_job(
    job: &Job<'_>,
    client: &DeliveryClient,
    stop: &StopToken,
    options: &RunOptions,
    notice: &dyn Fn(&str),
) -> SyncSummary {
    match connect(job.sync).await {
        Ok(mut w) => run_sync(&mut w, job, client, stop, options, notice).await,
        Err(e) => {
            let mut s = SyncSummary::new(&job.sync.name, options.dry_run);
            s.status = Status::Failed;
            s.error = Some(job.config.redactor.redact(&e.to_string()).into_owned());
            s
        }
    }
}

/// The sync-log rows of one run, as `audience logs` shows them.
#[derive(Debug, Serialize)]
pub struct RunLog {
    pub sync: String,
    pub run_id: i64,
    pub rows: Vec<LogRow>,
}

impl RunLog {
    /// A table for people: one line per row.
    pub fn human(&self) -> String {
        let mut out = format!("sync {}, run {}: {} rows\n", self.sync, self.run_id, self.rows.len());
        if let Some(first) = self.rows.first() {
            out.push_str(&format!("started {}\n", first.sync_started_at));
        }
        for r in &self.rows {
            let status = r.http_status.map_or_else(String::new, |s| format!(" HTTP {s}"));
            let reason = r.error_reason.as_deref().map_or_else(String::new, |e| format!("  {e}"));
            out.push_str(&format!(
                "{:<24} {:<7} {:<10}{status}{reason}\n",
                r.primary_key.as_deref().unwrap_or("(null)"),
                r.operation,
                r.status
            ));
        }
        out
    }
}

/// The sync-log rows of run `run` of `sync` (default: its latest run), only failed and invalid
/// ones when `failed_only`; `None` when there is no such run. The error is a message, not yet
/// redacted.
pub async fn read_logs(sync: &Sync, run: Option<i64>, failed_only: bool) -> Result<Option<RunLog>, String> {
    let name = SyncName::new(&sync.name).map_err(|_| format!("{} is not a valid sync name", sync.name))?;
    let mut w = connect(sync).await.map_err(|e| e.to_string())?;
    let found = w.logs(&name, run, failed_only).await.map_err(|e| e.to_string())?;
    Ok(found.map(|(run_id, rows)| RunLog { sync: sync.name.clone(), run_id, rows }))
}
