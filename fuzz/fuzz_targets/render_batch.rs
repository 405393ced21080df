//! Builds a template, a record batch and a connection from the bytes; renders the batch and
//! compares with evaluating the equivalent JSON document.
//! The body is `audience::fuzzing::render_batch` (replayed by `tests/fuzz_corpus.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| audience::fuzzing::render_batch(data));
