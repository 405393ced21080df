//! `audience demo`: the template engine at work on the seed's sample templates, with nothing
//! else installed. (The full demo — a SQLite warehouse, a local audience API and two syncs —
//! builds on this once syncing exists.)

use super::exit;
use crate::template::{Connection, RecordBatch, Template, report};
use std::time::Instant;

/// Compile the product page's two sample templates, render a batch of sample users through
/// each, and show the request bodies.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Sample users per batch (1..=5000).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=5000))]
    records: u32,
}

/// The seed's sample request body template.
const SAMPLE: &str = r#"{
  "audience_id": $$.connection.audienceId,
  "elements": [$$.records.{
    "userIds": [
      {"idType": "SHA256_EMAIL", "idValue": sha256_email},
      {"idType": "GOOGLE_AID", "idValue": google_aid}
    ],
    "firstName": first_name,
    "lastName": last_name,
    "nested": {
      "org": "static_value"
    }
  }]
}"#;

/// The seed's generic batched-members template.
const GENERIC: &str = r#"{
   "audienceId": $$.connection.audienceId,
   "users": [$$.records.{
    "email": email,
     "user_id": user_id
  }]
}"#;

const FIRST: &[&str] = &["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"];
const LAST: &[&str] = &["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"];

pub fn run(args: Args) -> i32 {
    let connection = Connection { audience_id: "1234567890".into(), audience_name: "High value users".into() };
    for (title, src) in [("sample template", SAMPLE), ("generic template", GENERIC)] {
        let template = match Template::compile(src) {
            Ok(t) => t,
            Err(diags) => {
                eprint!("{}", report::render_human(src, title, &diags, false));
                return exit::INVALID;
            }
        };
        let fields: Vec<&str> = template.fields().iter().map(|f| f.name.as_str()).collect();
        let mut batch = RecordBatch::new(fields.len());
        for i in 0..args.records as usize {
            batch.push_record();
            for (slot, field) in fields.iter().enumerate() {
                let (first, last) = (FIRST[i % FIRST.len()], LAST[(i / FIRST.len() + i) % LAST.len()]);
                match *field {
                    "first_name" => batch.set_str(slot, first),
                    "last_name" => batch.set_str(slot, last),
                    "email" => {
                        batch.set_str(slot, &format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()))
                    }
                    "user_id" => batch.set_i64(slot, 1000 + i as i64),
                    "sha256_email" => batch.set_str(slot, &format!("{:064x}", (i as u128 + 1) * 0x9e37_79b9_7f4a_7c15)),
                    "google_aid" => batch.set_str(slot, &format!("{:08x}-0000-4000-8000-{:012x}", i + 1, i * 7919)),
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        let started = Instant::now();
        if let Err(d) = template.render(&batch, &connection, &mut body) {
            eprint!("{}", report::render_human(src, title, &[d], false));
            return exit::INVALID;
        }
        let took = started.elapsed();
        println!("== {title} (fields: {})", fields.join(", "));
        println!("{}", String::from_utf8_lossy(&body));
        println!("   {} records, {} bytes, rendered in {:?}\n", batch.len(), body.len(), took);
    }
    exit::OK
}
