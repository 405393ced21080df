//! The configuration fingerprint (docs/design/sync.md, "Change of configuration"): a hash of everything that
//! shapes a sync's requests. When it changes, every member is sent again as an add.
//!
//! In it: the base URL, each action's method, path and template, the settings of the fields the
//! templates use, the sync's mapping and static values, `hash_pii`, `audience_id`,
//! `audience_name`, and (our addition) the primary key, whose change changes who the members
//! are. Not in it: auth, headers, timeouts, limits, retries, batch sizes, schedules (rotating a
//! token resends nothing). [`VERSION`] is in it too, so that a release that changes how rows are
//! fingerprinted or rendered resends everything once rather than mixing two encodings.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::destination::{ActionKind, Config, Sync};
use crate::fields::OwnedValue;

/// Bumped when a release changes the row fingerprint or what a request holds for the same
/// configuration.
pub const VERSION: u32 = 1;

/// The fingerprint of `sync`'s configuration, as a 64-bit integer (what the baseline stores per
/// member). `templates` are the actions' template sources, indexed by [`ActionKind`] (`None` for
/// update with `use_add`).
pub fn config_fingerprint(config: &Config, sync: &Sync, templates: &[Option<String>; 3]) -> i64 {
    let canonical = canonical(config, sync, templates);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// The fingerprint of each part of `sync`'s configuration, as the runs table stores them beside
/// the whole one (`requests=… templates=… fields=…`): what lets a later run say which part
/// changed. Short hashes: they only tell a part from its previous value.
pub fn config_parts(config: &Config, sync: &Sync, templates: &[Option<String>; 3]) -> String {
    let doc = canonical(config, sync, templates);
    let actions = doc["actions"].as_array().cloned().unwrap_or_default();
    let pick = |key: &str| Value::Array(actions.iter().map(|a| a[key].clone()).collect());
    let parts = [
        ("version", doc["version"].clone()),
        ("requests", json!([doc["base_url"], pick("method"), pick("path"), pick("use_add")])),
        ("templates", pick("template")),
        ("fields", pick("fields")),
        ("mapping", json!([doc["map"], doc["primary_key"]])),
        ("static", doc["static"].clone()),
        ("hash_pii", doc["hash_pii"].clone()),
        ("audience", json!([doc["audience_id"], doc["audience_name"]])),
    ];
    let short = |v: &Value| const_hex::encode(&Sha256::digest(v.to_string().as_bytes())[..4]);
    parts.iter().map(|(name, v)| format!("{name}={}", short(v))).collect::<Vec<_>>().join(" ")
}

/// What changed between two stored fingerprints (`config_text` of the runs table): the names of
/// the parts that differ, in the words people read (`templates`, `fields`, `mapping`, ...);
/// `None` when the earlier one does not list its parts; empty when nothing changed.
pub fn changed_parts(before: &str, now: &str) -> Option<Vec<String>> {
    let parts = |text: &str| -> Vec<(String, String)> {
        text.split_whitespace()
            .skip(1)
            .filter_map(|p| p.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect()
    };
    let (old, new) = (parts(before), parts(now));
    if old.is_empty() {
        return None;
    }
    Some(
        new.iter()
            .filter(|(k, v)| old.iter().find(|(ok, _)| ok == k).is_none_or(|(_, ov)| ov != v))
            .map(|(k, _)| match k.as_str() {
                "version" => "the release (its request format)".to_owned(),
                "requests" => "base_url, methods or paths".to_owned(),
                "static" => "static values".to_owned(),
                "audience" => "audience_id or audience_name".to_owned(),
                "mapping" => "mapping or primary_key".to_owned(),
                other => other.to_owned(),
            })
            .collect(),
    )
}

/// What is hashed, as a JSON document (keys in a fixed order).
fn canonical(config: &Config, sync: &Sync, templates: &[Option<String>; 3]) -> Value {
    let d = &config.destination;
    let actions: Vec<Value> = ActionKind::ALL
        .iter()
        .map(|&kind| {
            let a = d.action(kind);
            json!({
                "action": kind.name(),
                "method": a.method.as_str(),
                "path": a.path.as_str(),
                "use_add": a.uses_add,
                "template": templates[kind.index()],
                "fields": a.field_names().iter().map(|f| json!([f, d.field(f)])).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "version": VERSION,
        "base_url": d.base_url.as_str(),
        "actions": actions,
        "map": sync.map.iter().map(|(f, c)| json!([f, c.as_str()])).collect::<Vec<_>>(),
        "static": sync.statics.iter().map(|s| json!([s.field, owned_json(&s.value)])).collect::<Vec<_>>(),
        "hash_pii": sync.hash_pii,
        "audience_id": sync.audience_id.as_str(),
        "audience_name": sync.audience_name.as_str(),
        "primary_key": sync.primary_key.as_str(),
    })
}

/// A static value with its kind (so that `1` and `"1"` differ).
fn owned_json(v: &OwnedValue) -> Value {
    match v {
        OwnedValue::Null => json!(["null"]),
        OwnedValue::Int(i) => json!(["int", i]),
        OwnedValue::Float(f) => json!(["float", f.to_bits()]),
        OwnedValue::Numeric(s) => json!(["numeric", s]),
        OwnedValue::Text(s) => json!(["text", s]),
        OwnedValue::Timestamp(s) => json!(["timestamp", s]),
        OwnedValue::Bool(b) => json!(["bool", b]),
        OwnedValue::Json(j) => json!(["json", j]),
        OwnedValue::Bytes(b) => json!(["bytes", const_hex::encode(b)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::{EnvMode, check_text};

    const BASE: &str = r#"
[destination]
name = "t"
base_url = "https://api.example.com"
auth = { type = "bearer", token = "TOKEN" }
timeout = "TIMEOUT"
[destination.actions.add]
path = "/a"
template = '{"u": [$$.records.{"e": email}]}'
[destination.actions.update]
use_add = true
[destination.actions.remove]
method = "DELETE"
path = "/a"
template = '{"u": [$$.records.{"e": email}]}'
[destination.fields.email]
hash = "HASH"
[syncs.s]
audience_name = "A"
audience_id = "1"
source = "sqlite://w.db"
table = "users"
primary_key = "id"
map = { email = "email" }
"#;

    fn fingerprint(token: &str, timeout: &str, hash: &str) -> i64 {
        let text = BASE.replace("TOKEN", token).replace("TIMEOUT", timeout).replace("HASH", hash);
        let report = check_text(&text, "t.toml", std::path::Path::new("/tmp"), &|_| None, EnvMode::Error);
        let config = report.checked.config.as_ref().unwrap_or_else(|| panic!("{:?}", report.checked.problems));
        let templates = report.checked.templates.clone().map(|t| t.map(|t| t.text));
        config_fingerprint(config, &config.syncs[0], &templates)
    }

    #[test]
    fn what_shapes_requests_is_in_it_and_auth_is_not() {
        let base = fingerprint("t1", "30s", "sha256");
        assert_eq!(base, fingerprint("t1", "30s", "sha256"), "deterministic");
        assert_eq!(base, fingerprint("t2", "30s", "sha256"), "rotating a token resends nothing");
        assert_eq!(base, fingerprint("t1", "10s", "sha256"), "timeouts are not in it");
        assert_ne!(base, fingerprint("t1", "30s", "md5"), "field settings are");
    }
}
