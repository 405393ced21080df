//! A secret canary through every command that talks to the API or reads what it answered
//! (`sync`, `sync --dry-run`, `logs`, `run`), against an API that echoes every header and the
//! body in its error responses, with the credential also without its scheme and, for Basic,
//! decoded. The canary must appear in no form it was sent in (the whole `Authorization` value,
//! its credential, Basic's base64 and decoded `user:password`, the password) in stdout, stderr
//! (JSON log lines), or any table of the SQLite warehouse.
//!
//! The same API records each request line, so that the URL `preview` shows is compared with the
//! one that went on the wire.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An API on 127.0.0.1 that answers every request with `status` and a body echoing it.
struct EchoApi {
    port: u16,
    status: Arc<AtomicU16>,
    /// Each request's request line and head, as received.
    requests: Arc<Mutex<Vec<String>>>,
}

impl EchoApi {
    fn start() -> EchoApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(422));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (st, log) = (status.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (st, log) = (st.clone(), log.clone());
                std::thread::spawn(move || {
                    let Some((head, body)) = read_request(&mut stream) else { return };
                    log.lock().unwrap().push(head.clone());
                    let status = st.load(Ordering::SeqCst);
                    let echo = format!("{}\n{head}\n{}", credential_forms(&head), String::from_utf8_lossy(&body));
                    let _ = stream.write_all(
                        format!(
                            "HTTP/1.1 {status} Echo\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{echo}",
                            echo.len()
                        )
                        .as_bytes(),
                    );
                });
            }
        });
        EchoApi { port, status, requests }
    }

    fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The head (request line and headers) and the body of one request.
fn read_request(stream: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&got[..end]).into_owned();
        let length = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        while got.len() < end + 4 + length {
            let n = stream.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        return Some((head, got[end + 4..].to_vec()));
    }
}

/// What an API that talks about the credential might say: the Authorization value, its
/// credential without the scheme, and Basic's decoded `user:password`.
fn credential_forms(head: &str) -> String {
    let Some(value) = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization").then(|| value.trim().to_owned())
    }) else {
        return "no credentials".into();
    };
    let credential = value.split_once(' ').map_or(value.as_str(), |(_, c)| c).to_owned();
    let decoded = decode_base64(&credential).map(|d| String::from_utf8_lossy(&d).into_owned()).unwrap_or_default();
    format!("bad credentials: authorization={value} credential={credential} decoded={decoded} raw {credential}")
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.trim_end_matches('=').bytes() {
        acc = (acc << 6) | ALPHABET.iter().position(|&a| a == b)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// One way of authenticating, and every form its secret is sent in.
struct Credential {
    name: &'static str,
    /// The `[destination.auth]` table.
    auth: String,
    forms: Vec<String>,
}

fn basic() -> Credential {
    let password = "Cnry7basic0pw";
    let pair = format!("canary-user:{password}");
    let b64 = encode_base64(pair.as_bytes());
    assert!(b64.ends_with('='), "the test wants a padded credential: {b64}");
    Credential {
        name: "basic",
        auth: format!("type = \"basic\"\nusername = \"canary-user\"\npassword = \"{password}\""),
        forms: vec![
            format!("Basic {b64}"),
            b64.trim_end_matches('=').to_owned(),
            b64.clone(),
            pair,
            password.to_owned(),
        ],
    }
}

fn bearer() -> Credential {
    let token = "Cnry7bearer0tok";
    Credential {
        name: "bearer",
        auth: format!("type = \"bearer\"\ntoken = \"{token}\""),
        forms: vec![format!("Bearer {token}"), token.to_owned()],
    }
}

/// A folder with a SQLite warehouse of three users and a config against `api`.
fn set_up(c: &Credential, api: &EchoApi, schedule: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audience-canary-{}-{}", std::process::id(), c.name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conn = rusqlite::Connection::open(dir.join("warehouse.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); \
         INSERT INTO users VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c@example.com');",
    )
    .unwrap();
    let config = dir.join("audience.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[destination]
name = "Canary"
base_url = "http://127.0.0.1:{port}/v1/x/.."
max_concurrency = 1
timeout = "5s"
[destination.retry]
max_attempts = 2
initial_backoff = "10ms"
max_backoff = "20ms"
[destination.auth]
{auth}
[destination.actions.add]
path = "/audiences/./{{{{connection.audienceId}}}}/members"
template = '{{ "users": [$$.records.{{ "email": email }}] }}'
[destination.actions.update]
use_add = true
[destination.actions.remove]
method = "DELETE"
path = "/audiences/{{{{connection.audienceId}}}}/members"
template = '{{ "users": [$$.records.{{ "email": email }}] }}'

[syncs.main]
audience_name = "Canary"
audience_id = "42"
source = "sqlite://warehouse.db"
table = "users"
primary_key = "id"
map = {{ email = "email" }}
schedule = {schedule}
"#,
            port = api.port,
            auth = c.auth,
        ),
    )
    .unwrap();
    config
}

fn audience(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("AUDIENCE_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Every row of every table of the SQLite database, as text.
fn dump(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.iter().any(|t| t.starts_with("_audience")), "no state tables: {tables:?}");
    let mut out = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let width = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..width)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" | "))
            })
            .unwrap();
        for row in rows {
            out.push_str(&format!("{table}: {}\n", row.unwrap()));
        }
    }
    out
}

/// `audience run` with the sync scheduled at a minute 5 to 65 s from now: runs until the API
/// got requests and the run had time to record them, then SIGTERM.
fn run_once(config: &Path, api: &EchoApi) -> String {
    use chrono::Timelike;
    let slot = chrono::Utc::now() + chrono::Duration::seconds(65);
    let file = std::fs::read_to_string(config).unwrap();
    let cron = format!("schedule = {{ cron = \"{} {} * * *\" }}", slot.minute(), slot.hour());
    std::fs::write(config, file.replace("schedule = \"manual\"", &cron)).unwrap();
    let before = api.requests().len();
    let child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .arg("run")
        .arg(config)
        .env("NO_COLOR", "1")
        .env_remove("AUDIENCE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while api.requests().len() < before + 2 && started.elapsed() < Duration::from_secs(100) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(api.requests().len() >= before + 2, "audience run sent nothing within 100 s");
    // The run records its outcomes and logs its summary: wait for it to be done.
    std::thread::sleep(Duration::from_secs(2));
    let kill = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    text(&out)
}

fn no_canary(c: &Credential, what: &str, text: &str) {
    for form in &c.forms {
        assert!(!text.contains(form.as_str()), "{}: `{form}` in {what}:\n{text}", c.name);
    }
}

fn canary_through_every_command(c: &Credential) {
    let api = EchoApi::start();
    let config = set_up(c, &api, "\"manual\"");
    let cfg = config.to_str().unwrap();
    let mut outputs = Vec::new();

    // The URL preview shows is the one sent (the base URL's `x/..` and the path's `.` resolved).
    let preview = audience(&["preview", cfg, "--action", "add", "--format", "json"]);
    assert_eq!(preview.status.code(), Some(0), "{}", text(&preview));
    let shown: serde_json::Value = serde_json::from_slice(&preview.stdout).unwrap();
    let shown = shown["url"].as_str().unwrap().to_owned();
    assert_eq!(shown, format!("http://127.0.0.1:{}/v1/audiences/42/members", api.port));
    outputs.push(("preview", text(&preview)));

    // 422: split down to single records, each failing with the echo as its reason.
    let sync = audience(&["sync", cfg, "--format", "json"]);
    assert_eq!(sync.status.code(), Some(3), "{}", text(&sync));
    let requests = api.requests();
    let line = requests[0].lines().next().unwrap();
    assert_eq!(line, "POST /v1/audiences/42/members HTTP/1.1", "the request line");
    assert_eq!(format!("http://127.0.0.1:{}{}", api.port, line.split(' ').nth(1).unwrap()), shown, "shown = sent");
    // The API did get the credential, and echoed it in every form: there was something to mask.
    assert!(requests[0].contains(&c.forms[0]), "{}", requests[0]);
    outputs.push(("sync (422)", text(&sync)));

    let dry = audience(&["sync", cfg, "--dry-run", "--format", "json"]);
    outputs.push(("sync --dry-run", text(&dry)));
    let human = audience(&["sync", cfg, "--dry-run"]);
    outputs.push(("sync --dry-run (human)", text(&human)));

    // 500: retried, then failed with the last echo.
    api.set_status(500);
    let sync = audience(&["sync", cfg, "--format", "json"]);
    assert_eq!(sync.status.code(), Some(3), "{}", text(&sync));
    outputs.push(("sync (500)", text(&sync)));

    // 401: the run stops with the echo in its reason.
    api.set_status(401);
    let sync = audience(&["sync", cfg]);
    assert_eq!(sync.status.code(), Some(1), "{}", text(&sync));
    assert!(text(&sync).contains("bad credentials: authorization=***"), "{}", text(&sync));
    outputs.push(("sync (401, human)", text(&sync)));

    api.set_status(422);
    outputs.push(("run", run_once(&config, &api)));

    for args in [
        vec!["logs", cfg, "--sync", "main", "--format", "json"],
        vec!["logs", cfg, "--sync", "main", "--failed"],
        vec!["logs", cfg, "--sync", "main", "--run", "1", "--format", "json"],
    ] {
        let logs = audience(&args);
        assert_eq!(logs.status.code(), Some(0), "{args:?}: {}", text(&logs));
        outputs.push(("logs", text(&logs)));
    }
    let logs = &outputs.last().unwrap().1;
    assert!(logs.contains("bad credentials: authorization=*** credential=*** decoded="), "the echo was stored: {logs}");

    let tables = dump(&config.parent().unwrap().join("warehouse.db"));
    assert!(tables.contains("bad credentials"), "the echo is in the sync log:\n{tables}");
    outputs.push(("the warehouse's tables", tables));

    for (what, text) in &outputs {
        no_canary(c, what, text);
    }
}

#[test]
fn a_basic_credential_is_masked_in_every_form() {
    canary_through_every_command(&basic());
}

#[test]
fn a_bearer_token_is_masked_in_every_form() {
    canary_through_every_command(&bearer());
}
