//! `audience preview`, through the real binary: one snapshot per auth type and action, sample
//! records through the real field pipeline (and the ones it rejects), sync selection, batching,
//! secrets; and a property test that a record always renders to the same body.
//!
//! The configs are `tests/config_cases/preview/*.toml`. A changed snapshot is written with
//! `INSTA_UPDATE=always cargo test --test preview` (read it!).

use std::path::{Path, PathBuf};
use std::process::Command;

use audience::destination::preview::{PreviewOptions, preview};
use audience::destination::{self, ActionKind, EnvMode};
use proptest::prelude::*;
use serde_json::{Value, json};

const ENV_HEADER: &str = "env-header-value";

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config_cases/preview").join(name)
}

fn audience(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(args)
        .env("PREVIEW_ENV_HEADER", ENV_HEADER)
        .output()
        .expect("run audience");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn preview_json(config: &str, extra: &[&str]) -> Value {
    let path = case(config);
    let mut args = vec!["preview", path.to_str().unwrap_or_default(), "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = audience(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A records file in a fresh folder under the target directory.
fn records_file(name: &str, records: &Value) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("preview-records");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, records.to_string()).expect("write records");
    path
}

#[test]
fn each_auth_type_and_action() {
    for auth in ["none", "basic", "api-key", "bearer"] {
        for action in ["add", "update", "remove"] {
            let json = preview_json(&format!("auth-{auth}.toml"), &["--action", action, "--count", "2"]);
            // body_text is the exact bytes of body.
            let text = json["body_text"].as_str().unwrap_or_default();
            assert_eq!(serde_json::from_str::<Value>(text).ok().as_ref(), Some(&json["body"]));
            insta::assert_json_snapshot!(format!("auth-{auth}-{action}"), json);
        }
    }
}

#[test]
fn headers_order_and_masking() {
    let json = preview_json("auth-bearer.toml", &["--action", "add"]);
    assert_eq!(
        json["headers"],
        json!({
            "Content-Type": "application/json",
            "X-API-Version": "2",
            "X-Tenant": "***",
            "X-From-Env": "***",
            "Authorization": "Bearer ***",
        })
    );
    assert_eq!(json["url"], "https://api.example.com/v1/audiences/aud%2042/members");
    let shown = preview_json("auth-bearer.toml", &["--action", "add", "--show-secrets"]);
    assert_eq!(shown["headers"]["Authorization"], "Bearer bearer-token");
    assert_eq!(shown["headers"]["X-Tenant"], "tenant-secret");
    assert_eq!(shown["headers"]["X-From-Env"], ENV_HEADER);
    let basic = preview_json("auth-basic.toml", &["--action", "remove", "--show-secrets"]);
    assert_eq!(basic["headers"]["Authorization"], "Basic YWRhOmJhc2ljLXBhc3N3b3Jk"); // ada:basic-password
    assert_eq!(basic["url"], "https://api.example.com/v1/audiences/aud%2042/members/High%20value%20%2F%20EU");
    let key = preview_json("auth-api-key.toml", &["--action", "add"]);
    assert_eq!(key["headers"]["X-API-Key"], "***");
}

#[test]
fn records_go_through_the_real_pipeline() {
    let digest = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72";
    let records = json!([
        { "email": " Ada@Example.com ", "phone": "+44 (0)20 7946 0958", "user_id": 1 },
        { "email": digest },
        { "phone": "+16502531234" },
        { "emial": "x@example.com" },
        { "email": "x@example.com", "org": "other" },
        "not an object",
        { "email": "b@example.com", "phone": "650 253 1234" },
        { "email": "c@example.com", "phone": null, "user_id": "u-3" },
    ]);
    let path = records_file("mixed", &records);
    let json = preview_json("auth-none.toml", &["--action", "add", "--records", path.to_str().unwrap_or_default()]);
    let rejected: Vec<u64> =
        json["rejected"].as_array().into_iter().flatten().filter_map(|r| r["index"].as_u64()).collect();
    // 4 holds the static field org: somebody's field, ignored (the sync's value is sent).
    assert_eq!(rejected, [1, 2, 3, 5, 6]);
    // The first accepted record, normalised and hashed; the optional phone dropped when null.
    assert_eq!(json["body"]["users"][0]["email"], digest);
    assert_eq!(json["body"]["users"][1], json!({ "email": sha256("x@example.com"), "org": "acme" }));
    insta::assert_json_snapshot!("records-mixed", json);
}

/// The same sample records serve every action: keys of another action's fields are ignored,
/// only a key that is nobody's field rejects its record.
#[test]
fn shared_samples_serve_every_action() {
    let records = json!([
        { "email": "a@example.com", "phone": "+16502531234", "user_id": 7, "org": "x" },
        { "email": "b@example.com", "emial": "typo@example.com" },
    ]);
    let path = records_file("shared", &records);
    for action in ["add", "update", "remove"] {
        let json =
            preview_json("auth-none.toml", &["--action", action, "--records", path.to_str().unwrap_or_default()]);
        assert_eq!(json["rejected"].as_array().map(Vec::len), Some(1), "{action}: {json}");
        assert_eq!(json["rejected"][0]["index"], 1, "{action}");
        assert_eq!(json["body"]["users"][0]["email"], sha256("a@example.com"), "{action}");
    }
    let remove =
        preview_json("auth-none.toml", &["--action", "remove", "--records", path.to_str().unwrap_or_default()]);
    assert_eq!(remove["body"]["users"], json!([{ "email": sha256("a@example.com") }]));
}

/// `--response FILE`: a sample answer read against the previewed request (the first batch of
/// two records), as delivery would read it.
#[test]
fn a_sample_answer_is_read_against_the_previewed_request() {
    let records = records_file(
        "answered",
        &json!([{ "email": "a@example.com" }, { "emial": "typo" }, { "email": "b@example.com" }, { "email": "c@example.com" }]),
    );
    let records = records.to_str().unwrap_or_default();
    let answer = |name: &str, body: &Value| records_file(name, body).to_str().unwrap_or_default().to_owned();
    let refusing = answer(
        "answer-refusing",
        &json!({ "rejected": [{ "identifier": sha256("b@example.com"), "why": "unknown user tenant-secret" }] }),
    );
    let json = preview_json("response.toml", &["--action", "add", "--records", records, "--response", &refusing]);
    // The request holds samples 0 and 2 (1 is rejected, batch_size is 2); the answer refuses 2.
    assert_eq!(
        json["response"],
        json!({ "refused": [{ "index": 2, "error": "unknown user ***" }], "succeeded": [0], "unreadable": null })
    );
    // update reuses add's response setting.
    let update = preview_json("response.toml", &["--action", "update", "--records", records, "--response", &refusing]);
    assert_eq!(update["response"], json["response"]);

    // A value no record of the request has: the answer cannot be matched, every record fails.
    let stranger =
        answer("answer-stranger", &json!({ "rejected": [{ "identifier": sha256("c@example.com"), "why": "x" }] }));
    let json = preview_json("response.toml", &["--action", "add", "--records", records, "--response", &stranger]);
    let why = json["response"]["unreadable"].as_str().unwrap_or_default();
    assert!(why.contains("no record of the request has that `email`"), "{json}");

    // Human output, and an action without a response setting (exit 2).
    let path = case("response.toml");
    let p = path.to_str().unwrap_or_default();
    let (code, stdout, stderr) =
        audience(&["preview", p, "--action", "add", "--records", records, "--response", &refusing]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("accepted samples: 0\nrefused sample 2: unknown user ***\n"), "{stdout}");
    let (code, _, stderr) = audience(&["preview", p, "--action", "remove", "--response", &refusing]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the remove action has no response setting"), "{stderr}");
}

fn sha256(text: &str) -> String {
    let mut buf = [0; 128];
    audience::fields::HashAlgorithm::Sha256.hash_hex(text.as_bytes(), &mut buf).unwrap_or_default().to_owned()
}

#[test]
fn nothing_to_send() {
    let path = records_file("all-rejected", &json!([{ "phone": "+16502531234" }]));
    let json = preview_json("auth-none.toml", &["--action", "add", "--records", path.to_str().unwrap_or_default()]);
    assert_eq!((json["body"].clone(), json["body_text"].clone()), (Value::Null, Value::Null));
    assert_eq!(json["rejected"], json!([{ "index": 0, "error": "required field email is empty or not mapped" }]));
    let json = preview_json("auth-none.toml", &["--action", "add", "--count", "0"]);
    assert_eq!(json["body"], Value::Null);
}

#[test]
fn first_batch_only() {
    let json = preview_json("auth-none.toml", &["--action", "add", "--count", "5"]);
    assert_eq!(json["body"]["users"].as_array().map(Vec::len), Some(2), "batch_size is 2");
    let json = preview_json("small-requests.toml", &["--action", "add", "--count", "50"]);
    let text = json["body_text"].as_str().unwrap_or_default();
    let sent = json["body"]["users"].as_array().map_or(0, Vec::len);
    assert!(text.len() <= 1024 && sent > 1 && sent < 50, "{} bytes, {sent} records", text.len());
}

#[test]
fn generated_samples_are_deterministic() {
    let path = case("auth-bearer.toml");
    let args = ["preview", path.to_str().unwrap_or_default(), "--action", "add", "--count", "7"];
    let (a, b) = (audience(&args), audience(&args));
    assert_eq!(a, b);
    assert_eq!(a.0, 0);
}

#[test]
fn sync_selection() {
    let path = case("several-syncs.toml");
    let p = path.to_str().unwrap_or_default();
    let (code, _, stderr) = audience(&["preview", p, "--action", "add"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("main") && stderr.contains("prehashed") && stderr.contains("--sync"), "{stderr}");
    let (code, _, stderr) = audience(&["preview", p, "--action", "add", "--sync", "nope"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("main, prehashed"), "{stderr}");
    // hash_pii = false: generated samples are digests already, and pass the hash-state check.
    let json = preview_json("several-syncs.toml", &["--action", "add", "--sync", "prehashed", "--count", "2"]);
    assert_eq!(json["rejected"], json!([]));
    assert_eq!(json["body"]["users"][0]["email"], sha256("ada.lovelace@example.com"));
    assert_eq!(json["url"], "https://api.example.com/v1/audiences/7/members");
    // A sync that does not map phone: the key is somebody's field (the template's), so it is
    // ignored for this sync; a key that is nobody's field still rejects its record.
    let digest = sha256("a@example.com");
    let records = records_file(
        "unmapped",
        &json!([{ "email": digest, "phone": "+16502531234" }, { "email": digest, "phnoe": "+16502531234" }]),
    );
    let json = preview_json(
        "several-syncs.toml",
        &["--action", "add", "--sync", "prehashed", "--records", records.to_str().unwrap_or_default()],
    );
    assert_eq!(json["body"]["users"][0]["email"], digest.as_str());
    assert_eq!(json["body"]["users"][0].get("phone"), None, "{json}");
    assert_eq!(json["rejected"].as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(json["rejected"][0]["index"], 1);
    assert!(json["rejected"][0]["error"].as_str().unwrap_or_default().starts_with("phnoe is not a field of any"));
}

#[test]
fn refusals_and_human_output() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config_cases/C0301-base-url-scheme.toml");
    let (code, _, stderr) = audience(&["preview", bad.to_str().unwrap_or_default(), "--action", "add"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("C0301"), "{stderr}");
    let path = case("auth-bearer.toml");
    let p = path.to_str().unwrap_or_default();
    let (code, _, _) = audience(&["preview", p, "--action", "upsert"]);
    assert_eq!(code, 2);
    let (code, stdout, _) = audience(&["preview", p, "--action", "delete"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("DELETE https://api.example.com/v1/audiences/aud%2042/members/High%20value%20%2F%20EU\n"),
        "{stdout}"
    );
    assert!(stdout.contains("Authorization: Bearer ***\n") && stdout.contains("\"email\": \""), "{stdout}");
    let records = records_file("broken", &json!({ "not": "an array" }));
    let (code, _, stderr) =
        audience(&["preview", p, "--action", "add", "--records", records.to_str().unwrap_or_default()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("JSON array"), "{stderr}");
    let no_syncs = case("no-syncs.toml");
    let (code, stdout, stderr) =
        audience(&["preview", no_syncs.to_str().unwrap_or_default(), "--action", "add", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no sync"), "{stderr}");
    assert!(stdout.contains("/audiences/1234567890/members"), "{stdout}");
}

fn bearer_config() -> destination::Config {
    let path = case("auth-bearer.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lookup = |name: &str| (name == "PREVIEW_ENV_HEADER").then(|| ENV_HEADER.to_owned());
    let report = destination::check_text(
        &text,
        "auth-bearer.toml",
        path.parent().unwrap_or(Path::new(".")),
        &lookup,
        EnvMode::Error,
    );
    report.checked.config.unwrap_or_else(|| panic!("{:?}", report.checked.problems))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed), ..ProptestConfig::default() })]

    /// The same record always yields the same body, alone or next to another.
    #[test]
    fn same_record_same_body(email in "\\PC{0,24}", phone in "[+0-9 ()-]{0,16}", id in any::<i64>(), other in "[a-z]{1,8}@x\\.io") {
        let config = bearer_config();
        let record = json!({ "email": email, "phone": phone, "user_id": id });
        let run = |records: Vec<Value>| {
            let options = PreviewOptions { action: ActionKind::Add, sync: None, records: Some(records), count: 0, show_secrets: false };
            preview(&config, &options).map_err(|e| e.to_string())
        };
        let first = run(vec![record.clone()]);
        let again = run(vec![record.clone()]);
        prop_assert_eq!(&first, &again);
        let pair = run(vec![record.clone(), json!({ "email": other })]);
        if let (Ok(first), Ok(pair)) = (&first, &pair)
            && let (Some(one), Some(two)) = (&first.body, &pair.body)
        {
            prop_assert_eq!(&one["users"][0], &two["users"][0]);
        }
    }
}
