//! The destination's limits, shared by every sync that uses it (docs/design/sync.md: limits belong to the
//! destination): at most `max_concurrency` requests in flight, at most `rate_limit` starts per
//! second, and a pause that a `Retry-After` imposes on everyone.
//!
//! The rate is a token bucket of one token (requests spaced by `1 / rate_limit`), so no window
//! of a second ever sees more than `rate_limit` starts; a larger burst would let a run open with
//! a spike the API's own limiter may reject. It runs on tokio's clock, so that a paused-time
//! test advances it (a crate such as `governor` keeps a clock of its own).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// When requests may start: spacing by the rate, and a pause. Pure: the caller passes `now`.
#[derive(Clone, Debug)]
pub struct Pacer {
    /// Least time between two starts; zero without a rate limit.
    interval: Duration,
    /// The earliest start of the next reservation (the bucket's "theoretical arrival time").
    next: Option<Instant>,
    /// No start before this (a `Retry-After` that applies to the whole destination).
    hold: Option<Instant>,
}

impl Pacer {
    /// A pacer for `rate` starts per second; `None`, or a rate that is not a positive finite
    /// number, spaces nothing.
    pub fn new(rate: Option<f64>) -> Pacer {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .and_then(|r| Duration::try_from_secs_f64(1.0 / r).ok())
            .unwrap_or(Duration::ZERO);
        Pacer { interval, next: None, hold: None }
    }

    /// The least time between two starts.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves the next start: returns when it may happen (`now` or later) and moves the
    /// schedule past it.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let mut at = now;
        if let Some(next) = self.next {
            at = at.max(next);
        }
        if let Some(hold) = self.hold {
            at = at.max(hold);
        }
        self.next = Some(at.checked_add(self.interval).unwrap_or(at));
        at
    }

    /// No start before `until` (a later hold replaces an earlier one, never the reverse).
    pub fn hold_until(&mut self, until: Instant) {
        self.hold = Some(self.hold.map_or(until, |h| h.max(until)));
    }
}

/// The limits of one destination. Cheap to share: keep it in an `Arc` (the
/// [`super::DeliveryClient`] does) and every sync that delivers through it shares the limits.
#[derive(Debug)]
pub struct Limiter {
    permits: Arc<Semaphore>,
    max_concurrency: usize,
    pacer: Mutex<Pacer>,
}

/// A request's right to be in flight; dropping it lets the next one go.
#[derive(Debug)]
pub struct Permit {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Limiter {
    /// At most `max_concurrency` (0 is taken as 1) in flight, at most `rate` starts per second.
    pub fn new(max_concurrency: u32, rate: Option<f64>) -> Limiter {
        let max_concurrency = (max_concurrency.max(1) as usize).min(Semaphore::MAX_PERMITS);
        Limiter {
            permits: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            pacer: Mutex::new(Pacer::new(rate)),
        }
    }

    /// At most this many requests in flight at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// Waits for room in flight, then for the request's turn under the rate and any hold.
    ///
    /// Room first: a start reserved before waiting for room could come due while waiting, and
    /// the requests that waited would then start together, over the rate. Cancel-safe: dropping
    /// the future gives back its room (a reserved start is lost, which only slows the rest).
    pub async fn acquire(&self) -> Permit {
        // Nothing closes the semaphore; if something did, going on unlimited beats hanging.
        let permit = self.permits.clone().acquire_owned().await.ok();
        let at = self.lock().reserve(Instant::now());
        tokio::time::sleep_until(at).await;
        Permit { _permit: permit }
    }

    /// Holds every start of the destination until `until`.
    pub fn hold_until(&self, until: Instant) {
        self.lock().hold_until(until);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pacer> {
        // The pacer is a few instants, consistent after any panic: a poisoned lock is still usable.
        self.pacer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn pacer_spaces_starts_by_the_rate() {
        let t0 = Instant::now();
        // (rate, the `now` of each reservation in ms after t0, the starts wanted in ms)
        let table: &[(Option<f64>, &[u64], &[u64])] = &[
            (None, &[0, 0, 0, 5], &[0, 0, 0, 5]),
            (Some(10.0), &[0, 0, 0], &[0, 100, 200]),
            // Idle time is not saved up: no burst after a quiet spell.
            (Some(10.0), &[0, 500, 500], &[0, 500, 600]),
            (Some(10.0), &[0, 50, 250], &[0, 100, 250]),
            (Some(0.5), &[0, 0], &[0, 2_000]),
            (Some(1_000.0), &[0, 0, 0], &[0, 1, 2]),
            (Some(0.0), &[0, 0], &[0, 0]),
            (Some(-3.0), &[0, 0], &[0, 0]),
            (Some(f64::NAN), &[0, 0], &[0, 0]),
            (Some(f64::INFINITY), &[0, 0], &[0, 0]),
            (Some(1e-300), &[0], &[0]),
        ];
        for (rate, nows, want) in table {
            let mut pacer = Pacer::new(*rate);
            let got: Vec<u64> = nows.iter().map(|&n| (pacer.reserve(t0 + ms(n)) - t0).as_millis() as u64).collect();
            assert_eq!(got, *want, "rate {rate:?}");
        }
    }

    #[test]
    fn pacer_holds_everyone_until_a_retry_after() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(Some(10.0));
        assert_eq!(pacer.reserve(t0), t0);
        pacer.hold_until(t0 + ms(1_000));
        pacer.hold_until(t0 + ms(300)); // an earlier hold does not shorten it
        assert_eq!(pacer.reserve(t0 + ms(10)), t0 + ms(1_000));
        assert_eq!(pacer.reserve(t0 + ms(10)), t0 + ms(1_100));
        let mut free = Pacer::new(None);
        free.hold_until(t0 + ms(50));
        assert_eq!(free.reserve(t0), t0 + ms(50));
        assert_eq!(free.reserve(t0 + ms(80)), t0 + ms(80));
    }

    #[tokio::test]
    async fn limiter_bounds_requests_in_flight() {
        let limiter = Arc::new(Limiter::new(2, None));
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        let waiting = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        tokio::time::sleep(ms(10)).await;
        assert!(!waiting.is_finished(), "a third request waits for room");
        drop(a);
        let _c = waiting.await.unwrap();
        assert_eq!(Limiter::new(0, None).max_concurrency(), 1);
    }

    #[tokio::test]
    async fn limiter_paces_starts() {
        let limiter = Limiter::new(8, Some(50.0));
        let t0 = Instant::now();
        for _ in 0..5 {
            drop(limiter.acquire().await);
        }
        // Never early (a late start on a busy machine is fine): the fifth 80 ms after the first.
        assert!(t0.elapsed() >= ms(80), "{:?}", t0.elapsed());
    }
}
