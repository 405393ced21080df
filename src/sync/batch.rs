//! A batch of the delta on its way through delivery, and the bookkeeping that turns delivery's
//! per-request reports back into per-batch outcomes for the warehouse.
//!
//! One read of the delta (at most `batch_size` records, a contiguous range of sequence numbers)
//! is one [`Chunk`]. Records the field pipeline rejects are noted as failed at once; the rest
//! go to delivery as one [`DeltaBatch`]. Delivery reports outcomes per request, in any order;
//! when every record of a chunk has one, the chunk is complete and is recorded in the warehouse
//! in one transaction.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use crate::delivery::{Keys, Outcome, RenderBatch, TemplateBatch};
use crate::template::{Connection, RecordBatch, Template};
use crate::warehouse::{Failure, Op};

/// The records of one chunk that passed the field pipeline, as delivery renders them.
#[derive(Debug)]
pub struct DeltaBatch {
    inner: TemplateBatch,
    /// The chunk this batch belongs to.
    pub chunk: u64,
    /// Record `i`'s delta sequence number and operation.
    pub records: Vec<(i64, Op)>,
}

impl DeltaBatch {
    /// A batch of `batch`'s records (keys `keys`, rendered with `template` on `connection`) for
    /// chunk `chunk`; `records` gives each one's delta sequence number and operation, in order.
    pub fn new(
        template: Arc<Template>,
        connection: Arc<Connection>,
        batch: RecordBatch,
        keys: Keys,
        chunk: u64,
        records: Vec<(i64, Op)>,
    ) -> DeltaBatch {
        DeltaBatch { inner: TemplateBatch::new(template, connection, batch, keys), chunk, records }
    }
}

impl RenderBatch for DeltaBatch {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn key(&self, index: usize) -> &[u8] {
        self.inner.key(index)
    }

    fn values(&self, records: Range<usize>, field: &str) -> Vec<Option<String>> {
        self.inner.values(records, field)
    }

    fn render(&self, records: Range<usize>, out: &mut Vec<u8>) -> Result<(), String> {
        self.inner.render(records, out)
    }
}

/// One read of the delta, until every record has an outcome.
#[derive(Debug, Default)]
pub struct Chunk {
    /// The sequence numbers it covers (inclusive).
    pub lo: i64,
    /// See `lo`.
    pub hi: i64,
    /// Records that failed (refused by the API or by the field pipeline), with their reasons.
    pub failed: Vec<Failure>,
    /// Sequence numbers of the records never sent (the run stopped first): they get no log row and
    /// stay in the delta for the next run.
    pub undelivered: Vec<i64>,
    /// Records accepted, per [`Op`].
    pub succeeded: [u64; 3],
    /// Records failed, per [`Op`] (the field pipeline's failures included).
    pub failed_by_op: [u64; 3],
    /// The sequence numbers of the records handed to delivery, by their place in the batch, and
    /// whether each has had its outcome: what [`Chunks::drain`] needs to find the ones that had
    /// none.
    sent: Vec<i64>,
    reported: Vec<bool>,
}

impl Chunk {
    /// Records still waiting for an outcome.
    pub fn pending(&self) -> usize {
        self.reported.iter().filter(|&&seen| !seen).count()
    }
}

/// The chunks in progress, by id.
#[derive(Debug, Default)]
pub struct Chunks {
    next: u64,
    open: HashMap<u64, Chunk>,
}

impl Chunks {
    /// Opens a chunk whose batch holds `records` (sequence number and operation, in the batch's
    /// order); returns its id.
    pub fn open(&mut self, mut chunk: Chunk, records: &[(i64, Op)]) -> u64 {
        chunk.sent = records.iter().map(|&(seq, _)| seq).collect();
        chunk.reported = vec![false; records.len()];
        let id = self.next;
        self.next += 1;
        self.open.insert(id, chunk);
        id
    }

    /// Chunks still waiting for outcomes.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether every chunk has had all its outcomes.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Applies a delivery report; returns the chunk when it is complete.
    pub fn apply(&mut self, batch: &DeltaBatch, records: Range<usize>, outcome: &Outcome) -> Option<Chunk> {
        let chunk = self.open.get_mut(&batch.chunk)?;
        for index in records {
            let Some(&(seq, op)) = batch.records.get(index) else { continue };
            // A record has one outcome: a second report of it (a bug in delivery) changes nothing.
            match chunk.reported.get_mut(index) {
                Some(seen) if !*seen => *seen = true,
                _ => continue,
            }
            match outcome {
                Outcome::Succeeded => chunk.succeeded[op.index()] += 1,
                Outcome::Failed { status, reason } => {
                    chunk.failed_by_op[op.index()] += 1;
                    chunk.failed.push(Failure { seq, status: *status, reason: reason.clone() });
                }
                Outcome::Undelivered => chunk.undelivered.push(seq),
            }
        }
        if chunk.pending() == 0 { self.open.remove(&batch.chunk) } else { None }
    }

    /// Takes a chunk out whatever its state (an empty one, or the rest after delivery ended).
    pub fn take(&mut self, id: u64) -> Option<Chunk> {
        self.open.remove(&id)
    }

    /// Every chunk still open (delivery ended without reporting some records: a bug there),
    /// complete: their unreported records count as undelivered, so that they get no log row and
    /// no baseline move, and the next run sends them again.
    pub fn drain(&mut self) -> Vec<Chunk> {
        let mut ids: Vec<u64> = self.open.keys().copied().collect();
        ids.sort_unstable();
        let mut drained: Vec<Chunk> = ids.into_iter().filter_map(|id| self.open.remove(&id)).collect();
        for chunk in &mut drained {
            for (&seq, seen) in chunk.sent.iter().zip(&mut chunk.reported) {
                if !*seen {
                    chunk.undelivered.push(seq);
                    *seen = true;
                }
            }
        }
        drained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk covering `lo..=hi` opened in `chunks`, and its batch of inserts `seqs`.
    fn opened(chunks: &mut Chunks, lo: i64, hi: i64, seqs: &[i64]) -> DeltaBatch {
        let ops: Vec<(i64, Op)> = seqs.iter().map(|&s| (s, Op::Insert)).collect();
        let chunk = chunks.open(Chunk { lo, hi, ..Chunk::default() }, &ops);
        let template = Arc::new(Template::compile(r#"{"u": [$$.records.{"e": e}]}"#).unwrap());
        let mut records = RecordBatch::new(1);
        for _ in seqs {
            records.push_record();
        }
        let keys = seqs.iter().map(|s| s.to_string()).collect();
        DeltaBatch::new(template, Arc::new(Connection::default()), records, keys, chunk, ops)
    }

    #[test]
    fn a_chunk_completes_when_every_record_has_an_outcome() {
        let mut chunks = Chunks::default();
        let b = opened(&mut chunks, 1, 5, &[1, 2, 4, 5]);
        assert!(chunks.apply(&b, 2..4, &Outcome::Succeeded).is_none());
        let failed = Outcome::Failed { status: Some(422), reason: "bad".into() };
        assert!(chunks.apply(&b, 1..2, &failed).is_none());
        let done = chunks.apply(&b, 0..1, &Outcome::Undelivered).unwrap();
        assert_eq!(done.succeeded[Op::Insert.index()], 2);
        assert_eq!(done.failed, vec![Failure { seq: 2, status: Some(422), reason: "bad".into() }]);
        assert_eq!(done.undelivered, vec![1]);
        assert!(chunks.is_empty());
        assert_eq!(b.key(1), b"2");
    }

    #[test]
    fn records_delivery_never_reported_are_undelivered_and_a_second_report_changes_nothing() {
        let mut chunks = Chunks::default();
        let b = opened(&mut chunks, 3, 7, &[3, 4, 6, 7]);
        assert!(chunks.apply(&b, 0..2, &Outcome::Succeeded).is_none());
        assert!(chunks.apply(&b, 1..2, &Outcome::Undelivered).is_none(), "already reported");
        let drained = chunks.drain();
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].succeeded[Op::Insert.index()], 2);
        assert_eq!(drained[0].undelivered, vec![6, 7]);
        assert_eq!(drained[0].pending(), 0);
        assert!(chunks.is_empty());
    }
}
