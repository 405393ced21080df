//! Recording outcomes in PostgreSQL: the statements of one hand-over of completed batches (log
//! rows, baseline moves, the run's counts, the fence), and the task that runs them while the
//! runner reads on.
//!
//! Why a task: a recording (a batch's 5,000 log rows and baseline rows) is server work of
//! 15-35 ms, and reading, processing and sending the next batch is a read and a few ms of the
//! client's own work. Recorded in place, the two took turns: the server waited for the
//! runner's next read, the runner for the server's commit (BENCHMARKS.md, "PostgreSQL at
//! scale", has the breakdown). The task sends its statements on the run's own session, so that
//! every state write still goes through the session that holds the advisory lock; the runner's
//! reads of the delta take their turn between them (the delta is the run's own table, which no
//! recording changes). A hand-over's statements are sent as one pipeline of prepared
//! statements ([`pipelined`]): two round trips a transaction instead of two a statement.
//!
//! Ordering and safety are those of recording in place, as SQLite's recording thread has them
//! (docs/design/sync.md, "Durability"): hand-overs are recorded in the order they came, each in
//! one transaction that ends with the fence (the lock row's heartbeat, naming the run's token:
//! a row no longer ours rolls the transaction back); hand-overs that waited share one. At most
//! [`QUEUE`] hand-overs wait, so a crash leaves as few completed-but-unrecorded batches as
//! SQLite's (they are sent again by the next run, like the requests in flight). The first error
//! stops the recording: later batches are not recorded (their records are sent again next run),
//! and the error is returned by the next hand-over or by [`Recorder::finish`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::{SESSION_ENDED, sql_error};
use crate::warehouse::diff::{self, Tables};
use crate::warehouse::lease::lost_message;
use crate::warehouse::state::StateTables;
use crate::warehouse::{
    ChunkOutcome, FirstError, ModelSpec, OwnedChunk, QUEUE, Result, RunCounts, RunRef, WarehouseError, now_utc,
};

/// What the statements of a run's recording need to know.
#[derive(Clone, Debug)]
pub struct Recording {
    pub tables: Tables,
    pub spec: ModelSpec,
    pub run: RunRef,
    pub state: StateTables,
    /// Our lock row's token, whose heartbeat each transaction refreshes: the fence (`None` in a
    /// dry run, which records nothing).
    pub token: Option<String>,
    /// The baseline had no members when the run's delta was built: recordings insert plainly
    /// and have no deletes to move (see `diff::baseline_insert_new`).
    pub first_run: bool,
}

/// A statement of a recording with its parameters, owned: the pipeline's futures borrow them.
struct Step {
    sql: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

/// Prepared statements of a recording by their text: a run's recordings repeat the same few
/// (their texts differ only when a batch has records that failed or were not sent).
pub type Prepared = HashMap<String, Statement>;

/// Statements kept prepared at most; more are dropped (and closed on the server) all at once.
const PREPARED_MAX: usize = 32;

/// One parameter, boxed.
fn param<T: ToSql + Sync + Send + 'static>(value: T) -> Box<dyn ToSql + Sync + Send> {
    Box::new(value)
}

/// Boxed parameters as the references a statement is executed with.
fn refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect()
}

/// The parameters of `StateTables::update_counts`: the run, then its counts.
fn count_params(run: &RunRef, c: &RunCounts) -> Vec<Box<dyn ToSql + Sync + Send>> {
    let n = |v: u64| param(v as i64);
    vec![
        param(run.sync.as_str().to_owned()),
        param(run.run_id),
        n(c.inserted),
        n(c.updated),
        n(c.deleted),
        n(c.failed),
        n(c.invalid),
        n(c.requests),
    ]
}

/// The statements of a hand-over: log rows, baseline moves (only to what the API accepted, and
/// past failures when `move_failed`), the run's counts (the last batch's), then the fence.
fn steps(r: &Recording, chunks: &[ChunkOutcome<'_>]) -> Vec<Step> {
    let (t, spec, run): (&Tables, &ModelSpec, &RunRef) = (&r.tables, &r.spec, &r.run);
    let now = now_utc();
    let sync = || param(spec.sync.as_str().to_owned());
    // The parameters every log statement starts with.
    let log_head = || vec![sync(), param(run.run_id), param(run.started_at.clone()), param(now.clone())];
    let mut out = Vec::new();
    for chunk in chunks {
        let (lo, hi) = (chunk.lo, chunk.hi);
        if run.write_logs {
            let mut not_succeeded: Vec<i64> = chunk.failed.iter().map(|f| f.seq).collect();
            not_succeeded.extend_from_slice(chunk.undelivered);
            not_succeeded.sort_unstable();
            let mut params = log_head();
            params.extend([param(lo), param(hi)]);
            out.push(Step { sql: diff::log_succeeded(t, &not_succeeded), params });
            if !chunk.failed.is_empty() {
                let seqs: Vec<i64> = chunk.failed.iter().map(|f| f.seq).collect();
                let reasons: Vec<String> = chunk.failed.iter().map(|f| f.reason.clone()).collect();
                let statuses: Vec<Option<i32>> = chunk.failed.iter().map(|f| f.status.map(i32::from)).collect();
                let mut params = log_head();
                params.extend([param(seqs), param(reasons), param(statuses)]);
                out.push(Step { sql: diff::log_failed(t), params });
            }
        }
        let mut stay: Vec<i64> = chunk.undelivered.to_vec();
        if !chunk.move_failed {
            stay.extend(chunk.failed.iter().map(|f| f.seq));
        }
        stay.sort_unstable();
        let range = || vec![param(lo), param(hi)];
        if r.first_run {
            // Inserts only, into a baseline that had no members: no update leg, no deletes.
            out.push(Step { sql: diff::baseline_insert_new(t, spec, run.config, &stay), params: range() });
        } else {
            out.push(Step { sql: diff::baseline_upsert(t, spec, run.config, &stay), params: range() });
            out.push(Step { sql: diff::baseline_delete(t, &stay), params: range() });
        }
    }
    if let Some(last) = chunks.last() {
        out.push(Step { sql: r.state.update_counts(), params: count_params(run, &last.counts) });
    }
    if let Some(token) = &r.token {
        out.push(Step { sql: r.state.heartbeat(), params: vec![sync(), param(token.clone()), param(now)] });
    }
    out
}

/// Writes completed batches on the session: the statements of [`steps`], after `begin` when
/// there is one, sent together (one round trip for them all, see [`pipelined`]); the fence is
/// checked once all have run. The caller commits or rolls back.
pub async fn write_chunks(
    client: &Client,
    r: &Recording,
    chunks: &[ChunkOutcome<'_>],
    prepared: &mut Prepared,
    begin: Option<&str>,
) -> Result<()> {
    let doing = "recording outcomes";
    let steps = steps(r, chunks);
    let mut new: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).filter(|sql| !prepared.contains_key(*sql)).collect();
    new.sort_unstable();
    new.dedup();
    if prepared.len() + new.len() > PREPARED_MAX {
        prepared.clear();
    }
    for step in &steps {
        if !prepared.contains_key(&step.sql) {
            let statement = client.prepare(&step.sql).await.map_err(|e| sql_error(doing, &e))?;
            prepared.insert(step.sql.clone(), statement);
        }
    }
    let mut futures: Vec<Pending<'_>> = Vec::with_capacity(steps.len() + 1);
    // `begin` goes in the same pipeline: it fails only with the session, and then so does
    // every statement sent after it.
    if let Some(begin) = begin {
        futures.push(Box::pin(async move { client.batch_execute(begin).await.map(|()| 0) }));
    }
    for step in &steps {
        let Some(statement) = prepared.get(&step.sql).cloned() else {
            return Err(WarehouseError::sql(doing, "a statement was not prepared"));
        };
        futures.push(Box::pin(async move { client.execute(&statement, &refs(&step.params)).await }));
    }
    let counts = pipelined(futures).await.map_err(|e| sql_error(doing, &e))?;
    if r.token.is_some() && counts.last() == Some(&0) {
        // The fence: a row no longer ours rolls the recording back.
        let to = super::read_lock(client, &r.state, &r.spec.sync).await.ok().flatten();
        let to = to.map_or("nobody (the lock row is gone)".to_owned(), |h| h.to_string());
        return Err(WarehouseError::LostLock(lost_message(&to)));
    }
    Ok(())
}

/// A statement sent and not yet answered: its row count.
type Pending<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

/// Runs statements as one pipeline: tokio-postgres sends a statement when its future is first
/// polled, so polling them all, in order, before any answer has come sends them all at once,
/// and the server runs them back to back in that order. One statement at a time, each waiting
/// for the answer to the one before, cost two round trips a statement (prepare, then execute),
/// ten a batch. The first error in order is returned (in a transaction, the statements after it
/// fail too: "current transaction is aborted").
async fn pipelined(mut futures: Vec<Pending<'_>>) -> Result<Vec<u64>, tokio_postgres::Error> {
    let mut done: Vec<Option<Result<u64, tokio_postgres::Error>>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (future, slot) in futures.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(result) => *slot = Some(result),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// Stores a run's counts in its run row.
pub async fn update_counts(client: &Client, state: &StateTables, run: &RunRef, c: &RunCounts) -> Result<()> {
    client
        .execute(&state.update_counts(), &refs(&count_params(run, c)))
        .await
        .map(|_| ())
        .map_err(|e| sql_error("recording the run's counts", &e))
}

/// One hand-over in one transaction, committed without waiting for the server's disk.
///
/// `synchronous_commit = off`: a recording is then as durable as SQLite's in WAL mode with
/// `synchronous = NORMAL`. A crash of the client loses nothing committed; a crash of the server
/// may lose the last commits (at most three `wal_writer_delay`s, 0.6 s by default), never part
/// of one, and their records are sent again by the next run, as those in flight are
/// (docs/design/sync.md, "Durability").
pub async fn transaction(
    client: &Client,
    r: &Recording,
    chunks: &[ChunkOutcome<'_>],
    prepared: &mut Prepared,
) -> Result<()> {
    let doing = "recording outcomes";
    let begin = Some("BEGIN; SET LOCAL synchronous_commit = off");
    let recorded = match write_chunks(client, r, chunks, prepared, begin).await {
        Ok(()) => client.batch_execute("COMMIT").await.map_err(|e| sql_error(doing, &e)),
        Err(e) => {
            // Also when BEGIN itself failed: a ROLLBACK outside a transaction only warns.
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    };
    if recorded.is_err() && client.is_closed() {
        // The session is gone, and its advisory lock with it: another run may hold it now.
        return Err(WarehouseError::LostLock(lost_message(SESSION_ENDED)));
    }
    recorded
}

/// The recording task of a run (see the module's doc).
pub struct Recorder {
    jobs: Option<mpsc::Sender<Vec<OwnedChunk>>>,
    task: Option<JoinHandle<()>>,
    error: FirstError,
}

impl Recorder {
    /// Starts the task, recording on `client` (the run's session).
    pub fn start(client: Arc<Client>, recording: Recording) -> Recorder {
        let (jobs, rx) = mpsc::channel::<Vec<OwnedChunk>>(QUEUE);
        let error = FirstError::default();
        let failed = error.clone();
        let task = tokio::spawn(async move { record_all(&client, &recording, rx, &failed).await });
        Recorder { jobs: Some(jobs), task: Some(task), error }
    }

    /// Hands completed batches over (waiting while [`QUEUE`] hand-overs are waiting already);
    /// returns an error the task met, if any.
    pub async fn record(&mut self, chunks: &[ChunkOutcome<'_>]) -> Result<()> {
        self.check()?;
        let owned = chunks.iter().map(OwnedChunk::new).collect();
        if let Some(jobs) = &self.jobs
            && jobs.send(owned).await.is_err()
        {
            // The task is gone: its error says why.
            self.join().await;
            self.check()?;
            return Err(WarehouseError::sql("recording outcomes", "the recording task stopped"));
        }
        // An error met while this hand-over waited for room.
        self.check()
    }

    /// Waits until everything handed over is recorded, and stops the task.
    pub async fn finish(mut self) -> Result<()> {
        self.join().await;
        self.check()
    }

    async fn join(&mut self) {
        drop(self.jobs.take());
        if let Some(task) = self.task.take()
            && task.await.is_err()
        {
            self.error.set(WarehouseError::sql("recording outcomes", "the recording task panicked"));
        }
    }

    fn check(&self) -> Result<()> {
        self.error.take()
    }
}

async fn record_all(client: &Client, r: &Recording, mut rx: mpsc::Receiver<Vec<OwnedChunk>>, error: &FirstError) {
    let mut stopped = false;
    let mut prepared = Prepared::new();
    while let Some(mut job) = rx.recv().await {
        // Hand-overs that waited meanwhile go in the same transaction: one commit for them all.
        while let Ok(more) = rx.try_recv() {
            job.extend(more);
        }
        if stopped {
            // Left unrecorded after an error: the next run sends these records again.
            continue;
        }
        let chunks: Vec<ChunkOutcome<'_>> = job.iter().map(OwnedChunk::outcome).collect();
        if let Err(e) = transaction(client, r, &chunks, &mut prepared).await {
            stopped = true;
            error.set(e);
        }
    }
}
