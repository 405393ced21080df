//! A run's hold on its lock row, between heartbeats (docs/design/sync.md, step 1): when the heartbeat was
//! last renewed, on a clock that counts time asleep, and whether the lock was lost.
//!
//! Shared by the heartbeat's thread (which renews it every [`super::lock::beat_every`]), the
//! write transactions (each renews it, fenced by the token, before it commits) and delivery,
//! which asks [`Lease::ensure`] before each request: a heartbeat older than half the lease is
//! renewed first, so that a run that was asleep (a paused process, a suspended machine) finds
//! out that it was taken over before it sends, not after.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::lock::boot_clock;

/// What renewing the heartbeat found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Renewed {
    /// Our row, with its heartbeat renewed.
    Yes,
    /// The row is no longer ours: who holds the lock now (or that nobody does).
    Lost(String),
}

/// Renews the heartbeat, fenced by the run's token; an error is a failure to reach the
/// warehouse, which says nothing about who holds the lock.
pub type Renew = Box<dyn FnMut() -> Result<Renewed, String> + Send>;

/// See the module's doc.
pub struct Lease {
    lease: Duration,
    state: Mutex<State>,
    renew: Mutex<Renew>,
    /// Set by the engine when its hold ended on its own (PostgreSQL: the session that held the
    /// advisory lock ended): then no request is fresh, and the renewal says who holds it.
    ended: Option<Arc<AtomicBool>>,
}

#[derive(Debug)]
struct State {
    /// The boot clock's time of the last renewal.
    renewed: Duration,
    /// Set once the lock is lost: the message the run stops with.
    lost: Option<String>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("lease", &self.lease).field("state", &self.state).finish_non_exhaustive()
    }
}

impl Lease {
    /// A lease of `lease` whose heartbeat was just written (the lock was just taken).
    pub fn new(lease: Duration, renew: Renew) -> Lease {
        Lease {
            lease,
            state: Mutex::new(State { renewed: boot_clock(), lost: None }),
            renew: Mutex::new(renew),
            ended: None,
        }
    }

    /// The same lease, never fresh once `ended` is set (see the field's doc).
    pub fn ending_with(mut self, ended: Arc<AtomicBool>) -> Lease {
        self.ended = Some(ended);
        self
    }

    /// Notes a renewal made elsewhere (a write transaction that refreshed the heartbeat).
    pub fn renewed(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.renewed = boot_clock();
        }
    }

    /// Notes that the lock is lost to `to` (who holds it now).
    pub fn lose(&self, to: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.lost.get_or_insert_with(|| lost_message(to));
        }
    }

    /// The message of a lost lock, once it is lost.
    pub fn lost(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.lost.clone())
    }

    /// Ends the hold: the renewal's connection is closed, and nothing may be sent any more.
    pub fn close(&self) {
        self.lose("nobody: this run ended");
        if let Ok(mut renew) = self.renew.lock() {
            *renew = Box::new(|| Err("the run ended".into()));
        }
    }

    /// How long ago the heartbeat was renewed, on the boot clock.
    fn age(&self) -> Duration {
        let renewed = self.state.lock().map_or(Duration::ZERO, |s| s.renewed);
        boot_clock().saturating_sub(renewed)
    }

    /// Whether a request may go out without renewing first: not lost, and renewed within half
    /// the lease.
    pub fn fresh(&self) -> bool {
        self.lost().is_none()
            && self.age() < self.lease / 2
            && !self.ended.as_ref().is_some_and(|e| e.load(Ordering::SeqCst))
    }

    /// Renews the heartbeat now (blocking: a statement in the warehouse). Fails when the lock is
    /// lost, or when the renewal failed and the lease may have run out meanwhile; a failed
    /// renewal well inside the lease is tried again later.
    pub fn renew(&self) -> Result<(), String> {
        if let Some(lost) = self.lost() {
            return Err(lost);
        }
        let result = match self.renew.lock() {
            Ok(mut renew) => renew(),
            Err(_) => Err("the heartbeat's renewal panicked".into()),
        };
        match result {
            Ok(Renewed::Yes) => {
                self.renewed();
                Ok(())
            }
            Ok(Renewed::Lost(to)) => {
                self.lose(&to);
                Err(self.lost().unwrap_or_else(|| lost_message(&to)))
            }
            Err(_) if self.age() < self.lease => Ok(()),
            Err(e) => Err(format!(
                "could not renew the lock's heartbeat within its lease ({} s): {e}; this run stopped sending",
                self.lease.as_secs()
            )),
        }
    }

    /// What delivery asks before each request: renews first when the heartbeat is older than
    /// half the lease.
    pub fn ensure(&self) -> Result<(), String> {
        if let Some(lost) = self.lost() {
            return Err(lost);
        }
        if self.fresh() { Ok(()) } else { self.renew() }
    }
}

/// The message a run stops with when its lock was taken over.
pub fn lost_message(to: &str) -> String {
    format!("lost the lock to {to}: this run stopped sending and recording")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_stale_heartbeat_is_renewed_before_a_request_and_a_lost_lock_stops_for_good() {
        let calls = Arc::new(AtomicU32::new(0));
        let answers = calls.clone();
        let lease = Lease::new(
            Duration::from_millis(40),
            Box::new(move || match answers.fetch_add(1, Ordering::SeqCst) {
                0 => Ok(Renewed::Yes),
                1 => Err("busy".into()),
                _ => Ok(Renewed::Lost("process 7 on host b".into())),
            }),
        );
        assert!(lease.fresh());
        assert_eq!(lease.ensure(), Ok(()));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "fresh: no renewal");
        std::thread::sleep(Duration::from_millis(25));
        assert!(!lease.fresh(), "older than half the lease");
        assert_eq!(lease.ensure(), Ok(()));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "renewed first");
        // A renewal that fails once the lease may have run out stops the run.
        std::thread::sleep(Duration::from_millis(50));
        let failed = lease.ensure().unwrap_err();
        assert!(failed.starts_with("could not renew the lock's heartbeat") && failed.contains("busy"), "{failed}");
        let lost = lease.ensure().unwrap_err();
        assert_eq!(lost, lost_message("process 7 on host b"));
        assert_eq!(lease.ensure().unwrap_err(), lost, "lost for good");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
