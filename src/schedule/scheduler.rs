//! The scheduler of `audience run`: fires each sync at its slots, one run of a sync at a time,
//! until a shutdown token is stopped.
//!
//! ```text
//!  now ─▶ next slot of each sync (Schedule::next_after) ─▶ sleep until the earliest
//!   ▲                                                          │ (or a run ends, or shutdown)
//!   │                                                          ▼
//!   └── next slot after *now* ◀── due sync: still running? skip and log : start a run
//! ```
//!
//! It knows nothing of warehouses or HTTP: a run is a future that the caller makes for a
//! [`Slot`], and time comes from a [`Clock`], so the tests drive it with paused time.

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::task::{Id, JoinError, JoinSet, LocalSet};

use super::clock::Clock;
use crate::delivery::{StopReason, StopToken};
use crate::destination::Schedule;

/// A slot that fires this long after its time is logged as late (the machine slept, or was
/// too busy): the slots missed meanwhile are not replayed.
pub const LATE_AFTER: chrono::Duration = chrono::Duration::minutes(2);

/// A sync and its schedule.
#[derive(Clone, Debug)]
pub struct Scheduled {
    /// The sync's name, as in the config.
    pub name: String,
    /// When it runs.
    pub schedule: Schedule,
}

/// One run the scheduler asks for.
#[derive(Clone, Debug)]
pub struct Slot {
    /// The sync's position among [`Scheduler::syncs`].
    pub index: usize,
    /// The sync's name.
    pub name: String,
    /// The slot's time; the run starts at it or a little after.
    pub at: DateTime<Utc>,
    /// This run's own stop token (a 401 stopping one sync's run must not stop the others); the
    /// scheduler stops it with [`StopReason::Interrupted`] on shutdown.
    pub stop: StopToken,
}

/// What the scheduler did for one sync, returned when it stops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The sync's name.
    pub name: String,
    /// Runs started.
    pub started: u32,
    /// Slots skipped because the previous run was still going.
    pub skipped: u32,
    /// Runs that ended (a panic included): equal to `started` once the scheduler returns.
    pub finished: u32,
}

/// Every sync is manual (or never fires): there is nothing for `run` to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NothingToSchedule;

impl std::fmt::Display for NothingToSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no sync has a schedule (every one is manual): nothing to schedule")
    }
}

impl std::error::Error for NothingToSchedule {}

/// The syncs that have a schedule, and the loop that runs them.
#[derive(Clone, Debug)]
pub struct Scheduler {
    syncs: Vec<Scheduled>,
}

/// A scheduled sync's state in the loop.
struct Entry {
    /// `None`: a schedule that never fires again.
    next: Option<DateTime<Utc>>,
    /// The stop token of the run in progress.
    running: Option<StopToken>,
    tally: Tally,
}

impl Scheduler {
    /// Keeps the syncs whose schedule is not manual, in order; refuses when none is left.
    pub fn new(syncs: impl IntoIterator<Item = Scheduled>) -> Result<Scheduler, NothingToSchedule> {
        let syncs: Vec<Scheduled> = syncs.into_iter().filter(|s| !s.schedule.is_manual()).collect();
        if syncs.is_empty() { Err(NothingToSchedule) } else { Ok(Scheduler { syncs }) }
    }

    /// The syncs it runs (manual ones left out).
    pub fn syncs(&self) -> &[Scheduled] {
        &self.syncs
    }

    /// Runs until `shutdown` is stopped: at each sync's slot, `start` makes the run's future,
    /// which runs on this thread beside the others (the warehouse connectors' futures are not
    /// `Send`). A slot that comes while the sync's previous run is still going is skipped and
    /// logged; slots missed while the process was busy or asleep are not replayed. On shutdown,
    /// every run in progress has its stop token stopped and is waited for (its requests in
    /// flight finish and their outcomes are recorded); then the tallies are returned.
    pub async fn run<C, F, Fut>(&self, clock: &C, shutdown: &StopToken, start: F) -> Vec<Tally>
    where
        C: Clock,
        F: FnMut(Slot) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        LocalSet::new().run_until(self.drive(clock, shutdown, start)).await
    }

    async fn drive<C, F, Fut>(&self, clock: &C, shutdown: &StopToken, mut start: F) -> Vec<Tally>
    where
        C: Clock,
        F: FnMut(Slot) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let now = clock.now();
        let mut entries: Vec<Entry> = self
            .syncs
            .iter()
            .map(|s| Entry {
                next: s.schedule.next_after(now),
                running: None,
                tally: Tally { name: s.name.clone(), ..Tally::default() },
            })
            .collect();
        for (sync, entry) in self.syncs.iter().zip(&entries) {
            log_next(&sync.name, entry.next);
        }
        let mut runs: JoinSet<()> = JoinSet::new();
        let mut by_task = HashMap::new();
        loop {
            let due = entries.iter().filter_map(|e| e.next).min();
            tokio::select! {
                biased;
                () = shutdown.stopped() => break,
                Some(done) = runs.join_next_with_id() => {
                    ended(&mut entries, &mut by_task, done);
                    continue;
                }
                () = sleep_until(clock, due) => {}
            }
            let now = clock.now();
            for (index, (sync, entry)) in self.syncs.iter().zip(entries.iter_mut()).enumerate() {
                let Some(at) = entry.next.filter(|at| *at <= now) else { continue };
                if now - at > LATE_AFTER {
                    tracing::warn!(
                        sync = %sync.name,
                        slot = %rfc3339(at),
                        "the slot fired late, at {}: slots missed meanwhile are not replayed",
                        rfc3339(now)
                    );
                }
                if entry.running.is_some() {
                    entry.tally.skipped += 1;
                    tracing::warn!(
                        sync = %sync.name,
                        slot = %rfc3339(at),
                        "slot skipped: the previous run of this sync is still going"
                    );
                } else {
                    let stop = StopToken::new();
                    entry.running = Some(stop.clone());
                    entry.tally.started += 1;
                    tracing::info!(sync = %sync.name, slot = %rfc3339(at), "run starting");
                    let run = start(Slot { index, name: sync.name.clone(), at, stop });
                    let handle = runs.spawn_local(run);
                    by_task.insert(handle.id(), index);
                }
                // From now, not from the slot: a slot missed is not replayed.
                entry.next = sync.schedule.next_after(now);
                log_next(&sync.name, entry.next);
            }
        }
        let in_progress = entries.iter().filter(|e| e.running.is_some()).count();
        if in_progress > 0 {
            tracing::info!(
                runs = in_progress,
                "stopping: the runs in progress finish their requests in flight and record the outcomes"
            );
        }
        for token in entries.iter().filter_map(|e| e.running.as_ref()) {
            token.stop(StopReason::Interrupted);
        }
        while let Some(done) = runs.join_next_with_id().await {
            ended(&mut entries, &mut by_task, done);
        }
        entries.into_iter().map(|e| e.tally).collect()
    }
}

/// A run's task ended: its sync may run again. A panic in a run is logged, not spread: the
/// other syncs go on.
fn ended(entries: &mut [Entry], by_task: &mut HashMap<Id, usize>, done: Result<(Id, ()), JoinError>) {
    let id = match &done {
        Ok((id, ())) => *id,
        Err(e) => e.id(),
    };
    if let Some(entry) = by_task.remove(&id).and_then(|index| entries.get_mut(index)) {
        entry.running = None;
        entry.tally.finished += 1;
        if let Err(e) = done {
            tracing::error!(sync = %entry.tally.name, "the run ended abnormally: {e}");
        }
    }
}

/// Waits for `at`, or forever when there is no next slot.
async fn sleep_until<C: Clock>(clock: &C, at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => clock.sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn log_next(sync: &str, next: Option<DateTime<Utc>>) {
    match next {
        Some(at) => tracing::info!(sync = %sync, next_run = %rfc3339(at), "next run at {}", rfc3339(at)),
        None => tracing::warn!(sync = %sync, "the schedule fires no more: this sync will not run again"),
    }
}

/// `2025-03-01T06:30:00Z`
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
