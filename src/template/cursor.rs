//! A write cursor over the spare capacity of a `Vec<u8>`: the hot path of lowered blocks.
//!
//! Written through `Vec::extend_from_slice`, a record costs a capacity check and a `memcpy`
//! call per key, literal run and value, which for the short pieces of a request body is most of
//! the work. Instead the block writer bounds a record's size beforehand (its literal bytes plus
//! each value's worst case, see the `*_BOUND` constants and [`str_bound`]), reserves that once,
//! and writes through a raw pointer: short runs with fixed-size loads and stores, strings
//! sixteen bytes at a time.
//!
//! Every writing method has one safety contract: what it writes must fit in the room reserved
//! by [`Cursor::new`]. The room includes [`SLACK`] bytes past the bound, which the string writer
//! uses as scratch for its last sixteen-byte store. Debug builds (tests and fuzzing) check every
//! write against the room.
// Unsafe: the cursor writes through a raw pointer into room reserved beforehand; every method
// states what it needs.
#![allow(unsafe_code)]

use super::json;

/// Bytes reserved past a record's bound: room for the string writer's last whole-block store.
pub const SLACK: usize = 16;
/// Most bytes of any number as printed: `-9223372036854775808` (20), `18446744073709551615`
/// (20), or a double: `-1.2345678901234567e-308` (24), `-0.0000012345678901234567` (25).
pub const NUMBER_BOUND: usize = 25;
/// Most bytes of `null`, `true` and `false`.
pub const WORD_BOUND: usize = 5;

/// Most bytes a string of `len` bytes takes as a JSON literal: quotes, and six bytes
/// (`\u00xx`) for each byte in the worst case.
#[inline(always)]
pub fn str_bound(len: usize) -> usize {
    2 + 6 * len
}

/// Writes into `out`'s spare capacity; [`Cursor::finish`] makes what was written part of `out`.
/// Dropped without `finish`, it leaves `out` as it was.
pub struct Cursor<'v> {
    out: &'v mut Vec<u8>,
    /// Where the spare capacity starts (`out`'s length at creation).
    base: *mut u8,
    /// The next byte to write.
    p: *mut u8,
    /// The end of the reserved room (checked in debug builds only).
    #[cfg(debug_assertions)]
    end: *mut u8,
}

impl<'v> Cursor<'v> {
    /// A cursor with room for `bound` bytes (and [`SLACK`]) after `out`'s contents.
    #[inline(always)]
    pub fn new(out: &'v mut Vec<u8>, bound: usize) -> Cursor<'v> {
        out.reserve(bound + SLACK);
        // SAFETY: `out.len() <= out.capacity()`, so the offset stays inside the allocation.
        let base = unsafe { out.as_mut_ptr().add(out.len()) };
        Cursor {
            out,
            base,
            p: base,
            #[cfg(debug_assertions)]
            end: unsafe { base.add(bound + SLACK) },
        }
    }

    /// Appends what was written to `out`.
    #[inline(always)]
    pub fn finish(self) {
        // SAFETY: every byte from `base` to `p` was written, and `p` is inside the capacity.
        unsafe {
            let written = self.p.offset_from(self.base) as usize;
            self.out.set_len(self.out.len() + written);
        }
    }

    #[inline(always)]
    fn check(&self, n: usize) {
        #[cfg(debug_assertions)]
        assert!(
            (self.end as usize).saturating_sub(self.p as usize) >= n,
            "cursor overrun: {n} bytes with {} left",
            self.end as usize - self.p as usize
        );
        let _ = n;
    }

    /// The last byte written, here or in `out` before the cursor.
    #[inline(always)]
    pub fn last(&self) -> Option<u8> {
        if self.p > self.base {
            // SAFETY: the byte before `p` and after `base` was written by this cursor.
            Some(unsafe { *self.p.sub(1) })
        } else {
            self.out.last().copied()
        }
    }

    /// Appends one byte.
    ///
    /// # Safety
    /// One byte of room must be left.
    #[inline(always)]
    pub unsafe fn byte(&mut self, b: u8) {
        self.check(1);
        unsafe {
            *self.p = b;
            self.p = self.p.add(1);
        }
    }

    /// Appends `b`.
    ///
    /// # Safety
    /// `b.len()` bytes of room must be left.
    #[inline(always)]
    pub unsafe fn bytes(&mut self, b: &[u8]) {
        self.check(b.len());
        unsafe {
            copy_short(self.p, b.as_ptr(), b.len());
            self.p = self.p.add(b.len());
        }
    }

    /// Appends `s` as a JSON string literal, escaped as `JSON.stringify` escapes it (the rules
    /// of [`json::write_str`]).
    ///
    /// # Safety
    /// [`str_bound`]`(s.len())` bytes of room must be left (the [`SLACK`] past the bound is
    /// used too).
    #[inline(always)]
    pub unsafe fn str(&mut self, s: &[u8]) {
        self.check(str_bound(s.len()) + SLACK);
        let n = s.len();
        let src = s.as_ptr();
        unsafe {
            *self.p = b'"';
            self.p = self.p.add(1);
            let mut i = 0;
            while i + 16 <= n {
                let chunk = src.add(i).cast::<[u8; 16]>().read_unaligned();
                if json::block_needs_escape(&chunk) {
                    self.escape(&s[i..i + 16]);
                } else {
                    self.p.cast::<[u8; 16]>().write_unaligned(chunk);
                    self.p = self.p.add(16);
                }
                i += 16;
            }
            let rest = n - i;
            if rest > 0 {
                // The last bytes, padded with a byte that needs no escape, as one more block:
                // stored whole (the padding lands in the slack and is overwritten later).
                let mut chunk = [b'a'; 16];
                copy_short(chunk.as_mut_ptr(), src.add(i), rest);
                if json::block_needs_escape(&chunk) {
                    self.escape(&s[i..]);
                } else {
                    self.p.cast::<[u8; 16]>().write_unaligned(chunk);
                    self.p = self.p.add(rest);
                }
            }
            *self.p = b'"';
            self.p = self.p.add(1);
        }
    }

    /// Escapes a run that holds a byte to escape, byte by byte.
    #[cold]
    #[inline(never)]
    unsafe fn escape(&mut self, run: &[u8]) {
        for &b in run {
            let e = json::ESCAPE[b as usize];
            unsafe {
                if e == 0 {
                    *self.p = b;
                    self.p = self.p.add(1);
                } else if e == b'u' {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let u = [b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]];
                    self.p.cast::<[u8; 6]>().write_unaligned(u);
                    self.p = self.p.add(6);
                } else {
                    self.p.cast::<[u8; 2]>().write_unaligned([b'\\', e]);
                    self.p = self.p.add(2);
                }
            }
        }
    }

    /// Appends an integer.
    ///
    /// # Safety
    /// [`NUMBER_BOUND`] bytes of room must be left.
    #[inline(always)]
    pub unsafe fn i64(&mut self, i: i64) {
        unsafe { self.bytes(itoa::Buffer::new().format(i).as_bytes()) }
    }

    /// # Safety
    /// [`NUMBER_BOUND`] bytes of room must be left.
    #[inline(always)]
    pub unsafe fn u64(&mut self, u: u64) {
        unsafe { self.bytes(itoa::Buffer::new().format(u).as_bytes()) }
    }

    /// Appends a double as JavaScript prints it (the rules of [`json::write_f64`]).
    ///
    /// # Safety
    /// [`NUMBER_BOUND`] bytes of room must be left.
    #[inline]
    pub unsafe fn f64(&mut self, f: f64) {
        unsafe {
            if !f.is_finite() {
                self.bytes(b"null")
            } else if f == 0.0 {
                self.byte(b'0')
            } else {
                self.bytes(ryu_js::Buffer::new().format_finite(f).as_bytes())
            }
        }
    }

    /// Appends a JSON number from the input (the rules of [`json::write_number`]).
    ///
    /// # Safety
    /// [`NUMBER_BOUND`] bytes of room must be left.
    #[inline]
    pub unsafe fn number(&mut self, n: &serde_json::Number) {
        unsafe {
            if let Some(i) = n.as_i64() {
                self.i64(i)
            } else if let Some(u) = n.as_u64() {
                self.u64(u)
            } else {
                self.f64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
    }
}

/// Copies `n` bytes with a few fixed-size moves instead of a `memcpy` call: sixteen bytes at a
/// time, the last move overlapping the one before it, and two overlapping moves under sixteen.
///
/// # Safety
/// `src` must be readable and `dst` writable for `n` bytes, and they must not overlap.
#[inline(always)]
unsafe fn copy_short(dst: *mut u8, src: *const u8, n: usize) {
    unsafe {
        if n >= 16 {
            let mut i = 0;
            while i + 16 < n {
                dst.add(i).cast::<[u8; 16]>().write_unaligned(src.add(i).cast::<[u8; 16]>().read_unaligned());
                i += 16;
            }
            let last = n - 16;
            dst.add(last).cast::<[u8; 16]>().write_unaligned(src.add(last).cast::<[u8; 16]>().read_unaligned());
        } else if n >= 8 {
            let a = src.cast::<u64>().read_unaligned();
            let b = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(b);
        } else if n >= 4 {
            let a = src.cast::<u32>().read_unaligned();
            let b = src.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(b);
        } else if n > 0 {
            // One to three bytes: the first, the middle and the last cover them.
            let (a, b, c) = (*src, *src.add(n / 2), *src.add(n - 1));
            *dst = a;
            *dst.add(n / 2) = b;
            *dst.add(n - 1) = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `s` through the cursor after `prefix`, returning the whole buffer.
    fn through_cursor(prefix: &[u8], write: impl FnOnce(&mut Cursor<'_>), bound: usize) -> Vec<u8> {
        let mut out = prefix.to_vec();
        let mut cur = Cursor::new(&mut out, bound);
        write(&mut cur);
        cur.finish();
        out
    }

    #[test]
    fn strings_match_the_vec_writer_at_every_length() {
        // Every length across the block boundaries, with an escape at every position.
        for n in 0..70 {
            let clean: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            let mut cases = vec![clean.clone()];
            for at in 0..n {
                for special in [b'"', b'\\', b'\n', 0x01, 0x1f] {
                    let mut s = clean.clone();
                    s[at] = special;
                    cases.push(s);
                }
            }
            for s in cases {
                let got = through_cursor(b"[", |c| unsafe { c.str(&s) }, str_bound(s.len()));
                let mut want = b"[".to_vec();
                json::write_str_bytes(&mut want, &s);
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&s));
            }
        }
    }

    #[test]
    fn short_copies_cover_every_length() {
        let src: Vec<u8> = (0..100u8).collect();
        for n in 0..100 {
            let got = through_cursor(b"", |c| unsafe { c.bytes(&src[..n]) }, n);
            assert_eq!(got, &src[..n]);
        }
    }

    #[test]
    fn numbers_match_the_vec_writer() {
        for f in [
            0.0,
            -0.0,
            1.0,
            -1.5,
            1e21,
            1e-7,
            123456.789,
            f64::NAN,
            f64::INFINITY,
            -1.2345678901234567e-308,
            -0.0000012345678901234567,
            -123456789012345670000.0,
        ] {
            let got = through_cursor(b"", |c| unsafe { c.f64(f) }, NUMBER_BOUND);
            let mut want = Vec::new();
            json::write_f64(&mut want, f);
            assert_eq!(got, want);
            assert!(got.len() <= NUMBER_BOUND);
        }
        for i in [0, -1, i64::MIN, i64::MAX] {
            let got = through_cursor(b"", |c| unsafe { c.i64(i) }, NUMBER_BOUND);
            assert_eq!(got, i.to_string().as_bytes());
        }
        let got = through_cursor(b"", |c| unsafe { c.u64(u64::MAX) }, NUMBER_BOUND);
        assert_eq!(got, u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn last_sees_bytes_before_the_cursor() {
        let mut out = b"{".to_vec();
        let mut cur = Cursor::new(&mut out, 4);
        assert_eq!(cur.last(), Some(b'{'));
        unsafe { cur.byte(b'1') };
        assert_eq!(cur.last(), Some(b'1'));
        cur.finish();
        assert_eq!(out, b"{1");
    }

    #[test]
    fn a_cursor_dropped_unfinished_writes_nothing() {
        let mut out = b"x".to_vec();
        {
            let mut cur = Cursor::new(&mut out, 8);
            unsafe { cur.bytes(b"abc") };
        }
        assert_eq!(out, b"x");
    }
}
