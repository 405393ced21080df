//! `audience runs CONFIG [--sync NAME] [--limit N]`: the run history from the runs table.

use std::path::PathBuf;

use super::{Format, exit, print_json, stderr_color};
use crate::destination::{self, EnvMode, Sync};
use crate::sync::{RunRow, read_runs};

/// Show the run history, newest first: each run's status, times, counts, retries and splits,
/// and why it failed or stopped.
///
/// Statuses: `running` (in progress), `succeeded`, `partial` (some records failed or were
/// invalid), `stopped` (lock held, mass-removal guard, the API refused the configuration),
/// `failed`, `interrupted` (SIGINT or SIGTERM) and `abandoned` (a run that died, found by the
/// next). Dry runs are not recorded. Reads the warehouse only: the API's credentials need not be
/// set.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The destination config (`.toml`).
    config: PathBuf,
    /// Only this sync's runs (default: every sync of the file).
    #[arg(long, value_name = "NAME")]
    sync: Option<String>,
    /// At most N runs, the newest (0: all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: u64,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `--format json`
#[derive(serde::Serialize)]
struct Output<'a> {
    runs: &'a [RunRow],
}

pub fn run(args: Args) -> i32 {
    let report = destination::check_file(&args.config, EnvMode::Warehouse);
    let Some(config) = &report.checked.config else {
        eprint!("{}", report.render_human(stderr_color()));
        eprintln!("error: runs needs a config without errors (it reads the syncs' sources)");
        return exit::INVALID;
    };
    let syncs: Vec<&Sync> = match &args.sync {
        Some(name) => match config.sync(name) {
            Some(sync) => vec![sync],
            None => {
                let names: Vec<&str> = config.syncs.iter().map(|s| s.name.as_str()).collect();
                eprintln!("error: the config has no sync {name}; its syncs are: {}", names.join(", "));
                return exit::USAGE;
            }
        },
        None => config.syncs.iter().collect(),
    };
    let limit = if args.limit == 0 { u64::MAX } else { args.limit };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let mut runs = Vec::new();
    for sync in syncs {
        match runtime.block_on(read_runs(sync, limit)) {
            Ok(found) => runs.extend(found),
            Err(e) => {
                eprintln!("error: sync {}: {}", sync.name, config.redactor.redact(&e));
                return exit::INVALID;
            }
        }
    }
    // Newest first across syncs (timestamps are RFC 3339 in UTC: text order is time order).
    runs.sort_by(|a, b| {
        b.started_at.cmp(&a.started_at).then_with(|| a.sync.cmp(&b.sync)).then(b.run_id.cmp(&a.run_id))
    });
    runs.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    match args.format {
        Format::Json => print_json(&Output { runs: &runs }),
        Format::Human if runs.is_empty() => {
            println!(
                "no recorded run yet (dry runs are not recorded); run one with: audience sync {}",
                args.config.display()
            )
        }
        Format::Human => print!("{}", table(&runs)),
    }
    exit::OK
}

/// The history as a table for people: one line per run, the error or the main failure reason
/// last.
fn table(runs: &[RunRow]) -> String {
    let header = [
        "SYNC", "RUN", "STATUS", "STARTED", "DURATION", "INSERTED", "UPDATED", "DELETED", "FAILED", "INVALID",
        "REQUESTS", "RETRIES", "SPLITS", "ERROR",
    ];
    let rows: Vec<[String; 14]> = runs
        .iter()
        .map(|r| {
            let c = &r.counts;
            let why = r.error.clone().or_else(|| r.reasons.first().map(|x| format!("{} × {}", x.count, x.reason)));
            [
                r.sync.clone(),
                r.run_id.to_string(),
                r.status.clone(),
                r.started_at.clone(),
                duration(&r.started_at, r.finished_at.as_deref()),
                c.inserted.to_string(),
                c.updated.to_string(),
                c.deleted.to_string(),
                c.failed.to_string(),
                c.invalid.to_string(),
                c.requests.to_string(),
                r.retries.to_string(),
                r.splits.to_string(),
                why.map(|w| cut(&w, 80)).unwrap_or_default(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Names and text left, numbers right.
            let number = i == 1 || (5..=12).contains(&i);
            if number {
                text.push_str(&format!("{cell:>w$}  "));
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header.map(str::to_owned));
    for row in &rows {
        line(row);
    }
    out
}

/// A run's duration for people, from its start and end; `-` while it runs or when it died.
fn duration(started: &str, finished: Option<&str>) -> String {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (parse(started), finished.and_then(parse)) {
        (Some(a), Some(b)) => {
            crate::sync::summary::duration(u64::try_from((b - a).num_milliseconds()).unwrap_or_default())
        }
        _ => "-".to_owned(),
    }
}

/// `text` on one line, at most `max` characters (`…` when cut).
fn cut(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_cuts() {
        assert_eq!(duration("2026-01-01T00:00:00.000Z", Some("2026-01-01T00:00:01.500Z")), "1.5 s");
        assert_eq!(duration("2026-01-01T00:00:00.000Z", None), "-");
        assert_eq!(cut("a\nb", 10), "a b");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
