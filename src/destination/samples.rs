//! Deterministic sample records for `audience preview`: a plausible value per field, chosen by
//! the field's name (e-mail addresses, phone numbers with a country code, names, IDs, UUIDs,
//! dates...), so that a preview looks like real traffic and passes the field pipeline.
//!
//! The same field name and index always give the same value. For a hashed field of a sync with
//! `hash_pii = false`, where values must already be digests, the sample is the digest of the
//! plausible value (normalised as the field says), as the warehouse would hold it.

use serde_json::{Map, Value};

use crate::fields::{FieldSettings, HashAlgorithm};

const FIRST: [&str; 8] = ["Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Linus", "Margaret"];
const LAST: [&str; 8] = ["Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Torvalds", "Hamilton"];
const COUNTRIES: [&str; 5] = ["US", "GB", "DE", "FR", "JP"];
const CITIES: [&str; 5] = ["San Francisco", "London", "Berlin", "Paris", "Tokyo"];

/// `count` sample records over `fields` (name and settings), each an object keyed by field.
pub fn sample_records(fields: &[(&str, FieldSettings)], count: usize, hash_pii: bool) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let record: Map<String, Value> = fields
                .iter()
                .map(|(name, settings)| ((*name).to_owned(), sample(name, *settings, i, hash_pii)))
                .collect();
            Value::Object(record)
        })
        .collect()
}

fn sample(field: &str, settings: FieldSettings, index: usize, hash_pii: bool) -> Value {
    let value = plausible(field, index);
    if hash_pii || settings.hash == HashAlgorithm::None {
        return value;
    }
    let text = match &value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut buf = String::new();
    let normalized = settings.normalize.apply(&text, &mut buf).map(str::to_owned).unwrap_or(text);
    let mut hex = [0; 128];
    settings.hash.hash_hex(normalized.as_bytes(), &mut hex).map_or(value, |digest| Value::String(digest.to_owned()))
}

/// A plausible value for a field named `field`, the `index`-th of its kind.
pub fn plausible(field: &str, index: usize) -> Value {
    let name = field.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    let first = FIRST[index % FIRST.len()];
    let last = LAST[(index / FIRST.len() + index) % LAST.len()];
    // A number after the name once the names repeat, so that every sample is distinct.
    let n = index / FIRST.len();
    let suffix = if n == 0 { String::new() } else { n.to_string() };
    if has(&["email", "e_mail", "mail"]) {
        return Value::String(format!("{}.{}{suffix}@example.com", first.to_lowercase(), last.to_lowercase()));
    }
    let word = |w: &str| name == w || name.starts_with(&format!("{w}_")) || name.ends_with(&format!("_{w}"));
    if has(&["phone", "mobile", "msisdn"]) || word("tel") {
        return Value::String(format!("+1 650-555-{:04}", 100 + index % 9900));
    }
    if has(&["uuid", "guid", "idfa", "gaid", "aaid", "maid", "device", "_aid"]) || name == "aid" {
        return Value::String(uuid(field, index));
    }
    if has(&["first", "given", "fname"]) {
        return Value::String(first.to_owned());
    }
    if has(&["last", "surname", "family", "lname"]) {
        return Value::String(last.to_owned());
    }
    if has(&["country"]) {
        return Value::String(COUNTRIES[index % COUNTRIES.len()].to_owned());
    }
    if has(&["city"]) {
        return Value::String(CITIES[index % CITIES.len()].to_owned());
    }
    if has(&["zip", "postal", "postcode"]) {
        return Value::String(format!("{:05}", 94103 + index));
    }
    if has(&["birth", "dob"]) {
        return Value::String(format!("19{:02}-{:02}-{:02}", 70 + index % 30, 1 + index % 12, 1 + index % 28));
    }
    if name.starts_with("is_") || name.starts_with("has_") || has(&["opt_in", "optin", "active", "consent"]) {
        return Value::Bool(index.is_multiple_of(2));
    }
    if word("age") {
        return Value::from(25 + index % 50);
    }
    if has(&["ltv", "revenue", "amount", "price", "spend", "value", "score"]) {
        return Value::from(120.5 + index as f64 * 10.0);
    }
    if name.ends_with("_at") || has(&["time", "date"]) {
        return Value::String(format!("2025-01-{:02}T09:30:00Z", 1 + index % 28));
    }
    if has(&["count", "orders", "visits", "quantity"]) {
        return Value::from(3 + index);
    }
    if has(&["name"]) {
        return Value::String(format!("{first} {last}"));
    }
    if name == "id" || name.ends_with("_id") || name.ends_with("id") {
        return Value::from(100_001 + index);
    }
    Value::String(format!("{field}_{}", index + 1))
}

/// A UUID-shaped (version 4 layout) text derived from the field and index.
fn uuid(field: &str, index: usize) -> String {
    let mut hex = [0; 128];
    let digest = HashAlgorithm::Sha256.hash_hex(format!("{field}#{index}").as_bytes(), &mut hex).unwrap_or_default();
    let d = digest.as_bytes();
    let s = |r: std::ops::Range<usize>| String::from_utf8_lossy(&d[r]).into_owned();
    format!("{}-{}-4{}-a{}-{}", s(0..8), s(8..12), s(13..16), s(17..20), s(20..32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_by_name() {
        assert_eq!(plausible("email", 0), "ada.lovelace@example.com");
        assert_eq!(plausible("sha256_email", 1), "grace.hopper@example.com");
        assert_eq!(plausible("email", 8), "ada.hopper1@example.com");
        assert_eq!(plausible("phone", 0), "+1 650-555-0100");
        assert_eq!(plausible("first_name", 2), "Alan");
        assert_eq!(plausible("lastName", 0), "Lovelace");
        assert_eq!(plausible("user_id", 0), 100_001);
        assert_eq!(plausible("is_vip", 1), false);
        assert_eq!(plausible("misc", 0), "misc_1");
        let u = plausible("google_aid", 0);
        let u = u.as_str().unwrap();
        assert_eq!((u.len(), &u[14..15], &u[19..20]), (36, "4", "a"));
        assert_eq!(plausible("google_aid", 0), plausible("google_aid", 0));
        assert_ne!(plausible("google_aid", 0), plausible("google_aid", 1));
    }

    #[test]
    fn pre_hashed_samples_when_hashing_is_off() {
        let settings = FieldSettings {
            hash: HashAlgorithm::Sha256,
            normalize: crate::fields::Normalization::Email,
            ..FieldSettings::default()
        };
        let records = sample_records(&[("email", settings)], 1, false);
        let mut hex = [0; 128];
        let want = HashAlgorithm::Sha256.hash_hex(b"ada.lovelace@example.com", &mut hex).unwrap();
        assert_eq!(records[0]["email"], want);
        assert_eq!(sample_records(&[("email", settings)], 1, true)[0]["email"], "ada.lovelace@example.com");
    }
}
