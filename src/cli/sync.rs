//! `audience sync CONFIG`: runs mirror-mode syncs now, one after the other.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Format, exit, print_json, usable_config};
use crate::delivery::{StopReason, StopToken};
use crate::destination::{self, Config, EnvMode, Sync};
use crate::sync::alert::Alerter;
use crate::sync::endpoint::delivery_client;
use crate::sync::summary::Status;
use crate::sync::{Job, RunOptions, Stop, SyncSummary, run_job};

/// Run mirror-mode syncs now: snapshot the model, diff it against what the API has accepted, and
/// send the adds, updates and removes.
///
/// Every sync of the file runs, one after the other, unless `--sync` names one; the exit code is
/// the highest of their codes (0 success, 1 stopped or failed, 3 some records failed or were
/// invalid, 130 interrupted). SIGINT or SIGTERM stops sending new requests, lets those in flight
/// finish and records their outcomes; a second signal exits at once.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The destination config (`.toml`).
    config: PathBuf,
    /// Run only this sync.
    #[arg(long, value_name = "NAME")]
    sync: Option<String>,
    /// Lock, snapshot, diff, guard and field pipeline; report the counts and the first request of
    /// each action. Sends nothing and leaves nothing behind.
    #[arg(long)]
    dry_run: bool,
    /// Send every current member again as an add (and remove those that left).
    #[arg(long)]
    full_resync: bool,
    /// Go on when the run would remove more than `max_removal_share` of the audience.
    #[arg(long)]
    allow_mass_removal: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `--format json`
#[derive(serde::Serialize)]
struct Output<'a> {
    syncs: &'a [SyncSummary],
}

pub fn run(args: Args) -> i32 {
    // A dry run sends nothing: only the warehouse's variables are needed.
    let mode = if args.dry_run { EnvMode::Warehouse } else { EnvMode::Error };
    let report = destination::check_file(&args.config, mode);
    let Some(config) = usable_config(&report, args.format, Some("sync")) else {
        return exit::INVALID;
    };
    let syncs: Vec<&Sync> = match &args.sync {
        Some(name) => match config.sync(name) {
            Some(sync) => vec![sync],
            None => {
                eprintln!("error: the config has no sync {name}; its syncs are: {}", sync_names(config));
                return exit::USAGE;
            }
        },
        None => config.syncs.iter().collect(),
    };
    if syncs.is_empty() {
        eprintln!("error: the config has no sync to run");
        return exit::INVALID;
    }
    // Every log line of the command (the sync's own, delivery's, `AUDIENCE_LOG=debug`'s request
    // lines) in one format: JSON lines, or text on a terminal.
    super::log::Lines::new(!std::io::stderr().is_terminal()).install();
    let templates = report.checked.templates.clone().map(|t| t.map(|t| t.text));
    let options = RunOptions {
        dry_run: args.dry_run,
        full_resync: args.full_resync,
        allow_mass_removal: args.allow_mass_removal,
        progress: true,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let shown = args.config.display().to_string();
    let summaries = runtime.block_on(run_all(config, &syncs, &templates, &options, args.format, &shown));
    if args.format == Format::Json {
        print_json(&Output { syncs: &summaries });
    }
    summaries.iter().map(SyncSummary::exit_code).max().unwrap_or(exit::OK)
}

fn sync_names(config: &Config) -> String {
    config.syncs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// Runs the syncs one after the other, with one delivery client (the destination's limits are
/// shared) and one signal watcher.
async fn run_all(
    config: &Config,
    syncs: &[&Sync],
    templates: &[Option<String>; 3],
    options: &RunOptions,
    format: Format,
    config_path: &str,
) -> Vec<SyncSummary> {
    let signals = Signals::watch();
    let client = match delivery_client(config) {
        Ok(client) => client,
        Err(e) => {
            return syncs
                .iter()
                .map(|s| failed(s, options, config.redactor.redact(&e.to_string()).into_owned()))
                .collect();
        }
    };
    let alerter = Alerter::new(config, config_path);
    let mut out = Vec::new();
    for sync in syncs {
        let summary = if signals.interrupted() {
            let mut s = SyncSummary::new(&sync.name, options.dry_run);
            s.status = Status::Stopped;
            s.stop = Some(Stop::Interrupted);
            s.error = Some("interrupted before this sync started".into());
            s
        } else {
            let stop = signals.token();
            let job = Job { config, sync, templates };
            let notice = |message: &str| {
                tracing::warn!(sync = %sync.name, "{}", config.redactor.redact(message));
            };
            run_job(&job, &client, &stop, options, &notice).await
        };
        if format == Format::Human {
            println!("{}", summary.human());
            if let Some(next) = summary.next_step(config_path) {
                println!("  next: {next}");
            }
        }
        // After the summary is out: an alert that cannot be delivered is a log line, and
        // changes nothing of the run or the exit code.
        alerter.notify(&summary).await;
        out.push(summary);
    }
    out
}

fn failed(sync: &Sync, options: &RunOptions, error: String) -> SyncSummary {
    let mut s = SyncSummary::new(&sync.name, options.dry_run);
    s.status = Status::Failed;
    s.error = Some(error);
    s
}

/// SIGINT and SIGTERM: the first stops the current run (no new requests; those in flight
/// finish and are recorded) and the syncs not yet started; the second exits at once.
struct Signals {
    current: Arc<Mutex<StopToken>>,
    interrupted: Arc<AtomicBool>,
}

impl Signals {
    fn watch() -> Signals {
        let current = Arc::new(Mutex::new(StopToken::new()));
        let interrupted = Arc::new(AtomicBool::new(false));
        let (token, flag) = (current.clone(), interrupted.clone());
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if flag.swap(true, Ordering::SeqCst) {
                    // What was recorded stays recorded: every batch is its own transaction.
                    tracing::error!("second signal: exiting now");
                    std::process::exit(exit_code_interrupted());
                }
                // Stopped before it is said, so that whoever waits for the line knows that no
                // new request starts from then on.
                token.lock().unwrap_or_else(|p| p.into_inner()).stop(StopReason::Interrupted);
                tracing::warn!("signal received: finishing the requests in flight (a second signal exits at once)");
            }
        });
        Signals { current, interrupted }
    }

    /// A fresh stop token for the next run, watched by the signal handler.
    fn token(&self) -> StopToken {
        let token = StopToken::new();
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = token.clone();
        if self.interrupted() {
            token.stop(StopReason::Interrupted);
        }
        token
    }

    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

fn exit_code_interrupted() -> i32 {
    crate::sync::summary::exit::INTERRUPTED
}
