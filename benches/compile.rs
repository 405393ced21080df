//! Compiling T1 and T2 (`Template::compile`: lex, parse, check subset and profile, lower).

mod common;

use std::hint::black_box;
use std::time::Duration;

use audience::template::Template;
use criterion::{Criterion, criterion_group, criterion_main};

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    for (name, src) in [("T1", common::T1), ("T2", common::T2)] {
        Template::compile(src).unwrap_or_else(|d| panic!("{name} does not compile: {d:?}"));
        group.bench_function(name, |b| b.iter(|| Template::compile(black_box(src)).unwrap()));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = compile
}
criterion_main!(benches);
