//! Builds a subset expression and a JSON input from the bytes; evaluates it.
//! The body is `audience::fuzzing::render` (replayed by `tests/fuzz_corpus.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| audience::fuzzing::render(data));
