//! Splitting rejected requests (400, 413, 422) to isolate bad records, and the bound on it
//! (docs/design/sync.md, Delivery). Pure bookkeeping; the sender does the sending.

use std::ops::Range;

/// How many single-record requests of an action decide whether splitting is worth it.
pub const SPLIT_BOUND: u32 = 50;

/// The two halves of a request's records (the first half the smaller when the count is odd,
/// so it is one record sooner a single record); `None` for a single record (or none), which
/// cannot be split.
pub fn halves(records: Range<usize>) -> Option<(Range<usize>, Range<usize>)> {
    let len = records.end.checked_sub(records.start)?;
    if len < 2 {
        return None;
    }
    let mid = records.start + len / 2;
    Some((records.start..mid, mid..records.end))
}

/// The splitting bound of one action in one run: when the first [`SPLIT_BOUND`] single-record
/// requests all fail with the same status, the template or the API rejects everything, and
/// splitting further would only multiply requests. The sender then stops splitting on that
/// status: a request rejected with it fails whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitBound {
    limit: u32,
    /// Whether the first split set the limit already.
    set: bool,
    state: BoundState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum BoundState {
    /// `seen` single-record requests so far, all failed with `status` (`None` before the first).
    Watching { seen: u32, status: Option<u16> },
    /// The bound was reached: stop splitting on this status.
    Tripped(u16),
    /// A single-record request succeeded or failed differently: splitting stays on for good.
    Off,
}

impl SplitBound {
    /// A bound reached after `limit` single-record requests (0 is taken as 1).
    pub fn new(limit: u32) -> SplitBound {
        SplitBound { limit: limit.max(1), set: false, state: BoundState::Watching { seen: 0, status: None } }
    }

    /// Called when the first rejected request of the action is split, with its record count:
    /// a request of fewer records than the limit yields only that many single-record requests,
    /// so the bound is reached when all of them failed alike. Later calls change nothing.
    pub fn first_split(&mut self, records: usize) {
        if !self.set {
            self.set = true;
            self.limit = self.limit.min(u32::try_from(records).unwrap_or(u32::MAX)).max(1);
        }
    }

    /// Records the final result of a single-record request: `Some(status)` when it failed with
    /// that HTTP status, `None` when it succeeded or failed without one. Returns true when this
    /// result reaches the bound.
    pub fn observe(&mut self, failed_with: Option<u16>) -> bool {
        let BoundState::Watching { seen, status } = self.state else {
            return false;
        };
        let same = match (failed_with, status) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(now), Some(before)) => now == before,
        };
        self.state = match (same, failed_with) {
            (true, Some(now)) if seen + 1 >= self.limit => BoundState::Tripped(now),
            (true, Some(now)) => BoundState::Watching { seen: seen + 1, status: Some(now) },
            _ => BoundState::Off,
        };
        matches!(self.state, BoundState::Tripped(_))
    }

    /// How many single-record requests reach the bound.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The status on which splitting stopped, once the bound is reached.
    pub fn tripped(&self) -> Option<u16> {
        match self.state {
            BoundState::Tripped(status) => Some(status),
            _ => None,
        }
    }

    /// Whether a request rejected with `status` is to be split.
    pub fn allows_split(&self, status: u16) -> bool {
        self.tripped() != Some(status)
    }
}

impl Default for SplitBound {
    fn default() -> SplitBound {
        SplitBound::new(SPLIT_BOUND)
    }
}

#[cfg(test)]
// Tables of tuples, and ranges as values: what table tests are made of.
#[allow(clippy::type_complexity, clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    #[test]
    fn halves_table() {
        let table: &[(Range<usize>, Option<(Range<usize>, Range<usize>)>)] = &[
            (0..0, None),
            (4..5, None),
            (0..2, Some((0..1, 1..2))),
            (0..3, Some((0..1, 1..3))),
            (0..4, Some((0..2, 2..4))),
            (10..15, Some((10..12, 12..15))),
            (0..5_000, Some((0..2_500, 2_500..5_000))),
        ];
        for (range, want) in table {
            assert_eq!(halves(range.clone()), *want, "{range:?}");
        }
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..2;
        assert_eq!(halves(backwards), None);
    }

    /// Splitting a request of n records down to single records sends at most 2n − 1 requests,
    /// and every record ends up in exactly one single-record request.
    #[test]
    fn full_bisection_reaches_every_record_once() {
        for n in 1..=64usize {
            let (mut requests, mut singles) = (0, vec![0u8; n]);
            let mut stack = vec![0..n];
            while let Some(r) = stack.pop() {
                requests += 1;
                match halves(r.clone()) {
                    Some((a, b)) => stack.extend([a, b]),
                    None => singles[r.start] += 1,
                }
            }
            assert_eq!(requests, 2 * n - 1);
            assert!(singles.iter().all(|&c| c == 1));
        }
    }

    #[test]
    fn bound_table() {
        // (results of the single-record requests in order, status tripped on after them)
        let f = Some;
        let table: &[(&[Option<u16>], u32, Option<u16>)] = &[
            (&[], 3, None),
            (&[f(422), f(422)], 3, None),
            (&[f(422), f(422), f(422)], 3, Some(422)),
            // Later results do not undo a tripped bound.
            (&[f(422), f(422), f(422), None, f(400)], 3, Some(422)),
            // Any success among the first ones turns it off for good.
            (&[f(422), None, f(422), f(422), f(422)], 3, None),
            // So does a different status.
            (&[f(422), f(400), f(400), f(400), f(400)], 3, None),
            (&[None, f(400), f(400), f(400)], 3, None),
            (&[f(400)], 1, Some(400)),
            (&[f(400)], 0, Some(400)),
        ];
        for &(results, limit, want) in table {
            let mut bound = SplitBound::new(limit);
            for &r in results {
                bound.observe(r);
            }
            assert_eq!(bound.tripped(), want, "{results:?} limit {limit}");
        }
    }

    #[test]
    fn a_small_first_split_lowers_the_bound_once() {
        let mut bound = SplitBound::default();
        bound.first_split(3);
        bound.first_split(500);
        assert!(!bound.observe(Some(400)));
        assert!(!bound.observe(Some(400)));
        assert!(bound.observe(Some(400)), "all three singles of a 3-record batch");
        let mut big = SplitBound::default();
        big.first_split(5_000);
        for _ in 1..SPLIT_BOUND {
            assert!(!big.observe(Some(422)));
        }
        assert!(big.observe(Some(422)));
    }

    #[test]
    fn default_bound_is_fifty_and_reports_the_tripping_result() {
        let mut bound = SplitBound::default();
        for i in 1..SPLIT_BOUND {
            assert!(!bound.observe(Some(400)), "result {i}");
            assert!(bound.allows_split(400));
        }
        assert!(bound.observe(Some(400)));
        assert!(!bound.allows_split(400));
        assert!(bound.allows_split(413), "other statuses still split");
        assert!(!bound.observe(Some(400)), "trips once");
    }
}
