//! The mirror-mode runner: one run of one sync, step by step as docs/design/sync.md describes it.
//!
//! ```text
//!  resolve the model's columns ─▶ lock ─▶ run row ─▶ snapshot + delta (SQL, in the warehouse)
//!      ─▶ guard ─▶ per action (remove, update, add): read the delta by seq ranges
//!           ─▶ field pipeline per record (failures noted, not sent) ─▶ delivery
//!           ◀─ reports ─▶ a chunk complete? record it (log rows + baseline, one transaction)
//!      ─▶ run row finished ─▶ retention ─▶ unlock
//! ```
//!
//! Memory stays bounded by the batch size times the batches in progress: the runner reads the
//! next batch only when fewer than twice `max_concurrency` are waiting for outcomes (what
//! delivery itself lets wait), and keeps nothing of a batch once it is recorded.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::batch::{Chunk, Chunks, DeltaBatch};
use super::delta::DeltaReader;
use super::endpoint::{delivery_action, endpoint};
use super::fingerprint::{changed_parts, config_fingerprint, config_parts};
use super::summary::{Reasons, Status, Stop, SyncSummary};
use crate::delivery::{ActionContext, DeliveryClient, Gate, Keys, Outcome, Progress, Report, StopReason, StopToken};
use crate::destination::{ActionKind, Config, Model, PreparedAction, Sync};
use crate::template::Connection;
use crate::warehouse::{
    ChunkOutcome, DeltaStats, Failure, Me, ModelSpec, Op, RunCounts, RunEnd, RunInfo, RunRef, RunStart, RunStatus,
    SyncName, Warehouse, WarehouseError, ident, lease::Lease, model_sql, now_utc,
};

/// The lease on the run's lock row is what delivery asks before each request.
impl Gate for Lease {
    fn fresh(&self) -> bool {
        Lease::fresh(self)
    }

    fn confirm(&self) -> Result<(), String> {
        self.ensure()
    }
}

/// What `audience sync` asks of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Lock, snapshot, delta, guard and pipeline; send nothing, leave nothing.
    pub dry_run: bool,
    /// Send every current member again as an add.
    pub full_resync: bool,
    /// Go on even when the run would remove more than `max_removal_share` of the members.
    pub allow_mass_removal: bool,
    /// Show progress bars on a terminal.
    pub progress: bool,
}

/// A sync of a checked config, with the template sources (for the configuration fingerprint).
#[derive(Clone, Copy, Debug)]
pub struct Job<'a> {
    /// The checked config the sync belongs to.
    pub config: &'a Config,
    /// The sync to run.
    pub sync: &'a Sync,
    /// Each action's template source, indexed by [`ActionKind`] (`None` for update with
    /// `use_add`).
    pub templates: &'a [Option<String>; 3],
}

/// Audiences smaller than this are exempt from the mass-removal guard (docs/design/sync.md).
pub const GUARD_MIN_MEMBERS: u64 = 100;

/// Whether removing `deletes` of `members` trips the guard: strictly more than `share` of them,
/// in an audience of at least [`GUARD_MIN_MEMBERS`].
pub fn guard_trips(deletes: u64, members: u64, share: f64) -> bool {
    members >= GUARD_MIN_MEMBERS && deletes as f64 > share * members as f64
}

/// Why a run ended early: the status it gets, why it stopped, and the message.
pub(super) struct Halt {
    status: Status,
    stop: Option<Stop>,
    pub(super) message: String,
}

impl Halt {
    fn failed(message: impl Into<String>) -> Halt {
        Halt { status: Status::Failed, stop: None, message: message.into() }
    }

    fn stopped(stop: Stop, message: impl Into<String>) -> Halt {
        Halt { status: Status::Stopped, stop: Some(stop), message: message.into() }
    }
}

impl From<WarehouseError> for Halt {
    fn from(e: WarehouseError) -> Halt {
        match e {
            WarehouseError::Locked(_) => Halt::stopped(Stop::LockHeld, e.to_string()),
            e => Halt::failed(e.to_string()),
        }
    }
}

/// The three prepared actions of a sync, indexed by [`ActionKind`].
pub(super) struct Actions([PreparedAction; 3]);

impl Actions {
    pub(super) fn get(&self, kind: ActionKind) -> &PreparedAction {
        &self.0[kind.index()]
    }

    /// The action an op is sent with.
    fn for_op(&self, op: Op) -> &PreparedAction {
        self.get(match op {
            Op::Delete => ActionKind::Remove,
            Op::Update => ActionKind::Update,
            Op::Insert => ActionKind::Add,
        })
    }
}

/// Runs one sync once. Never panics on bad input; every problem ends up in the summary (and
/// in the run row, once there is one). `notice` receives messages for the log (a stale lock
/// taken over, a retention problem).
pub async fn run_sync<W: Warehouse>(
    w: &mut W,
    job: &Job<'_>,
    client: &DeliveryClient,
    stop: &StopToken,
    options: &RunOptions,
    notice: &dyn Fn(&str),
) -> SyncSummary {
    let started = Instant::now();
    let mut summary = SyncSummary::new(&job.sync.name, options.dry_run);
    let redactor = &job.config.redactor;
    let ctx = Ctx { job, client, stop, options, notice };
    // Every event of the run (the warehouse's steps, delivery's) names its sync and run.
    let span = tracing::info_span!("sync.run", sync = %job.sync.name, run = tracing::field::Empty);
    if let Err(halt) = run(w, &ctx, &mut summary).instrument(span).await {
        summary.status = halt.status;
        summary.stop = halt.stop;
        summary.error = Some(redactor.redact(&halt.message).into_owned());
    }
    summary.duration_ms = started.elapsed().as_millis() as u64;
    summary
}

/// What every step of one run reads: the sync and its config, delivery, the stop signal, the
/// options and where notices go.
struct Ctx<'a> {
    job: &'a Job<'a>,
    client: &'a DeliveryClient,
    stop: &'a StopToken,
    options: &'a RunOptions,
    notice: &'a dyn Fn(&str),
}

async fn run<W: Warehouse>(w: &mut W, ctx: &Ctx<'_>, summary: &mut SyncSummary) -> Result<(), Halt> {
    let name = SyncName::new(&ctx.job.sync.name).map_err(|e| Halt::failed(e.to_string()))?;
    let (spec, actions) = prepare(w, ctx.job, &name).await?;
    let me = Me::current(ctx.job.sync.lock_timeout);
    let locked = w.begin(&name, &me, ctx.options.dry_run).await?;
    if let Some((holder, why)) = &locked.taken_over {
        (ctx.notice)(&format!("took over the stale lock of {holder}: {why}"));
    }
    ctx.stop.set_gate(w.lease().map(|lease| lease as Arc<dyn Gate>));
    let result = locked_run(w, ctx, summary, &spec, &actions, &me).await;
    ctx.stop.set_gate(None);
    let ended = w.end(&name).await;
    match (result, ended) {
        (Err(halt), _) => Err(halt),
        (Ok(()), Err(e)) => Err(Halt::failed(e.to_string())),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// Resolves the model's columns and prepares the three actions, before touching any state.
pub(super) async fn prepare<W: Warehouse>(
    w: &mut W,
    job: &Job<'_>,
    name: &SyncName,
) -> Result<(ModelSpec, Actions), Halt> {
    let sync = job.sync;
    let sql = match &sync.model {
        Model::Query(q) => model_sql(Some(q.as_str()), None),
        Model::Table(t) => model_sql(None, Some(t.as_str())),
    };
    let model_columns = w.model_columns(&sql).await?;
    let listed = || model_columns.join(", ");
    let primary_key = ident::resolve_column(sync.primary_key.as_str(), &model_columns)
        .ok_or_else(|| {
            Halt::failed(format!(
                "the model has no column {} (primary_key); its columns are: {}",
                sync.primary_key.shown(),
                listed()
            ))
        })?
        .to_owned();
    let mut columns: Vec<String> = Vec::new();
    for (field, column) in &sync.map {
        let resolved = ident::resolve_column(column.as_str(), &model_columns).ok_or_else(|| {
            Halt::failed(format!(
                "the model has no column {} (mapped to field {field}); its columns are: {}",
                column.shown(),
                listed()
            ))
        })?;
        if !columns.iter().any(|c| c == resolved) {
            columns.push(resolved.to_owned());
        }
    }
    for column in columns.iter().chain([&primary_key]) {
        ident::check_name(column, 63).map_err(|e| Halt::failed(e.to_string()))?;
        if crate::warehouse::diff::is_reserved(column) {
            return Err(Halt::failed(format!("the model's column {column} has a name audience reserves for itself")));
        }
    }
    // Mapped columns are copied into the snapshot under their own names; the key alone is not.
    for column in &columns {
        if let Some(why) = w.refuses_column(column) {
            return Err(Halt::failed(format!(
                "the model's column {column} is mapped to a field, and {why}; rename it in the query \
                 (say, SELECT {column} AS row_id ...)"
            )));
        }
    }
    let resolve = |wanted: &str| {
        let resolved = ident::resolve_column(wanted, &model_columns)?;
        columns.iter().position(|c| c == resolved)
    };
    let prepare = |kind: ActionKind| {
        PreparedAction::prepare(job.config, sync, kind, &resolve).map_err(|e| Halt::failed(format!("{kind}: {e}")))
    };
    let actions = Actions([prepare(ActionKind::Add)?, prepare(ActionKind::Update)?, prepare(ActionKind::Remove)?]);
    Ok((ModelSpec { sync: name.clone(), sql, primary_key, columns }, actions))
}

async fn locked_run<W: Warehouse>(
    w: &mut W,
    ctx: &Ctx<'_>,
    summary: &mut SyncSummary,
    spec: &ModelSpec,
    actions: &Actions,
    me: &Me,
) -> Result<(), Halt> {
    let Ctx { job, options, notice, .. } = *ctx;
    let sync = job.sync;
    let started_at = now_utc();
    let config = config_fingerprint(job.config, sync, job.templates);
    let previous = w.run_info(&spec.sync, None).await?;
    summary.previous = previous.as_ref().map(|p| (p.status.clone(), p.error.clone()));
    let mut start = RunStart {
        started_at: started_at.clone(),
        config,
        config_parts: config_parts(job.config, sync, job.templates),
        full_resync: options.full_resync,
        me: me.clone(),
    };
    let resync = resync_reason(options.full_resync, previous.as_ref(), &start.config_text());
    // A run the configuration change makes a full resync is recorded as one, so that the run
    // after an interrupted one can say why it goes on resending.
    start.full_resync |= matches!(resync, Some(Resync::ConfigChanged(_)));
    let run_id = if options.dry_run {
        w.next_run_id(&spec.sync).await?
    } else {
        let id = w.start_run(&spec.sync, &start).await?;
        tracing::Span::current().record("run", id);
        summary.run_id = Some(id);
        id
    };
    let run = RunRef { sync: spec.sync.clone(), run_id, started_at, config, write_logs: sync.retain_logs };
    let mut counts = RunCounts::default();
    let outcome = async {
        let stats = w.build_delta(spec, &run, options.full_resync).await?;
        if stats.baseline > 0 && stats.counts[Op::Insert.index()] > 0 {
            summary.full_resync = resync.map(|r| r.to_string());
        }
        counts.invalid = stats.invalid;
        summary.counts.invalid = stats.invalid;
        let deletes = stats.counts[Op::Delete.index()];
        if !options.allow_mass_removal && guard_trips(deletes, stats.baseline, sync.max_removal_share) {
            let message = format!(
                "the run would remove {deletes} of {} members ({:.1}%), more than max_removal_share ({:.1}%) allows: \
                 nothing was sent. If this is intended, run again with --allow-mass-removal",
                stats.baseline,
                100.0 * deletes as f64 / stats.baseline as f64,
                100.0 * sync.max_removal_share
            );
            return Err(Halt::stopped(Stop::MassRemoval, message));
        }
        if options.dry_run {
            dry_run(w, job, spec, actions, &stats, summary).await
        } else {
            deliver(w, ctx, spec, actions, &run, &stats, &mut counts, summary).await
        }
    }
    .await;
    if options.dry_run {
        return outcome;
    }
    // The run row says how it ended, whatever happened.
    let (status, stop, error) = match &outcome {
        Ok(()) => (summary.status, summary.stop, summary.error.clone()),
        Err(halt) => (halt.status, halt.stop, Some(halt.message.clone())),
    };
    let row_status = match status {
        Status::Succeeded => RunStatus::Succeeded,
        Status::Partial => RunStatus::Partial,
        Status::Stopped if stop == Some(Stop::Interrupted) => RunStatus::Interrupted,
        Status::Stopped => RunStatus::Stopped,
        Status::Failed => RunStatus::Failed,
    };
    let error = error.map(|e| job.config.redactor.redact(&e).into_owned());
    let end = RunEnd {
        status: row_status,
        counts: &counts,
        error: error.as_deref(),
        retries: summary.retries,
        splits: summary.splits,
        reasons: &summary.reasons,
    };
    let finished = w.finish_run(&run, &end).await;
    outcome?;
    finished?;
    if let Err(e) = w.retention(&run, sync.snapshot_retention, sync.log_retention_days).await {
        notice(&format!("retention did not complete (it is tried again next run): {e}"));
    }
    Ok(())
}

/// Why a run sends members again that the API already has.
enum Resync {
    /// `--full-resync`.
    Asked,
    /// The configuration fingerprint differs from the previous run's: the run's number and
    /// what changed (empty when the previous run did not record its parts).
    ConfigChanged((i64, Vec<String>)),
    /// The previous run was a full resync and did not finish: its number and status.
    Unfinished((i64, String)),
}

impl std::fmt::Display for Resync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resync::Asked => f.write_str("asked for with --full-resync: every member is sent again as an add"),
            Resync::ConfigChanged((run, parts)) if parts.is_empty() => {
                write!(f, "the configuration changed since run {run}: every member is sent again as an add")
            }
            Resync::ConfigChanged((run, parts)) => write!(
                f,
                "the configuration changed since run {run} ({}): every member is sent again as an add",
                parts.join(", ")
            ),
            Resync::Unfinished((run, status)) => write!(
                f,
                "run {run}, a full resync, did not finish ({status}): the members it had not sent again are sent now"
            ),
        }
    }
}

/// Why this run is a full resync, if it is one (docs/design/sync.md, Change of configuration).
fn resync_reason(asked: bool, previous: Option<&RunInfo>, config: &str) -> Option<Resync> {
    if asked {
        return Some(Resync::Asked);
    }
    let previous = previous?;
    let hex = |text: &str| text.split_whitespace().next().unwrap_or_default().to_owned();
    if hex(&previous.config) != hex(config) {
        let parts = changed_parts(&previous.config, config).unwrap_or_default();
        return Some(Resync::ConfigChanged((previous.run_id, parts)));
    }
    let finished = matches!(previous.status.as_str(), "succeeded" | "partial");
    (previous.full_resync && !finished).then(|| Resync::Unfinished((previous.run_id, previous.status.clone())))
}

/// What to look at when the API answers 401, 403, 404 or 405 (its `reason` starts with
/// `HTTP <status>`).
fn rejected_hint(reason: &str) -> &'static str {
    match reason.split_whitespace().nth(1) {
        Some("401") | Some("403") => "check the credentials of [destination.auth] and their permissions",
        Some("404") => "check base_url, the action's path and audience_id",
        Some("405") => "check the action's method",
        _ if reason.contains("certificate") => "check base_url's host, or the CA the API's certificate needs",
        _ => "check the destination's settings",
    }
}

/// One action's share of the delta: its sequence numbers, and how it is sent.
struct Phase<'a> {
    action: &'a PreparedAction,
    kind: ActionKind,
    lo: i64,
    hi: i64,
    total: u64,
}

/// The phases of a run in sending order: deletes, then updates, then inserts. With `use_add`,
/// updates go out with add's method, path, template and response, in batches of their own (a
/// batch never mixes the two, so that each log row keeps its operation; docs/design/sync.md step 6).
fn phases<'a>(actions: &'a Actions, stats: &DeltaStats) -> Vec<Phase<'a>> {
    let range = |op: Op| stats.ranges[op.index()].map(|(lo, hi)| (lo, hi, stats.counts[op.index()]));
    let mut out = Vec::new();
    let mut push = |kind: ActionKind, r: Option<(i64, i64, u64)>| {
        if let Some((lo, hi, total)) = r {
            out.push(Phase { action: actions.get(kind), kind, lo, hi, total });
        }
    };
    push(ActionKind::Remove, range(Op::Delete));
    push(ActionKind::Update, range(Op::Update));
    push(ActionKind::Add, range(Op::Insert));
    out
}

/// The delivering part of a run: every phase, then the final status.
#[allow(clippy::too_many_arguments)]
async fn deliver<W: Warehouse>(
    w: &mut W,
    ctx: &Ctx<'_>,
    spec: &ModelSpec,
    actions: &Actions,
    run: &RunRef,
    stats: &DeltaStats,
    counts: &mut RunCounts,
    summary: &mut SyncSummary,
) -> Result<(), Halt> {
    let mut recorder = Recorder {
        spec,
        run,
        move_failed: !ctx.job.sync.retry_failed,
        counts,
        requests_before: 0,
        emptied: 0,
        retries: 0,
        splits: 0,
        by_class: Default::default(),
        failed_by_op: [0; 3],
        reasons: Reasons::default(),
        done: Vec::new(),
    };
    for phase in phases(actions, stats) {
        if ctx.stop.is_stopped() {
            break;
        }
        recorder.phase(w, ctx, &phase).await?;
    }
    let counts = *recorder.counts;
    summary.counts = counts;
    summary.emptied = recorder.emptied;
    // What the next run sends, derived from the delta's size and the outcomes recorded: records
    // without an outcome (not sent because the run stopped, or never read), and, when the run
    // stopped, with retry_failed, those that failed too (the message counts all the API has not
    // accepted).
    let total: u64 = stats.counts.iter().sum();
    let accepted = counts.inserted + counts.updated + counts.deleted;
    let unsettled = total.saturating_sub(accepted + counts.failed);
    let left = total.saturating_sub(accepted + if recorder.move_failed { counts.failed } else { 0 });
    summary.undelivered = if ctx.stop.is_stopped() { left } else { unsettled };
    summary.retries = recorder.retries;
    summary.splits = recorder.splits;
    summary.requests_by_class = recorder.by_class;
    summary.failed_by_op = recorder.failed_by_op;
    summary.reasons = recorder.reasons.listed();
    match ctx.stop.reason() {
        Some(StopReason::Interrupted) => {
            summary.status = Status::Stopped;
            summary.stop = Some(Stop::Interrupted);
            summary.error = Some(format!(
                "interrupted: the requests in flight finished and their outcomes are recorded; {left} records are left for the next run"
            ));
        }
        Some(StopReason::Rejected { reason, status }) => {
            summary.status = Status::Stopped;
            summary.stop = Some(Stop::Rejected);
            // An answer (401, 403, ...) or no answer worth retrying (a certificate that fails).
            let what = if status.is_some() { format!("the API answered {reason}") } else { reason.clone() };
            summary.error = Some(format!(
                "{what}; no request starts after that, and {} left for the next run ({})",
                match left {
                    1 => "1 record is".to_owned(),
                    n => format!("{n} records are"),
                },
                rejected_hint(&reason)
            ));
        }
        Some(StopReason::LostLock(why)) => return Err(Halt::failed(why)),
        Some(StopReason::Credentials { reason }) => {
            summary.status = Status::Stopped;
            summary.stop = Some(Stop::Rejected);
            summary.error =
                Some(format!("no credentials for the API ({reason}); {left} records are left for the next run"));
        }
        None if counts.failed > 0 || counts.invalid > 0 => summary.status = Status::Partial,
        None => summary.status = Status::Succeeded,
    }
    Ok(())
}

/// Turns delivery's reports into recorded chunks, and keeps the run's totals.
struct Recorder<'a> {
    spec: &'a ModelSpec,
    run: &'a RunRef,
    move_failed: bool,
    counts: &'a mut RunCounts,
    /// Requests of the phases already finished.
    requests_before: u64,
    emptied: u64,
    retries: u64,
    splits: u64,
    /// Failed records by operation (indexed by [`Op::index`]).
    failed_by_op: [u64; 3],
    /// Requests by the class of their answer.
    by_class: [u64; crate::delivery::outcome::STATUS_CLASSES.len()],
    /// Why records failed, counted.
    reasons: Reasons,
    /// Chunks complete and not yet recorded.
    done: Vec<Chunk>,
}

impl Recorder<'_> {
    /// Streams one phase: reads the delta a batch at a time, runs the pipeline, hands batches to
    /// delivery, and records each batch as its last record gets an outcome.
    async fn phase<W: Warehouse>(&mut self, w: &mut W, ctx: &Ctx<'_>, phase: &Phase<'_>) -> Result<(), Halt> {
        let Ctx { client, stop, options, .. } = *ctx;
        let action = phase.action;
        let progress = if options.progress {
            Progress::stderr(&format!("{} {}", self.run.sync, phase.kind), Some(phase.total))
        } else {
            Progress::hidden()
        };
        let context = ActionContext {
            sync: self.run.sync.as_str().to_owned(),
            run_id: self.run.run_id as u64,
            action: delivery_action(phase.kind),
            endpoint: endpoint(action, &ctx.job.config.destination.auth),
            batch_size: action.batch_size,
            progress: progress.clone(),
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Report<DeltaBatch>>();
        let mut sender = client
            .action_reading(context, action.response.clone(), stop.clone(), tx)
            .map_err(|e| Halt::failed(e.to_string()))?;
        let template = Arc::new(action.template.clone());
        let connection = Arc::new(Connection::clone(&action.connection));
        // As many batches as delivery lets wait for a request slot (twice max_concurrency).
        let limit = (client.settings().max_concurrency.max(1) as usize) * 2;
        let mut chunks = Chunks::default();
        let mut reader = DeltaReader::new(self.spec, action, phase.lo, phase.hi);
        loop {
            // Batches that complete together are recorded in one transaction.
            while chunks.len() >= limit {
                let Some(report) = rx.recv().await else { break };
                self.absorb(&mut chunks, report);
                while let Ok(report) = rx.try_recv() {
                    self.absorb(&mut chunks, report);
                }
                self.flush(w, sender.summary().requests).await?;
            }
            while let Ok(report) = rx.try_recv() {
                self.absorb(&mut chunks, report);
            }
            self.flush(w, sender.summary().requests).await?;
            if stop.is_stopped() {
                break;
            }
            let mut batch = action.new_batch();
            let mut keys = Keys::with_capacity(action.batch_size, action.batch_size * 16);
            let mut records = Vec::new();
            let mut chunk = Chunk::default();
            let mut emptied = 0u64;
            let read = reader
                .next(w, &mut batch, &mut |rec, outcome| match outcome {
                    Ok(processed) => {
                        emptied += processed.emptied as u64;
                        keys.push(rec.key);
                        records.push((rec.seq, rec.op));
                    }
                    Err(e) => {
                        chunk.failed_by_op[rec.op.index()] += 1;
                        chunk.failed.push(Failure { seq: rec.seq, status: None, reason: e.to_string() });
                    }
                })
                .await?;
            let Some((lo, hi)) = read else { break };
            self.emptied += emptied;
            chunk.lo = lo;
            chunk.hi = hi;
            if batch.is_empty() {
                // Every record failed the pipeline: nothing to send; recorded with the next flush.
                self.done.push(chunk);
                continue;
            }
            let id = chunks.open(chunk, &records);
            sender.send(DeltaBatch::new(template.clone(), connection.clone(), batch, keys, id, records)).await;
        }
        // Every batch is handed over: record outcomes while delivery finishes.
        let requests_so_far = sender.summary().requests;
        let finish = sender.finish();
        tokio::pin!(finish);
        let summary = loop {
            tokio::select! {
                biased;
                Some(report) = rx.recv() => {
                    self.absorb(&mut chunks, report);
                    while let Ok(report) = rx.try_recv() {
                        self.absorb(&mut chunks, report);
                    }
                    self.flush(w, requests_so_far).await?;
                }
                summary = &mut finish => break summary,
            }
        };
        while let Ok(report) = rx.try_recv() {
            self.absorb(&mut chunks, report);
        }
        // Delivery ended without an outcome for some records (a bug there): they count as
        // undelivered (no log row, no baseline move), so the next run sends them again.
        self.done.extend(chunks.drain());
        self.flush(w, summary.requests).await?;
        progress.finish();
        self.requests_before += summary.requests;
        self.retries += summary.retries;
        self.splits += summary.splits;
        for (total, n) in self.by_class.iter_mut().zip(summary.by_class) {
            *total += n;
        }
        self.counts.requests = self.requests_before;
        Ok(())
    }

    /// Applies a report; a chunk it completes waits for the next [`Recorder::flush`].
    fn absorb(&mut self, chunks: &mut Chunks, report: Report<DeltaBatch>) {
        let outcome: &Outcome = &report.outcome;
        if let Some(chunk) = chunks.apply(&report.batch, report.records.clone(), outcome) {
            self.done.push(chunk);
        }
    }

    /// Records the complete chunks, all in one transaction: log rows, baseline moves and the
    /// run's counts.
    async fn flush<W: Warehouse>(&mut self, w: &mut W, phase_requests: u64) -> Result<(), Halt> {
        if self.done.is_empty() {
            return Ok(());
        }
        let done = std::mem::take(&mut self.done);
        let mut outcomes = Vec::with_capacity(done.len());
        let c = &mut *self.counts;
        for chunk in &done {
            c.deleted += chunk.succeeded[Op::Delete.index()];
            c.updated += chunk.succeeded[Op::Update.index()];
            c.inserted += chunk.succeeded[Op::Insert.index()];
            c.failed += chunk.failed.len() as u64;
            for (total, n) in self.failed_by_op.iter_mut().zip(chunk.failed_by_op) {
                *total += n;
            }
            for f in &chunk.failed {
                self.reasons.add(f.status, &f.reason, 1);
            }
            c.requests = self.requests_before + phase_requests;
            outcomes.push(ChunkOutcome {
                lo: chunk.lo,
                hi: chunk.hi,
                failed: &chunk.failed,
                undelivered: &chunk.undelivered,
                move_failed: self.move_failed,
                counts: *c,
            });
        }
        w.record_chunks(self.spec, self.run, &outcomes).await?;
        Ok(())
    }
}

/// A dry run's streaming: the pipeline over the whole delta, counts, and the first request of
/// each action, rendered and sent nowhere.
async fn dry_run<W: Warehouse>(
    w: &mut W,
    job: &Job<'_>,
    spec: &ModelSpec,
    actions: &Actions,
    stats: &DeltaStats,
    summary: &mut SyncSummary,
) -> Result<(), Halt> {
    let mut samples = serde_json::Map::new();
    let mut ok = [0u64; 3];
    let mut failed = 0u64;
    let mut emptied = 0u64;
    let mut reasons = Reasons::default();
    for op in Op::ALL {
        let Some((lo, hi)) = stats.ranges[op.index()] else { continue };
        let action = actions.for_op(op);
        let mut batch = action.new_batch();
        let mut reader = DeltaReader::new(spec, action, lo, hi);
        let mut sampled = false;
        loop {
            let read = reader
                .next(w, &mut batch, &mut |_, outcome| match outcome {
                    Ok(p) => {
                        ok[op.index()] += 1;
                        emptied += p.emptied as u64;
                    }
                    Err(e) => {
                        failed += 1;
                        reasons.add(None, &e.to_string(), 1);
                    }
                })
                .await?;
            if read.is_none() {
                break;
            }
            if !sampled && !batch.is_empty() {
                sampled = true;
                let name = match op {
                    Op::Delete => "remove",
                    Op::Update => "update",
                    Op::Insert => "add",
                };
                samples.insert(name.to_owned(), sample(job.config, action, &batch));
            }
        }
    }
    summary.counts.deleted = ok[Op::Delete.index()];
    summary.counts.updated = ok[Op::Update.index()];
    summary.counts.inserted = ok[Op::Insert.index()];
    summary.counts.failed = failed;
    summary.reasons = reasons.listed();
    summary.emptied = emptied;
    summary.samples = Some(Value::Object(samples));
    summary.status = if failed > 0 || summary.counts.invalid > 0 { Status::Partial } else { Status::Succeeded };
    Ok(())
}

/// The request an action would send for `batch`: method, URL and headers as shown (secrets
/// masked), and the body (secrets that static values put in it masked too).
fn sample(config: &Config, action: &PreparedAction, batch: &crate::template::RecordBatch) -> Value {
    let headers: serde_json::Map<String, Value> =
        action.shown_headers(false).into_iter().map(|(n, v)| (n, Value::String(v))).collect();
    let mut body = Vec::new();
    let body = match action.render(batch, &mut body) {
        Ok(()) => {
            let text = String::from_utf8_lossy(&body);
            let text = config.redactor.redact(&text);
            serde_json::from_str(&text).unwrap_or(Value::String(text.into_owned()))
        }
        Err(d) => {
            json!({ "error": format!("the template failed: {} at bytes {}..{}", d.code, d.span.start, d.span.end) })
        }
    };
    json!({ "method": action.method.as_str(), "url": action.shown_url, "headers": headers, "body": body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_is_strict_and_spares_small_audiences() {
        let table = [
            (50, 100, 0.5, false),
            (51, 100, 0.5, true),
            (99, 99, 0.5, false),
            (100, 100, 1.0, false),
            (1, 100, 0.0, true),
            (0, 100, 0.0, false),
            (0, 0, 0.5, false),
        ];
        for (deletes, members, share, trips) in table {
            assert_eq!(guard_trips(deletes, members, share), trips, "{deletes} of {members} at {share}");
        }
    }
}
