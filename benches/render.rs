//! Rendering T1 and T2 (docs/design/performance.md) at batches of 1, 100 and 5,000 records, each beside its
//! hand-written baseline, in the same run:
//!
//! * `render_T*/template` is `Template::render` from a `RecordBatch`; `render_T*/handwritten`
//!   reads the same batch through `get()` and writes the same bytes (`common::handwritten`).
//! * `json_T*/expression` is `Expression::evaluate` over the `serde_json::Value` document;
//!   `json_T*/handwalk` walks the same `Value` and writes the same bytes;
//!   `json_T*/input` is `Expression::evaluate_input` over the document read by `Input::parse`,
//!   and `json_T*/read_input` both (the input path of `audience render`, from the text).
//!
//! Throughput is in records, so criterion prints records/s. Before timing, each pair is checked
//! to write identical bytes. `scripts/bench` turns the results into the ratio table.

mod common;

use std::hint::black_box;
use std::time::Duration;

use audience::template::input::Input;
use audience::template::{Expression, Template};
use common::handwritten::{self, T1Slots, T2Slots};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Panics with the first difference when the two renderings differ.
fn assert_same(what: &str, ours: &[u8], baseline: &[u8]) {
    if ours == baseline {
        return;
    }
    let at = ours.iter().zip(baseline).position(|(a, b)| a != b).unwrap_or(ours.len().min(baseline.len()));
    let around = |s: &[u8]| String::from_utf8_lossy(&s[at.saturating_sub(60)..(at + 60).min(s.len())]).into_owned();
    panic!(
        "{what}: the engine and the hand-written baseline differ at byte {at} (lengths {} and {})\n engine:   …{}…\n baseline: …{}…",
        ours.len(),
        baseline.len(),
        around(ours),
        around(baseline)
    );
}

fn render(c: &mut Criterion) {
    let connection = common::connection();
    let all = common::records(*common::BATCH_SIZES.iter().max().unwrap());
    for (name, src) in [("T1", common::T1), ("T2", common::T2)] {
        let template = Template::compile(src).unwrap_or_else(|d| panic!("{name} does not compile: {d:?}"));
        let fields = template.fields();
        let handwritten = |batch: &audience::template::RecordBatch, out: &mut Vec<u8>| match name {
            "T1" => handwritten::t1_batch(batch, &connection, T1Slots::of(fields), out),
            _ => handwritten::t2_batch(batch, &connection, T2Slots::of(fields), out),
        };

        let mut group = c.benchmark_group(format!("render_{name}"));
        for n in common::BATCH_SIZES {
            let batch = common::batch(&all[..n], fields);
            let (mut ours, mut baseline) = (Vec::new(), Vec::new());
            template.render(&batch, &connection, &mut ours).unwrap();
            handwritten(&batch, &mut baseline);
            assert_same(&format!("render_{name}/{n}"), &ours, &baseline);
            serde_json::from_slice::<serde_json::Value>(&baseline).expect("the baseline writes JSON");

            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new("template", n), |b| {
                let mut out = Vec::with_capacity(ours.len());
                b.iter(|| {
                    out.clear();
                    template.render(black_box(&batch), &connection, &mut out).unwrap();
                    black_box(out.len())
                })
            });
            group.bench_function(BenchmarkId::new("handwritten", n), |b| {
                let mut out = Vec::with_capacity(baseline.len());
                b.iter(|| {
                    out.clear();
                    handwritten(black_box(&batch), &mut out);
                    black_box(out.len())
                })
            });
        }
        group.finish();

        let expression = Expression::compile(src).unwrap_or_else(|d| panic!("{name} does not compile: {d:?}"));
        let walk = match name {
            "T1" => handwritten::t1_value,
            _ => handwritten::t2_value,
        };
        let mut group = c.benchmark_group(format!("json_{name}"));
        for n in common::BATCH_SIZES {
            let doc = common::document(&all[..n], &connection);
            let (mut ours, mut baseline) = (Vec::new(), Vec::new());
            assert!(expression.evaluate(Some(&doc), &mut ours).unwrap(), "{name} is defined");
            walk(&doc, &mut baseline);
            assert_same(&format!("json_{name}/{n}"), &ours, &baseline);

            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new("expression", n), |b| {
                let mut out = Vec::with_capacity(ours.len());
                b.iter(|| {
                    out.clear();
                    expression.evaluate(Some(black_box(&doc)), &mut out).unwrap();
                    black_box(out.len())
                })
            });
            group.bench_function(BenchmarkId::new("handwalk", n), |b| {
                let mut out = Vec::with_capacity(baseline.len());
                b.iter(|| {
                    out.clear();
                    walk(black_box(&doc), &mut out);
                    black_box(out.len())
                })
            });
            let text = serde_json::to_string(&doc).unwrap();
            let input = Input::parse(&text).expect("the document is read by Input::parse");
            let mut read = Vec::new();
            assert!(expression.evaluate_input(Some(&input), &mut read).unwrap(), "{name} is defined");
            assert_same(&format!("json_{name}/{n} (input)"), &read, &baseline);
            group.bench_function(BenchmarkId::new("input", n), |b| {
                let mut out = Vec::with_capacity(ours.len());
                b.iter(|| {
                    out.clear();
                    expression.evaluate_input(Some(black_box(&input)), &mut out).unwrap();
                    black_box(out.len())
                })
            });
            group.bench_function(BenchmarkId::new("read_input", n), |b| {
                let mut out = Vec::with_capacity(ours.len());
                b.iter(|| {
                    out.clear();
                    let input = Input::parse(black_box(&text)).unwrap();
                    expression.evaluate_input(Some(&input), &mut out).unwrap();
                    black_box(out.len())
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // Two shared cores: short windows, many of them; `scripts/bench` may override from the
    // command line.
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = render
}
criterion_main!(benches);
