//! The response table of docs/design/sync.md (Delivery) and the retry schedule, as pure functions: no clock
//! and no randomness of their own. The caller passes the time (elapsed since the first attempt,
//! and the wall clock for `Retry-After` dates) and a uniform random number for the jitter, so
//! every schedule is a table test.

use std::time::{Duration, SystemTime};

use super::retry::RetrySettings;

/// What came back from one attempt, as far as the policy cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A response with this status code (the body is the caller's business).
    Status(u16),
    /// No complete response within the per-request timeout.
    Timeout,
    /// No response at all: refused, reset, closed before the response, a TLS failure other
    /// than the certificate's.
    ConnectionError,
    /// The server's TLS certificate failed verification (unknown issuer, expired, another
    /// name): no retry will change it, and sending anyway would hand the credentials to a
    /// server that is not the API.
    Certificate,
}

/// What an answer means for the records of the request (docs/design/sync.md, Delivery).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: every record of the request succeeded.
    Accepted,
    /// 408, 425, 429, 500, 502, 503, 504 (and the other 5xx the table does not name), a
    /// timeout, a connection error: try the same request again after a wait.
    Retry,
    /// 400, 413, 422: split the request in halves to isolate the bad records.
    Split,
    /// 401, 403, 404, 405, a certificate that fails verification: the configuration is wrong,
    /// not the data: the run stops.
    StopRun,
    /// 3xx: no redirect is followed; the records fail with the status and `Location`.
    Redirect,
    /// Any other 4xx, 501, 505 (and anything outside 2xx–5xx): the records fail with the status
    /// and the start of the body.
    Reject,
}

/// The response table of docs/design/sync.md.
///
/// Where the table is silent: a 5xx it does not name (506–511, a proxy's 52x) is taken as
/// transient and retried, as 500/502/503/504 are; 501 and 505 say the server will never handle
/// the request, so they fail. A status outside 200–599 fails.
pub const fn classify(answer: Answer) -> Verdict {
    match answer {
        Answer::Timeout | Answer::ConnectionError => Verdict::Retry,
        Answer::Certificate => Verdict::StopRun,
        Answer::Status(status) => match status {
            200..=299 => Verdict::Accepted,
            300..=399 => Verdict::Redirect,
            400 | 413 | 422 => Verdict::Split,
            401 | 403 | 404 | 405 => Verdict::StopRun,
            408 | 425 | 429 => Verdict::Retry,
            501 | 505 => Verdict::Reject,
            500..=599 => Verdict::Retry,
            _ => Verdict::Reject,
        },
    }
}

/// The ceiling of the wait before retry number `retry` (1 for the first retry):
/// `initial_backoff × 2^(retry − 1)`, at most `max_backoff`. Saturates instead of overflowing.
pub fn backoff_ceiling(settings: &RetrySettings, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.saturating_sub(1));
    settings.initial_backoff.saturating_mul(factor).min(settings.max_backoff)
}

/// Full jitter (a uniform wait between zero and the ceiling), which spreads the retries of many
/// clients that failed together better than equal or no jitter. `unit` is a uniform random
/// number in [0, 1); anything outside is clamped, NaN counts as 0.
pub fn full_jitter(ceiling: Duration, unit: f64) -> Duration {
    let unit = if unit.is_nan() { 0.0 } else { unit.clamp(0.0, 1.0) };
    // Through nanoseconds as f64: exact enough for waits, and never panics (unlike mul_f64 on
    // an extreme ceiling).
    let nanos = ceiling.as_nanos() as f64 * unit;
    if nanos >= u64::MAX as f64 { ceiling } else { Duration::from_nanos(nanos as u64).min(ceiling) }
}

/// The wait a `Retry-After` header asks for, at wall-clock time `now`: delay-seconds
/// (`"120"`) or an HTTP date (IMF-fixdate `"Sun, 06 Nov 1994 08:49:37 GMT"`, and the two obsolete
/// forms RFC 9110 says recipients must accept too). A date in the past is no wait. `None` when
/// the value is neither (the caller then uses its own backoff).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only an overflow can fail, and that is a very long wait.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether to try again after attempt number `attempts` (1 for the first) got a retryable
/// answer, `elapsed` after the first attempt started; and if so, after how long.
///
/// * `None` once `max_attempts` attempts were made, or when the next attempt would start after
///   `max_elapsed`: the records then fail with the last answer.
/// * The wait is the server's `Retry-After` when it sent one (the API's contract: it may exceed
///   `max_backoff`; see [`retry_after_too_late`] for one past `max_elapsed`), otherwise full
///   jitter under [`backoff_ceiling`], drawn with `unit` (uniform in [0, 1)).
pub fn next_retry(
    settings: &RetrySettings,
    attempts: u32,
    elapsed: Duration,
    retry_after: Option<Duration>,
    unit: f64,
) -> Option<Duration> {
    if attempts >= settings.max_attempts.max(1) {
        return None;
    }
    let wait = match retry_after {
        Some(asked) => asked,
        None => full_jitter(backoff_ceiling(settings, attempts), unit),
    };
    (elapsed.saturating_add(wait) <= settings.max_elapsed).then_some(wait)
}

/// When the server's `Retry-After` asks for a wait that would end past `max_elapsed` (counted
/// from the first attempt, `elapsed` ago): the reason to fail the request's records at once,
/// such as `Retry-After 3600 s is past max_elapsed 5 min`. Waiting would only be cut short.
pub fn retry_after_too_late(settings: &RetrySettings, elapsed: Duration, asked: Duration) -> Option<String> {
    (elapsed.saturating_add(asked) > settings.max_elapsed)
        .then(|| format!("Retry-After {} is past max_elapsed {}", seconds(asked), minutes(settings.max_elapsed)))
}

/// A wait as the header gave it, in seconds (`3600 s`, `1.5 s`).
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 { format!("{} s", d.as_secs()) } else { format!("{} s", d.as_secs_f64()) }
}

/// A setting in whole minutes when it is some (`5 min`), in seconds otherwise (`90 s`).
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() == 0 && secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        seconds(d)
    }
}

/// A small, seedable source of uniform numbers for the jitter (splitmix64): the policy needs
/// no cryptographic quality and the crate no `rand` for it.
#[derive(Clone, Debug)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A fixed sequence, for tests.
    pub fn seeded(seed: u64) -> Jitter {
        Jitter { state: seed }
    }

    /// A sequence seeded from the process's random hasher keys (different per process and per
    /// call), so that clients retrying together do not draw the same waits.
    pub fn from_entropy() -> Jitter {
        use std::hash::{BuildHasher, RandomState};
        Jitter::seeded(RandomState::new().hash_one(0u8))
    }

    /// The next number, uniform in [0, 1).
    pub fn next_unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits: every value exactly representable, strictly below 1.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
// Tables of tuples, and ranges as values: what table tests are made of.
#[allow(clippy::type_complexity)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn classification_is_the_spec_table() {
        use Answer::*;
        use Verdict::*;
        let table: &[(Answer, Verdict)] = &[
            (Status(200), Accepted),
            (Status(201), Accepted),
            (Status(202), Accepted),
            (Status(204), Accepted),
            (Status(299), Accepted),
            (Status(408), Retry),
            (Status(425), Retry),
            (Status(429), Retry),
            (Status(500), Retry),
            (Status(502), Retry),
            (Status(503), Retry),
            (Status(504), Retry),
            (Timeout, Retry),
            (ConnectionError, Retry),
            (Certificate, StopRun),
            (Status(400), Split),
            (Status(413), Split),
            (Status(422), Split),
            (Status(401), StopRun),
            (Status(403), StopRun),
            (Status(404), StopRun),
            (Status(405), StopRun),
            (Status(300), Redirect),
            (Status(301), Redirect),
            (Status(302), Redirect),
            (Status(304), Redirect),
            (Status(307), Redirect),
            (Status(308), Redirect),
            (Status(402), Reject),
            (Status(406), Reject),
            (Status(409), Reject),
            (Status(410), Reject),
            (Status(411), Reject),
            (Status(414), Reject),
            (Status(415), Reject),
            (Status(418), Reject),
            (Status(423), Reject),
            (Status(424), Reject),
            (Status(426), Reject),
            (Status(428), Reject),
            (Status(431), Reject),
            (Status(451), Reject),
            (Status(499), Reject),
            (Status(501), Reject),
            (Status(505), Reject),
            // Silent in the table: other 5xx are transient.
            (Status(506), Retry),
            (Status(507), Retry),
            (Status(511), Retry),
            (Status(522), Retry),
            (Status(599), Retry),
            // Outside 2xx-5xx.
            (Status(100), Reject),
            (Status(199), Reject),
            (Status(600), Reject),
            (Status(0), Reject),
        ];
        for &(answer, verdict) in table {
            assert_eq!(classify(answer), verdict, "{answer:?}");
        }
    }

    #[test]
    fn ceiling_doubles_up_to_max_backoff() {
        let s = RetrySettings::default(); // 500 ms, max 30 s
        let table = [
            (0, 500), // attempt 0 is not a retry; taken as the first
            (1, 500),
            (2, 1_000),
            (3, 2_000),
            (4, 4_000),
            (5, 8_000),
            (6, 16_000),
            (7, 30_000),
            (8, 30_000),
            (40, 30_000),
            (u32::MAX, 30_000),
        ];
        for (retry, want) in table {
            assert_eq!(backoff_ceiling(&s, retry), ms(want), "retry {retry}");
        }
        let huge = RetrySettings { initial_backoff: Duration::MAX, max_backoff: Duration::MAX, ..s };
        assert_eq!(backoff_ceiling(&huge, 5), Duration::MAX);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let table = [
            (1_000, 0.0, 0),
            (1_000, 0.25, 250),
            (1_000, 0.5, 500),
            (1_000, 0.999, 999),
            (1_000, 1.0, 1_000),
            (1_000, 7.0, 1_000),
            (1_000, -1.0, 0),
            (1_000, f64::NAN, 0),
            (0, 0.7, 0),
        ];
        for (ceiling, unit, want) in table {
            assert_eq!(full_jitter(ms(ceiling), unit), ms(want), "{ceiling} ms × {unit}");
        }
        assert!(full_jitter(Duration::MAX, 0.9999) <= Duration::MAX);
    }

    #[test]
    fn retry_after_in_seconds_and_as_an_http_date() {
        // 1994-11-06T08:49:37Z, the RFC's example date.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let table: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("1", Some(1)),
            ("120", Some(120)),
            (" 7 ", Some(7)),
            ("99999999999999999999999", Some(u64::MAX)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(0)),
            ("Sun, 06 Nov 1994 08:50:07 GMT", Some(30)),
            ("Sun, 06 Nov 1994 09:49:37 GMT", Some(3_600)),
            ("Sat, 05 Nov 1994 08:49:37 GMT", Some(0)),   // in the past
            ("Sunday, 06-Nov-94 08:49:47 GMT", Some(10)), // RFC 850 (obsolete)
            ("Sun Nov  6 08:49:57 1994", Some(20)),       // asctime (obsolete)
            ("", None),
            ("-1", None),
            ("1.5", None),
            ("soon", None),
            ("Sun, 06 Nov 1994 08:49:37", None), // no zone
            ("Sun, 32 Nov 1994 08:49:37 GMT", None),
        ];
        for &(value, want) in table {
            assert_eq!(parse_retry_after(value, now), want.map(Duration::from_secs), "{value:?}");
        }
    }

    /// The schedule of one request under the default settings, with the clock and the random
    /// source injected: every wait, and where it gives up.
    #[test]
    fn schedule_with_an_injected_clock_and_random_source() {
        let s = RetrySettings::default();
        // Each attempt takes 100 ms on the injected clock; the random source always says 0.5.
        let mut elapsed = Duration::ZERO;
        let mut waits = Vec::new();
        for attempt in 1.. {
            elapsed += ms(100);
            match next_retry(&s, attempt, elapsed, None, 0.5) {
                Some(wait) => {
                    waits.push(wait.as_millis());
                    elapsed += wait;
                }
                None => break,
            }
        }
        // Half of 500, 1000, 2000, 4000, 8000 ms: five retries, six attempts.
        assert_eq!(waits, [250, 500, 1_000, 2_000, 4_000]);

        let table: &[(u32, u64, Option<u64>, f64, Option<u64>)] = &[
            // (attempts made, elapsed ms, Retry-After ms, unit, wait ms)
            (1, 0, None, 0.0, Some(0)),
            (1, 0, None, 0.999_999, Some(499)), // 499.9995 ms, shown in whole ms
            (3, 0, None, 0.5, Some(1_000)),
            (5, 0, None, 1.0, Some(8_000)),
            (6, 0, None, 0.5, None),               // max_attempts reached
            (7, 0, None, 0.5, None),               // past it
            (1, 0, Some(2_000), 0.0, Some(2_000)), // Retry-After wins over the jitter
            (1, 0, Some(0), 0.9, Some(0)),
            (1, 0, Some(60_000), 0.0, Some(60_000)), // beyond max_backoff: the API's contract
            (1, 0, Some(3_600_000), 0.0, None),      // past max_elapsed
            (6, 0, Some(10), 0.0, None),             // attempts still bound it
            (2, 299_500, None, 0.5, Some(500)),      // starts exactly at max_elapsed: allowed
            (2, 299_501, None, 0.5, None),           // would start after max_elapsed
            (2, 300_000, None, 0.0, Some(0)),
            (2, 290_000, Some(20_000), 0.0, None),
        ];
        for &(attempts, elapsed, after, unit, want) in table {
            let got = next_retry(&s, attempts, ms(elapsed), after.map(ms), unit);
            assert_eq!(
                got.map(|d| d.as_millis() as u64),
                want,
                "attempts {attempts}, elapsed {elapsed}, after {after:?}, unit {unit}"
            );
        }

        let once = RetrySettings { max_attempts: 1, ..s };
        assert_eq!(next_retry(&once, 1, Duration::ZERO, None, 0.5), None);
        let zero = RetrySettings { max_attempts: 0, ..s };
        assert_eq!(next_retry(&zero, 1, Duration::ZERO, None, 0.5), None);
    }

    #[test]
    fn retry_after_past_max_elapsed() {
        let s = RetrySettings::default();
        let table: &[(u64, u64, Option<&str>)] = &[
            (0, 3_600_000, Some("Retry-After 3600 s is past max_elapsed 5 min")),
            (0, 300_000, None),
            (1, 300_000, Some("Retry-After 300 s is past max_elapsed 5 min")),
            (299_000, 1_500, Some("Retry-After 1.5 s is past max_elapsed 5 min")),
            (0, 45_000, None),
        ];
        for &(elapsed, asked, want) in table {
            assert_eq!(retry_after_too_late(&s, ms(elapsed), ms(asked)).as_deref(), want, "{elapsed} {asked}");
        }
        let odd = RetrySettings { max_elapsed: ms(90_000), ..s };
        assert_eq!(
            retry_after_too_late(&odd, Duration::ZERO, ms(120_000)).as_deref(),
            Some("Retry-After 120 s is past max_elapsed 90 s")
        );
    }

    #[test]
    fn jitter_source_is_uniform_in_the_unit_interval_and_replayable() {
        let mut a = Jitter::seeded(42);
        let mut b = Jitter::seeded(42);
        let mut sum = 0.0;
        for _ in 0..10_000 {
            let x = a.next_unit();
            assert_eq!(x, b.next_unit());
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        let mean = sum / 10_000.0;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
    }
}
