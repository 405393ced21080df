//! `audience logs CONFIG [--sync NAME]`: a run's status and its sync-log rows.

use std::path::PathBuf;

use super::{Format, exit, print_json, stderr_color};
use crate::destination::{self, EnvMode};
use crate::sync::read_logs;

/// Show how a run went (default: the latest run of the sync): its status and error, its rows
/// counted by status and by failure reason, and one line per record of the run's delta and per
/// invalid row, with its outcome and, for failures, why.
///
/// Reads the warehouse only: the API's credentials need not be set.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The destination config (`.toml`).
    config: PathBuf,
    /// The sync whose log to show (needed when the config has several).
    #[arg(long, value_name = "NAME")]
    sync: Option<String>,
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    run: Option<i64>,
    /// Only failed and invalid records.
    #[arg(long)]
    failed: bool,
    /// At most N rows (default: 50 for people, all with `--format json`; 0: all).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: Args) -> i32 {
    let report = destination::check_file(&args.config, EnvMode::Warehouse);
    let Some(config) = &report.checked.config else {
        eprint!("{}", report.render_human(stderr_color()));
        eprintln!("error: logs needs a config without errors (it reads the sync's source)");
        return exit::INVALID;
    };
    let names = || config.syncs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    let sync = match (&args.sync, config.syncs.as_slice()) {
        (Some(name), _) => match config.sync(name) {
            Some(sync) => sync,
            None => {
                eprintln!("error: the config has no sync {name}; its syncs are: {}", names());
                return exit::USAGE;
            }
        },
        (None, [only]) => only,
        (None, _) => {
            eprintln!("error: the config has several syncs; name one with --sync (its syncs are: {})", names());
            return exit::USAGE;
        }
    };
    let limit = match (args.limit, args.format) {
        (Some(0), _) | (None, Format::Json) => None,
        (Some(n), _) => Some(n),
        (None, Format::Human) => Some(50),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let log = match runtime.block_on(read_logs(sync, args.run, args.failed, limit)) {
        Ok(Some(found)) => found,
        Ok(None) => {
            match args.run {
                Some(id) => eprintln!("error: sync {} has no run {id}", sync.name),
                None => eprintln!(
                    "error: sync {} has no recorded run yet (dry runs are not recorded); run one with: audience sync {} --sync {}",
                    sync.name,
                    args.config.display(),
                    sync.name
                ),
            }
            return exit::INVALID;
        }
        Err(e) => {
            eprintln!("error: {}", config.redactor.redact(&e));
            return exit::INVALID;
        }
    };
    match args.format {
        Format::Json => print_json(&log),
        Format::Human => print!("{}", log.human(args.failed)),
    }
    exit::OK
}
