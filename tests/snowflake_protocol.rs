//! The Snowflake protocol layer against a real engine and a capture server on 127.0.0.1:
//!
//! * key-pair tokens against what `openssl` computes from the test key (`tests/data/snowflake`);
//! * the login and query requests as sent, captured by a small HTTP server, and the answers
//!   Snowflake gives that fakesnow never does (chunked results, a statement still running,
//!   a proxy's HTML error);
//! * login both ways, every mapped type, DML counts and an error against fakesnow, which
//!   `scripts/test` starts and names in `SNOWFLAKE_TEST_URL`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use audience::fields::OwnedValue;
use audience::warehouse::snowflake::jwt::KeyPair;
use audience::warehouse::snowflake::session::SessionOptions;
use audience::warehouse::snowflake::{Bind, Session, SnowflakeError, SnowflakeSource};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/snowflake").join(name)
}

fn read_data(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap().trim().to_string()
}

/// The body of a PEM file.
fn pem_der(name: &str) -> Vec<u8> {
    let text = read_data(name);
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).unwrap()
}

/// Checks a JWT's RS256 signature with the test key's public half (ring, from the PKCS#1 file
/// openssl wrote) and returns its header and claims.
fn verify_jwt(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let signed = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        pem_der("rsa_key_pkcs1.pub"),
    );
    public.verify(signed.as_bytes(), &signature).expect("the JWT verifies against the test key's public half");
    let decode = |p: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    (decode(parts[0]), decode(parts[1]))
}

#[test]
fn jwt_equals_the_openssl_vector() {
    let fingerprint = read_data("rsa_key.fingerprint");
    for file in ["rsa_key.p8", "rsa_key_pkcs1.pem"] {
        let key = KeyPair::load(&data(file), None).unwrap();
        assert_eq!(key.fingerprint(), fingerprint, "{file}: the iss fingerprint is openssl's");
        assert_eq!(key.public_key_der(), pem_der("rsa_key.pub"), "{file}: SubjectPublicKeyInfo as openssl writes it");
        let token = key.token("myorg-acct1", "svc_audience", 1_700_000_000).unwrap();
        assert_eq!(
            token,
            read_data("jwt_vector.txt"),
            "{file}: RS256 is deterministic, so the token is openssl's byte for byte"
        );
    }
}

#[test]
fn jwt_claims_are_the_documented_ones() {
    let key = KeyPair::load(&data("rsa_key.p8"), None).unwrap();
    let token = key.token("XY12345", "Jane", 1_750_000_000).unwrap();
    let (header, claims) = verify_jwt(&token);
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
    let fingerprint = read_data("rsa_key.fingerprint");
    assert_eq!(claims["iss"], format!("XY12345.JANE.{fingerprint}"));
    assert_eq!(claims["sub"], "XY12345.JANE");
    assert_eq!(claims["iat"], 1_750_000_000);
    let lifetime = claims["exp"].as_u64().unwrap() - 1_750_000_000;
    assert!(lifetime > 0 && lifetime <= 3600, "exp is at most an hour after iat: {lifetime}");
}

#[test]
fn unusable_keys_are_refused_with_the_file_named() {
    let err = KeyPair::load(&data("rsa_key_encrypted.p8"), Some("not-a-secret")).unwrap_err().to_string();
    assert!(err.contains("rsa_key_encrypted.p8") && err.contains("not supported yet"), "{err}");
    assert!(!err.contains("not-a-secret"), "{err}");
    let err = KeyPair::load(&data("rsa_key.pub"), None).unwrap_err().to_string();
    assert!(err.contains("not a PEM private key"), "{err}");
    let err = KeyPair::load(&data("missing.p8"), None).unwrap_err().to_string();
    assert!(err.contains("cannot read") && err.contains("missing.p8"), "{err}");
}

/// One request as the capture server saw it.
#[derive(Clone, Debug)]
struct Captured {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP server that records every request and answers with what `answer` returns
/// (status, body). One request per connection (`Connection: close`).
struct CaptureServer {
    port: u16,
    requests: Arc<Mutex<Vec<Captured>>>,
}

impl CaptureServer {
    fn start(answer: impl Fn(&Captured, usize) -> (u16, String) + Send + 'static) -> CaptureServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut words = line.split_whitespace();
                let method = words.next().unwrap_or_default().to_string();
                let target = words.next().unwrap_or_default().to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let length = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let captured =
                    Captured { method, target, headers, body: serde_json::from_slice(&body).unwrap_or(Value::Null) };
                let index = {
                    let mut all = seen.lock().unwrap();
                    all.push(captured.clone());
                    all.len() - 1
                };
                let (status, text) = answer(&captured, index);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        CaptureServer { port, requests }
    }

    fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }

    fn source(&self, credentials: &str) -> SnowflakeSource {
        SnowflakeSource::parse(&format!(
            "snowflake://svc_audience@myorg-acct1/ANALYTICS/MARTS?warehouse=WH_XS&role=AUDIENCE&{credentials}&host=127.0.0.1&port={}&protocol=http",
            self.port
        ))
        .unwrap()
    }
}

const LOGIN_OK: &str = r#"{"success": true, "data": {"token": "session-token-1"}}"#;

/// A DML answer as Snowflake sends it: counts as a JSON rowset.
fn dml_answer() -> String {
    json!({"success": true, "data": {
        "rowtype": [{"name": "number of rows inserted", "type": "fixed", "scale": 0}],
        "rowset": [["3"]], "queryResultFormat": "json", "statementTypeId": 12544, "queryId": "q1", "total": 1,
    }})
    .to_string()
}

fn key_file_param() -> String {
    format!("private_key_file={}", data("rsa_key.p8").display())
}

#[tokio::test]
async fn key_pair_login_sends_a_verifiable_jwt() {
    let server = CaptureServer::start(|req, _| {
        if req.target.starts_with("/session/v1/login-request") { (200, LOGIN_OK.into()) } else { (200, dml_answer()) }
    });
    let mut session = Session::login(&server.source(&key_file_param()), &SessionOptions::default()).await.unwrap();
    let result = session.query("INSERT INTO T SELECT ?, ?", &[Bind::Fixed(7), Bind::Text("a".into())]).await.unwrap();
    assert_eq!(result.affected_rows(), Some(3));
    assert_eq!(session.round_trips(), 2);

    let requests = server.requests();
    let login = &requests[0];
    assert_eq!(login.method, "POST");
    let (path, query) = login.target.split_once('?').unwrap();
    assert_eq!(path, "/session/v1/login-request");
    assert!(
        query.starts_with("databaseName=ANALYTICS&schemaName=MARTS&warehouse=WH_XS&roleName=AUDIENCE&requestId="),
        "{query}"
    );
    assert_eq!(login.header("accept"), Some("application/snowflake"));
    let data = &login.body["data"];
    assert_eq!(data["AUTHENTICATOR"], "SNOWFLAKE_JWT");
    assert_eq!(data["ACCOUNT_NAME"], "MYORG-ACCT1");
    assert_eq!(data["LOGIN_NAME"], "svc_audience");
    assert!(data.get("PASSWORD").is_none());
    assert_eq!(data["SESSION_PARAMETERS"]["AUTOCOMMIT"], true);
    assert_eq!(data["SESSION_PARAMETERS"]["ABORT_DETACHED_QUERY"], true);
    let (_, claims) = verify_jwt(data["TOKEN"].as_str().unwrap());
    assert_eq!(claims["sub"], "MYORG-ACCT1.SVC_AUDIENCE");
    assert_eq!(claims["iss"], format!("MYORG-ACCT1.SVC_AUDIENCE.{}", read_data("rsa_key.fingerprint")));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let iat = claims["iat"].as_u64().unwrap();
    assert!(iat <= now && now - iat < 600, "iat is the time of the login: {iat} vs {now}");

    let query = &requests[1];
    assert!(query.target.starts_with("/queries/v1/query-request?requestId="), "{}", query.target);
    assert_eq!(query.header("authorization"), Some("Snowflake Token=\"session-token-1\""));
    assert_eq!(query.body["sqlText"], "INSERT INTO T SELECT ?, ?");
    assert_eq!(
        query.body["bindings"],
        json!({"1": {"type": "FIXED", "value": "7"}, "2": {"type": "TEXT", "value": "a"}})
    );
    assert_eq!(query.body["sequenceId"], 1);
}

#[tokio::test]
async fn password_login_and_a_refused_login() {
    let server = CaptureServer::start(|req, _| {
        if req.body["data"]["PASSWORD"] == "right" {
            (200, LOGIN_OK.into())
        } else {
            // Snowflake answers a refused login with 200 and success: false.
            (200, r#"{"success": false, "code": "390100", "message": "Incorrect username or password was specified.", "data": null}"#.into())
        }
    });
    Session::login(&server.source("password=right"), &SessionOptions::default()).await.unwrap();
    let login = &server.requests()[0];
    assert_eq!(login.body["data"]["PASSWORD"], "right");
    assert!(login.body["data"].get("AUTHENTICATOR").is_none(), "no authenticator: the default, SNOWFLAKE");

    let err = Session::login(&server.source("password=wr%26ng"), &SessionOptions::default()).await.unwrap_err();
    assert_eq!(
        err,
        SnowflakeError::Snowflake {
            code: "390100".into(),
            sql_state: None,
            message: "Incorrect username or password was specified.".into()
        }
    );
}

#[tokio::test]
async fn answers_fakesnow_never_gives() {
    // Index 0 is the login; then one scenario per request.
    let server = CaptureServer::start(|req, i| {
        match i {
        0 => (200, LOGIN_OK.into()),
        // A result too large to come inline: Snowflake lists chunks to download.
        1 => (
            200,
            json!({"success": true, "data": {
                "rowtype": [{"name": "K", "type": "text"}], "rowsetBase64": "", "total": 250000,
                "chunks": [{"url": "https://stage/1", "rowCount": 100000}, {"url": "https://stage/2", "rowCount": 100000}],
                "queryResultFormat": "arrow", "statementTypeId": 4096,
            }})
            .to_string(),
        ),
        // Still running after 45 s: poll the result URL...
        2 => (200, json!({"success": false, "code": "333334", "message": "Asynchronous execution in progress.",
                           "data": {"getResultUrl": "/queries/q2/result", "queryId": "q2"}}).to_string()),
        3 => {
            assert_eq!((req.method.as_str(), req.target.as_str()), ("GET", "/queries/q2/result"));
            assert_eq!(req.header("authorization"), Some("Snowflake Token=\"session-token-1\""));
            (200, dml_answer())
        }
        // A proxy's error page, which echoes what it was sent.
        4 => (502, "<html>Bad gateway for hunter2</html>".into()),
        // A Snowflake error that quotes the session token.
        _ => (200, json!({"success": false, "code": "002003", "message": "token session-token-1 is odd",
                          "data": {"sqlState": "42S02"}}).to_string()),
    }
    });
    let mut session = Session::login(&server.source("password=hunter2"), &SessionOptions::default()).await.unwrap();

    let err = session.query_page("SELECT K FROM D", &[], 100_000).await.unwrap_err();
    assert_eq!(err, SnowflakeError::Chunked { page_rows: Some(100_000), total_rows: 250_000, chunks: 2 });
    assert!(err.to_string().contains("pages of 100000 rows"), "{err}");

    let result = session.query("MERGE INTO T ...", &[]).await.unwrap();
    assert_eq!(result.affected_rows(), Some(3), "the polled result");

    let err = session.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err, SnowflakeError::Status { status: 502, body: "<html>Bad gateway for ***</html>".into() });

    let err = session.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.to_string(), "snowflake error 002003 (42S02): token *** is odd");
    assert_eq!(session.round_trips(), 6);
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let source = SnowflakeSource::parse(&format!(
        "snowflake://u@a/D/S?password=hunter2&host=127.0.0.1&port={port}&protocol=http"
    ))
    .unwrap();
    let err = Session::login(&source, &SessionOptions::default()).await.unwrap_err();
    assert!(matches!(err, SnowflakeError::Transport(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

// ---- against fakesnow ----

/// `SNOWFLAKE_TEST_URL`, or a failure that says how to get one.
fn fakesnow() -> (String, u16) {
    let url = std::env::var("SNOWFLAKE_TEST_URL").unwrap_or_else(|_| {
        panic!(
            "SNOWFLAKE_TEST_URL is not set: the Snowflake tests need fakesnow. Run them with scripts/test, which \
             installs and starts it, or start `fakesnow -s -p PORT` and set SNOWFLAKE_TEST_URL=http://127.0.0.1:PORT"
        )
    });
    let rest = url.strip_prefix("http://").expect("SNOWFLAKE_TEST_URL is http://HOST:PORT");
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':').expect("SNOWFLAKE_TEST_URL has a port");
    (host.to_string(), port.parse().expect("SNOWFLAKE_TEST_URL has a numeric port"))
}

/// A database of this test's own (fakesnow's databases are shared by every session).
fn fakesnow_source(test: &str, credentials: &str) -> SnowflakeSource {
    let (host, port) = fakesnow();
    let database = format!("T{}_{test}", std::process::id());
    SnowflakeSource::parse(&format!(
        "snowflake://audience@fake/{database}/PUBLIC?warehouse=WH&{credentials}&host={host}&port={port}&protocol=http"
    ))
    .unwrap()
}

async fn fakesnow_session(test: &str) -> Session {
    let source = fakesnow_source(test, "password=anything");
    let mut session = Session::login(&source, &SessionOptions::default()).await.unwrap();
    session.query(&format!("CREATE DATABASE IF NOT EXISTS {}", source.database), &[]).await.unwrap();
    session.query(&format!("CREATE SCHEMA IF NOT EXISTS {}.PUBLIC", source.database), &[]).await.unwrap();
    session
}

fn text(s: &str) -> OwnedValue {
    OwnedValue::Text(s.into())
}

fn ts(s: &str) -> OwnedValue {
    OwnedValue::Timestamp(s.into())
}

#[tokio::test]
async fn fakesnow_login_both_ways() {
    for (test, credentials) in [("pw", "password=anything".to_string()), ("kp", key_file_param())] {
        let source = fakesnow_source(test, &credentials);
        let mut session = Session::login(&source, &SessionOptions::default()).await.unwrap();
        let result = session.query("SELECT 41 + 1 AS ANSWER, 'ok' AS S", &[]).await.unwrap();
        assert_eq!(result.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["ANSWER", "S"]);
        assert_eq!(result.rows, vec![vec![OwnedValue::Int(42), text("ok")]], "{test}");
        session.logout().await.unwrap();
    }
}

#[tokio::test]
async fn fakesnow_every_mapped_type_decodes() {
    let mut session = fakesnow_session("types").await;
    let db = format!("T{}_types", std::process::id());
    session
        .query(
            &format!(
                "CREATE OR REPLACE TABLE {db}.PUBLIC.ALL_TYPES (ID NUMBER(38,0), N_DEC NUMBER(10,2), N_BIG NUMBER(38,6), \
                 F FLOAT, S VARCHAR, B BOOLEAN, D DATE, T_NTZ TIMESTAMP_NTZ, T_TZ TIMESTAMP_TZ, T_LTZ TIMESTAMP_LTZ, \
                 V VARIANT, O OBJECT, A ARRAY, BIN BINARY)"
            ),
            &[],
        )
        .await
        .unwrap();
    let insert = session
        .query(
            &format!(
                "INSERT INTO {db}.PUBLIC.ALL_TYPES SELECT 1, 19.9, 123456789012.123456, 2.5, 'héllo', TRUE, '2024-01-02'::DATE, \
                 '2024-01-02 03:04:05.123456'::TIMESTAMP_NTZ, '2024-01-02 03:04:05.5 +02:00'::TIMESTAMP_TZ, \
                 '2024-01-02 03:04:05'::TIMESTAMP_LTZ, PARSE_JSON('{{\"a\": [1, 2]}}'), OBJECT_CONSTRUCT('k', 1), \
                 PARSE_JSON('[1, \"x\"]'), TO_BINARY('DEADBEEF', 'HEX')"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(insert.affected_rows(), Some(1));
    let insert = session
        .query(&format!("INSERT INTO {db}.PUBLIC.ALL_TYPES (ID, B) VALUES (2, FALSE), (3, NULL)"), &[])
        .await
        .unwrap();
    assert_eq!(insert.count("number of rows inserted"), Some(2));

    let result = session.query(&format!("SELECT * FROM {db}.PUBLIC.ALL_TYPES ORDER BY ID"), &[]).await.unwrap();
    let types: Vec<&str> = result.columns.iter().map(|c| c.type_name.as_str()).collect();
    // fakesnow describes TIMESTAMP_LTZ as timestamp_tz (DuckDB has one zoned type) and OBJECT,
    // ARRAY as variant; Snowflake names them, and both decode the same way.
    assert_eq!(
        types,
        [
            "fixed",
            "fixed",
            "fixed",
            "real",
            "text",
            "boolean",
            "date",
            "timestamp_ntz",
            "timestamp_tz",
            "timestamp_tz",
            "variant",
            "variant",
            "variant",
            "binary"
        ]
    );
    let null_row = |id: i64, b: OwnedValue| {
        let mut row = vec![OwnedValue::Null; 14];
        row[0] = OwnedValue::Int(id);
        row[5] = b;
        row
    };
    assert_eq!(
        result.rows,
        vec![
            vec![
                OwnedValue::Int(1),
                OwnedValue::Numeric("19.90".into()),
                OwnedValue::Numeric("123456789012.123456".into()),
                OwnedValue::Float(2.5),
                text("héllo"),
                OwnedValue::Bool(true),
                ts("2024-01-02"),
                ts("2024-01-02T03:04:05.123456Z"),
                // +02:00 dropped: the same instant in UTC.
                ts("2024-01-02T01:04:05.500Z"),
                // TIMEZONE=UTC for the session: LTZ reads as written.
                ts("2024-01-02T03:04:05Z"),
                OwnedValue::Json(json!({"a": [1, 2]})),
                OwnedValue::Json(json!({"k": 1})),
                OwnedValue::Json(json!([1, "x"])),
                OwnedValue::Bytes(vec![0xde, 0xad, 0xbe, 0xef]),
            ],
            null_row(2, OwnedValue::Bool(false)),
            null_row(3, OwnedValue::Null),
        ]
    );
}

#[tokio::test]
async fn fakesnow_pages_by_key_range_with_binds() {
    let mut session = fakesnow_session("pages").await;
    let db = format!("T{}_pages", std::process::id());
    session
        .query(
            &format!(
                "CREATE OR REPLACE TRANSIENT TABLE {db}.PUBLIC.D AS SELECT SEQ4() + 1 AS SEQ, 'k' || SEQ4() AS K \
                 FROM TABLE(GENERATOR(ROWCOUNT => 25000))"
            ),
            &[],
        )
        .await
        .unwrap();
    let sql = format!("SELECT SEQ, K FROM {db}.PUBLIC.D WHERE SEQ > ? AND SEQ <= ? ORDER BY SEQ LIMIT ?");
    let (mut after, mut total, mut sum) = (0i64, 0usize, 0i64);
    loop {
        let page = session
            .query_page(&sql, &[Bind::Fixed(after), Bind::Fixed(after + 10_000), Bind::Fixed(10_000)], 10_000)
            .await
            .unwrap();
        if page.rows.is_empty() {
            break;
        }
        for row in &page.rows {
            let (OwnedValue::Int(seq), OwnedValue::Text(k)) = (&row[0], &row[1]) else { panic!("{row:?}") };
            assert_eq!(*k, format!("k{}", seq - 1));
            sum += seq;
        }
        total += page.rows.len();
        after += 10_000;
    }
    assert_eq!(total, 25_000);
    assert_eq!(sum, 25_000 * 25_001 / 2);
}

#[tokio::test]
async fn fakesnow_errors_carry_code_and_message() {
    let mut session = fakesnow_session("errors").await;
    let err = session.query("SELECT * FROM NO_SUCH_TABLE_ANYWHERE", &[]).await.unwrap_err();
    let SnowflakeError::Snowflake { code, message, .. } = &err else { panic!("{err:?}") };
    assert_eq!(code, "002003");
    assert!(message.contains("NO_SUCH_TABLE_ANYWHERE"), "{message}");
}

/// A result fakesnow sent (`values.arrow.b64`, with its `rowtype`): decoded right, and no
/// truncation or corruption of it makes the reader panic or allocate without bound.
#[test]
fn a_recorded_arrow_result_decodes_and_corruption_is_an_error() {
    use audience::warehouse::snowflake::arrow::read_stream;
    use audience::warehouse::snowflake::rowset::{ColumnType, arrow_rows};
    let bytes = STANDARD.decode(read_data("values.arrow.b64")).unwrap();
    let columns: Vec<ColumnType> = serde_json::from_str(&read_data("values.rowtype.json")).unwrap();
    let rows = arrow_rows(&read_stream(&bytes).unwrap(), &columns).unwrap();
    let mut nulls = vec![OwnedValue::Null; 10];
    nulls[0] = OwnedValue::Int(2);
    assert_eq!(
        rows,
        vec![
            vec![
                OwnedValue::Int(1),
                OwnedValue::Numeric("19.90".into()),
                OwnedValue::Float(2.5),
                text("héllo"),
                OwnedValue::Bool(true),
                ts("2024-01-02"),
                ts("2024-01-02T03:04:05.123456Z"),
                ts("2024-01-02T03:04:05.500Z"),
                OwnedValue::Json(json!({"a": [1, 2]})),
                OwnedValue::Bytes(vec![0xde, 0xad, 0xbe, 0xef]),
            ],
            nulls,
            vec![
                OwnedValue::Int(3),
                OwnedValue::Numeric("-0.05".into()),
                OwnedValue::Float(-1e300),
                text(""),
                OwnedValue::Bool(false),
                ts("1969-12-31"),
                ts("1969-12-31T23:59:59Z"),
                ts("2000-01-01T00:00:00Z"),
                OwnedValue::Json(json!([])),
                OwnedValue::Bytes(vec![]),
            ],
        ]
    );
    let (mut errors, mut decoded) = (0, 0);
    for n in 0..bytes.len() {
        match read_stream(&bytes[..n]) {
            Ok(stream) => decoded += usize::from(arrow_rows(&stream, &columns).is_ok()),
            Err(_) => errors += 1,
        }
    }
    for i in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut corrupt = bytes.clone();
            corrupt[i] ^= flip;
            match read_stream(&corrupt) {
                Ok(stream) => decoded += usize::from(arrow_rows(&stream, &columns).is_ok()),
                Err(_) => errors += 1,
            }
        }
    }
    // Most damage is found; some lands in values (a flipped digit still decodes).
    assert!(errors > bytes.len(), "{errors} errors, {decoded} decoded");
}
