//! The scheduler of `audience run`, on tokio's paused clock: a day of slots runs in
//! milliseconds and every time is exact. The runs are stand-ins that note when they started and
//! how they ended; the real runs are `audience sync`'s, tested elsewhere.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use audience::delivery::{StopReason, StopToken};
use audience::destination::Schedule;
use audience::destination::schedule::{TimeOfDay, parse_cron};
use audience::schedule::{Clock, NothingToSchedule, Scheduled, Scheduler, Slot, Tally, TokioClock};
use chrono::{DateTime, TimeZone, Utc};

/// 2025-03-01 at `h:m` UTC.
fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(i64::from(h * 60 + m))
}

fn every(name: &str, minutes: u64, hour: u8, minute: u8) -> Scheduled {
    Scheduled {
        name: name.into(),
        schedule: Schedule::Every { every: Duration::from_secs(minutes * 60), starting_at: TimeOfDay { hour, minute } },
    }
}

fn cron(name: &str, expression: &str) -> Scheduled {
    let schedule = Schedule::Cron { expression: expression.into(), cron: Box::new(parse_cron(expression).unwrap()) };
    Scheduled { name: name.into(), schedule }
}

fn manual(name: &str) -> Scheduled {
    Scheduled { name: name.into(), schedule: Schedule::Manual }
}

/// A run as a stand-in saw it.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    sync: String,
    slot: DateTime<Utc>,
    started: DateTime<Utc>,
    /// How it ended: `None` when it ran its course, else why it was stopped.
    stopped: Option<StopReason>,
}

type Log = Rc<RefCell<Vec<Seen>>>;

/// Stops `shutdown` (as the signal handler does) after `after` of tokio time.
fn stop_after(shutdown: &StopToken, after: Duration) {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        shutdown.stop(StopReason::Interrupted);
    });
}

/// Runs `syncs` from `start` until `until`, each run lasting `length(sync, nth run of it)`
/// unless stopped; returns the runs seen, the tallies, and when the scheduler returned.
async fn drive(
    syncs: Vec<Scheduled>,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    length: impl Fn(&str, usize) -> Duration + 'static,
) -> (Vec<Seen>, Vec<Tally>, DateTime<Utc>) {
    let clock = TokioClock::starting_at(start);
    let shutdown = StopToken::new();
    stop_after(&shutdown, (until - start).to_std().unwrap());
    let log: Log = Rc::default();
    let length = Rc::new(length);
    let scheduler = Scheduler::new(syncs).unwrap();
    let tallies = scheduler
        .run(&clock, &shutdown, |slot: Slot| {
            let (log, length) = (log.clone(), length.clone());
            async move {
                let nth = log.borrow().iter().filter(|s| s.sync == slot.name).count();
                let started = clock.now();
                let stopped = tokio::select! {
                    () = tokio::time::sleep(length(&slot.name, nth)) => None,
                    () = slot.stop.stopped() => slot.stop.reason(),
                };
                log.borrow_mut().push(Seen { sync: slot.name, slot: slot.at, started, stopped });
            }
        })
        .await;
    let log = log.borrow().clone();
    (log, tallies, clock.now())
}

fn instant(_: &str, _: usize) -> Duration {
    Duration::ZERO
}

fn slots(seen: &[Seen], sync: &str) -> Vec<DateTime<Utc>> {
    seen.iter().filter(|s| s.sync == sync).map(|s| s.slot).collect()
}

#[tokio::test(start_paused = true)]
async fn every_n_fires_at_the_start_time_plus_multiples() {
    let (seen, tallies, _) = drive(vec![every("six_hourly", 360, 0, 30)], at(0, 0), at(24, 1), instant).await;
    assert_eq!(slots(&seen, "six_hourly"), [at(0, 30), at(6, 30), at(12, 30), at(18, 30)]);
    // Each run starts at its slot, not a moment later.
    assert!(seen.iter().all(|s| s.started == s.slot && s.stopped.is_none()), "{seen:?}");
    assert_eq!(tallies, [Tally { name: "six_hourly".into(), started: 4, skipped: 0, finished: 4 }]);
}

#[tokio::test(start_paused = true)]
async fn the_first_slot_is_the_next_one_after_the_start_not_the_start_time() {
    // Started at 10:07 with 5-minute slots anchored at 00:00: the first run is at 10:10.
    let (seen, _, _) = drive(vec![every("five", 5, 0, 0)], at(10, 7), at(10, 21), instant).await;
    assert_eq!(slots(&seen, "five"), [at(10, 10), at(10, 15), at(10, 20)]);
}

#[tokio::test(start_paused = true)]
async fn cron_fires_at_its_minutes_in_utc() {
    let (seen, _, _) = drive(vec![cron("cron", "15 */6 * * *")], at(0, 0), at(13, 0), instant).await;
    assert_eq!(slots(&seen, "cron"), [at(0, 15), at(6, 15), at(12, 15)]);
}

#[tokio::test(start_paused = true)]
async fn manual_syncs_never_fire_and_a_file_of_them_has_nothing_to_schedule() {
    let syncs = vec![manual("by_hand"), every("hourly", 60, 0, 0)];
    let (seen, tallies, _) = drive(syncs, at(0, 0), at(5, 30), instant).await;
    assert!(slots(&seen, "by_hand").is_empty());
    assert_eq!(slots(&seen, "hourly").len(), 5);
    assert_eq!(tallies.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["hourly"]);
    assert_eq!(Scheduler::new(vec![manual("a"), manual("b")]).unwrap_err(), NothingToSchedule);
    assert_eq!(Scheduler::new(Vec::new()).unwrap_err(), NothingToSchedule);
}

#[tokio::test(start_paused = true)]
async fn a_slot_that_comes_while_the_run_is_going_is_skipped() {
    // The first run takes 12 minutes: the 00:10 and 00:15 slots find it going.
    let length = |_: &str, nth: usize| if nth == 0 { Duration::from_secs(12 * 60) } else { Duration::ZERO };
    let (seen, tallies, _) = drive(vec![every("slow", 5, 0, 0)], at(0, 0), at(0, 31), length).await;
    assert_eq!(slots(&seen, "slow"), [at(0, 5), at(0, 20), at(0, 25), at(0, 30)]);
    assert_eq!(tallies, [Tally { name: "slow".into(), started: 4, skipped: 2, finished: 4 }]);
}

#[tokio::test(start_paused = true)]
async fn one_slow_sync_does_not_hold_up_another() {
    let length = |sync: &str, _: usize| if sync == "slow" { Duration::from_secs(7 * 60) } else { Duration::ZERO };
    let syncs = vec![every("slow", 5, 0, 0), every("quick", 5, 0, 0)];
    let (seen, tallies, _) = drive(syncs, at(0, 0), at(0, 21), length).await;
    assert_eq!(slots(&seen, "quick"), [at(0, 5), at(0, 10), at(0, 15), at(0, 20)]);
    assert_eq!(slots(&seen, "slow"), [at(0, 5), at(0, 15)], "the 00:10 and 00:20 slots are skipped");
    assert_eq!(tallies[0].skipped, 2);
    // The 00:15 run of `slow` was still going at 00:21: the shutdown stopped it.
    let last = seen.iter().rfind(|s| s.sync == "slow").unwrap();
    assert_eq!(last.stopped, Some(StopReason::Interrupted));
}

#[tokio::test(start_paused = true)]
async fn missed_slots_are_not_replayed() {
    let clock = TokioClock::starting_at(at(0, 0));
    let shutdown = StopToken::new();
    // At 00:30 the process is frozen for 3 h 10 min (a laptop lid closed), then runs until 05:05.
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(30 * 60)).await;
        tokio::time::advance(Duration::from_secs(190 * 60)).await;
    });
    stop_after(&shutdown, Duration::from_secs(305 * 60));
    let log: Log = Rc::default();
    let scheduler = Scheduler::new(vec![every("hourly", 60, 0, 0)]).unwrap();
    scheduler
        .run(&clock, &shutdown, |slot: Slot| {
            let log = log.clone();
            async move {
                let seen = Seen { sync: slot.name, slot: slot.at, started: clock.now(), stopped: None };
                log.borrow_mut().push(seen);
            }
        })
        .await;
    let seen = log.borrow();
    // 01:00 fires once, late, at 03:40; 02:00 and 03:00 are not replayed; then 04:00 and 05:00.
    let times: Vec<_> = seen.iter().map(|s| (s.slot, s.started)).collect();
    assert_eq!(times, [(at(1, 0), at(3, 40)), (at(4, 0), at(4, 0)), (at(5, 0), at(5, 0))]);
}

#[tokio::test(start_paused = true)]
async fn a_signal_stops_the_runs_in_progress_and_the_scheduler_waits_for_them() {
    // Runs that would take an hour; the signal comes at 00:07, during the 00:05 run.
    let length = |_: &str, _: usize| Duration::from_secs(3600);
    let (seen, tallies, returned) = drive(vec![every("long", 5, 0, 0)], at(0, 0), at(0, 7), length).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].slot, at(0, 5));
    assert_eq!(seen[0].stopped, Some(StopReason::Interrupted), "the run's own token was stopped");
    assert_eq!(tallies, [Tally { name: "long".into(), started: 1, skipped: 0, finished: 1 }]);
    // It returned as soon as the run ended, not an hour later.
    assert_eq!(returned, at(0, 7));
}

#[tokio::test(start_paused = true)]
async fn a_signal_between_runs_returns_at_once() {
    let (seen, tallies, returned) = drive(vec![every("idle", 60, 0, 0)], at(0, 0), at(0, 30), instant).await;
    assert!(seen.is_empty());
    assert_eq!(tallies[0].started, 0);
    assert_eq!(returned, at(0, 30));
}

#[tokio::test(start_paused = true)]
async fn each_run_has_its_own_stop_token() {
    // One sync's run stopped by its API (a 401) must not stop the other sync's run.
    let clock = TokioClock::starting_at(at(0, 0));
    let shutdown = StopToken::new();
    stop_after(&shutdown, Duration::from_secs(6 * 60));
    let log: Log = Rc::default();
    let scheduler = Scheduler::new(vec![every("rejected", 5, 0, 0), every("fine", 5, 0, 0)]).unwrap();
    scheduler
        .run(&clock, &shutdown, |slot: Slot| {
            let log = log.clone();
            async move {
                if slot.name == "rejected" {
                    slot.stop.stop(StopReason::Rejected { status: Some(401), reason: "HTTP 401 Unauthorized".into() });
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                let seen = Seen { sync: slot.name, slot: slot.at, started: clock.now(), stopped: slot.stop.reason() };
                log.borrow_mut().push(seen);
            }
        })
        .await;
    let seen = log.borrow();
    let stopped = |sync: &str| seen.iter().find(|s| s.sync == sync).unwrap().stopped.clone();
    assert!(matches!(stopped("rejected"), Some(StopReason::Rejected { status: Some(401), .. })));
    assert_eq!(stopped("fine"), None);
    assert_eq!(shutdown.reason(), Some(StopReason::Interrupted));
}

#[tokio::test(start_paused = true)]
async fn a_run_that_panics_does_not_stop_the_scheduler() {
    let clock = TokioClock::starting_at(at(0, 0));
    let shutdown = StopToken::new();
    stop_after(&shutdown, Duration::from_secs(16 * 60));
    let log: Log = Rc::default();
    let scheduler = Scheduler::new(vec![every("flaky", 5, 0, 0)]).unwrap();
    let tallies = scheduler
        .run(&clock, &shutdown, |slot: Slot| {
            let log = log.clone();
            async move {
                assert!(slot.at != at(0, 5), "a bug in the first run");
                log.borrow_mut().push(Seen { sync: slot.name, slot: slot.at, started: clock.now(), stopped: None });
            }
        })
        .await;
    assert_eq!(slots(&log.borrow(), "flaky"), [at(0, 10), at(0, 15)]);
    assert_eq!(tallies, [Tally { name: "flaky".into(), started: 3, skipped: 0, finished: 3 }]);
}
