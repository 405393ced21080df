//! The mirror-mode runner: one run of a sync ties the warehouse (snapshot, diff, state), the
//! field pipeline, the templates and delivery together, as docs/design/sync.md describes a run.
//!
//! * [`run`]: [`run_sync`], the run step by step; [`RunOptions`] (`--dry-run`, `--full-resync`,
//!   `--allow-mass-removal`).
//! * [`batch`]: a batch of the delta in delivery ([`batch::DeltaBatch`]) and the bookkeeping
//!   from per-request reports to per-batch outcomes.
//! * [`summary`]: [`SyncSummary`], its status and exit code (docs/design/interface.md).
//! * [`fingerprint`]: the configuration fingerprint that triggers a full resync.
//! * [`alert`]: `[[alerts]]`, sent when a run ends as an alert lists, once per change of state.
//! * [`metrics`]: what `run --listen` serves at `/metrics`, tallied from run summaries.
//! * [`endpoint`]: the adapter from the config's types to delivery's.
//! * [`peek`]: what the studio reads of a sync's warehouse: the model's first rows as sample
//!   records, and the next run's dry run.
//! * [`connect`]: the adapter from the config's source to the warehouse's seam; a run of a
//!   sync and a run's sync log, for the command line, on whatever engine the source names.
//!
//! Choices where docs/design/sync.md and docs/design/interface.md are silent:
//!
//! * A dry run reports `run_id: null` (it records no run) and exits 0 even when records would
//!   fail; it exits 1 when the run itself would stop (lock held, guard, warehouse error).
//! * A dry run's `samples` is an object keyed by action (`remove`, `update`, `add`): each the
//!   first request of that action (method, URL and headers as shown, secrets masked; the body
//!   as JSON), for the actions the delta has records of. With `use_add`, `update` shows update
//!   records rendered with add's request.
//! * Records that fail the field pipeline count as `failed`; they are logged with their reason,
//!   stay out of the baseline (with `retry_failed`), and are tried again next run.
//! * A batch is recorded when all its records have outcomes, and batches in progress are
//!   bounded by twice `max_concurrency`: a crash re-sends at most those batches.

pub mod alert;
pub mod batch;
pub mod connect;
mod delta;
pub mod endpoint;
pub mod fingerprint;
pub mod metrics;
pub mod peek;
pub mod probe;
pub mod run;
pub mod summary;

pub use crate::warehouse::RunRow;
pub use connect::{RunLog, read_logs, read_runs, run_job};
pub use run::{Job, RunOptions, run_sync};
pub use summary::{Status, Stop, SyncSummary};
