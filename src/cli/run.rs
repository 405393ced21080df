//! `audience run CONFIG`: every sync of the file on its schedule, until SIGINT or SIGTERM. The
//! scheduling is [`crate::schedule::Scheduler`]'s; this file makes each slot a real run
//! ([`crate::sync::run_sync`], as `audience sync` runs it) and turns what happened into log
//! lines ([`super::log`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tracing::Level;

use super::listen::{Listener, Shared};
use super::{exit, stderr_color};
use crate::delivery::{DeliveryClient, StopReason, StopToken};
use crate::destination::{self, Config, EnvMode, Schedule};
use crate::schedule::{Scheduled, Scheduler, Slot, SystemClock};
use crate::sync::alert::Alerter;
use crate::sync::endpoint::delivery_client;
use crate::sync::metrics::Metrics;
use crate::sync::{Job, RunOptions, Status, Stop, SyncSummary, run_job};

/// Run every sync of a config on its schedule, until SIGINT or SIGTERM.
///
/// Each sync's `schedule` says when it runs, in UTC: `{ every = "6h", starting_at = "00:30" }`
/// or `{ cron = "0 */6 * * *" }`; `"manual"` syncs are left to `audience sync` (a file whose
/// syncs are all manual is refused: nothing to schedule). Nothing runs at start-up: each sync
/// first runs at its next slot. A run is the same as `audience sync --sync NAME`; a sync never
/// runs twice at once (a slot that comes while its previous run is going is skipped and
/// logged), and missed slots are not replayed. A slot whose sync is locked by another process
/// is skipped and logged; a run stopped by the mass-removal guard is logged as an error at
/// every slot until someone acts (`audience sync --allow-mass-removal`).
///
/// Logs go to stderr, one line per event: text on a terminal, JSON lines otherwise
/// (`AUDIENCE_LOG=debug` for more). On SIGINT or SIGTERM, no new request starts, the requests
/// in flight finish, their outcomes are recorded, and `run` exits 0; a second signal exits at
/// once (130).
///
/// With `--listen ADDR` (such as `127.0.0.1:9464`), it also serves `GET /metrics` (Prometheus
/// text format: runs by status, records by operation and outcome, requests by status class,
/// retries, splits, the last run's start, duration and success time, the next slot) and `GET
/// /healthz` (200 while the scheduler runs). `[[alerts]]` are sent as runs end.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The destination config (`.toml`).
    config: PathBuf,
    /// Serve /metrics and /healthz on this address (HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

/// What every run of the process shares: the checked config, the template sources (for the
/// configuration fingerprint) and one delivery client (so that syncs running at the same time
/// share the destination's concurrency and rate limits, as docs/design/sync.md asks).
struct Context {
    config: Config,
    templates: [Option<String>; 3],
    client: DeliveryClient,
    /// The config file, as given (for the commands suggested in log lines).
    path: PathBuf,
    /// `[[alerts]]`, sent as runs end.
    alerter: Alerter,
    /// What `--listen` serves, when it is given.
    listen: Option<Arc<Shared>>,
}

/// Runs under `run`: no dry run, no forced resync, the guard on, no progress bars (several
/// syncs may run at once, and a service's stderr is a log).
const OPTIONS: RunOptions =
    RunOptions { dry_run: false, full_resync: false, allow_mass_removal: false, progress: false };

pub fn run(args: Args) -> i32 {
    let mut report = destination::check_file(&args.config, EnvMode::Error);
    if !report.is_valid() {
        eprint!("{}", report.render_human(stderr_color()));
        eprintln!("{}", report.summary());
        eprintln!("error: run refuses a config with errors");
        return exit::INVALID;
    }
    let templates = report.checked.templates.clone().map(|t| t.map(|t| t.text));
    let Some(config) = report.checked.config.take() else {
        eprintln!("error: run refuses a config with errors");
        return exit::INVALID;
    };
    let scheduled = config.syncs.iter().map(|s| Scheduled { name: s.name.clone(), schedule: s.schedule.clone() });
    let scheduler = match Scheduler::new(scheduled) {
        Ok(scheduler) => scheduler,
        Err(e) => {
            let path = args.config.display();
            eprintln!("error: {path}: {e}. Give a sync a `schedule`, or run the syncs now with `audience sync {path}`");
            return exit::INVALID;
        }
    };
    let terminal = std::io::stderr().is_terminal();
    super::log::Lines::new(!terminal).install();
    if report.warnings() > 0 {
        if terminal {
            eprint!("{}", report.render_human(stderr_color()));
        } else {
            for d in report.to_json().diagnostics {
                tracing::warn!(code = d.code, key = d.key.as_deref().unwrap_or(""), "{}", d.message);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    runtime.block_on(serve(config, templates, &scheduler, &args.config, args.listen.as_deref()))
}

/// Watches the signals, then runs the scheduler until one comes.
async fn serve(
    config: Config,
    templates: [Option<String>; 3],
    scheduler: &Scheduler,
    path: &Path,
    listen: Option<&str>,
) -> i32 {
    let shutdown = StopToken::new();
    if let Err(e) = watch_signals(shutdown.clone()) {
        tracing::error!("cannot watch SIGINT and SIGTERM: {e}");
        return exit::INVALID;
    }
    let shared = listen.map(|_| {
        let schedules: Vec<(String, Schedule)> =
            scheduler.syncs().iter().map(|s| (s.name.clone(), s.schedule.clone())).collect();
        Arc::new(Shared {
            metrics: Mutex::new(Metrics::new(schedules.iter().map(|(n, _)| n.as_str()))),
            schedules,
            shutdown: shutdown.clone(),
        })
    });
    // Bound before the first slot: an address in use is an error at start-up, not later.
    let _listener = match (listen, &shared) {
        (Some(addr), Some(shared)) => match Listener::start(addr, shared.clone()).await {
            Ok(listener) => {
                tracing::info!(listen = %listener.addr(), "serving /metrics and /healthz on http://{}", listener.addr());
                Some(listener)
            }
            Err(e) => {
                tracing::error!("cannot listen on {addr}: {e}");
                return exit::INVALID;
            }
        },
        _ => None,
    };
    let client = match delivery_client(&config) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("{}", config.redactor.redact(&e.to_string()));
            return exit::INVALID;
        }
    };
    for sync in config.syncs.iter().filter(|s| s.schedule.is_manual()) {
        let how = format!("audience sync {} --sync {}", path.display(), sync.name);
        tracing::info!(sync = %sync.name, "manual: not scheduled (`{how}` runs it)");
    }
    tracing::info!(
        config = %path.display(),
        syncs = scheduler.syncs().len(),
        "running {} scheduled sync{} of {} (times in UTC); SIGINT or SIGTERM stops",
        scheduler.syncs().len(),
        if scheduler.syncs().len() == 1 { "" } else { "s" },
        path.display()
    );
    let alerter = Alerter::new(&config, &path.display().to_string());
    let context = Rc::new(Context { config, templates, client, path: path.to_owned(), alerter, listen: shared });
    let tallies = scheduler.run(&SystemClock, &shutdown, |slot| one_run(context.clone(), slot)).await;
    let started: u32 = tallies.iter().map(|t| t.started).sum();
    let skipped: u32 = tallies.iter().map(|t| t.skipped).sum();
    tracing::info!(
        runs = started,
        skipped,
        "stopped after {} ({} skipped because the sync's previous run was still going)",
        crate::sync::summary::count(u64::from(started), "run"),
        crate::sync::summary::count(u64::from(skipped), "slot")
    );
    exit::OK
}

/// One slot of one sync: open its warehouse, run it, log how it went.
async fn one_run(context: Rc<Context>, slot: Slot) {
    let config = &context.config;
    let Some(sync) = config.sync(&slot.name) else { return };
    let job = Job { config, sync, templates: &context.templates };
    let name = sync.name.as_str();
    let notice = |message: &str| tracing::warn!(sync = %name, "{}", config.redactor.redact(message));
    let started = SystemTime::now();
    let summary = run_job(&job, &context.client, &slot.stop, &OPTIONS, &notice).await;
    // Counted before the outcome is logged: whoever reads the log line and then scrapes
    // /metrics sees the run.
    if let Some(shared) = &context.listen {
        shared.metrics.lock().unwrap_or_else(|p| p.into_inner()).record(&summary, started);
    }
    log_outcome(&summary, &context.path);
    context.alerter.notify(&summary).await;
}

/// A run's outcome as a log line.
fn log_outcome(s: &SyncSummary, config: &Path) {
    let (level, message) = describe(s, config);
    macro_rules! event {
        ($level:ident) => {
            tracing::$level!(
                sync = %s.sync,
                run = s.run_id,
                status = s.run_status(),
                inserted = s.counts.inserted,
                updated = s.counts.updated,
                deleted = s.counts.deleted,
                failed = s.counts.failed,
                invalid = s.counts.invalid,
                requests = s.counts.requests,
                retries = s.retries,
                splits = s.splits,
                duration_ms = s.duration_ms,
                "{message}"
            )
        };
    }
    match level {
        Level::ERROR => event!(error),
        Level::WARN => event!(warn),
        _ => event!(info),
    }
}

/// The level and message of a run's outcome: what someone has to act on (a failed run, the
/// mass-removal guard, a configuration the API rejects) is an error, at every slot until it is
/// fixed; a slot skipped because another process holds the lock, failed records and an
/// interruption are warnings.
fn describe(s: &SyncSummary, config: &Path) -> (Level, String) {
    let run = s.run_id.map_or_else(|| "run".to_owned(), |id| format!("run {id}"));
    let mut counts = format!(
        "{} inserted, {} updated, {} deleted, {} failed, {} invalid ({}, {})",
        s.counts.inserted,
        s.counts.updated,
        s.counts.deleted,
        s.counts.failed,
        s.counts.invalid,
        crate::sync::summary::count(s.counts.requests, "request"),
        crate::sync::summary::duration(s.duration_ms)
    );
    if let Some(top) = s.reasons.first() {
        counts.push_str(&format!("; most failed with: {} ({})", top.reason, top.count));
    }
    let error = s.error.as_deref().unwrap_or("no reason given");
    match s.status {
        Status::Succeeded => (Level::INFO, format!("{run} succeeded: {counts}")),
        Status::Partial => (
            Level::WARN,
            format!(
                "{run} finished with failures: {counts}. The failed records are in the sync log and are sent again \
                 next run"
            ),
        ),
        Status::Stopped => match s.stop {
            Some(Stop::Interrupted) => (Level::WARN, format!("{run} interrupted: {error}")),
            Some(Stop::LockHeld) => (Level::WARN, format!("slot skipped: {error}")),
            // The guard: say how to let the removal through under `run`.
            Some(Stop::MassRemoval) => (
                Level::ERROR,
                format!(
                    "{run} stopped: {error} (once: `audience sync {} --sync {} --allow-mass-removal`; the next slots \
                 then go on as usual)",
                    config.display(),
                    s.sync
                ),
            ),
            Some(Stop::Rejected) | None => (Level::ERROR, format!("{run} stopped: {error}")),
        },
        Status::Failed => (Level::ERROR, format!("{run} failed: {error}")),
    }
}

/// SIGINT and SIGTERM: the first stops the scheduler (which stops the runs in progress: no new
/// request starts, those in flight finish and are recorded); the second exits at once. The
/// handlers are installed before this returns, so that a signal right after start-up is caught.
fn watch_signals(shutdown: StopToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            if shutdown.is_stopped() {
                // What was recorded stays recorded: every batch is its own transaction.
                tracing::error!("second signal: exiting now");
                std::process::exit(crate::sync::summary::exit::INTERRUPTED);
            }
            // Stopped before it is said: once the line is out, no new run or request starts.
            shutdown.stop(StopReason::Interrupted);
            tracing::info!("signal received: stopping (the requests in flight finish; a second signal exits at once)");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: Status, run_id: Option<i64>, error: Option<&str>) -> SyncSummary {
        let mut s = SyncSummary::new("high_value", false);
        s.status = status;
        s.run_id = run_id;
        s.error = error.map(str::to_owned);
        s
    }

    fn stopped(stop: Stop, run_id: Option<i64>, error: &str) -> SyncSummary {
        let mut s = summary(Status::Stopped, run_id, Some(error));
        s.stop = Some(stop);
        s
    }

    #[test]
    fn outcomes_get_the_level_they_deserve() {
        let locked = "another run of this sync holds the lock: process 42 on host db1";
        let guard = "the run would remove 90 of 100 members (90.0%), more than max_removal_share (50.0%) allows: \
                     nothing was sent. If this is intended, run again with --allow-mass-removal";
        let table = [
            (summary(Status::Succeeded, Some(3), None), Level::INFO, "run 3 succeeded: 0 inserted"),
            (summary(Status::Partial, Some(3), None), Level::WARN, "run 3 finished with failures"),
            (stopped(Stop::LockHeld, None, locked), Level::WARN, "slot skipped: another run of this sync"),
            (stopped(Stop::MassRemoval, Some(4), guard), Level::ERROR, "run 4 stopped: the run would remove"),
            (stopped(Stop::Rejected, Some(4), "the API rejected"), Level::ERROR, "run 4 stopped: the API rejected"),
            (summary(Status::Failed, None, Some("cannot open the warehouse")), Level::ERROR, "run failed: cannot"),
        ];
        for (s, level, start) in table {
            let (got, message) = describe(&s, Path::new("audience.toml"));
            assert_eq!(got, level, "{message}");
            assert!(message.starts_with(start), "{message}");
        }
        let interrupted = stopped(Stop::Interrupted, Some(5), "interrupted");
        assert_eq!(describe(&interrupted, Path::new("audience.toml")).0, Level::WARN);
        let guarded = describe(&stopped(Stop::MassRemoval, Some(4), guard), Path::new("audience.toml")).1;
        assert!(guarded.contains("`audience sync audience.toml --sync high_value --allow-mass-removal`"), "{guarded}");
    }
}
