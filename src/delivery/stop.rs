//! Stopping a run: no new request starts, requests in flight finish, retries still waiting are
//! abandoned (docs/design/sync.md, Dry run and shutdown). One token per run, shared by its actions and by
//! whoever watches the signals; the first reason wins.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::outcome::StopReason;

/// A cloneable handle on one run's stop.
#[derive(Clone, Debug)]
pub struct StopToken {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Flips to true once; `watch` wakes every waiter, including ones that subscribe later.
    flag: watch::Sender<bool>,
    reason: Mutex<Option<StopReason>>,
    /// Asked before each request, once set.
    gate: Mutex<Option<Arc<dyn Gate>>>,
}

/// Asked before each request: whether the run may still send. The warehouse's lease on the
/// run's lock is one (docs/design/sync.md, step 1: a run checks that its heartbeat is fresh before each
/// request, renewing it first when it is not).
pub trait Gate: Send + Sync + std::fmt::Debug {
    /// Cheap: whether a request may go at once, without [`Gate::confirm`].
    fn fresh(&self) -> bool;
    /// May block (it is run on a blocking thread): `Ok` when the request may go; the error
    /// stops the run ([`StopReason::LostLock`]).
    fn confirm(&self) -> Result<(), String>;
}

impl StopToken {
    /// A token that has not been stopped.
    pub fn new() -> StopToken {
        StopToken {
            inner: Arc::new(Inner {
                flag: watch::Sender::new(false),
                reason: Mutex::new(None),
                gate: Mutex::new(None),
            }),
        }
    }

    /// Sets the gate every request of the run passes first (replacing any earlier one).
    pub fn set_gate(&self, gate: Option<Arc<dyn Gate>>) {
        *self.inner.gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = gate;
    }

    /// Whether a request may go now: asks the gate (when one is set), and stops the run with
    /// [`StopReason::LostLock`] when it refuses.
    pub async fn admit(&self) -> bool {
        let gate = self.inner.gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let Some(gate) = gate else { return !self.is_stopped() };
        if gate.fresh() {
            return !self.is_stopped();
        }
        let confirmed = tokio::task::spawn_blocking(move || gate.confirm())
            .await
            .unwrap_or_else(|e| Err(format!("the lock's check failed: {e}")));
        match confirmed {
            Ok(()) => !self.is_stopped(),
            Err(why) => {
                self.stop(StopReason::LostLock(why));
                false
            }
        }
    }

    /// Stops the run. The first reason is kept; later calls change nothing. True for the call
    /// that stopped it (so that a stop is told once, however many see its cause).
    pub fn stop(&self, reason: StopReason) -> bool {
        let first = {
            let mut kept = self.inner.reason.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let first = kept.is_none();
            if first {
                *kept = Some(reason);
            }
            first
        };
        self.inner.flag.send_replace(true);
        first
    }

    /// Whether [`StopToken::stop`] has been called on this token or a clone of it.
    pub fn is_stopped(&self) -> bool {
        *self.inner.flag.borrow()
    }

    /// Why the run stopped, once it has.
    pub fn reason(&self) -> Option<StopReason> {
        self.inner.reason.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Completes when the run is stopped (at once if it already is).
    pub async fn stopped(&self) {
        let mut rx = self.inner.flag.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

impl Default for StopToken {
    fn default() -> StopToken {
        StopToken::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_reason_wins_and_waiters_wake() {
        let token = StopToken::new();
        assert!(!token.is_stopped() && token.reason().is_none());
        let waiter = tokio::spawn({
            let token = token.clone();
            async move { token.stopped().await }
        });
        token.stop(StopReason::Rejected { status: Some(401), reason: "HTTP 401 Unauthorized".into() });
        token.stop(StopReason::Interrupted);
        waiter.await.unwrap();
        token.stopped().await; // already stopped: at once
        assert!(token.is_stopped());
        assert_eq!(
            token.reason(),
            Some(StopReason::Rejected { status: Some(401), reason: "HTTP 401 Unauthorized".into() })
        );
    }
}
