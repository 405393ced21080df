//! The command line's way to a warehouse: a sync's `source` (as the config reads it) handed to
//! the warehouse's seam ([`crate::warehouse::connect`]), a run of a sync on whatever engine it
//! names ([`run_job`]), and a run's sync log ([`read_logs`]). The commands never name an engine.

use serde::Serialize;

use super::run::{Job, RunOptions, run_sync};
use super::summary::{Status, SyncSummary};
use crate::delivery::{DeliveryClient, StopToken};
use crate::destination::{MASK, Sync, WarehouseSource};
use crate::warehouse::connect::{Connector, Source, open};
use crate::warehouse::{LogRow, RunRow, SyncName, Warehouse, WarehouseError};

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
        WarehouseSource::Snowflake { url, shown } => {
            Source::Snowflake { url: url.as_str().to_owned(), shown: shown.clone() }
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

/// A run and its sync-log rows, as `audience logs` shows them.
#[derive(Debug, Serialize)]
pub struct RunLog {
    /// The sync's name.
    pub sync: String,
    /// The run's id, increasing per sync.
    pub run_id: i64,
    /// The run's sync-log rows, at most `--limit` of them.
    pub rows: Vec<LogRow>,
    /// The run's status (`running` for one in progress or one that died), its error, and when
    /// it started and finished: `null` when the runs table has no row for it.
    pub status: Option<String>,
    /// See `status`.
    pub error: Option<String>,
    /// See `status`.
    pub started_at: Option<String>,
    /// See `status`.
    pub finished_at: Option<String>,
    /// Rows of the run before `--limit` cut the list.
    pub total_rows: usize,
    /// Every row of the run (before `--limit`), counted.
    #[serde(skip)]
    pub tally: Tally,
}

/// A run's rows counted by status, by operation and (failed and invalid ones) by reason, in
/// the order first seen.
#[derive(Debug, Default)]
pub struct Tally {
    /// Rows per status (`succeeded`, `failed`, ...).
    pub by_status: Vec<(String, usize)>,
    /// Rows per operation (`add`, `update`, `remove`).
    pub by_operation: Vec<(String, usize)>,
    /// Failed and invalid rows per reason.
    pub reasons: Vec<(String, usize)>,
}

impl Tally {
    fn new(rows: &[LogRow]) -> Tally {
        let mut t = Tally::default();
        for r in rows {
            bump(&mut t.by_status, &r.status);
            bump(&mut t.by_operation, &r.operation);
            if r.status != "succeeded" {
                // The attempts and time of a retried request apart, batches failing alike count
                // as one reason.
                let reason = reason(r);
                bump(&mut t.reasons, reason.find(" (gave up after ").map_or(&reason, |at| &reason[..at]));
            }
        }
        t.reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        t
    }
}

impl RunLog {
    /// For people: a header with the run's status, error and times; the rows counted by status
    /// and operation, and the failures by reason; then one line per row.
    pub fn human(&self, failed_only: bool) -> String {
        let mut out = format!("sync {}, run {}", self.sync, self.run_id);
        if let Some(status) = &self.status {
            out.push_str(&format!(": {status}"));
        }
        match (&self.started_at, &self.finished_at) {
            (Some(start), Some(end)) => out.push_str(&format!(" (started {start}, finished {end})")),
            (Some(start), None) => out.push_str(&format!(" (started {start}, not finished)")),
            _ => {}
        }
        out.push('\n');
        if let Some(error) = &self.error {
            out.push_str(&format!("  error: {error}\n"));
        }
        let what = if failed_only { "failed or invalid row" } else { "row" };
        let list = |counts: &[(String, usize)]| {
            counts.iter().map(|(name, n)| format!("{n} {name}")).collect::<Vec<_>>().join(", ")
        };
        out.push_str(&format!("  {}", count(self.total_rows, what)));
        if self.total_rows > 0 {
            let t = &self.tally;
            out.push_str(&format!(": {}; by operation: {}", list(&t.by_status), list(&t.by_operation)));
        }
        if self.rows.len() < self.total_rows {
            out.push_str(&format!(" (the first {} shown; --limit 0 shows all)", self.rows.len()));
        }
        out.push('\n');
        for (reason, n) in self.tally.reasons.iter().take(5) {
            out.push_str(&format!("  {n} × {reason}\n"));
        }
        if self.tally.reasons.len() > 5 {
            out.push_str(&format!("  … {} other reasons\n", self.tally.reasons.len() - 5));
        }
        if self.rows.is_empty() {
            return out;
        }
        let width = self.rows.iter().map(|r| r.primary_key.as_deref().unwrap_or("(null)").len()).max().unwrap_or(0);
        let width = width.clamp("PRIMARY KEY".len(), 40);
        out.push_str(&format!("\n{:<width$}  {:<9}  {:<9}  REASON\n", "PRIMARY KEY", "OPERATION", "STATUS"));
        for r in &self.rows {
            let reason = if r.status == "succeeded" { String::new() } else { reason(r) };
            let line = format!(
                "{:<width$}  {:<9}  {:<9}  {reason}",
                r.primary_key.as_deref().unwrap_or("(null)"),
                r.operation,
                r.status
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A row's reason for people: its status line once (the reason of an HTTP failure already
/// starts with `HTTP <status>`).
fn reason(r: &LogRow) -> String {
    let text = r.error_reason.as_deref().unwrap_or("");
    match r.http_status {
        Some(s) if !text.starts_with(&format!("HTTP {s}")) => {
            format!("HTTP {s}: {text}").trim_end_matches([' ', ':']).to_owned()
        }
        _ if text.is_empty() => "(no reason recorded)".to_owned(),
        _ => text.to_owned(),
    }
}

fn bump(counts: &mut Vec<(String, usize)>, name: &str) {
    match counts.iter_mut().find(|(x, _)| x == name) {
        Some((_, n)) => *n += 1,
        None => counts.push((name.to_owned(), 1)),
    }
}

fn count(n: usize, what: &str) -> String {
    super::summary::count(n as u64, what)
}

/// The sync-log rows of run `run` of `sync` (default: its latest run), only failed and invalid
/// ones when `failed_only`, at most `limit` of them (`None`: all), with the run's row; `None`
/// when there is no such run. The error is a message, not yet redacted.
pub async fn read_logs(
    sync: &Sync,
    run: Option<i64>,
    failed_only: bool,
    limit: Option<usize>,
) -> Result<Option<RunLog>, String> {
    let name = SyncName::new(&sync.name).map_err(|_| format!("{} is not a valid sync name", sync.name))?;
    let mut w = connect(sync).await.map_err(|e| e.to_string())?;
    let Some((run_id, mut rows)) = w.logs(&name, run, failed_only).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let info = w.run_info(&name, Some(run_id)).await.map_err(|e| e.to_string())?;
    let total_rows = rows.len();
    let tally = Tally::new(&rows);
    if let Some(limit) = limit {
        rows.truncate(limit);
    }
    Ok(Some(RunLog {
        sync: sync.name.clone(),
        run_id,
        rows,
        status: info.as_ref().map(|i| i.status.clone()),
        error: info.as_ref().and_then(|i| i.error.clone()),
        started_at: info.as_ref().map(|i| i.started_at.clone()),
        finished_at: info.and_then(|i| i.finished_at),
        total_rows,
        tally,
    }))
}

/// The newest `limit` runs of `sync`, newest first, from its warehouse's runs table (empty when
/// the sync has never run). The error is a message, not yet redacted.
pub async fn read_runs(sync: &Sync, limit: u64) -> Result<Vec<RunRow>, String> {
    let name = SyncName::new(&sync.name).map_err(|_| format!("{} is not a valid sync name", sync.name))?;
    let mut w = connect(sync).await.map_err(|e| e.to_string())?;
    w.runs(&name, limit).await.map_err(|e| e.to_string())
}
