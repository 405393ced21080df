//! SHA-256 + lowercase hex of typical e-mails (docs/design/performance.md: at most 1.5x `sha2` alone), in
//! the same run:
//!
//! * `sha256_hex/hash_hex` is the pipeline's hashing function, `HashAlgorithm::hash_hex`;
//! * `sha256_hex/sha2_const_hex` is `sha2::Sha256::digest` + `const_hex::encode_to_slice`;
//! * `sha256_hex/pipeline_record` (for scale, no target) is a whole `FieldPlan::process` of a
//!   record with one `email`-normalised SHA-256 field, written into a `RecordBatch`.
//!
//! Throughput is in e-mails. After criterion, when run as a benchmark, the ratio is measured
//! once more by interleaving the two in alternating rounds (so that both see the same machine
//! load) and printed with the median per-round ratio.
//!
//! `cargo bench --bench hash`

use std::hint::black_box;
use std::time::{Duration, Instant};

use audience::fields::{FieldPlan, FieldSettings, FieldSpec, HashAlgorithm, Normalization, Scratch, Source};
use audience::fields::{HexBuf, WarehouseValue};
use audience::template::RecordBatch;
use criterion::{Criterion, Throughput};
use sha2::{Digest, Sha256};

const EMAILS: usize = 1000;

/// `first.last123@domain`, 15 to 35 bytes, from a fixed-seed generator.
fn emails() -> Vec<String> {
    const FIRST: [&str; 8] = ["ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken"];
    const LAST: [&str; 8] = ["lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "thompson"];
    const DOMAIN: [&str; 4] = ["example.com", "gmail.com", "company.co.uk", "mail.example.org"];
    let mut state: u64 = 0x5EED;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as usize
    };
    (0..EMAILS)
        .map(|_| format!("{}.{}{}@{}", FIRST[next() % 8], LAST[next() % 8], next() % 1000, DOMAIN[next() % 4]))
        .collect()
}

#[inline(never)]
fn ours(emails: &[String], buf: &mut HexBuf) -> usize {
    let mut total = 0;
    for e in emails {
        let hex = HashAlgorithm::Sha256.hash_hex(e.as_bytes(), buf).unwrap_or_default();
        total += black_box(hex).len();
    }
    total
}

#[inline(never)]
fn baseline(emails: &[String], buf: &mut HexBuf) -> usize {
    let mut total = 0;
    for e in emails {
        let digest = Sha256::digest(e.as_bytes());
        const_hex::encode_to_slice(digest, &mut buf[..64]).unwrap();
        total += black_box(&buf[..64]).len();
    }
    total
}

fn bench(c: &mut Criterion, emails: &[String]) {
    // Both must produce the same digests before their times mean anything.
    let (mut a, mut b) = ([0; 128], [0; 128]);
    for e in emails {
        let ours = HashAlgorithm::Sha256.hash_hex(e.as_bytes(), &mut a).unwrap().to_owned();
        const_hex::encode_to_slice(Sha256::digest(e.as_bytes()), &mut b[..64]).unwrap();
        assert_eq!(ours.as_bytes(), &b[..64], "{e}");
    }

    let settings = FieldSettings { hash: HashAlgorithm::Sha256, normalize: Normalization::Email, ..Default::default() };
    let plan = FieldPlan::compile(&[FieldSpec::new("email", settings, Source::Column(0))], true).unwrap();
    let mut batch = RecordBatch::new(plan.width());
    let mut scratch = Scratch::default();

    let mut group = c.benchmark_group("sha256_hex");
    group.throughput(Throughput::Elements(emails.len() as u64));
    let mut buf = [0; 128];
    group.bench_function("hash_hex", |bench| bench.iter(|| ours(black_box(emails), &mut buf)));
    group.bench_function("sha2_const_hex", |bench| bench.iter(|| baseline(black_box(emails), &mut buf)));
    group.bench_function("pipeline_record", |bench| {
        bench.iter(|| {
            batch.clear();
            for e in emails {
                plan.process(&[WarehouseValue::Text(e)], &mut batch, &mut scratch).unwrap();
            }
            batch.len()
        })
    });
    group.finish();
}

/// Alternating rounds of both, the median of the per-round ratios.
fn ratio(emails: &[String]) {
    const ROUNDS: usize = 41;
    const REPEAT: usize = 20;
    let mut buf = [0; 128];
    let mut time = |f: fn(&[String], &mut HexBuf) -> usize| {
        let start = Instant::now();
        for _ in 0..REPEAT {
            black_box(f(black_box(emails), &mut buf));
        }
        start.elapsed()
    };
    // Warm-up.
    time(ours);
    time(baseline);
    let mut rounds: Vec<(Duration, Duration)> = (0..ROUNDS)
        .map(|round| {
            if round % 2 == 0 {
                let o = time(ours);
                (o, time(baseline))
            } else {
                let b = time(baseline);
                (time(ours), b)
            }
        })
        .collect();
    let per_email = |d: Duration| d.as_nanos() as f64 / (REPEAT * emails.len()) as f64;
    let mut ratios: Vec<f64> = rounds.iter().map(|(o, b)| o.as_secs_f64() / b.as_secs_f64()).collect();
    ratios.sort_by(f64::total_cmp);
    rounds.sort_by_key(|(o, _)| *o);
    let ours_median = per_email(rounds[ROUNDS / 2].0);
    rounds.sort_by_key(|(_, b)| *b);
    let baseline_median = per_email(rounds[ROUNDS / 2].1);
    println!(
        "\nsha256 + hex of {} e-mails, {ROUNDS} interleaved rounds:\n  hash_hex        {ours_median:7.1} ns/e-mail\n  \
         sha2+const_hex  {baseline_median:7.1} ns/e-mail\n  ratio (median of rounds) {:.3}x  [min {:.3}x, max {:.3}x]; \
         target <= 1.5x",
        emails.len(),
        ratios[ROUNDS / 2],
        ratios[0],
        ratios[ROUNDS - 1],
    );
}

fn main() {
    let emails = emails();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut c, &emails);
    c.final_summary();
    // Under `cargo test --benches` criterion runs each function once; skip the timing there.
    if std::env::args().any(|a| a == "--bench") {
        ratio(&emails);
    }
}
