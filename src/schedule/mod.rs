//! Schedules in motion: the scheduler behind `audience run` and the clock it takes.
//!
//! * [`clock`]: the [`Clock`] trait (UTC now, sleep until), [`SystemClock`] for real use and
//!   [`TokioClock`] for tests on tokio's paused time.
//! * [`scheduler`]: the [`Scheduler`]: every sync at its slots (the slots themselves come from
//!   [`crate::destination::Schedule::next_after`]), never two runs of one sync at once, missed
//!   slots not replayed, a clean stop on a shutdown token.
//!
//! Why a module of its own rather than `src/sync/`: the scheduler does not run syncs, it asks
//! its caller to (a run is a future made from a [`Slot`]). It depends on the destination's
//! schedules and on delivery's stop token only, and is tested without a warehouse, an HTTP
//! server or a real second of waiting. `cli::run` ties it to [`crate::sync::run_sync`].
//!
//! Choices where docs/design/interface.md and docs/design/sync.md are silent:
//!
//! * Nothing runs at start-up: the first run of each sync is at its first slot after the start
//!   (`audience sync` runs one now).
//! * After a slot, the next one is the first slot after the moment the scheduler woke up, so a
//!   process that was suspended for a day fires once, not once per missed slot (and logs that
//!   it fired late).
//! * Syncs run concurrently with each other (sharing the destination's limits through one
//!   delivery client); one sync never overlaps itself.

pub mod clock;
pub mod scheduler;

pub use clock::{Clock, SystemClock, TokioClock};
pub use scheduler::{NothingToSchedule, Scheduled, Scheduler, Slot, Tally};
