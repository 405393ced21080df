//! `audience logs CONFIG --sync NAME`: the sync-log rows of a run.

use std::path::PathBuf;

use super::{Format, exit, print_json, stderr_color};
use crate::destination::{self, EnvMode};
use crate::sync::read_logs;

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
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let log = match runtime.block_on(read_logs(sync, args.run, args.failed)) {
        Ok(Some(found)) => found,
        Ok(None) => {
            match args.run {
                Some(id) => eprintln!("error: sync {} has no run {id}", sync.name),
                None => eprintln!("error: sync {} has no recorded run yet", sync.name),
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
        Format::Human => print!("{}", log.human()),
    }
    exit::OK
}
