//! `audience check CONFIG --connect` on SQLite and PostgreSQL, against an API on 127.0.0.1:
//! the model's columns against the primary key and the mapping, a warehouse or an API that
//! refuses the connection (a loopback port where nothing listens), and the
//! `[destination.health]` request, the one request it may send.

#![cfg(feature = "cli")]

mod support_http;
mod sync_support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support_http::{Reply, Server};
use sync_support::{Kind, Receiver, Settings, Warehouse, audience, edit_config, write_config};

/// The API: `/health` answers `status`; anything else 404.
fn api(rt: &tokio::runtime::Runtime, status: u16) -> Server {
    rt.block_on(Server::start(move |r| {
        if r.path == "/health" { Reply::status(status).body("health says so") } else { Reply::status(404) }
    }))
}

/// A port on 127.0.0.1 where nothing listens (bound, then let go).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A config for `w`'s `users` model sending to `base_url`, with a health request.
fn config(w: &Warehouse, base_url: &str) -> PathBuf {
    let unused = Receiver::start();
    let path = write_config(w, &unused, &Settings::default());
    edit_config(
        &path,
        &[
            (&unused.base_url(), base_url),
            ("[destination.actions.add]", "[destination.health]\npath = \"/health\"\n\n[destination.actions.add]"),
        ],
    );
    path
}

/// `check CONFIG --connect --format json`: the exit code and the connect problems as
/// `(sync, key, message)`.
fn check(config: &Path) -> (i32, Vec<(Option<String>, String, String)>) {
    let out = audience(&["check", config.to_str().unwrap(), "--connect", "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(json["valid"], true, "{json}");
    let problems = json["connect"]["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"))
        .iter()
        .map(|p| {
            (
                p["sync"].as_str().map(str::to_owned),
                p["key"].as_str().unwrap_or_default().to_owned(),
                p["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (out.status.code().unwrap_or(-1), problems)
}

fn everything_works(kind: Kind, name: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = api(&rt, 200);
    let w = Warehouse::new(kind, name);
    w.add_users(1..=3);
    let config = config(&w, &api.url(""));
    let (code, problems) = check(&config);
    assert_eq!((code, problems), (0, vec![]));
    let sent: Vec<(String, String)> = api.requests().iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    assert_eq!(sent, [("GET".to_owned(), "/health".to_owned())], "the health request and no other");
    assert!(w.state_tables().is_empty(), "nothing written to the warehouse");
    // Human output: a line saying so, exit 0.
    let out = audience(&["check", config.to_str().unwrap(), "--connect"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("connected: 1 sync and the API checked, no problem"));
}

fn missing_columns_are_listed(kind: Kind, name: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = api(&rt, 200);
    let w = Warehouse::new(kind, name);
    let config = config(&w, &api.url(""));
    edit_config(
        &config,
        &[("primary_key = \"id\"", "primary_key = \"user_key\""), ("email = \"email\"", "email = \"mail\"")],
    );
    let (code, problems) = check(&config);
    assert_eq!(code, 1);
    let s = Some("members".to_owned());
    // Snowflake upper-cases unquoted names: the model's columns are as it names them.
    let columns = if kind == Kind::Snowflake { "ID, EMAIL, NAME" } else { "id, email, name" };
    assert_eq!(
        problems,
        [
            (
                s.clone(),
                "syncs.members.primary_key".into(),
                format!("the model has no column user_key; its columns are: {columns}")
            ),
            (
                s,
                "syncs.members.map.email".into(),
                format!("the model has no column mail (mapped to field email); its columns are: {columns}")
            ),
        ]
    );
    // Human output: each problem with its sync and key, on stderr.
    let out = audience(&["check", config.to_str().unwrap(), "--connect"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: sync members: syncs.members.map.email: the model has no column mail"), "{stderr}");
}

on_engines!(everything_works);
on_engines!(missing_columns_are_listed);

#[test]
fn a_warehouse_that_refuses_the_connection() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = api(&rt, 200);
    let w = Warehouse::new(Kind::Sqlite, "connect_refused_wh");
    let config = config(&w, &api.url(""));
    let port = closed_port();
    edit_config(&config, &[(&w.source(), &format!("postgres://audience@127.0.0.1:{port}/dw?sslmode=disable"))]);
    let (code, problems) = check(&config);
    assert_eq!(code, 1);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let (sync, key, message) = &problems[0];
    assert_eq!((sync.as_deref(), key.as_str()), (Some("members"), "syncs.members.source"));
    assert!(message.starts_with("cannot open the warehouse: "), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");

    // A SQLite file that is not there.
    let config = self::config(&w, &api.url(""));
    edit_config(&config, &[(&w.source(), &format!("{}-missing", w.source()))]);
    let (code, problems) = check(&config);
    assert_eq!(code, 1);
    assert_eq!(problems.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(), ["syncs.members.source"], "{problems:?}");
}

#[test]
fn an_api_that_refuses_the_connection() {
    let w = Warehouse::new(Kind::Sqlite, "connect_refused_api");
    let port = closed_port();
    let config = config(&w, &format!("http://127.0.0.1:{port}"));
    let (code, problems) = check(&config);
    assert_eq!(code, 1);
    assert_eq!(problems.len(), 1, "no health request without a connection: {problems:?}");
    let (sync, key, message) = &problems[0];
    assert_eq!((sync.as_deref(), key.as_str()), (None, "destination.base_url"));
    assert!(message.starts_with(&format!("cannot connect to the API at 127.0.0.1:{port}: ")), "{message}");
}

#[test]
fn a_failing_health_request() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = api(&rt, 503);
    let w = Warehouse::new(Kind::Sqlite, "connect_health");
    let config = config(&w, &api.url(""));
    let (code, problems) = check(&config);
    assert_eq!(code, 1);
    assert_eq!(
        problems,
        [(
            None,
            "destination.health".into(),
            "the health request (GET /health) answered HTTP 503 Service Unavailable: health says so".into()
        )]
    );
    assert_eq!(api.requests().len(), 1);

    // Without [destination.health], no request at all.
    let text = std::fs::read_to_string(&config).unwrap().replace("[destination.health]\npath = \"/health\"\n", "");
    std::fs::write(&config, text).unwrap();
    let (code, problems) = check(&config);
    assert_eq!((code, problems), (0, vec![]));
    assert_eq!(api.requests().len(), 1, "no request without [destination.health]");
}

#[test]
fn the_health_request_carries_an_oauth2_token() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tokens, api) = rt.block_on(async {
        let tokens = Server::start(|r| {
            if r.body_str().contains("client_secret=right-secret") {
                Reply::ok().body(r#"{"access_token":"tok-health","token_type":"Bearer","expires_in":60}"#)
            } else {
                Reply::status(401)
                    .body(format!(r#"{{"error":"invalid_client","error_description":"not {}"}}"#, r.body_str()))
            }
        })
        .await;
        let api = Server::start(|r| {
            if r.header("authorization") == Some("Bearer tok-health") { Reply::ok() } else { Reply::status(401) }
        })
        .await;
        (tokens, api)
    });
    let w = Warehouse::new(Kind::Sqlite, "connect_oauth2");
    let config = config(&w, &api.url(""));
    let auth = |secret: &str| {
        format!(
            "[destination.auth]\ntype = \"oauth2\"\ntoken_url = \"{}\"\nclient_id = \"app\"\nclient_secret = \"{secret}\"\nclient_auth = \"post\"\n\n[destination.health]",
            tokens.url("/token")
        )
    };
    edit_config(&config, &[("[destination.health]", &auth("right-secret"))]);
    let (code, problems) = check(&config);
    assert_eq!((code, problems), (0, vec![]));
    assert_eq!(tokens.requests().len(), 1);
    assert_eq!(api.requests().len(), 1);

    // A refused secret: the health request is not sent, and the server's error is masked.
    edit_config(&config, &[("right-secret", "wrong-secret")]);
    let (code, problems) = check(&config);
    assert_eq!(code, 1);
    assert_eq!(
        problems,
        [(
            None,
            "destination.health".into(),
            "no credentials for the API: the token endpoint refused the client credentials: HTTP 401 Unauthorized: \
             invalid_client: not grant_type=client_credentials&client_id=app&client_secret=***"
                .into()
        )]
    );
    assert_eq!(api.requests().len(), 1, "no health request without a token");
}

#[test]
fn a_tls_handshake_that_fails() {
    // https to a server that speaks plain HTTP: the connection opens, the handshake fails.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = api(&rt, 200);
    let w = Warehouse::new(Kind::Sqlite, "connect_tls");
    let config = config(&w, &api.url("").replace("http://", "https://"));
    let (code, problems) = check(&config);
    assert_eq!(code, 1);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let (sync, key, message) = &problems[0];
    assert_eq!((sync.as_deref(), key.as_str()), (None, "destination.base_url"));
    assert!(message.starts_with("the TLS handshake with the API (127.0.0.1) failed: "), "{message}");
    assert!(api.requests().iter().all(|r| r.path != "/health"), "no health request after a failed handshake");
}
