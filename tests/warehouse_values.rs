//! Warehouse values as JSON (docs/design/sync.md's table), through a whole sync on each engine: the types a
//! model returns, as the receiver gets them; and a PostgreSQL connection's errors.

mod sync_support;

use serde_json::json;
use sync_support::{Kind, Receiver, Warehouse, audience, sync};

/// A config whose add template sends every field `fields` names, from the model `query`.
fn config(w: &Warehouse, r: &Receiver, query: &str, fields: &[&str], source: &str) -> std::path::PathBuf {
    let record: String = fields.iter().map(|f| format!(", \"{f}\": {f}")).collect();
    let map: String = fields.iter().map(|f| format!(", {f} = \"{f}\"")).collect();
    let text = format!(
        r#"
[destination]
name = "Types"
base_url = "{base}"
[destination.actions.add]
path = "/members"
template = '{{"users": [$$.records.{{"id": id{record}}}]}}'
[destination.actions.update]
use_add = true
[destination.actions.remove]
method = "DELETE"
path = "/members"
template = '{{"users": [$$.records.{{"id": id}}]}}'
[syncs.types]
audience_name = "Types"
audience_id = "1"
source = "{source}"
query = "{query}"
primary_key = "id"
map = {{ id = "id"{map} }}
"#,
        base = r.base_url(),
    );
    let path = w.dir.join("types.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn sqlite_values_become_json() {
    let w = Warehouse::new(Kind::Sqlite, "values");
    let r = Receiver::start();
    w.exec(
        "CREATE TABLE t (id INTEGER, big INTEGER, real REAL, txt TEXT, looks_json TEXT, blob BLOB); \
         INSERT INTO t VALUES (1, 9007199254740993, 0.1, 'x', '{\"a\": 1}', NULL), \
                              (2, -1, 1e21, '', NULL, NULL), \
                              (3, 0, 0.5, 'y', NULL, x'00ff'), \
                              (4, 0, 0.5, CAST(x'6f6bc3a9ff21' AS TEXT), NULL, NULL)",
    );
    let fields = ["big", "real", "txt", "looks_json", "blob"];
    let config = config(&w, &r, "SELECT * FROM t", &fields, &w.source());
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "the BLOB row and the invalid text fail: {s}\n{err}");
    let m = r.members();
    // Integers exact to 64 bits; floats as JavaScript prints them; SQLite text never parsed.
    assert_eq!(
        m[&1],
        json!({"id": 1, "big": 9007199254740993i64, "real": 0.1, "txt": "x", "looks_json": "{\"a\": 1}"})
    );
    assert_eq!(m[&2], json!({"id": 2, "big": -1, "real": 1e21}), "null and '' are dropped");
    assert!(!m.contains_key(&3));
    let reason = w.rows("SELECT error_reason FROM _audience_logs WHERE primary_key = '3'");
    assert_eq!(reason[0][0].as_deref(), Some("field blob holds binary data (BLOB/bytea), which has no JSON form"));
    // Text that is not UTF-8 (`ok`, `é`, then 0xff): said so, with the column and where.
    assert!(!m.contains_key(&4));
    let reason = w.rows("SELECT error_reason FROM _audience_logs WHERE primary_key = '4'");
    assert_eq!(
        reason[0][0].as_deref(),
        Some("field txt (column txt) holds text that is not valid UTF-8: the first invalid byte is at byte offset 4")
    );
}

#[test]
fn postgres_values_become_json() {
    let w = Warehouse::new(Kind::Postgres, "values");
    let r = Receiver::start();
    w.exec(
        "CREATE TYPE mood AS ENUM ('happy', 'sad'); \
         CREATE TABLE t (id int4, small int2, big int8, ltv numeric(12,2), huge numeric, score float8, half float4, \
           active bool, seen timestamptz, naive timestamp, born date, uid uuid, name varchar(10), code char(3), \
           attrs jsonb, doc json, tags text[], feeling mood, raw bytea); \
         SET TIME ZONE 'Europe/Paris'; \
         INSERT INTO t VALUES (1, -2, 9007199254740993, 19.99, 123456789012345678901234567890.5, 0.1, 0.5, \
           false, '2024-05-01 14:30:00+02', '2024-05-01 12:30:00.25', '2024-02-29', \
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'Ada', 'ab', '{\"city\": \"Paris\", \"n\": [1, 2]}', '{\"b\": 1, \"a\": 2}', \
           ARRAY['x', 'y'], 'happy', NULL), \
           (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '\\x00')",
    );
    let fields = [
        "small", "big", "ltv", "huge", "score", "half", "active", "seen", "naive", "born", "uid", "name", "code",
        "attrs", "doc", "tags", "feeling", "raw",
    ];
    let config = config(&w, &r, "SELECT * FROM t", &fields, &w.source());
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "the bytea row fails: {s}\n{err}");
    assert_eq!(
        r.members()[&1],
        json!({
            "id": 1, "small": -2, "big": 9007199254740993i64, "ltv": 19.99,
            "huge": "123456789012345678901234567890.5", "score": 0.1, "half": 0.5, "active": false,
            "seen": "2024-05-01T12:30:00Z", "naive": "2024-05-01T12:30:00.250Z", "born": "2024-02-29",
            "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "name": "Ada", "code": "ab ",
            "attrs": {"city": "Paris", "n": [1, 2]}, "doc": {"b": 1, "a": 2}, "tags": ["x", "y"], "feeling": "happy"
        })
    );
    assert!(!r.members().contains_key(&2));
}

/// Snowflake's types (docs/design/snowflake.md's table, through fakesnow's Arrow answers): NUMBER
/// exact, decimals with their scale, FLOAT, BOOLEAN, DATE, timestamps in UTC, VARIANT as its JSON
/// value; BINARY fails its record.
#[test]
fn snowflake_values_become_json() {
    let w = Warehouse::new(Kind::Snowflake, "values");
    let r = Receiver::start();
    w.exec(
        "CREATE TABLE t (id NUMBER(38,0), big NUMBER(38,0), ltv NUMBER(12,2), score FLOAT, active BOOLEAN, \
           born DATE, naive TIMESTAMP_NTZ, seen TIMESTAMP_TZ, name VARCHAR, attrs VARIANT, raw BINARY); \
         INSERT INTO t SELECT 1, 9007199254740993, 19.99, 0.1, FALSE, '2024-02-29', '2024-05-01 12:30:00.25', \
           '2024-05-01 14:30:00+02:00', 'Ada', PARSE_JSON('{\"city\": \"Paris\", \"n\": [1, 2]}'), NULL; \
         INSERT INTO t SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, TO_BINARY('00ff', 'HEX')",
    );
    let fields = ["big", "ltv", "score", "active", "born", "naive", "seen", "name", "attrs", "raw"];
    let config = config(&w, &r, "SELECT * FROM t", &fields, &w.source());
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "the BINARY row fails: {s}\n{err}");
    assert_eq!(
        r.members()[&1],
        json!({
            "id": 1, "big": 9007199254740993i64, "ltv": 19.99, "score": 0.1, "active": false, "born": "2024-02-29",
            "naive": "2024-05-01T12:30:00.250Z", "seen": "2024-05-01T12:30:00Z", "name": "Ada",
            "attrs": {"city": "Paris", "n": [1, 2]}
        })
    );
    assert!(!r.members().contains_key(&2));
    let reason = w.rows(&format!("SELECT error_reason FROM {} WHERE primary_key = '2'", w.state("logs")));
    assert!(reason[0][0].as_deref().unwrap_or_default().contains("binary"), "{reason:?}");
}

/// A connection that fails shows its reason and never the URL's password. (Each `sslmode`, and
/// why each connection succeeds or fails, is `tests/postgres_tls.rs`'s, on a private cluster.)
#[test]
fn postgres_connection_errors_never_show_the_password() {
    let w = Warehouse::new(Kind::Postgres, "tls");
    let r = Receiver::start();
    w.exec("CREATE TABLE t (id int4); INSERT INTO t VALUES (1)");
    // The URL carries a password of its own, so that the check below runs whether or not
    // DATABASE_URL has one; the root file does not exist, which fails before any connection.
    let source = with_password(&w.source(), CANARY).replace("sslmode=disable", "sslmode=verify-full")
        + "&sslrootcert=%2Fnonexistent%2Froot.crt";
    let config = config(&w, &r, "SELECT * FROM t", &[], &source);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 1, "{s}\n{err}");
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("cannot open the warehouse") && error.contains("cannot read sslrootcert /nonexistent/root.crt"),
        "{error}"
    );
    let check = audience(&["check", config.to_str().unwrap(), "--format", "json"]);
    let check = String::from_utf8_lossy(&check.stdout);
    assert!(!check.is_empty(), "check printed nothing");
    assert!(!error.contains(CANARY) && !err.contains(CANARY), "{error}\n{err}");
    assert!(!check.contains(CANARY), "{check}");
    assert!(r.members().is_empty());
}

/// A password no output may show.
const CANARY: &str = "CANARY-pg-7b7b";

/// `url` with `password` as its user's password (replacing one it had).
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (userinfo, host) = rest.split_once('@').expect("DATABASE_URL names a user");
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    format!("{scheme}://{user}:{password}@{host}")
}

/// A Snowflake source whose server cannot be reached says why, naming the source with its
/// password and key passphrase masked, in the summary, the log and `check`'s output.
#[test]
fn snowflake_connection_errors_never_show_the_password() {
    let w = Warehouse::new(Kind::Sqlite, "snowflake_unreachable");
    let r = Receiver::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let source = format!(
        "snowflake://svc@acct/DB/PUBLIC?password={CANARY}&host=127.0.0.1&port={closed}&protocol=http&warehouse=WH"
    );
    let config = config(&w, &r, "SELECT 1 AS id", &[], &source);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 1, "{s}\n{err}");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("cannot open the warehouse") && error.contains("password=***"), "{error}");
    let check = audience(&["check", config.to_str().unwrap(), "--connect", "--format", "json"]);
    let check = String::from_utf8_lossy(&check.stdout);
    assert!(check.contains("cannot open the warehouse"), "{check}");
    assert!(!error.contains(CANARY) && !err.contains(CANARY) && !check.contains(CANARY), "{error}\n{err}\n{check}");
}
