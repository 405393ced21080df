//! Arbitrary bytes (lossy UTF-8) through the subset checker and the template profile.
//! The body is `audience::fuzzing::check_template` (replayed by `tests/fuzz_corpus.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| audience::fuzzing::check_template(data));
