//! Recording outcomes in SQLite: the statements of one batch (log rows, baseline moves, the
//! run's counts), and the thread that runs them on a connection of its own.
//!
//! Why a thread: recording a batch (a log row per record, the baseline moved per record) costs
//! as much as reading, processing and sending it; on one connection the two take turns. In WAL
//! mode a writer and readers never wait for one another, so the runner's connection reads the
//! next batches while this thread records the completed ones. (In a rollback journal they would
//! lock each other out: there the runner records on its own connection, as before.)
//!
//! Ordering and safety are those of recording in place: batches are recorded in the order they
//! completed, in transactions that begin by refreshing the heartbeat, fenced by the run's token
//! (hand-overs that waited share one); at
//! most [`QUEUE`] hand-overs wait, so a crash leaves as few completed-but-unrecorded batches as
//! before (they are sent again by the next run, like the requests in flight). The first error
//! stops the recording: later batches are not recorded (their records are sent again next run),
//! and the error is returned by the next hand-over or by [`Recorder::finish`].

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rusqlite::{Connection, params};

use super::super::diff::{self, Tables};
use super::super::state::StateTables;
use super::super::{
    ChunkOutcome, FirstError, ModelSpec, OwnedChunk, QUEUE, Result, RunCounts, RunRef, WarehouseError, now_millis,
};
use super::heartbeat::Nudge;
use super::log;

/// What the statements of a run's recording need to know.
#[derive(Clone, Debug)]
pub struct Recording {
    pub tables: Tables,
    pub spec: ModelSpec,
    pub run: RunRef,
    /// The delta is the first run's view (see `first_run`): it holds the images rather than
    /// referring to snapshot rows, and the baseline had no members when the run began, so
    /// accepted adds are inserts with nothing to update.
    pub inline: bool,
    /// The sequence numbers of the delta's deletes (batches outside them move no member out,
    /// batches inside them move no member in: their statement is left out).
    pub deletes: Option<(i64, i64)>,
    pub state: StateTables,
    /// Asks the heartbeat's thread to copy a commit's pages back at once (WAL mode).
    pub nudge: Option<Nudge>,
    /// Our lock row (sync name, token), whose heartbeat each transaction refreshes: the fence.
    pub lock: Option<(String, String)>,
    /// Our hold on the lock, told of each renewal (and of a lost lock).
    pub lease: Option<std::sync::Arc<super::super::lease::Lease>>,
}

/// Writes completed batches in the connection's current transaction: log rows, baseline moves
/// (only to what the API accepted, and past failures when `move_failed`), and the run's counts
/// (the last batch's).
pub fn write_chunks(conn: &Connection, r: &Recording, chunks: &[ChunkOutcome<'_>]) -> Result<()> {
    let doing = "recording outcomes";
    let err = |e: rusqlite::Error| WarehouseError::sql(doing, e);
    let (t, spec, run) = (&r.tables, &r.spec, &r.run);
    let now = now_millis();
    let sync = spec.sync.as_str();
    for chunk in chunks {
        if run.write_logs {
            let mut not_succeeded: Vec<i64> = chunk.failed.iter().map(|f| f.seq).collect();
            not_succeeded.extend_from_slice(chunk.undelivered);
            not_succeeded.sort_unstable();
            let sql = log::succeeded(t, &not_succeeded);
            let mut stmt = conn.prepare_cached(&sql).map_err(err)?;
            stmt.execute(params![sync, run.run_id, now, chunk.lo, chunk.hi]).map_err(err)?;
            if !chunk.failed.is_empty() {
                let mut stmt = conn.prepare_cached(&log::failed(t)).map_err(err)?;
                for f in chunk.failed {
                    stmt.execute(params![sync, run.run_id, now, f.seq, f.reason, f.status]).map_err(err)?;
                }
            }
        }
        // What stays as it was in the baseline: records not sent, and (with retry_failed)
        // failures, so that the next run's diff sends them again.
        let mut stay: Vec<i64> = chunk.undelivered.to_vec();
        if !chunk.move_failed {
            stay.extend(chunk.failed.iter().map(|f| f.seq));
        }
        stay.sort_unstable();
        let (has_deletes, has_others) = match r.deletes {
            None => (false, true),
            Some((lo, hi)) => (chunk.lo <= hi && chunk.hi >= lo, chunk.lo < lo || chunk.hi > hi),
        };
        if has_others {
            let moved = if r.inline {
                diff::baseline_insert_first(t, spec, run.config, &stay)
            } else {
                diff::baseline_upsert(t, spec, run.config, &stay)
            };
            conn.prepare_cached(&moved).and_then(|mut s| s.execute(params![chunk.lo, chunk.hi])).map_err(err)?;
        }
        if has_deletes {
            let delete = diff::baseline_delete(t, &stay);
            conn.prepare_cached(&delete).and_then(|mut s| s.execute(params![chunk.lo, chunk.hi])).map_err(err)?;
        }
    }
    match chunks.last() {
        Some(last) => update_counts(conn, &r.state, run, &last.counts),
        None => Ok(()),
    }
}

/// Stores a run's counts in its run row.
pub fn update_counts(conn: &Connection, state: &StateTables, run: &RunRef, c: &RunCounts) -> Result<()> {
    conn.execute(
        &state.update_counts(),
        params![
            run.sync.as_str(),
            run.run_id,
            c.inserted as i64,
            c.updated as i64,
            c.deleted as i64,
            c.failed as i64,
            c.invalid as i64,
            c.requests as i64
        ],
    )
    .map(|_| ())
    .map_err(|e| WarehouseError::sql("recording the run's counts", e))
}

/// The recording thread of a run (see the module's doc).
pub struct Recorder {
    jobs: Option<SyncSender<Vec<OwnedChunk>>>,
    thread: Option<JoinHandle<()>>,
    error: FirstError,
}

impl Recorder {
    /// Starts the thread with `conn` (a connection to the same database, in WAL mode).
    pub fn start(conn: Connection, recording: Recording) -> Option<Recorder> {
        let (jobs, rx) = sync_channel::<Vec<OwnedChunk>>(QUEUE);
        let error = FirstError::default();
        let failed = error.clone();
        let thread = std::thread::Builder::new()
            .name("audience-recorder".into())
            .spawn(move || record_all(&conn, &recording, &rx, &failed))
            .ok()?;
        Some(Recorder { jobs: Some(jobs), thread: Some(thread), error })
    }

    /// Hands completed batches over (waiting while [`QUEUE`] hand-overs are waiting already);
    /// returns an error the thread met, if any.
    pub fn record(&mut self, chunks: &[ChunkOutcome<'_>]) -> Result<()> {
        self.check()?;
        let owned = chunks.iter().map(OwnedChunk::new).collect();
        if let Some(jobs) = &self.jobs
            && jobs.send(owned).is_err()
        {
            // The thread is gone: its error says why.
            self.join();
            self.check()?;
            return Err(WarehouseError::sql("recording outcomes", "the recording thread stopped"));
        }
        Ok(())
    }

    /// Waits until everything handed over is recorded, and stops the thread.
    pub fn finish(mut self) -> Result<()> {
        self.join();
        self.check()
    }

    fn join(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            self.error.set(WarehouseError::sql("recording outcomes", "the recording thread panicked"));
        }
    }

    fn check(&self) -> Result<()> {
        self.error.take()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.join();
    }
}

fn record_all(conn: &Connection, r: &Recording, rx: &Receiver<Vec<OwnedChunk>>, error: &FirstError) {
    let mut stopped = false;
    while let Ok(mut job) = rx.recv() {
        // Hand-overs that waited meanwhile go in the same transaction: when recording is what
        // holds the run back, fewer commits write fewer pages twice (each commit rewrites the
        // last page of each table it grew, and the run's and the lock's rows).
        while let Ok(more) = rx.try_recv() {
            job.extend(more);
        }
        if stopped {
            // Left unrecorded after an error: the next run sends these records again.
            continue;
        }
        let chunks: Vec<ChunkOutcome<'_>> = job.iter().map(OwnedChunk::outcome).collect();
        if let Err(e) = transaction(conn, r, &chunks) {
            stopped = true;
            error.set(e);
        }
    }
}

/// One hand-over in one transaction, with our heartbeat refreshed before the commit.
fn transaction(conn: &Connection, r: &Recording, chunks: &[ChunkOutcome<'_>]) -> Result<()> {
    let doing = "recording outcomes";
    let started = std::time::Instant::now();
    conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| WarehouseError::sql(doing, e))?;
    let locked = started.elapsed();
    // The fence first: a run that lost its lock must not touch tables its taker may have
    // dropped (its delta), let alone move the baseline. The write lock is held from here to
    // the commit, so the token cannot change in between.
    let fenced = match &r.lock {
        Some((sync, token)) => super::fence(conn, &r.state, sync, token, r.lease.as_deref()),
        None => Ok(()),
    };
    let result = fenced.and_then(|()| write_chunks(conn, r, chunks)).and_then(|()| {
        let written = started.elapsed();
        let committed = conn.execute_batch("COMMIT").map_err(|e| WarehouseError::sql(doing, e));
        tracing::debug!(
            // Written on the recorder's own thread, outside the run's span: named here.
            sync = r.run.sync.as_str(),
            run = r.run.run_id,
            step = doing,
            records = chunks.iter().map(|c| c.hi - c.lo + 1).sum::<i64>(),
            waited = locked.as_secs_f64(),
            written = (written - locked).as_secs_f64(),
            seconds = started.elapsed().as_secs_f64(),
            "warehouse"
        );
        if let (Ok(()), Some(nudge)) = (&committed, &r.nudge) {
            nudge.now();
        }
        committed
    });
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}
