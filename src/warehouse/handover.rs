//! What a run's recorder (SQLite's thread, PostgreSQL's task) is handed and hands back: the
//! completed batches, owned, on their way through its queue, and the first error it met, kept
//! for the runner to take at its next hand-over or at the run's end.

use std::sync::{Arc, Mutex};

use super::{ChunkOutcome, Failure, Result, RunCounts, WarehouseError};

/// Hand-overs that may wait for a recorder before the runner waits in turn: what bounds the
/// completed-but-unrecorded batches a crash leaves, which the next run sends again
/// (docs/design/sync.md, "Durability").
pub const QUEUE: usize = 2;

/// A [`ChunkOutcome`] that owns its lists: what a recorder's queue carries from the runner to the
/// thread or task that records it (`sqlite::recorder`, `postgres::recorder`).
#[derive(Clone, Debug)]
pub struct OwnedChunk {
    lo: i64,
    hi: i64,
    failed: Vec<Failure>,
    undelivered: Vec<i64>,
    move_failed: bool,
    counts: RunCounts,
}

impl OwnedChunk {
    /// An owned copy of `c`.
    pub fn new(c: &ChunkOutcome<'_>) -> OwnedChunk {
        OwnedChunk {
            lo: c.lo,
            hi: c.hi,
            failed: c.failed.to_vec(),
            undelivered: c.undelivered.to_vec(),
            move_failed: c.move_failed,
            counts: c.counts,
        }
    }

    /// The outcome, borrowing the lists.
    pub fn outcome(&self) -> ChunkOutcome<'_> {
        ChunkOutcome {
            lo: self.lo,
            hi: self.hi,
            failed: &self.failed,
            undelivered: &self.undelivered,
            move_failed: self.move_failed,
            counts: self.counts,
        }
    }
}

/// The first error a recorder met, shared between it and the runner: later errors are dropped
/// (the first says why the recording stopped), and taking it clears it.
#[derive(Clone, Debug, Default)]
pub struct FirstError(Arc<Mutex<Option<WarehouseError>>>);

impl FirstError {
    /// Keeps `e` unless an error is kept already.
    pub fn set(&self, e: WarehouseError) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(e);
        }
    }

    /// The error kept, if any, as an `Err` (and no longer kept).
    pub fn take(&self) -> Result<()> {
        match self.0.lock().map(|mut e| e.take()) {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
}
