//! Reading one action's share of a run's delta, batch by batch, each record through the field
//! pipeline: the one read-and-process loop that delivery and a dry run both drive.

use crate::destination::PreparedAction;
use crate::fields::{FieldError, Processed, Scratch};
use crate::template::RecordBatch;
use crate::warehouse::{DeltaRecord, ModelSpec, Result, Warehouse};

/// The delta records of one action with sequence numbers in `lo..=hi`, read in batches of the
/// action's batch size.
pub(super) struct DeltaReader<'a> {
    spec: &'a ModelSpec,
    action: &'a PreparedAction,
    /// The sequence number of the last record read (`lo - 1` before the first batch).
    after: i64,
    hi: i64,
    /// The pipeline's buffers, reused from record to record.
    scratch: Scratch,
}

impl<'a> DeltaReader<'a> {
    pub fn new(spec: &'a ModelSpec, action: &'a PreparedAction, lo: i64, hi: i64) -> DeltaReader<'a> {
        DeltaReader { spec, action, after: lo - 1, hi, scratch: Scratch::default() }
    }

    /// Reads the next batch into `batch` (cleared first): each record through the action's field
    /// pipeline, and `visit` told of each record with its outcome (a failed record leaves
    /// nothing in `batch`). Returns the first and last sequence numbers of the batch, or `None`
    /// once the range is read.
    pub async fn next<W: Warehouse>(
        &mut self,
        w: &mut W,
        batch: &mut RecordBatch,
        visit: &mut dyn FnMut(&DeltaRecord<'_>, Result<Processed, FieldError>),
    ) -> Result<Option<(i64, i64)>> {
        batch.clear();
        let (action, scratch) = (self.action, &mut self.scratch);
        let read = w
            .read_delta(self.spec, self.after, self.hi, action.batch_size, &mut |rec| {
                visit(rec, action.plan.process(rec.row, batch, scratch))
            })
            .await?;
        let Some(last) = read else { return Ok(None) };
        let first = self.after + 1;
        self.after = last;
        Ok(Some((first, last)))
    }
}
