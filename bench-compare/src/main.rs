//! The Rust side of the jsonata-js comparison, run by `scripts/bench` right before and right
//! after `scripts/bench-js.js`, so that both sides are timed in one session on one machine.
//!
//! * `bench-compare dump DIR` writes the workload for node: `T1.jsonata`, `T2.jsonata`, the
//!   document `doc-5000.json`, and the hand-written baseline's output `expected-T1.json` and
//!   `expected-T2.json` (which the node script compares with jsonata-js's output, byte for byte).
//! * `bench-compare selftest` checks the hand-written baseline's pieces without the engine: its
//!   string escaper against serde_json's (the same escapes as JSON.stringify) on random strings,
//!   its integer printing against `to_string`, and its `RecordBatch` and `Value` renderers
//!   against each other, with fields missing now and then.
//! * `bench-compare time [ITERATIONS]` times our engine (and the hand-written baseline) on the
//!   same workload with the node script's method: warm-up, then ITERATIONS runs, median. It
//!   prints `name value` lines (records/s, or µs per compile).
//! * `bench-compare profile WHAT ITERATIONS [BATCH]` only runs one thing ITERATIONS times at a
//!   batch of BATCH records (default 5,000), for `valgrind --tool=callgrind` (instruction counts: repeatable on a shared machine).
//!   The workload is built before; callgrind's `--toggle-collect` can leave it out.

#[path = "../../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use audience::template::{Expression, RecordBatch, Span, Template, TemplateField};
use common::handwritten::{self, T1Slots, T2Slots};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dump") if args.len() == 2 => dump(PathBuf::from(&args[1])),
        Some("selftest") => selftest(),
        Some("profile") if args.len() == 3 || args.len() == 4 => profile(
            &args[1],
            args[2].parse().expect("ITERATIONS is a number"),
            args.get(3).map_or(common::PEER_BATCH, |n| n.parse().expect("BATCH is a number")),
        ),
        Some("time") => time(args.get(1).map_or(200, |n| n.parse().expect("ITERATIONS is a number"))),
        _ => {
            eprintln!(
                "usage: bench-compare dump DIR | selftest | time [ITERATIONS] | profile WHAT ITERATIONS [BATCH]\n       WHAT: {{render,evaluate,handwritten,handwalk}}_{{T1,T2}} or compile_{{T1,T2}}"
            );
            std::process::exit(2);
        }
    }
}

fn dump(dir: PathBuf) {
    std::fs::create_dir_all(&dir).unwrap();
    let connection = common::connection();
    let records = common::records(common::PEER_BATCH);
    let doc = common::document(&records, &connection);
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    write("T1.jsonata", common::T1.as_bytes());
    write("T2.jsonata", common::T2.as_bytes());
    write(&format!("doc-{}.json", common::PEER_BATCH), &serde_json::to_vec(&doc).unwrap());
    let mut out = Vec::new();
    handwritten::t1_value(&doc, &mut out);
    write("expected-T1.json", &out);
    out.clear();
    handwritten::t2_value(&doc, &mut out);
    write("expected-T2.json", &out);
}

/// The median of `iterations` timed calls of `f` (each doing `inner` operations) after
/// `iterations / 5 + 1` untimed calls, per operation.
fn median(iterations: usize, inner: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 5 + 1 {
        f();
    }
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2] / inner as u32
}

fn records_per_s(d: Duration, n: usize) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn time(iterations: usize) {
    let n = common::PEER_BATCH;
    let connection = common::connection();
    let records = common::records(n);
    let doc = common::document(&records, &connection);
    let mut out = Vec::with_capacity(4 << 20);

    for (name, src) in [("T1", common::T1), ("T2", common::T2)] {
        let template = Template::compile(src).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        let fields = template.fields();
        let batch = common::batch(&records, fields);
        let expression = Expression::compile(src).unwrap_or_else(|d| panic!("{name}: {d:?}"));

        let d = median(iterations, 1, || {
            out.clear();
            match name {
                "T1" => handwritten::t1_batch(black_box(&batch), &connection, T1Slots::of(fields), &mut out),
                _ => handwritten::t2_batch(black_box(&batch), &connection, T2Slots::of(fields), &mut out),
            }
        });
        println!("handwritten.render_{name}.records_per_s {:.0}", records_per_s(d, n));

        let walk = match name {
            "T1" => handwritten::t1_value,
            _ => handwritten::t2_value,
        };
        let d = median(iterations, 1, || {
            out.clear();
            walk(black_box(&doc), &mut out);
        });
        println!("handwritten.walk_{name}.records_per_s {:.0}", records_per_s(d, n));

        let d = median(iterations, 1, || {
            out.clear();
            template.render(black_box(&batch), &connection, &mut out).unwrap();
        });
        println!("audience.render_{name}.records_per_s {:.0}", records_per_s(d, n));

        let d = median(iterations, 1, || {
            out.clear();
            expression.evaluate(Some(black_box(&doc)), &mut out).unwrap();
        });
        println!("audience.evaluate_{name}.records_per_s {:.0}", records_per_s(d, n));
    }

    let inner = 100;
    let d = median(iterations.max(20) / 4, inner, || {
        for _ in 0..inner {
            black_box(Template::compile(black_box(common::T1)).unwrap());
        }
    });
    println!("audience.compile_T1.us {:.3}", d.as_secs_f64() * 1e6);
}

fn selftest() {
    let mut rng = common::SplitMix64::new(7);

    // Mostly plain text, so that the fast paths run, with every kind of byte the escaper must
    // catch now and then, at every length around the 4-, 8- and 16-byte steps.
    let rare =
        ["\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{0}", "\u{1}", "\u{1f}", "\u{7f}", "é", "€", "😀", "/"];
    let mut out = Vec::new();
    for _ in 0..300_000 {
        let len = rng.below(70) as usize;
        let mut s = String::new();
        for _ in 0..len {
            if rng.below(40) == 0 {
                s.push_str(rare[rng.below(rare.len() as u64) as usize]);
            } else {
                s.push((b' ' + rng.below(95) as u8) as char);
            }
        }
        out.clear();
        handwritten::write_str(&mut out, &s);
        assert_eq!(String::from_utf8_lossy(&out), serde_json::to_string(&s).unwrap(), "escaping {s:?}");
    }

    let mut ints: Vec<i64> = vec![0, 1, -1, 9, 10, 99, 100, 101, 999, 1000, i64::MIN, i64::MAX];
    for _ in 0..100_000 {
        let x = rng.next_u64() as i64;
        ints.push(x >> rng.below(64));
    }
    for i in ints {
        out.clear();
        handwritten::write_value(&mut out, &serde_json::Value::from(i));
        assert_eq!(String::from_utf8_lossy(&out), i.to_string());
    }
    out.clear();
    handwritten::write_value(&mut out, &serde_json::Value::from(u64::MAX));
    assert_eq!(String::from_utf8_lossy(&out), u64::MAX.to_string());

    // The two sources of each template give the same bytes, with fields missing now and then.
    let connection = common::connection();
    let records = common::records(2000);
    let mut doc = common::document(&records, &connection);
    let names = ["sha256_email", "google_aid", "first_name", "last_name", "user_id", "email"];
    let fields: Vec<TemplateField> =
        names.iter().map(|n| TemplateField { name: n.to_string(), span: Span::default() }).collect();
    let full = common::batch(&records, &fields);
    let mut batch = RecordBatch::new(names.len());
    for (r, record) in doc["records"].as_array_mut().unwrap().iter_mut().enumerate() {
        batch.push_record();
        let record = record.as_object_mut().unwrap();
        for (slot, name) in names.iter().enumerate() {
            if rng.below(8) == 0 {
                record.shift_remove(*name);
                continue;
            }
            match full.get(r, slot) {
                audience::template::batch::FieldValue::Str(s) => batch.set_str(slot, s),
                audience::template::batch::FieldValue::Int(i) => batch.set_i64(slot, i),
                other => unreachable!("{other:?}"),
            }
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    handwritten::t1_batch(
        &batch,
        &connection,
        T1Slots { sha256_email: 0, google_aid: 1, first_name: 2, last_name: 3 },
        &mut a,
    );
    handwritten::t1_value(&doc, &mut b);
    assert!(a == b, "T1: the batch and value renderers differ");
    serde_json::from_slice::<serde_json::Value>(&a).expect("T1 is JSON");
    a.clear();
    b.clear();
    handwritten::t2_batch(&batch, &connection, T2Slots { email: 5, user_id: 4 }, &mut a);
    handwritten::t2_value(&doc, &mut b);
    assert!(a == b, "T2: the batch and value renderers differ");
    serde_json::from_slice::<serde_json::Value>(&a).expect("T2 is JSON");
    println!("selftest ok");
}

/// Runs `what` `iterations` times (see the module doc); the setup is outside `run_profiled`.
fn profile(what: &str, iterations: usize, n: usize) {
    let connection = common::connection();
    let records = common::records(n);
    let doc = common::document(&records, &connection);
    let name = &what[what.len() - 2..];
    let src = match name {
        "T1" => common::T1,
        "T2" => common::T2,
        _ => panic!("unknown template in {what:?}"),
    };
    let template = Template::compile(src).unwrap();
    let fields = template.fields();
    let batch = common::batch(&records, fields);
    let expression = Expression::compile(src).unwrap();
    let mut out = Vec::with_capacity(4 << 20);
    let op: Box<Op> = match &what[..what.len() - 3] {
        "render" => Box::new(|out| template.render(&batch, &connection, out).unwrap()),
        "evaluate" => Box::new(|out| {
            expression.evaluate(Some(&doc), out).unwrap();
        }),
        "handwritten" if name == "T1" => Box::new(|out| {
            let s = T1Slots::of(fields);
            handwritten::t1_batch(&batch, &connection, s, out)
        }),
        "handwritten" => Box::new(|out| {
            let s = T2Slots::of(fields);
            handwritten::t2_batch(&batch, &connection, s, out)
        }),
        "handwalk" if name == "T1" => Box::new(|out| handwritten::t1_value(&doc, out)),
        "handwalk" => Box::new(|out| handwritten::t2_value(&doc, out)),
        "compile" => Box::new(|_| {
            black_box(Template::compile(black_box(src)).unwrap());
        }),
        _ => panic!("unknown {what:?}"),
    };
    run_profiled(iterations, &mut out, &*op);
}

/// One profiled operation, appending to its buffer.
type Op<'a> = dyn Fn(&mut Vec<u8>) + 'a;

#[inline(never)]
fn run_profiled(iterations: usize, out: &mut Vec<u8>, op: &Op) {
    for _ in 0..iterations {
        out.clear();
        op(out);
        black_box(out.len());
    }
}
