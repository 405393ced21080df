//! Writes the benchmark document of `benches/common` with N records, for the whole-process
//! comparison of `audience render` with jsonata-js (BENCHMARKS.md, "The JSON input path"):
//!
//!     cargo run --release --example bench_document -- 200000 > doc-200000.json
//!
//! The records are the seeded ones the render benchmarks use (the first 5,000 are
//! `bench-compare dump`'s `doc-5000.json`).

#[path = "../benches/common/mod.rs"]
mod common;

use std::io::Write;

fn main() {
    let n: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: bench_document RECORDS > doc.json");
            std::process::exit(2);
        }
    };
    let doc = common::document(&common::records(n), &common::connection());
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &doc).map_err(std::io::Error::from).and_then(|()| out.flush());
    written.unwrap_or_else(|e| {
        eprintln!("cannot write the document: {e}");
        std::process::exit(1);
    });
}
