//! Our engine beside jsonata-rs, in one run, at a batch of 5,000 records (docs/design/performance.md).
//!
//! Groups `compare_T1` and `compare_T2`:
//! * `audience_render`: `Template::render` from the `RecordBatch` (the sync runner's path);
//! * `audience_evaluate`: `Expression::evaluate` over the `serde_json::Value` document;
//! * `jsonata_rs`: jsonata-rs evaluating the same document, built beforehand as its own
//!   `Value` in a bumpalo arena (evaluation only: the lowest time jsonata-rs can show, so the
//!   ratio against it is the conservative one);
//! * `jsonata_rs_serialize`: the same plus `serialize(false)`, which gives bytes as we do;
//! * `jsonata_rs_text`: its public entry point as documented, `evaluate(Some(json_text))`,
//!   which parses the 5,000-record document on every call.
//!
//! jsonata-rs's public API takes its input only as JSON text and binds it to `$$` itself, so
//! the pre-built document is bound to a variable with `assign_var("doc", ...)` and `$$` is
//! spelt `$doc` in its copy of the template: both are one variable look-up in JSONata.
//!
//! Every jsonata-rs iteration starts from a reset arena (compile and input building untimed):
//! evaluations allocate in the arena, which would otherwise grow by megabytes per call.
//!
//! Group `compare_compile`: compiling T1 (`Template::compile` vs `JsonAta::new`).
//!
//! jsonata-rs's output differs from JSONata's (hash order of keys, number printing); only time
//! is compared here.

#[path = "../../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use audience::template::{Expression, Template};
use bumpalo::Bump;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonata_rs::{ArrayFlags, JsonAta, Value};

/// `v` as a jsonata-rs value in `arena` (as jsonata-rs converts its own bindings).
fn to_jsonata<'a>(arena: &'a Bump, v: &serde_json::Value) -> &'a Value<'a> {
    match v {
        serde_json::Value::Null => Value::null(arena),
        serde_json::Value::Bool(b) => Value::bool(*b),
        serde_json::Value::Number(n) => Value::number(arena, n.as_f64().unwrap()),
        serde_json::Value::String(s) => Value::string(arena, s),
        serde_json::Value::Array(items) => {
            let array = Value::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for item in items {
                array.push(to_jsonata(arena, item));
            }
            array
        }
        serde_json::Value::Object(map) => {
            let object = Value::object_with_capacity(arena, map.len());
            for (k, v) in map {
                object.insert(k, to_jsonata(arena, v));
            }
            object
        }
    }
}

#[derive(Clone, Copy)]
enum Peer {
    /// Evaluate only, from a pre-built `Value`.
    Evaluate,
    /// Evaluate and serialise, from a pre-built `Value`.
    Serialize,
    /// `evaluate(Some(text))`: parse the input text, then evaluate.
    Text,
}

/// Total time of `iters` jsonata-rs evaluations of `src` over `doc`.
fn time_jsonata_rs(iters: u64, src: &str, doc: &serde_json::Value, text: &str, peer: Peer) -> Duration {
    let with_var = src.replace("$$", "$doc");
    let mut arena = Bump::new();
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        arena.reset();
        match peer {
            Peer::Evaluate | Peer::Serialize => {
                let jsonata = JsonAta::new(&with_var, &arena).unwrap();
                jsonata.assign_var("doc", to_jsonata(&arena, doc));
                let t = Instant::now();
                let result = jsonata.evaluate(None, None).unwrap();
                if let Peer::Serialize = peer {
                    black_box(result.serialize(false));
                }
                total += t.elapsed();
                black_box(result);
            }
            Peer::Text => {
                let jsonata = JsonAta::new(src, &arena).unwrap();
                let t = Instant::now();
                black_box(jsonata.evaluate(Some(text), None).unwrap());
                total += t.elapsed();
            }
        }
    }
    total
}

fn compare(c: &mut Criterion) {
    let n = common::PEER_BATCH;
    let connection = common::connection();
    let records = common::records(n);
    let doc = common::document(&records, &connection);
    let text = serde_json::to_string(&doc).unwrap();

    for (name, src) in [("T1", common::T1), ("T2", common::T2)] {
        let template = Template::compile(src).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        let batch = common::batch(&records, template.fields());
        let expression = Expression::compile(src).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        {
            // jsonata-rs must run the template (its output is not JSONata's byte for byte).
            let arena = Bump::new();
            let jsonata = JsonAta::new(&src.replace("$$", "$doc"), &arena).unwrap();
            jsonata.assign_var("doc", to_jsonata(&arena, &doc));
            let result = jsonata.evaluate(None, None).unwrap();
            assert!(result.serialize(false).len() > 100 * n / 10, "jsonata-rs rendered {name}");
        }

        let mut group = c.benchmark_group(format!("compare_{name}"));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function("audience_render", |b| {
            let mut out = Vec::with_capacity(4 << 20);
            b.iter(|| {
                out.clear();
                template.render(black_box(&batch), &connection, &mut out).unwrap();
                black_box(out.len())
            })
        });
        group.bench_function("audience_evaluate", |b| {
            let mut out = Vec::with_capacity(4 << 20);
            b.iter(|| {
                out.clear();
                expression.evaluate(Some(black_box(&doc)), &mut out).unwrap();
                black_box(out.len())
            })
        });
        // Tens of milliseconds per call: fewer, longer samples.
        group.sample_size(10);
        for (id, peer) in
            [("jsonata_rs", Peer::Evaluate), ("jsonata_rs_serialize", Peer::Serialize), ("jsonata_rs_text", Peer::Text)]
        {
            group.bench_function(id, |b| b.iter_custom(|iters| time_jsonata_rs(iters, src, &doc, &text, peer)));
        }
        group.finish();
    }

    let mut group = c.benchmark_group("compare_compile");
    group.bench_function("audience_T1", |b| b.iter(|| Template::compile(black_box(common::T1)).unwrap()));
    let arena = Bump::new();
    group.bench_function("jsonata_rs_T1", |b| b.iter(|| JsonAta::new(black_box(common::T1), &arena).unwrap()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = compare
}
criterion_main!(benches);
