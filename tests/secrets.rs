//! The canary test: a unique secret is planted in every secret-bearing setting (bearer token,
//! basic password, API key, secret header, environment variables, the password of a postgres
//! URL) and must appear in no output of `check`, `fields` or `preview` (stdout and stderr,
//! human and JSON), in no error message, and in no `Debug` of the loaded config; and
//! `preview --show-secrets` must show them.

use std::path::{Path, PathBuf};
use std::process::Command;

use audience::destination::{self, ActionKind, EnvMode, PreparedAction};

const BEARER: &str = "CANARY-bearer-9f1c";
const BASIC: &str = "CANARY-basic-2b7e";
const API_KEY: &str = "CANARY-apikey-51d0";
const HEADER: &str = "CANARY-header-77aa";
const ENV_HEADER: &str = "CANARY-envheader-c3d4";
const ENV_NAME: &str = "CANARY-envname-0b0b";
const ENV_STATIC: &str = "CANARY-envstatic-e5e5";
const POSTGRES: &str = "CANARY-pg-8e8e";
const URL_PASSWORD: &str = "CANARY-url-4a4a";
const CLIENT_SECRET: &str = "CANARY-client-6c6c";

const ALL: [&str; 10] =
    [BEARER, BASIC, API_KEY, HEADER, ENV_HEADER, ENV_NAME, ENV_STATIC, POSTGRES, URL_PASSWORD, CLIENT_SECRET];

fn env_vars() -> [(&'static str, &'static str); 3] {
    [
        ("AUDIENCE_PLANTED_HEADER", ENV_HEADER),
        ("AUDIENCE_PLANTED_NAME", ENV_NAME),
        ("AUDIENCE_PLANTED_STATIC", ENV_STATIC),
    ]
}

/// A complete config with `auth` as its auth table and every other secret planted.
fn config(auth: &str) -> String {
    format!(
        r#"[destination]
name = "Canary"
base_url = "https://api.example.com"
headers = {{ "X-Tenant" = {{ value = "{HEADER}", secret = true }}, "X-Env" = "${{AUDIENCE_PLANTED_HEADER}}" }}

[destination.auth]
{auth}

[destination.actions.add]
path = "/audiences/{{{{connection.audienceId}}}}/{{{{connection.audienceName}}}}"
template = '{{"name": $$.connection.audienceName, "users": [$$.records.{{"email": email, "org": org}}]}}'

[destination.actions.update]
use_add = true

[destination.actions.remove]
method = "DELETE"
path = "/audiences/{{{{connection.audienceId}}}}"
template = '{{"users": [$$.records.{{"email": email}}]}}'

[destination.fields.email]
required = true
hash = "sha256"

[destination.fields.org]
static = true

[syncs.main]
audience_name = "${{AUDIENCE_PLANTED_NAME}}"
audience_id = "42"
source = "postgres://app:{POSTGRES}@db.internal:5432/dw?sslmode=verify-full"
table = "users"
primary_key = "id"
map = {{ email = "email" }}
static = {{ org = "${{AUDIENCE_PLANTED_STATIC}}" }}
"#
    )
}

fn bearer() -> String {
    format!("type = \"bearer\"\ntoken = \"{BEARER}\"")
}

fn basic() -> String {
    format!("type = \"basic\"\nusername = \"ada\"\npassword = \"{BASIC}\"")
}

fn api_key() -> String {
    format!("type = \"api_key\"\nheader = \"X-API-Key\"\nkey = \"{API_KEY}\"")
}

fn oauth2() -> String {
    format!(
        "type = \"oauth2\"\ntoken_url = \"https://auth.example.com/oauth/token\"\nclient_id = \"app\"\nclient_secret = \"{CLIENT_SECRET}\""
    )
}

/// Configs with problems on the very lines that hold the secrets, so that reports show them.
fn broken_configs() -> Vec<(&'static str, String)> {
    let valid = config(&bearer());
    vec![
        ("wrong-auth-keys", config(&format!("{}\npassword = \"{BASIC}\"\nkey = \"{API_KEY}\"", bearer()))),
        ("unknown-auth-type", config(&format!("type = \"oauth\"\ntoken = \"{BEARER}\"\npassword = \"{BASIC}\""))),
        ("client-secret-with-bearer", config(&format!("{}\nclient_secret = \"{CLIENT_SECRET}\"", bearer()))),
        (
            "oauth2-plain-http",
            config(&oauth2().replace("https://auth.example.com", &format!("http://{CLIENT_SECRET}@auth.example.com"))),
        ),
        ("bad-header-value", valid.replace(&format!("value = \"{HEADER}\""), &format!("value = \"{HEADER}\\r\\n\""))),
        ("bad-source", valid.replace("postgres://", "postgresql+tls://")),
        (
            "url-user-info",
            valid.replace("https://api.example.com", &format!("https://user:{URL_PASSWORD}@api.example.com")),
        ),
        (
            "env-in-wrong-type",
            valid.replace(
                "[destination.actions.add]\n",
                "[destination.actions.add]\nbatch_size = \"${AUDIENCE_PLANTED_STATIC}\"\n",
            ),
        ),
        ("env-in-bad-url", valid.replace("https://api.example.com", "${AUDIENCE_PLANTED_NAME}")),
        (
            "env-in-bad-schedule",
            valid.replace("table = \"users\"", "table = \"users\"\nschedule = \"${AUDIENCE_PLANTED_NAME}\""),
        ),
        (
            "secret-on-a-syntax-error-line",
            valid.replace(&format!("token = \"{BEARER}\""), &format!("token = \"{BEARER}")),
        ),
        (
            "secret-in-a-comment",
            valid.replace("[destination]", &format!("# old token: {BEARER}\n[destination]\nbad = 1")),
        ),
    ]
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("canary");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

fn audience(args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audience"));
    command.args(args);
    for (k, v) in env_vars() {
        command.env(k, v);
    }
    let out = command.output().expect("run audience");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in ALL {
        assert!(!text.contains(canary), "{what} shows {canary}:\n{text}");
    }
    // Nor any piece of one: the marker is never shown.
    assert!(!text.contains("CANARY"), "{what} shows a canary:\n{text}");
}

/// Every command's outputs for one config file.
fn every_output(path: &Path) -> Vec<(String, i32, String)> {
    let p = path.to_str().unwrap_or_default();
    let mut runs: Vec<Vec<&str>> = vec![
        vec!["check", p],
        vec!["check", p, "--format", "json"],
        vec!["fields", p],
        vec!["fields", p, "--format", "json"],
    ];
    for action in ["add", "update", "remove"] {
        runs.push(vec!["preview", p, "--action", action, "--count", "2"]);
        runs.push(vec!["preview", p, "--action", action, "--count", "2", "--format", "json"]);
    }
    runs.into_iter()
        .map(|args| {
            let (code, text) = audience(&args);
            (args.join(" "), code, text)
        })
        .collect()
}

#[test]
fn no_output_shows_a_secret() {
    for (name, auth) in [("bearer", bearer()), ("basic", basic()), ("api-key", api_key()), ("oauth2", oauth2())] {
        let path = write(name, &config(&auth));
        for (what, code, text) in every_output(&path) {
            assert_eq!(code, 0, "{what}:\n{text}");
            assert_no_canary(&what, &text);
        }
    }
}

#[test]
fn no_report_of_a_broken_config_shows_a_secret() {
    for (name, text) in broken_configs() {
        let path = write(name, &text);
        for (what, code, text) in every_output(&path) {
            assert_ne!(code, 0, "{name}: {what} should refuse:\n{text}");
            assert_no_canary(&format!("{name}: {what}"), &text);
        }
    }
}

#[test]
fn show_secrets_shows_them() {
    let path = write("shown-bearer", &config(&bearer()));
    let p = path.to_str().unwrap_or_default();
    let (code, text) = audience(&["preview", p, "--action", "add", "--show-secrets", "--format", "json"]);
    assert_eq!(code, 0, "{text}");
    for canary in [BEARER, HEADER, ENV_HEADER, ENV_NAME, ENV_STATIC] {
        assert!(text.contains(canary), "{canary} not shown:\n{text}");
    }
    assert!(!text.contains(POSTGRES), "the warehouse password is no part of a request:\n{text}");
    let path = write("shown-api-key", &config(&api_key()));
    let (_, text) = audience(&["preview", path.to_str().unwrap_or_default(), "--action", "remove", "--show-secrets"]);
    assert!(text.contains(&format!("X-API-Key: {API_KEY}")), "{text}");
    let path = write("shown-basic", &config(&basic()));
    let (_, text) = audience(&["preview", path.to_str().unwrap_or_default(), "--action", "remove", "--show-secrets"]);
    let credentials = destination::headers::base64(format!("ada:{BASIC}").as_bytes());
    assert!(text.contains(&format!("Authorization: Basic {credentials}")), "{text}");
}

fn lookup(name: &str) -> Option<String> {
    env_vars().into_iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_owned())
}

#[test]
fn debug_and_errors_show_no_secret() {
    for (auth, credential) in [(bearer(), BEARER), (basic(), BASIC), (api_key(), API_KEY)] {
        let text = config(&auth);
        let report = destination::check_text(&text, "canary.toml", Path::new("."), &lookup, EnvMode::Error);
        let config = report.checked.config.as_ref().unwrap_or_else(|| panic!("{:?}", report.checked.problems));
        assert_no_canary("Debug of the config", &format!("{config:?} {config:#?}"));
        assert_no_canary("Debug of the report", &format!("{report:?}"));
        let sync = &config.syncs[0];
        for kind in ActionKind::ALL {
            let prepared = PreparedAction::prepare(config, sync, kind, &|_| Some(0)).expect("prepared");
            assert_no_canary("Debug of a prepared action", &format!("{prepared:?}"));
            assert_no_canary("a shown URL", &prepared.shown_url);
            let headers: Vec<String> =
                prepared.shown_headers(false).into_iter().map(|(n, v)| format!("{n}: {v}")).collect();
            assert_no_canary("shown headers", &headers.join("\n"));
            let missing = PreparedAction::prepare(config, sync, kind, &|_| None).err().map(|e| e.to_string());
            assert_no_canary("a prepare error", &missing.unwrap_or_default());
        }
        // The masking of anything else that might echo a secret (a response body, say).
        let echoed = format!(
            "{{\"error\": \"bad credential {credential}\", \"h\": \"{HEADER}/{ENV_HEADER}\", \"n\": \"{ENV_NAME}\", \"s\": \"{ENV_STATIC}\", \"u\": \"postgres://app:{POSTGRES}@h\"}}"
        );
        assert_no_canary("a redacted echo", &config.redactor.redact(&echoed));
    }
    // Paths from the environment: a SQLite source, a template file.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("CANARY-envdir-1212");
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("remove.jsonata"), r#"{"users": [$$.records.{"email": email}]}"#).expect("template");
    let paths = |name: &str| match name {
        "PLANTED_DIR" => Some(dir.display().to_string()),
        "PLANTED_DB" => Some("sqlite://CANARY-envdb-3434.db".to_owned()),
        other => lookup(other),
    };
    let text = config(&bearer())
        .replace(
            "template = '{\"users\": [$$.records.{\"email\": email}]}'",
            "template_file = \"${PLANTED_DIR}/remove.jsonata\"",
        )
        .replace(&format!("postgres://app:{POSTGRES}@db.internal:5432/dw?sslmode=verify-full"), "${PLANTED_DB}");
    let report = destination::check_text(&text, "canary.toml", Path::new("."), &paths, EnvMode::Error);
    let config = report.checked.config.as_ref().unwrap_or_else(|| panic!("{:?}", report.checked.problems));
    assert!(config.destination.action(ActionKind::Remove).template_file.is_some());
    assert_no_canary("Debug of a config with paths from the environment", &format!("{config:?}"));

    for (name, text) in broken_configs() {
        let report = destination::check_text(&text, "canary.toml", Path::new("."), &lookup, EnvMode::Error);
        let messages: Vec<String> =
            report.checked.problems.iter().map(|p| format!("{} {:?} {:?}", p.message, p.hint, p)).collect();
        assert_no_canary(&format!("{name}: messages and Debug of problems"), &messages.join("\n"));
        assert_no_canary(&format!("{name}: JSON"), &serde_json::to_string(&report.to_json()).unwrap_or_default());
        assert_no_canary(&format!("{name}: human"), &report.render_human(false));
    }
}

#[test]
fn oauth2_previews_show_a_masked_bearer_and_fetch_no_token() {
    // A token endpoint that would see any fetch.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/oauth/token", listener.local_addr().expect("address"));
    let path = write("oauth2-preview", &config(&oauth2().replace("https://auth.example.com/oauth/token", &url)));
    let p = path.to_str().unwrap_or_default();
    for extra in [&[][..], &["--show-secrets"][..]] {
        let mut args = vec!["preview", p, "--action", "add", "--count", "1", "--format", "json"];
        args.extend_from_slice(extra);
        let (code, text) = audience(&args);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("Bearer ***"), "{text}");
        assert!(!text.contains(CLIENT_SECRET), "{text}");
    }
    assert!(listener.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "no token was fetched");
}
