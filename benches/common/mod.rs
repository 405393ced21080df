//! The benchmark workload of `docs/design/performance.md`, shared by `benches/render.rs`,
//! `benches/compile.rs` and the separate `bench-compare/` project (which includes this file by
//! path): the two templates, a seeded record generator, and the hand-written baselines in
//! [`handwritten`].
//!
//! The generator is a splitmix64 stream from a fixed seed, so every run, every process and every
//! batch size sees the same records (a batch of 100 is the first 100 of the batch of 5,000).

#![allow(dead_code)]

pub mod handwritten;

use audience::template::{Connection, RecordBatch, TemplateField};
use serde_json::{Map, Value, json};

/// T1, the seed's sample template (text exactly as in docs/design/performance.md).
pub const T1: &str = r#"{
  "audience_id": $$.connection.audienceId,
  "elements": [$$.records.{
    "userIds": [
      {"idType": "SHA256_EMAIL", "idValue": sha256_email},
      {"idType": "GOOGLE_AID", "idValue": google_aid}
    ],
    "firstName": first_name,
    "lastName": last_name,
    "nested": { "org": "static_value" }
  }]
}"#;

/// T2, the flat template.
pub const T2: &str = r#"{ "audienceId": $number($$.connection.audienceId), "users": [$$.records.{ "email": email, "user_id": user_id }] }"#;

/// Batch sizes measured against the hand-written baselines.
pub const BATCH_SIZES: [usize; 3] = [1, 100, 5000];

/// The batch size of the peer comparisons.
pub const PEER_BATCH: usize = 5000;

/// The fixed seed of every benchmark run.
pub const SEED: u64 = 0x5eed_a0d1_e7ce_2024;

/// The connection every workload renders for. `audienceId` is a decimal string so that T2's
/// `$number` has something to convert.
pub fn connection() -> Connection {
    Connection { audience_id: "6302940512".to_string(), audience_name: "Newsletter subscribers".to_string() }
}

/// splitmix64 (Steele, Lea and Flood): a tiny, good-enough generator with no dependency.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// (display name, ASCII form used in the e-mail). A few carry non-ASCII letters (passed through
/// unescaped by `JSON.stringify`), one an apostrophe, and one a double quote, so the escaper's
/// slow path is taken now and then, as real data would make it.
const FIRST_NAMES: &[(&str, &str)] = &[
    ("James", "james"),
    ("Mary", "mary"),
    ("Robert", "robert"),
    ("Patricia", "patricia"),
    ("John", "john"),
    ("Jennifer", "jennifer"),
    ("Michael", "michael"),
    ("Linda", "linda"),
    ("David", "david"),
    ("Elizabeth", "elizabeth"),
    ("William", "william"),
    ("Barbara", "barbara"),
    ("Richard", "richard"),
    ("Susan", "susan"),
    ("Joseph", "joseph"),
    ("Jessica", "jessica"),
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Chloé", "chloe"),
    ("Søren", "soren"),
    ("Anaïs", "anais"),
    ("Thomas", "thomas"),
    ("Sarah", "sarah"),
    ("Charles", "charles"),
    ("Karen", "karen"),
    ("Christopher", "christopher"),
    ("Nancy", "nancy"),
    ("Daniel", "daniel"),
    ("Lisa", "lisa"),
    ("Matthew", "matthew"),
    ("Yuki", "yuki"),
    ("Ann \"Annie\"", "ann"),
];

const LAST_NAMES: &[(&str, &str)] = &[
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Williams", "williams"),
    ("Brown", "brown"),
    ("Jones", "jones"),
    ("Garcia", "garcia"),
    ("Miller", "miller"),
    ("Davis", "davis"),
    ("Rodriguez", "rodriguez"),
    ("Martinez", "martinez"),
    ("Hernandez", "hernandez"),
    ("Lopez", "lopez"),
    ("Müller", "muller"),
    ("O'Brien", "obrien"),
    ("Nguyen", "nguyen"),
    ("Kowalski", "kowalski"),
    ("Anderson", "anderson"),
    ("Thomas", "thomas"),
    ("Taylor", "taylor"),
    ("Moore", "moore"),
    ("Jackson", "jackson"),
    ("Martin", "martin"),
    ("Lee", "lee"),
    ("Pérez", "perez"),
    ("Thompson", "thompson"),
    ("White", "white"),
    ("Harris", "harris"),
    ("Sánchez", "sanchez"),
    ("Clark", "clark"),
    ("Ramírez", "ramirez"),
    ("Lewis", "lewis"),
    ("Robinson", "robinson"),
];

/// One generated record.
#[derive(Clone, Debug)]
pub struct Record {
    /// 64 lower-case hex digits.
    pub sha256_email: String,
    /// A lower-case version-4 UUID.
    pub google_aid: String,
    pub first_name: String,
    pub last_name: String,
    /// Between 1 and 10^10, so its width varies.
    pub user_id: i64,
    /// `<first>.<last><n>@example.com`
    pub email: String,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(s: &mut String, mut bits: u64, digits: usize) {
    for _ in 0..digits {
        s.push(HEX[(bits & 15) as usize] as char);
        bits >>= 4;
    }
}

impl Record {
    fn generate(rng: &mut SplitMix64) -> Record {
        let mut sha256_email = String::with_capacity(64);
        for _ in 0..4 {
            push_hex(&mut sha256_email, rng.next_u64(), 16);
        }
        let (a, b) = (rng.next_u64(), rng.next_u64());
        let mut google_aid = String::with_capacity(36);
        push_hex(&mut google_aid, a, 8);
        google_aid.push('-');
        push_hex(&mut google_aid, a >> 32, 4);
        google_aid.push_str("-4");
        push_hex(&mut google_aid, a >> 48, 3);
        google_aid.push('-');
        google_aid.push(HEX[8 + (b & 3) as usize] as char);
        push_hex(&mut google_aid, b >> 2, 3);
        google_aid.push('-');
        push_hex(&mut google_aid, b >> 14, 12);
        let (first, first_ascii) = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
        let (last, last_ascii) = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
        let user_id = 1 + rng.below(10_000_000_000) as i64;
        let email = format!("{first_ascii}.{last_ascii}{}@example.com", rng.below(1000));
        Record { sha256_email, google_aid, first_name: first.to_string(), last_name: last.to_string(), user_id, email }
    }

    /// The record as a JSON object, keys in the order of the struct.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("sha256_email".into(), self.sha256_email.clone().into());
        m.insert("google_aid".into(), self.google_aid.clone().into());
        m.insert("first_name".into(), self.first_name.clone().into());
        m.insert("last_name".into(), self.last_name.clone().into());
        m.insert("user_id".into(), self.user_id.into());
        m.insert("email".into(), self.email.clone().into());
        Value::Object(m)
    }
}

/// `n` records from the fixed seed.
pub fn records(n: usize) -> Vec<Record> {
    let mut rng = SplitMix64::new(SEED);
    (0..n).map(|_| Record::generate(&mut rng)).collect()
}

/// The records as the sync runner holds them: one slot per template field, in the template's
/// field order (looked up by name).
pub fn batch(records: &[Record], fields: &[TemplateField]) -> RecordBatch {
    let mut batch = RecordBatch::new(fields.len());
    for r in records {
        batch.push_record();
        for (slot, field) in fields.iter().enumerate() {
            match field.name.as_str() {
                "sha256_email" => batch.set_str(slot, &r.sha256_email),
                "google_aid" => batch.set_str(slot, &r.google_aid),
                "first_name" => batch.set_str(slot, &r.first_name),
                "last_name" => batch.set_str(slot, &r.last_name),
                "user_id" => batch.set_i64(slot, r.user_id),
                "email" => batch.set_str(slot, &r.email),
                other => panic!("the workload has no field {other:?}"),
            }
        }
    }
    batch
}

/// The slot of field `name` in `fields`.
pub fn slot(fields: &[TemplateField], name: &str) -> usize {
    fields.iter().position(|f| f.name == name).unwrap_or_else(|| panic!("template has no field {name:?}"))
}

/// The JSON document `audience render` evaluates: `{"records": [...], "connection": {...}}`.
pub fn document(records: &[Record], connection: &Connection) -> Value {
    json!({
        "records": records.iter().map(Record::to_json).collect::<Vec<_>>(),
        "connection": {
            "audienceId": connection.audience_id,
            "audienceName": connection.audience_name,
        },
    })
}
