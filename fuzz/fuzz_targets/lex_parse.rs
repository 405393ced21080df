//! Arbitrary bytes (lossy UTF-8) through the lexer, the parser and the subset checker.
//! The body is `audience::fuzzing::lex_parse` (replayed by `tests/fuzz_corpus.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| audience::fuzzing::lex_parse(data));
