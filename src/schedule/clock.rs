//! The scheduler's clock: UTC wall time, and a way to wait for a moment of it. A trait, so that
//! the scheduler's tests drive time themselves instead of waiting (docs/design/style.md, point 6).

use std::future::Future;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// Wall time in UTC, and waiting for it.
pub trait Clock {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Completes once [`Clock::now`] is at or after `at` (at once if it already is).
    fn sleep_until(&self, at: DateTime<Utc>) -> impl Future<Output = ()>;
}

/// The system's clock: what `audience run` uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

/// The longest single wait of [`SystemClock::sleep_until`]. Timers run on the monotonic clock,
/// which does not follow wall-clock steps (an NTP correction) and, on some systems, stops while
/// the machine is suspended; waking at least this often and looking at the wall clock again
/// keeps a slot from firing hours late after a laptop lid was closed.
pub const MAX_NAP: Duration = Duration::from_secs(60);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(SystemTime::now())
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        loop {
            let left = match (at - self.now()).to_std() {
                Ok(left) if !left.is_zero() => left,
                // Negative (already past) or zero.
                _ => return,
            };
            tokio::time::sleep(left.min(MAX_NAP)).await;
        }
    }
}

/// UTC time that starts at a given moment and advances with tokio's clock. Under
/// `tokio::time::pause()` (`#[tokio::test(start_paused = true)]`) tokio jumps to the next timer
/// whenever every task is idle, so a test of a day of 5-minute slots runs in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    start_wall: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> TokioClock {
        TokioClock { start_wall: start, start: tokio::time::Instant::now() }
    }

    /// The tokio instant of a wall-clock moment (`start` for moments before the clock's start).
    fn instant(&self, at: DateTime<Utc>) -> tokio::time::Instant {
        self.start + (at - self.start_wall).to_std().unwrap_or(Duration::ZERO)
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.start;
        self.start_wall + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        tokio::time::sleep_until(self.instant(at)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let start = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
        let clock = TokioClock::starting_at(start);
        assert_eq!(clock.now(), start);
        let later = start + chrono::Duration::hours(5);
        clock.sleep_until(later).await;
        assert_eq!(clock.now(), later);
        // The past: at once.
        clock.sleep_until(start).await;
        assert_eq!(clock.now(), later);
    }

    /// On paused time any sleep would move tokio's clock on: it stays put.
    #[tokio::test(start_paused = true)]
    async fn system_clock_returns_at_once_for_the_past() {
        let clock = SystemClock;
        let before = tokio::time::Instant::now();
        clock.sleep_until(clock.now() - chrono::Duration::seconds(1)).await;
        assert_eq!(tokio::time::Instant::now(), before, "slept for a moment already past");
    }

    /// A moment just ahead: the wait ends at it, not before.
    #[tokio::test]
    async fn system_clock_waits_until_the_moment() {
        let clock = SystemClock;
        let at = clock.now() + chrono::Duration::milliseconds(50);
        clock.sleep_until(at).await;
        let woke = clock.now();
        assert!(woke >= at, "woke at {woke}, before {at}");
    }
}
