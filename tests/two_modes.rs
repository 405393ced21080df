//! The two ways of running a template agree: `Template::render` over a [`RecordBatch`] of slot
//! records writes exactly the bytes `Template::evaluate` writes over the equivalent JSON
//! document `{"records": [...], "connection": {...}}` (missing fields omitted), and fails with
//! the same error code when it fails.
//!
//! Seeded loop (the generators live in `src/generate/`): fixed seeds plus one fresh seed
//! per run, printed as `two_modes: fresh seed = N (replay with AUDIENCE_TWO_MODES_SEED=N)`.
//! `AUDIENCE_TWO_MODES_CASES` sets the number of templates per seed.

mod support;

use audience::template::{Connection, RecordBatch, Template};
use support::{Rng, batch_doc, env_u64, fill_batch, fresh_seed, gen_connection, gen_records, gen_template};

const FIXED_SEEDS: &[u64] = &[0x7770_0001, 0x7770_0002];
const DEFAULT_CASES: u64 = 300;

fn outcome(r: Result<bool, audience::template::Diagnostic>, out: &[u8]) -> Result<String, String> {
    match r {
        Ok(true) => Ok(String::from_utf8_lossy(out).into_owned()),
        Ok(false) => Err("undefined (a template is never undefined)".to_string()),
        Err(d) => Err(d.code.as_str().to_string()),
    }
}

struct Failure {
    seed: u64,
    index: u64,
    template: String,
    doc: String,
    render: Result<String, String>,
    evaluate: Result<String, String>,
}

fn check_seed(seed: u64, cases: u64, failures: &mut Vec<Failure>) {
    let mut batch = RecordBatch::new(0);
    let mut out = Vec::new();
    for index in 0..cases {
        let mut rng = Rng::for_case(seed, index);
        let (src, generated_fields) = gen_template(&mut rng);
        let template = match Template::compile(&src) {
            Ok(t) => t,
            Err(d) => panic!(
                "seed {seed} case {index}: a generated profile-valid template was rejected: {}\n  template: {src:?}",
                d.iter().map(|d| format!("{} {}", d.code.as_str(), d.message)).collect::<Vec<_>>().join("; ")
            ),
        };
        let fields: Vec<String> = template.fields().iter().map(|f| f.name.clone()).collect();
        // The fields are the distinct first names of the relative paths, in order of first
        // appearance: the generator knows them.
        assert_eq!(fields, generated_fields, "seed {seed} case {index}: template fields of {src:?}");
        // Several batches per template, reusing the batch and the buffer as the sync does.
        for _ in 0..3 {
            let conn = gen_connection(&mut rng);
            let records = gen_records(&mut rng, fields.len());
            if batch.width() != fields.len() {
                batch = RecordBatch::new(fields.len());
            }
            fill_batch(&mut batch, &records);
            out.clear();
            let r = template.render(&batch, &conn, &mut out);
            let render = match r {
                Ok(()) => Ok(String::from_utf8_lossy(&out).into_owned()),
                Err(d) => Err(d.code.as_str().to_string()),
            };
            let doc = batch_doc(&fields, &records, &conn);
            let mut out2 = Vec::new();
            let evaluate = outcome(template.evaluate(Some(&doc), &mut out2), &out2);
            if render != evaluate {
                failures.push(Failure { seed, index, template: src.clone(), doc: doc.to_string(), render, evaluate });
                break;
            }
        }
    }
}

fn seeds(name: &str) -> Vec<u64> {
    match env_u64("AUDIENCE_TWO_MODES_SEED") {
        Some(s) => {
            println!("{name}: replaying seed {s}");
            vec![s]
        }
        None => {
            let fresh = fresh_seed();
            println!("{name}: fresh seed = {fresh} (replay with AUDIENCE_TWO_MODES_SEED={fresh})");
            FIXED_SEEDS.iter().copied().chain([fresh]).collect()
        }
    }
}

#[test]
fn render_matches_evaluate_over_the_equivalent_document() {
    let cases = env_u64("AUDIENCE_TWO_MODES_CASES").unwrap_or(DEFAULT_CASES);
    assert!(cases > 0, "AUDIENCE_TWO_MODES_CASES=0 would compare nothing: give it at least 1");
    let mut failures = Vec::new();
    let seeds = seeds("two_modes");
    for &seed in &seeds {
        check_seed(seed, cases, &mut failures);
    }
    for f in failures.iter().take(20) {
        println!(
            "--- seed {} case {}\n  template: {:?}\n  document: {}\n  render:   {:?}\n  evaluate: {:?}",
            f.seed, f.index, f.template, f.doc, f.render, f.evaluate
        );
    }
    assert!(
        failures.is_empty(),
        "{} templates render differently from their JSON document (seeds {seeds:?}; replay with AUDIENCE_TWO_MODES_SEED=N)",
        failures.len()
    );
}

/// The same record always yields the same body: rendering twice (reusing the buffer after a
/// clear, and rebuilding the batch in between) gives identical bytes.
#[test]
fn same_record_same_body() {
    for &seed in &seeds("two_modes/same_record") {
        for index in 0..100 {
            let mut rng = Rng::for_case(seed ^ 0x5A5A, index);
            let (src, _) = gen_template(&mut rng);
            let template =
                Template::compile(&src).unwrap_or_else(|d| panic!("seed {seed} case {index}: {src:?}: {d:?}"));
            let width = template.fields().len();
            let conn: Connection = gen_connection(&mut rng);
            let records = gen_records(&mut rng, width);
            let mut batch = RecordBatch::new(width);
            fill_batch(&mut batch, &records);

            let mut out = Vec::new();
            let first = template.render(&batch, &conn, &mut out).map(|()| out.clone());
            out.clear();
            let second = template.render(&batch, &conn, &mut out).map(|()| out.clone());
            // Rebuild the batch from scratch in a reused (cleared) batch: same body again.
            fill_batch(&mut batch, &records);
            out.clear();
            let third = template.render(&batch, &conn, &mut out).map(|()| out.clone());
            let show = |r: &Result<Vec<u8>, audience::template::Diagnostic>| match r {
                Ok(b) => String::from_utf8_lossy(b).into_owned(),
                Err(d) => format!("error {}", d.code.as_str()),
            };
            assert_eq!(show(&first), show(&second), "seed {seed} case {index}: {src:?}");
            assert_eq!(show(&first), show(&third), "seed {seed} case {index}: {src:?}");

            // A one-record batch per record renders the same record the same way each time.
            if let Some(rec) = records.first() {
                let one = vec![rec.clone()];
                fill_batch(&mut batch, &one);
                out.clear();
                let a = template.render(&batch, &conn, &mut out).map(|()| out.clone());
                fill_batch(&mut batch, &one);
                out.clear();
                let b = template.render(&batch, &conn, &mut out).map(|()| out.clone());
                assert_eq!(show(&a), show(&b), "seed {seed} case {index}: {src:?}");
            }
        }
    }
}

/// `[$$.records.PATH]`, a list of one field's values, rendered from slot records: the outputs
/// are the reference's (jsonata 2.2.2 on the same documents): a record without the value adds
/// nothing, a null is kept, an array value is spliced, and no value at all leaves `[]`.
#[test]
fn lists_of_ids_render_as_the_reference_evaluates() {
    let template =
        Template::compile(r#"{"ids": [$$.records.user_id], "n": $$.connection.audienceId}"#).expect("a valid template");
    let connection = Connection { audience_id: "42".into(), audience_name: "A".into() };
    let cases: [(&[Option<serde_json::Value>], &str); 4] = [
        (&[Some(serde_json::json!("a"))], r#"{"ids":["a"],"n":"42"}"#),
        (&[Some(serde_json::json!("a")), Some(serde_json::json!(2))], r#"{"ids":["a",2],"n":"42"}"#),
        (
            &[Some(serde_json::json!("a")), None, Some(serde_json::Value::Null), Some(serde_json::json!(["x", "y"]))],
            r#"{"ids":["a",null,"x","y"],"n":"42"}"#,
        ),
        (&[None], r#"{"ids":[],"n":"42"}"#),
    ];
    for (values, expected) in cases {
        let mut batch = RecordBatch::new(1);
        for value in values {
            batch.push_record();
            if let Some(v) = value {
                batch.set_json(0, v.clone());
            }
        }
        let mut out = Vec::new();
        template.render(&batch, &connection, &mut out).expect("renders");
        assert_eq!(String::from_utf8(out).unwrap(), expected, "{values:?}");
    }
}
