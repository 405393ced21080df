//! Shared helpers for the randomised tests (`tests/differential.rs`, `tests/two_modes.rs`): the
//! generators of the language (`audience::generate`, shared with the fuzz targets; what they
//! leave out on purpose is listed there), seeds, and reporting helpers.

#![allow(dead_code)]

pub use audience::generate::*;

/// A seed for "one fresh seed per run": from the clock and the process id.
pub fn fresh_seed() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut r = Rng::new(nanos ^ ((std::process::id() as u64) << 32));
    // Keep it short enough to type.
    r.next_u64() % 1_000_000_000_000
}

/// `name` parsed as a u64 from the environment, if set.
pub fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

/// `text` (JSON) with every escaped lone surrogate replaced by `\ufffd`: serde_json cannot hold
/// lone surrogates (deviation 3), and the suite file has a few, all in out-of-subset cases.
pub fn without_lone_surrogates(text: &str) -> String {
    let b = text.as_bytes();
    let unit = |i: usize| -> Option<u16> {
        let esc = b.get(i..i + 6)?;
        if &esc[..2] != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&esc[2..]).ok()?, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit(i) {
            Some(0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => i += 12,
            Some(0xD800..=0xDFFF) => {
                out.push_str(&text[copied..i]);
                out.push_str("\\ufffd");
                i += 6;
                copied = i;
            }
            // Any other escape is skipped whole, so that `\\u...` is not read as `\u`.
            _ => i += 2,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Shows a string for a failure report: Rust debug escaping, so controls and U+2028 are visible.
pub fn show(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_replaced() {
        let t = r#"["\ud800", "\\ud800", "\ud83d\ude00", "\udc00x", "\n\ud83d"]"#;
        assert_eq!(without_lone_surrogates(t), r#"["\ufffd", "\\ud800", "\ud83d\ude00", "\ufffdx", "\n\ufffd"]"#);
    }
}
