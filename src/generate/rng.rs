//! The generators' one source of choices: a seeded splitmix64 stream (the randomised tests), or
//! a fuzzer's bytes in front of one (the fuzz targets).

/// A stream of choices. Every generator is a pure function of it, so a printed seed (and case
/// index), or a fuzzer's input file, replays a case exactly.
///
/// Built with [`Rng::new`] or [`Rng::for_case`], it is splitmix64: tiny, fast, good enough for
/// test generation, and stable across platforms. Built with [`Rng::from_bytes`], each draw takes
/// its top byte from the input (one byte per decision, which a coverage-guided fuzzer can steer)
/// and the rest from splitmix64 seeded by the input; once the bytes run out, draws are splitmix64
/// alone, so generation ends as it does in the tests.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    /// The fuzzer's input (empty for a seeded stream) and how much of it was read.
    bytes: Vec<u8>,
    read: usize,
}

impl Rng {
    /// A splitmix64 stream from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed, bytes: Vec::new(), read: 0 }
    }

    /// An independent stream for case `index` of `seed`, so one case replays without the others.
    pub fn for_case(seed: u64, index: u64) -> Rng {
        let mut r = Rng::new(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F));
        r.next_u64();
        Rng::new(r.next_u64() ^ index)
    }

    /// A stream steered by `data` (a fuzzer's input), then seeded by it (FNV-1a of the bytes).
    pub fn from_bytes(data: &[u8]) -> Rng {
        let seed = data.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
        Rng { state: seed, bytes: data.to_vec(), read: 0 }
    }

    /// The next draw: 64 uniform bits (the top byte from the fuzzer's input while it lasts).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let mixed = z ^ (z >> 31);
        match self.bytes.get(self.read) {
            // The top byte decides every draw of fewer than 256 choices (see `below`).
            Some(&b) => {
                self.read += 1;
                (u64::from(b) << 56) | (mixed >> 8)
            }
            None => mixed,
        }
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    /// An item of `items`, uniformly (`items` not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Index chosen with the given weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as usize) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        unreachable!("a draw below the total weight falls in some weight")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeded stream is the one the differential tests' fixed seeds were chosen with: its
    /// first draws never change.
    #[test]
    fn seeded_stream_is_stable() {
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn bytes_steer_the_top_byte_then_run_out() {
        let mut r = Rng::from_bytes(&[0xFF, 0x00]);
        assert_eq!(r.below(256), 255);
        assert_eq!(r.below(256), 0);
        // Exhausted: a seeded stream, the same for the same bytes.
        let a = r.next_u64();
        let mut again = Rng::from_bytes(&[0xFF, 0x00]);
        again.next_u64();
        again.next_u64();
        assert_eq!(again.next_u64(), a);
    }
}
