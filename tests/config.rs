//! Config checking, case by case: one file per kind of problem under `tests/config_cases/`.
//!
//! Each case file starts with its expectations, one per `#!` line:
//!
//! * `#! C0101 destination.actions.add.tempalte`: a config problem with its key path;
//! * `#! X0102 @add 1:42`: a template problem with its action and line:column in the template;
//! * `#! C0002 6:1`: a problem located in the config file (TOML syntax);
//! * `#! warning C0503 syncs.main.map.phone`: the same, as a warning.
//!
//! The diagnostics found must be exactly those (as a multiset), the config is valid exactly
//! when none is an error, and the whole JSON output is an insta snapshot
//! (`INSTA_UPDATE=always cargo test --test config` writes a new case's snapshot: read it).
//!
//! The JSON Schema at `schema/config.schema.json` must match the types:
//! `AUDIENCE_UPDATE_SCHEMA=1 cargo test --test config` regenerates it (that run fails, saying so;
//! the next one checks).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use audience::destination::{self, ActionKind, Auth, ConfigCode, EnvMode, Method, Model, Report, Schedule};
use audience::fields::{HashAlgorithm, Normalization};

/// The environment the cases see: fixed, whatever the machine's is.
fn env(name: &str) -> Option<String> {
    match name {
        "ACME_TOKEN" => Some("t0ken-from-env".to_owned()),
        _ => None,
    }
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config_cases")
}

fn check(path: &Path, mode: EnvMode) -> Report {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    destination::check_text(&text, name, path.parent().unwrap_or(Path::new(".")), &env, mode)
}

/// The `#!` lines of a case.
fn expectations(text: &str) -> Vec<String> {
    let mut out: Vec<String> =
        text.lines().filter_map(|l| l.strip_prefix("#! ")).map(|l| l.trim().to_owned()).collect();
    out.sort();
    out
}

/// The diagnostics of a report in the `#!` notation.
fn found(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .to_json()
        .diagnostics
        .into_iter()
        .map(|d| {
            let severity = if d.severity == audience::template::Severity::Warning { "warning " } else { "" };
            let at = match (d.action, &d.key, d.line, d.column) {
                (Some(action), _, Some(line), Some(column)) => format!("@{action} {line}:{column}"),
                (None, Some(key), _, _) => key.clone(),
                (None, None, Some(line), Some(column)) => format!("{line}:{column}"),
                _ => "?".to_owned(),
            };
            format!("{severity}{} {at}", d.code)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_case_reports_exactly_its_problems() {
    // Every mismatch is collected, so that one run shows them all.
    let mut mismatches = Vec::new();
    insta::glob!("config_cases/*.toml", |path| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let report = check(path, EnvMode::Warn);
        let want = expectations(&text);
        let got = found(&report);
        if got != want {
            mismatches.push(format!("{}:\n  found    {got:?}\n  expected {want:?}", path.display()));
            return;
        }
        let errors_expected = want.iter().any(|e| !e.starts_with("warning "));
        assert_eq!(report.is_valid(), !errors_expected, "{}", path.display());
        assert_eq!(report.checked.config.is_some(), report.is_valid(), "{}", path.display());
        // The human report never panics and names every code.
        let human = report.render_human(false);
        for d in &report.checked.problems {
            assert!(human.contains(d.code.as_str()), "{}: {} missing from\n{human}", path.display(), d.code);
        }
        insta::assert_json_snapshot!(report.to_json());
    });
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_config_code_has_a_case_and_a_line_in_the_docs() {
    let names: Vec<String> = std::fs::read_dir(cases_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config.md")).unwrap_or_default();
    for code in ConfigCode::ALL {
        // C0001 (an unreadable file) is tested through the binary below.
        if *code != ConfigCode::Unreadable {
            assert!(
                names.iter().any(|t| t.contains(&format!("#! {code}")) || t.contains(&format!("#! warning {code}"))),
                "{code} has no case"
            );
        }
        assert!(docs.contains(code.as_str()), "{code} is not in docs/config.md");
    }
}

#[test]
fn defaults_are_applied() {
    let report = check(&cases_dir().join("valid-minimal.toml"), EnvMode::Error);
    let config = report.checked.config.expect("valid");
    let d = &config.destination;
    assert_eq!(d.base_url.as_str(), "https://api.example.com");
    assert_eq!(
        (d.timeout, d.max_concurrency, d.rate_limit, d.max_request_bytes),
        (Duration::from_secs(30), 4, None, None)
    );
    assert_eq!(d.auth, Auth::None);
    assert_eq!(d.retry, destination::RetrySettings::default());
    let add = d.action(ActionKind::Add);
    assert_eq!((add.method, add.batch_size, add.uses_add), (Method::Post, 5000, false));
    let update = d.action(ActionKind::Update);
    assert!(update.uses_add);
    assert_eq!(update.path, add.path);
    assert_eq!(d.action(ActionKind::Remove).method, Method::Delete);
    let email = d.field("email");
    assert!(email.required && !email.is_static);
    assert_eq!((email.hash, email.normalize), (HashAlgorithm::Sha256, Normalization::Email));
    assert_eq!(d.field("user_id"), Default::default());
    let sync = &config.syncs[0];
    assert_eq!(sync.name, "main");
    assert!(sync.hash_pii && sync.retain_logs && sync.retry_failed);
    assert_eq!((sync.log_retention_days, sync.snapshot_retention, sync.max_removal_share), (7, 3, 0.5));
    assert_eq!(sync.lock_timeout, std::time::Duration::from_secs(600), "lock_timeout: 10 minutes");
    assert_eq!(sync.schedule, Schedule::Manual);
    assert_eq!(sync.model, Model::Table(destination::Text::plain("users")));
    assert_eq!(
        sync.source,
        destination::WarehouseSource::Sqlite { path: cases_dir().join("warehouse.db"), secret: false }
    );
}

#[test]
fn oauth2_is_read() {
    let base = std::fs::read_to_string(cases_dir().join("valid-minimal.toml")).unwrap();
    let text = format!(
        "{base}\n[destination.auth]\ntype = \"oauth2\"\ntoken_url = \"http://127.0.0.1:9/oauth/token\"\nclient_id = \"app\"\nclient_secret = \"${{ACME_TOKEN}}\"\nscope = \"audiences:write\"\nclient_auth = \"post\"\nparams = {{ audience = \"https://api.example.com\", resource = \"r\" }}\n"
    );
    let report = destination::check_text(&text, "oauth2.toml", &cases_dir(), &env, EnvMode::Error);
    let problems = format!("{:?}", report.to_json());
    let config = report.checked.config.unwrap_or_else(|| panic!("valid: {problems}"));
    let Auth::OAuth2(o) = &config.destination.auth else { panic!("{:?}", config.destination.auth) };
    assert_eq!(o.token_url.as_str(), "http://127.0.0.1:9/oauth/token", "plain http to a loopback host");
    assert_eq!((o.client_id.as_str(), o.client_id.is_secret()), ("app", false));
    assert!(o.client_secret.is_secret());
    assert_eq!(o.scope.as_ref().map(|s| s.as_str()), Some("audiences:write"));
    assert_eq!(o.client_auth, destination::ClientAuth::Post);
    let params: Vec<(&str, &str)> = o.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(params, [("audience", "https://api.example.com"), ("resource", "r")]);
    assert!(!format!("{config:?}").contains("t0ken-from-env"), "the client secret is not in Debug");
    // The default client authentication is client_secret_basic.
    let text = text.replace("client_auth = \"post\"\n", "");
    let report = destination::check_text(&text, "oauth2.toml", &cases_dir(), &env, EnvMode::Error);
    let Some(Auth::OAuth2(o)) = report.checked.config.map(|c| c.destination.auth) else { panic!("valid") };
    assert_eq!(o.client_auth, destination::ClientAuth::Basic);
}

#[test]
fn every_form_is_read() {
    let report = check(&cases_dir().join("valid-every-form.toml"), EnvMode::Error);
    let config = report.checked.config.expect("valid");
    let d = &config.destination;
    assert_eq!(d.base_url.as_str(), "https://api.example.com/v1");
    assert_eq!(d.rate_limit, Some(2.5));
    assert_eq!(d.max_request_bytes, Some(1_000_000));
    assert!(matches!(&d.auth, Auth::ApiKey { header, key } if header == "X-API-Key" && key.is_secret()));
    assert!(d.headers[1].value.is_secret() && !d.headers[0].value.is_secret());
    let add = d.action(ActionKind::Add);
    assert_eq!((add.method, add.batch_size), (Method::Put, 1));
    assert!(add.template_file.as_ref().is_some_and(|f| f.as_str().ends_with("templates/add.jsonata")));
    assert_eq!(d.action(ActionKind::Update).method, Method::Patch);
    assert_eq!(d.field("email").hash, HashAlgorithm::Sha256);
    assert_eq!(d.retry.max_attempts, 3);
    let schedules: Vec<String> = config.syncs.iter().map(|s| format!("{:?}", s.schedule)).collect();
    assert_eq!(
        schedules,
        [
            "Every { every: 3600s, starting_at: TimeOfDay { hour: 0, minute: 15 } }",
            "Cron(\"0 */6 * * *\")",
            "Manual",
            "Every { every: 86400s, starting_at: TimeOfDay { hour: 23, minute: 59 } }",
        ]
    );
    assert_eq!(
        config.syncs[0].source,
        destination::WarehouseSource::Sqlite { path: "/var/lib/audience/w.db".into(), secret: false }
    );
    assert!(!config.syncs[0].hash_pii);
    assert_eq!(config.syncs[3].statics[0].value, audience::fields::OwnedValue::Int(7));
}

#[test]
fn unset_variables_are_errors_outside_check() {
    let path = cases_dir().join("C0201-unset-variable.toml");
    let report = check(&path, EnvMode::Error);
    assert!(!report.is_valid());
    assert!(report.checked.problems.iter().all(|p| p.is(ConfigCode::UnsetVariable) && p.is_error()));
}

#[test]
fn examples_are_valid() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let report = check(&path, EnvMode::Error);
            assert!(report.is_valid(), "{}: {:?}", path.display(), report.checked.problems);
            assert!(report.checked.problems.is_empty(), "{}: {:?}", path.display(), report.checked.problems);
            seen += 1;
        }
    }
    assert!(seen > 0, "no example config");
}

#[test]
fn schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/config.schema.json");
    let generated = destination::schema::config_schema_text();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    // Regenerating is a failure of this run (it checked nothing) that says what it wrote; the
    // next run, without the variable, checks. CI never writes.
    if std::env::var_os("AUDIENCE_UPDATE_SCHEMA").is_some() && committed != generated {
        assert!(
            std::env::var_os("CI").is_none(),
            "AUDIENCE_UPDATE_SCHEMA is set under CI: the schema is never written there"
        );
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).ok();
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        panic!(
            "schema/config.schema.json was stale and is now regenerated: review it, commit it, and run again without AUDIENCE_UPDATE_SCHEMA"
        );
    }
    assert!(
        committed == generated,
        "schema/config.schema.json is stale: regenerate it with `AUDIENCE_UPDATE_SCHEMA=1 cargo test --test config schema` and commit it"
    );
}

#[test]
fn schema_describes_every_key_the_loader_accepts() {
    let schema = destination::schema::config_schema();
    let defs = &schema["$defs"];
    let props = |v: &serde_json::Value| -> Vec<String> {
        v["properties"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    };
    assert_eq!(props(&schema), ["destination", "syncs", "alerts"]);
    assert_eq!(props(&defs["AlertTable"]), ["url", "on", "format"]);
    assert_eq!(schema["additionalProperties"], false);
    let actions = &schema["properties"]["destination"]["properties"]["actions"];
    assert_eq!(props(actions), ["add", "update", "remove", "insert", "delete"]);
    assert_eq!(props(&defs["SyncTable"]).len(), 16);
    assert_eq!(defs["SyncTable"]["properties"]["max_removal_share"]["maximum"], 1.0);
    assert!(!serde_json::to_string(&schema).unwrap_or_default().contains("\"null\""));
}

/// Whether `value` (TOML) matches `schema`: types, properties, `additionalProperties`,
/// `required`, `anyOf`, `enum` and local `$ref`s; the parts of JSON Schema the config schema uses.
fn matches_schema(value: &toml::Value, schema: &serde_json::Value, root: &serde_json::Value) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let target = root.pointer(r.trim_start_matches('#')).ok_or_else(|| format!("no {r}"))?;
        return matches_schema(value, target, root);
    }
    if let Some(any) = schema["anyOf"].as_array()
        && !any.iter().any(|s| matches_schema(value, s, root).is_ok())
    {
        return Err(format!("{value:?} matches no alternative"));
    }
    let kind = match value {
        toml::Value::String(_) | toml::Value::Datetime(_) => "string",
        toml::Value::Integer(_) => "integer",
        toml::Value::Float(_) => "number",
        toml::Value::Boolean(_) => "boolean",
        toml::Value::Array(_) => "array",
        toml::Value::Table(_) => "object",
    };
    match schema["type"].as_str() {
        Some(t) if t != kind && !(t == "number" && kind == "integer") => {
            return Err(format!("{value:?}: {kind} is not {t}"));
        }
        _ => {}
    }
    if let (Some(allowed), toml::Value::String(s)) = (schema["enum"].as_array(), value)
        && !allowed.iter().any(|a| a == s)
    {
        return Err(format!("{s} is not in the enum"));
    }
    if let toml::Value::Table(table) = value {
        for (key, item) in table {
            match (schema["properties"].get(key), &schema["additionalProperties"]) {
                (Some(sub), _) => matches_schema(item, sub, root).map_err(|e| format!("{key}.{e}"))?,
                (None, serde_json::Value::Bool(false)) => return Err(format!("{key} is not allowed")),
                (None, serde_json::Value::Null) => {}
                (None, sub) => matches_schema(item, sub, root).map_err(|e| format!("{key}.{e}"))?,
            }
        }
        for required in schema["required"].as_array().into_iter().flatten().filter_map(|r| r.as_str()) {
            if !table.contains_key(required) {
                return Err(format!("{required} is required"));
            }
        }
    }
    Ok(())
}

#[test]
fn schema_accepts_every_valid_config_and_refuses_typos() {
    let schema = destination::schema::config_schema();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme.toml");
    let preview = cases_dir().join("preview");
    let mut paths = vec![examples, cases_dir().join("valid-minimal.toml"), cases_dir().join("valid-every-form.toml")];
    paths.extend(std::fs::read_dir(preview).into_iter().flatten().flatten().map(|e| e.path()));
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(e) = matches_schema(&value, &schema, &schema) {
            panic!("{}: {e}", path.display());
        }
    }
    let typo: toml::Value =
        toml::from_str(&std::fs::read_to_string(cases_dir().join("C0101-unknown-keys.toml")).unwrap_or_default())
            .expect("TOML");
    assert!(matches_schema(&typo, &schema, &schema).is_err());
}

fn audience(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(args)
        .env("ACME_TOKEN", "t0ken-from-env")
        .env_remove("NO_COLOR")
        .output()
        .expect("run audience");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_command_exit_codes_and_outputs() {
    let dir = cases_dir();
    let valid = dir.join("valid-minimal.toml");
    let (code, stdout, stderr) = audience(&["check", valid.to_str().unwrap_or_default()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("valid (0 warnings)") && stdout.contains("add fields: email, user_id"), "{stdout}");

    let warned = dir.join("C0503-unused-mapping.toml");
    let (code, stdout, stderr) = audience(&["check", warned.to_str().unwrap_or_default()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("[C0503] Warning: syncs.main.map.phone"), "{stderr}");

    let invalid = dir.join("many-problems-at-once.toml");
    let (code, stdout, stderr) = audience(&["check", invalid.to_str().unwrap_or_default()]);
    assert_eq!(code, 1);
    assert!(stdout.contains("8 errors"), "{stdout}");
    assert!(stderr.contains("remove template: "), "the action is named: {stderr}");
    let (code, stdout, _) = audience(&["check", invalid.to_str().unwrap_or_default(), "--format", "json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(json["valid"], false);
    let keys: Vec<&str> =
        json["diagnostics"][0].as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    assert_eq!(
        keys,
        [
            "code",
            "message",
            "severity",
            "action",
            "key",
            "line",
            "column",
            "start",
            "end",
            "hint",
            "file_line",
            "file_column"
        ]
    );
    assert_eq!(json["fields"]["add"], serde_json::json!(["email", "user_id"]));

    let (code, stdout, _) = audience(&["check", "no/such/config.toml", "--format", "json"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("\"C0001\""), "{stdout}");
}

#[test]
fn inline_template_problems_point_into_the_config_file() {
    let path = cases_dir().join("X-inline-template-positions.toml");
    let (code, stdout, _) = audience(&["check", path.to_str().unwrap_or_default(), "--format", "json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let at = |d: &serde_json::Value| {
        (d["line"].clone(), d["column"].clone(), d["file_line"].clone(), d["file_column"].clone())
    };
    // The `&` on the template's line 2 (after the trimmed newline) is on line 13 of the file;
    // `$string` after three `\"` escapes is at column 49 of line 21.
    assert_eq!(at(&json["diagnostics"][0]), (2.into(), 49.into(), 13.into(), 49.into()));
    assert_eq!(at(&json["diagnostics"][1]), (1.into(), 33.into(), 21.into(), 49.into()));
    let (_, _, stderr) = audience(&["check", path.to_str().unwrap_or_default()]);
    assert!(stderr.contains("X-inline-template-positions.toml:13:49 ]"), "{stderr}");
    assert!(stderr.contains("X-inline-template-positions.toml:21:49 ]"), "{stderr}");
    assert!(stderr.contains("add template: string concatenation"), "{stderr}");
    // A template file keeps its own positions, and no file position.
    let path = cases_dir().join("X-template-file-error.toml");
    let (_, stdout, _) = audience(&["check", path.to_str().unwrap_or_default(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(json["diagnostics"][0]["file_line"], serde_json::Value::Null);
}

#[test]
fn fields_command() {
    let path = cases_dir().join("valid-every-form.toml");
    let (code, stdout, stderr) = audience(&["fields", path.to_str().unwrap_or_default(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        json["add"],
        serde_json::json!([
            { "name": "email", "required": true, "static": false, "hash": "sha256", "normalize": "email" },
            { "name": "org", "required": false, "static": true, "hash": "none", "normalize": "none" },
        ])
    );
    assert_eq!(json["update"][0]["name"], "email");
    let (code, stdout, _) = audience(&["fields", path.to_str().unwrap_or_default()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("add: PUT /audiences/") && stdout.contains("hash=sha256  normalize=email"), "{stdout}");
    let bad = cases_dir().join("C0401-C0402-field-settings.toml");
    let (code, _, stderr) = audience(&["fields", bad.to_str().unwrap_or_default()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("C0401"), "{stderr}");
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0xc0f1),
            ..ProptestConfig::default()
        })]

        /// A valid config with a slice replaced by arbitrary text: checking and reporting it
        /// never panics, and a valid result has a config.
        #[test]
        fn damaged_configs_never_panic(at in 0.0f64..1.0, len in 0usize..40, insert in "\\PC{0,12}|[\\[\\]{}=\"'.${}\\\\\n]{0,6}") {
            let text = std::fs::read_to_string(cases_dir().join("valid-every-form.toml")).unwrap_or_default();
            let mut start = ((text.len() as f64) * at) as usize;
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let damaged = format!("{}{insert}{}", &text[..start], &text[end..]);
            let report = destination::check_text(&damaged, "damaged.toml", &cases_dir(), &env, EnvMode::Warn);
            let _ = report.render_human(false);
            let _ = serde_json::to_string(&report.to_json());
            prop_assert_eq!(report.checked.config.is_some(), report.is_valid());
        }
    }
}

/// The config checks `lock_timeout` against the range the lock itself holds a lease to: the two
/// sides keep their own constants (the warehouse does not read the config), and must agree.
#[test]
fn lock_timeout_bounds_are_the_locks() {
    use audience::destination::model::{LOCK_TIMEOUT_DEFAULT, LOCK_TIMEOUT_MAX, LOCK_TIMEOUT_MIN};
    use audience::warehouse::lock::{DEFAULT_LEASE, MAX_LEASE, MIN_LEASE};
    assert_eq!((LOCK_TIMEOUT_MIN, LOCK_TIMEOUT_MAX, LOCK_TIMEOUT_DEFAULT), (MIN_LEASE, MAX_LEASE, DEFAULT_LEASE));
}
