//! Arbitrary bytes through both compilers; whatever compiles is evaluated over fixed inputs.
//! The body is `audience::fuzzing::compile` (replayed by `tests/fuzz_corpus.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| audience::fuzzing::compile(data));
