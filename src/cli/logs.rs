//! `audience logs CONFIG --sync NAME`: the sync-log rows of a run.

use std::path::PathBuf;

use serde::Serialize;

use super::sync::{Connector, open};
use super::{Format, exit, print_json, stderr_color};
use crate::destination::{self, EnvMode};
use crate::warehouse::{LogRow, SyncName, Warehouse};

/// Show the sync-log rows of a run (default: the latest run of the sync): one row per record of
/// the run's delta and per invalid row, with its outcome and, for failures, why.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The destination config (`.toml`).
    config: PathBuf,
    /// The sync whose log to show.
    #[arg(long, value_name = "NAME")]
    sync: String,
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    run: Option<i64>,
    /// Only failed and invalid records.
    #[arg(long)]
    failed: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `--format json`
#[derive(Serialize)]
struct Output<'a> {
    sync: &'a str,
    run_id: i64,
    rows: &'a [LogRow],
}

pub fn run(args: Args) -> i32 {
    let report = destination::check_file(&args.config, EnvMode::Error);
    let Some(config) = &report.checked.config else {
        eprint!("{}", report.render_human(stderr_color()));
        eprintln!("error: logs needs a config without errors (it reads the sync's source)");
        return exit::INVALID;
    };
    let Some(sync) = config.sync(&args.sync) else {
        let names: Vec<&str> = config.syncs.iter().map(|s| s.name.as_str()).collect();
        eprintln!("error: the config has no sync {}; its syncs are: {}", args.sync, names.join(", "));
        return exit::USAGE;
    };
    let Ok(name) = SyncName::new(&sync.name) else {
        eprintln!("error: {} is not a valid sync name", sync.name);
        return exit::INVALID;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let found = runtime.block_on(async {
        match open(sync).await? {
            Connector::Sqlite(mut w) => w.logs(&name, args.run, args.failed).await,
            Connector::Postgres(mut w) => w.logs(&name, args.run, args.failed).await,
        }
    });
    let (run_id, rows) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            match args.run {
                Some(id) => eprintln!("error: sync {} has no run {id}", sync.name),
                None => eprintln!("error: sync {} has no recorded run yet", sync.name),
            }
            return exit::INVALID;
        }
        Err(e) => {
            eprintln!("error: {}", config.redactor.redact(&e.to_string()));
            return exit::INVALID;
        }
    };
    match args.format {
        Format::Json => print_json(&Output { sync: &sync.name, run_id, rows: &rows }),
        Format::Human => print!("{}", human(&sync.name, run_id, &rows)),
    }
    exit::OK
}

/// A table for people: one line per row.
fn human(sync: &str, run_id: i64, rows: &[LogRow]) -> String {
    let mut out = format!("sync {sync}, run {run_id}: {} rows\n", rows.len());
    if let Some(first) = rows.first() {
        out.push_str(&format!("started {}\n", first.sync_started_at));
    }
    for r in rows {
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
