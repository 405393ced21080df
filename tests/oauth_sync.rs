//! OAuth2 through real syncs of the `audience` binary (SQLite warehouse, token endpoint and API
//! on 127.0.0.1): the canary test for the client secret and the tokens (never in stdout,
//! stderr, the JSON log lines or any `_audience` table, even when the API echoes the token in
//! its refusals), and a wrong client secret stopping the run with the server's error masked.

#![cfg(feature = "cli")]

mod support_http;
mod sync_support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use support_http::{Reply, Server};
use sync_support::{Kind, Receiver, Settings, Warehouse, edit_config, write_config};

const CLIENT_SECRET: &str = "CANARY-client-secret-3f3f";
/// Every token issued starts so, and is never shown.
const TOKEN: &str = "CANARY-token-";

/// A token endpoint (client_secret_basic with [`CLIENT_SECRET`]) and an API that refuses the
/// requests holding user 3 with a 409 that echoes the Authorization header it got.
fn servers(rt: &tokio::runtime::Runtime) -> (Server, Server, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    rt.block_on(async move {
        let tokens = Server::start(move |r| {
            let expected =
                format!("Basic {}", audience::destination::headers::base64(format!("app:{CLIENT_SECRET}").as_bytes()));
            if r.header("authorization") != Some(expected.as_str()) {
                return Reply::status(401).body(format!(
                    r#"{{"error":"invalid_client","error_description":"bad credentials {}"}}"#,
                    r.header("authorization").unwrap_or_default()
                ));
            }
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Reply::ok().body(format!(r#"{{"access_token":"{TOKEN}{n}","token_type":"bearer","expires_in":3600}}"#))
        })
        .await;
        let api = Server::start(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let users = body["users"].as_array().cloned().unwrap_or_default();
            if users.iter().any(|u| u["id"] == 3) {
                Reply::status(409)
                    .body(format!("duplicate; you sent {}", r.header("authorization").unwrap_or_default()))
            } else {
                Reply::ok()
            }
        })
        .await;
        (tokens, api, issued)
    })
}

/// A config for `w` delivering to `api`, authenticating at `tokens` with `secret`.
fn config(w: &Warehouse, tokens: &Server, api: &Server) -> std::path::PathBuf {
    let unused = Receiver::start();
    let path = write_config(w, &unused, &Settings { batch_size: 1, max_concurrency: 4, ..Settings::default() });
    let auth = format!(
        "[destination.auth]\ntype = \"oauth2\"\ntoken_url = \"{}\"\nclient_id = \"app\"\nclient_secret = \"${{OAUTH_CLIENT_SECRET}}\"\n\n[destination.actions.add]",
        tokens.url("/oauth/token")
    );
    edit_config(&path, &[(&unused.base_url(), &api.url("")), ("[destination.actions.add]", &auth)]);
    path
}

/// `audience sync CONFIG --format json` with debug logs: exit code, stdout, stderr.
fn sync(config: &Path, secret: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["sync", config.to_str().unwrap(), "--format", "json"])
        .env("OAUTH_CLIENT_SECRET", secret)
        .env("AUDIENCE_LOG", "debug")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// Every value of every state table, as text, and the database file's bytes as text besides
/// (what SQLite keeps of deleted rows included).
fn state_dump(w: &Warehouse) -> String {
    let tables = w.state_tables();
    assert!(!tables.is_empty(), "the sync keeps state");
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    let mut out = String::new();
    for t in &tables {
        let mut statement = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let columns = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let value = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    other => format!("{other:?}"),
                };
                out.push_str(&value);
                out.push('\t');
            }
            out.push('\n');
        }
    }
    drop(conn);
    out.push_str(&String::from_utf8_lossy(&std::fs::read(w.path()).unwrap()));
    out
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(!text.contains(CLIENT_SECRET) && !text.contains(TOKEN), "{what} shows a secret:\n{text}");
    assert!(!text.contains("CANARY"), "{what} shows a piece of a secret:\n{text}");
}

#[test]
fn neither_the_client_secret_nor_a_token_is_shown_or_stored() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tokens, api, issued) = servers(&rt);
    let w = Warehouse::new(Kind::Sqlite, "oauth_canary");
    w.add_users(1..=12);
    let config = config(&w, &tokens, &api);
    // A second sync of the same destination shares the token.
    let text = std::fs::read_to_string(&config).unwrap();
    let second = format!(
        "\n[syncs.second]\naudience_name = \"Second\"\naudience_id = \"43\"\nsource = \"{}\"\nquery = \"SELECT id, email, name FROM users WHERE id <= 4\"\nprimary_key = \"id\"\nhash_pii = false\nmap = {{ user_id = \"id\", email = \"email\", name = \"name\" }}\n",
        w.source()
    );
    std::fs::write(&config, text + &second).unwrap();

    let (code, stdout, stderr) = sync(&config, CLIENT_SECRET);
    let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(summary["syncs"][0]["status"], "partial", "{stdout}\n{stderr}");
    assert_eq!(summary["syncs"][1]["status"], "partial", "{stdout}\n{stderr}");
    assert_ne!(code, -1);
    assert_eq!(issued.load(Ordering::SeqCst), 1, "one token for every request of both syncs");
    let sent: Vec<String> =
        api.requests().iter().map(|r| r.header("authorization").unwrap_or_default().to_owned()).collect();
    assert_eq!(sent.len(), 12 + 4);
    assert!(sent.iter().all(|a| *a == format!("Bearer {TOKEN}1")), "{sent:?}");
    // The failure of user 3 is stored with the API's answer, the whole Authorization value in it
    // masked (scheme and token: the value as sent is a secret).
    let dump = state_dump(&w);
    assert!(dump.contains("duplicate; you sent ***"), "{dump}");
    assert!(stderr.lines().any(|l| l.starts_with('{')), "JSON log lines: {stderr}");
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr), ("the state tables", &dump)] {
        assert_no_canary(what, text);
    }
}

#[test]
fn a_wrong_client_secret_stops_the_run_with_the_servers_error_masked() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tokens, api, issued) = servers(&rt);
    let w = Warehouse::new(Kind::Sqlite, "oauth_wrong_secret");
    w.add_users(1..=5);
    let wrong = "CANARY-wrong-secret-1a1a";
    let config = config(&w, &tokens, &api);

    let (code, stdout, stderr) = sync(&config, wrong);
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let s = &summary["syncs"][0];
    assert_eq!(s["status"], "stopped", "{s}");
    assert_eq!(s["requests"], 0, "no request reached the API: {s}");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("no credentials for the API (the token endpoint refused the client credentials: HTTP 401 Unauthorized: invalid_client: bad credentials Basic ***)"),
        "{error}"
    );
    assert_eq!(tokens.requests().len(), 1, "a refused secret is asked once");
    assert_eq!(issued.load(Ordering::SeqCst), 0);
    assert!(api.requests().is_empty());
    let dump = state_dump(&w);
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr), ("the state tables", &dump)] {
        assert!(!text.contains("CANARY"), "{what} shows a secret:\n{text}");
    }
}
