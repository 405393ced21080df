//! Packing an action's records into requests: at most `batch_size` records and at most
//! `max_request_bytes` of body per request, greedily, in order (docs/design/sync.md, step 6). Pure.
//!
//! Sizes come from the body's layout. A request body is a template over
//! `[$$.records.{ ... }]`, so its length is linear in its records:
//!
//! ```text
//! len(body of r1..rn) = base + size(r1) + … + size(rn) + separator × (n − 1)
//! ```
//!
//! where `base` is the body of no records and `separator` the bytes between two records (a
//! comma, for each place the records appear). The caller measures `base`, `separator` and each
//! record's `size` by rendering; the packer only adds. The caller still checks every rendered
//! body against the cap, so a template that is not linear costs a split, never a request over
//! the cap.

use std::ops::Range;

/// How a request body grows with its records (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Bytes of the body of no records.
    pub base: usize,
    /// Bytes added between two consecutive records.
    pub separator: usize,
}

impl Layout {
    /// The body length of a request holding records of these sizes.
    pub fn body_len(&self, sizes: &[usize]) -> usize {
        let records = sizes.iter().fold(0usize, |sum, &size| sum.saturating_add(size));
        let separators = self.separator.saturating_mul(sizes.len().saturating_sub(1));
        self.base.saturating_add(records).saturating_add(separators)
    }
}

/// One step of a packing, in record order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packed {
    /// A request holding these records.
    Batch(Range<usize>),
    /// A record whose body alone, `bytes` long, is over the cap: it fails without a request.
    TooLarge {
        /// The record's index.
        index: usize,
        /// Size of its rendered body, in bytes.
        bytes: usize,
    },
    /// A record with no size (it could not be rendered): the caller fails it.
    Skip {
        /// The record's index.
        index: usize,
    },
}

/// `records` cut into runs of at most `max_count` (0 is taken as 1), in order.
pub fn pack_by_count(records: Range<usize>, max_count: usize) -> impl Iterator<Item = Range<usize>> {
    let step = max_count.max(1);
    let end = records.end;
    records.step_by(step).map(move |start| start..start.saturating_add(step).min(end))
}

/// Greedy packing by count and bytes of the records `first..first + sizes.len()`: each request
/// takes records in order while it has fewer than `max_count` (0 is taken as 1) and its body
/// stays within `max_bytes`. `sizes[i]` is record `first + i`'s share of a body, `None` for a
/// record that cannot be sent; such a record, and one too large alone, ends the current
/// request and is reported in its place.
pub fn pack_by_bytes(
    first: usize,
    sizes: &[Option<usize>],
    layout: Layout,
    max_count: usize,
    max_bytes: usize,
) -> Vec<Packed> {
    let max_count = max_count.max(1);
    let mut packed = Vec::new();
    // The request being filled: its first record and its body length so far.
    let mut open: Option<(usize, usize)> = None;
    let close = |open: &mut Option<(usize, usize)>, end: usize, packed: &mut Vec<Packed>| {
        if let Some((start, _)) = open.take() {
            packed.push(Packed::Batch(start..end));
        }
    };
    for (offset, size) in sizes.iter().enumerate() {
        let index = first + offset;
        let Some(size) = *size else {
            close(&mut open, index, &mut packed);
            packed.push(Packed::Skip { index });
            continue;
        };
        let alone = layout.base.saturating_add(size);
        if alone > max_bytes {
            close(&mut open, index, &mut packed);
            packed.push(Packed::TooLarge { index, bytes: alone });
            continue;
        }
        if let Some((start, len)) = open {
            let grown = len.saturating_add(layout.separator).saturating_add(size);
            if index - start < max_count && grown <= max_bytes {
                open = Some((start, grown));
                continue;
            }
            close(&mut open, index, &mut packed);
        }
        open = Some((index, alone));
    }
    close(&mut open, first + sizes.len(), &mut packed);
    packed
}

#[cfg(test)]
// Tables of tuples, and ranges as values: what table tests are made of.
#[allow(clippy::type_complexity, clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use Packed::*;

    #[test]
    fn by_count() {
        let table: &[(Range<usize>, usize, &[Range<usize>])] = &[
            (0..0, 5, &[]),
            (0..1, 5, &[0..1]),
            (0..5, 5, &[0..5]),
            (0..12, 5, &[0..5, 5..10, 10..12]),
            (3..9, 2, &[3..5, 5..7, 7..9]),
            (0..3, 1, &[0..1, 1..2, 2..3]),
            (0..3, 0, &[0..1, 1..2, 2..3]),
            (0..10_000, 5_000, &[0..5_000, 5_000..10_000]),
        ];
        for (records, max, want) in table {
            let got: Vec<_> = pack_by_count(records.clone(), *max).collect();
            assert_eq!(got, *want, "{records:?} by {max}");
        }
    }

    #[test]
    fn body_len_is_linear() {
        let l = Layout { base: 10, separator: 1 };
        assert_eq!(l.body_len(&[]), 10);
        assert_eq!(l.body_len(&[5]), 15);
        assert_eq!(l.body_len(&[5, 5, 5]), 27);
        assert_eq!(Layout { base: usize::MAX, separator: 1 }.body_len(&[1, 1]), usize::MAX);
    }

    #[test]
    fn by_bytes_greedy() {
        // `{"users":[` + records + `]}`: base 12, a comma between records.
        let l = Layout { base: 12, separator: 1 };
        let s = |v: &[usize]| v.iter().map(|&x| Some(x)).collect::<Vec<_>>();
        let table: &[(Vec<Option<usize>>, usize, usize, Vec<Packed>)] = &[
            (vec![], 10, 100, vec![]),
            // Everything fits.
            (s(&[10, 10, 10]), 10, 100, vec![Batch(0..3)]),
            // 12 + 10 + 1 + 10 = 33 fits exactly; a third would be 44.
            (s(&[10, 10, 10, 10]), 10, 33, vec![Batch(0..2), Batch(2..4)]),
            // One byte less: one record per request.
            (s(&[10, 10, 10]), 10, 32, vec![Batch(0..1), Batch(1..2), Batch(2..3)]),
            // The count cap binds before the byte cap.
            (s(&[1, 1, 1, 1, 1]), 2, 1_000, vec![Batch(0..2), Batch(2..4), Batch(4..5)]),
            // Greedy, not optimal: a big record closes the request, small ones fill the next.
            (s(&[30, 5, 5, 40, 5]), 10, 60, vec![Batch(0..3), Batch(3..5)]),
            // A record too large alone fails in its place; packing goes on around it.
            (s(&[10, 100, 10, 10]), 10, 50, vec![Batch(0..1), TooLarge { index: 1, bytes: 112 }, Batch(2..4)]),
            (s(&[39]), 10, 50, vec![TooLarge { index: 0, bytes: 51 }]),
            (s(&[38]), 10, 50, vec![Batch(0..1)]),
            // A record without a size is skipped in its place.
            (vec![Some(5), None, Some(5)], 10, 100, vec![Batch(0..1), Skip { index: 1 }, Batch(2..3)]),
            (vec![None, None], 10, 100, vec![Skip { index: 0 }, Skip { index: 1 }]),
            // max_count 0 is 1.
            (s(&[1, 1]), 0, 100, vec![Batch(0..1), Batch(1..2)]),
        ];
        for (sizes, max_count, max_bytes, want) in table {
            let got = pack_by_bytes(0, sizes, l, *max_count, *max_bytes);
            assert_eq!(&got, want, "{sizes:?} count {max_count} bytes {max_bytes}");
            // Every packed request is within both caps.
            for p in &got {
                if let Batch(r) = p {
                    let in_batch: Vec<usize> = sizes[r.clone()].iter().map(|s| s.unwrap()).collect();
                    assert!(r.len() <= (*max_count).max(1));
                    assert!(l.body_len(&in_batch) <= *max_bytes);
                }
            }
        }
    }

    #[test]
    fn by_bytes_numbers_records_from_first() {
        let got = pack_by_bytes(100, &[Some(1), Some(1), Some(1)], Layout::default(), 2, 10);
        assert_eq!(got, [Batch(100..102), Batch(102..103)]);
    }
}
