//! How a request that met a transient failure is tried again: the settings of
//! `[destination.retry]` and their defaults, the one place they are written. The schedule and
//! the response table that use them are [`super::policy`]'s.

use std::time::Duration;

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 6;
/// The ceiling of the first retry's wait.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// No attempt starts later than this after the first one started.
pub const MAX_ELAPSED: Duration = Duration::from_secs(5 * 60);

/// `[destination.retry]`: how a request that met a transient failure is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts per request, the first included (default 6). 0 is taken as 1.
    pub max_attempts: u32,
    /// The ceiling of the first retry's wait; it doubles with each retry (default 500 ms).
    pub initial_backoff: Duration,
    /// The longest wait between two attempts of the backoff (default 30 s); a `Retry-After`
    /// may ask for longer, and is honoured.
    pub max_backoff: Duration,
    /// No attempt starts later than this after the first one started (default 5 min).
    pub max_elapsed: Duration,
}

impl Default for RetrySettings {
    fn default() -> RetrySettings {
        RetrySettings {
            max_attempts: MAX_ATTEMPTS,
            initial_backoff: INITIAL_BACKOFF,
            max_backoff: MAX_BACKOFF,
            max_elapsed: MAX_ELAPSED,
        }
    }
}
