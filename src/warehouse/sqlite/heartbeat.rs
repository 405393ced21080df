//! The heartbeat's thread: our lock row's heartbeat, the write-back of the database's dirty
//! pages, and in WAL mode the copy of the log back into the database.
//!
//! It works on its own connection, so that none of it waits in the runner: every
//! [`beat_every`] of the lease it renews the lease (see [`Lease`]: the heartbeat, fenced by the
//! run's token, on the lease's own connection); every [`TICK`] it starts writing the database's dirty pages to
//! disk (see [`super::writeback`]), so that the commits' disk syncs find little left to wait
//! for; in WAL mode it first copies the log's pages back into the database (a passive
//! checkpoint), so that the disk syncs that takes happen here and the log stays small.
//!
//! The recording thread [`Nudge`]s it after each commit: the pages of that commit are then
//! copied back and on their way to the disk at once, rather than up to a tick later. That
//! matters at the end of a run, when switching back from WAL copies whatever is left and waits
//! for the disk: with the nudge, the last commit's pages are about all that is left. A nudge
//! that comes sooner than [`NUDGE_GAP`] after the last copy is served when the gap has passed
//! (a first sync commits every 10-20 ms).

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::super::lease::Lease;
use super::super::lock::beat_every;
use super::connect_background;
use super::writeback::Writeback;

/// How often the thread starts the write-back (and in WAL mode checkpoints first) unless nudged.
const TICK: Duration = Duration::from_millis(100);
/// The least time between two checkpoints that nudges ask for.
const NUDGE_GAP: Duration = Duration::from_millis(25);

/// What the thread is told.
#[derive(Debug)]
enum Beat {
    /// A commit's pages are in the log: checkpoint now.
    Checkpoint,
    Stop,
}

/// Asks the thread to checkpoint now (see the module's doc).
#[derive(Clone, Debug)]
pub struct Nudge(Sender<Beat>);

impl Nudge {
    pub fn now(&self) {
        // A thread that is gone has nothing left to copy.
        let _ = self.0.send(Beat::Checkpoint);
    }
}

/// The running thread; dropping it stops the thread and waits for it.
pub struct Heartbeat {
    tx: Sender<Beat>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// Starts the thread on the database at `path`: it renews `lease` (of length `length`), if
    /// any; `wal` says the database is in WAL mode.
    pub fn start(path: &Path, lease: Option<Arc<Lease>>, length: Duration, wal: bool) -> Heartbeat {
        let (tx, rx) = mpsc::channel::<Beat>();
        let path = path.to_owned();
        let every = beat_every(length);
        let mut writeback = Writeback::new(&path, wal);
        let thread = std::thread::Builder::new()
            .name("audience-heartbeat".into())
            .spawn(move || {
                let Ok(conn) = connect_background(&path, wal) else { return };
                let mut beat = Instant::now();
                let mut copied = Instant::now();
                // A nudge that came too soon after the last copy, waiting for the gap to pass.
                let mut nudged = false;
                loop {
                    let due = if nudged { NUDGE_GAP } else { TICK };
                    match rx.recv_timeout(due.saturating_sub(copied.elapsed())) {
                        Ok(Beat::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                        Ok(Beat::Checkpoint) if copied.elapsed() < NUDGE_GAP => {
                            nudged = true;
                            continue;
                        }
                        Ok(Beat::Checkpoint) | Err(RecvTimeoutError::Timeout) => nudged = false,
                    }
                    if wal {
                        // Passive: copies what no reader still needs, and never waits for a lock.
                        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    }
                    // Failing only loses the early start: the commits' syncs still write.
                    let _ = writeback.start();
                    copied = Instant::now();
                    if let Some(lease) = &lease
                        && beat.elapsed() >= every
                    {
                        beat = Instant::now();
                        // A failure (the database busy) is retried at the next beat, and a lost
                        // lock is noted in the lease, which stops the run's next request.
                        let _ = lease.renew();
                    }
                }
            })
            .ok();
        Heartbeat { tx, thread }
    }

    /// A handle that asks for a checkpoint now (for the recording thread).
    pub fn nudge(&self) -> Nudge {
        Nudge(self.tx.clone())
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        // An explicit stop: a nudge handle still held elsewhere keeps the channel open.
        let _ = self.tx.send(Beat::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_log_back_and_stops_while_a_nudge_is_still_held() {
        let (dir, path) = super::super::scratch_db("heartbeat");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
        conn.execute_batch(super::super::journal::WAL_SETTINGS).unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        let heartbeat = Heartbeat::start(&path, None, Duration::from_secs(60), true);
        let nudge = heartbeat.nudge();
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) \
             INSERT INTO t SELECT zeroblob(1000) FROM n",
        )
        .unwrap();
        nudge.now();
        // The rows reach the database file itself (a checkpoint by the thread, nudged or at its
        // tick; nothing else checkpoints here), within a generous bound.
        let size = || std::fs::metadata(&path).unwrap().len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while size() < 500_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(size() >= 500_000, "{} bytes", size());
        // Dropping the heartbeat stops its thread although `nudge` keeps the channel open.
        let (done, stopped) = mpsc::channel();
        std::thread::spawn(move || {
            drop(heartbeat);
            let _ = done.send(());
        });
        assert!(stopped.recv_timeout(Duration::from_secs(10)).is_ok(), "the thread did not stop");
        nudge.now();
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
