//! Test support for the sync tests: a receiver on 127.0.0.1 that keeps an audience's membership
//! (so a test can compare it with the model), warehouses of both engines, configs, and the
//! `audience` binary run as a child process (the way users run it, and the way a crash test
//! can kill it).
//!
//! PostgreSQL tests need `DATABASE_URL` (scripts/test starts the machine's PostgreSQL and sets
//! it), Snowflake tests `SNOWFLAKE_TEST_URL` (fakesnow, which scripts/test installs and starts).
//! Without them they fail, saying so: a skipped engine would look like a passing one.

#![allow(dead_code)]

/// Runs a scenario `fn NAME(kind: Kind, name: &str)` as one test per engine, in a module named
/// after it: on every engine (`on_engines!(NAME)`), or on those listed, each as its test's name
/// and its `Kind` (`on_engines!(NAME: sqlite Sqlite, postgres Postgres)`).
#[macro_export]
macro_rules! on_engines {
    ($scenario:ident) => {
        $crate::on_engines!($scenario: sqlite Sqlite, postgres Postgres, snowflake Snowflake);
    };
    ($scenario:ident: $($test:ident $kind:ident),+) => {
        mod $scenario {
            $(
                #[test]
                fn $test() {
                    super::$scenario($crate::sync_support::Kind::$kind, stringify!($scenario));
                }
            )+
        }
    };
}

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::watch;

/// A member as the receiver holds it: the record's fields as sent.
pub type Members = BTreeMap<i64, Value>;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Got {
    pub method: String,
    pub body: Value,
    /// The `id`s of the request's users.
    pub ids: Vec<i64>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    members: Members,
    log: Vec<Got>,
    /// Requests answered 422 when they hold any of these ids (delivery then splits them down).
    reject: HashSet<i64>,
    /// The request with this index (from 0, counting every request) is held without an answer.
    hold: Option<usize>,
    /// Users answered 200 but refused in the body, as `refusals` lists them (not applied).
    refuse: HashSet<i64>,
    refusals: Refusals,
}

/// How a 200 answer lists the users it refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Refusals {
    /// `{"errors": [{"index": 3, "message": "..."}]}`: positions in the request.
    #[default]
    ByIndex,
    /// `{"results": [{"status": "ok"}, {"status": "invalid", "error": "..."}]}`: one per user.
    ByStatus,
    /// `{"rejected": [{"identifier": EMAIL, "why": "..."}]}`: by the e-mail sent.
    ByEmail,
    /// Like `ByIndex`, each refused user named twice.
    Twice,
    /// Like `ByIndex`, with an entry at `index` 999, which names no user of the request.
    Unknown,
}

/// An audience API on 127.0.0.1: POST and PATCH upsert the body's `users` by `id`, DELETE
/// removes them; each answer is 200 unless the test asked otherwise.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    count: Arc<AtomicUsize>,
    release: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let count = Arc::new(AtomicUsize::new(0));
        let (release, released) = watch::channel(false);
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (st, n) = (state.clone(), count.clone());
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (st, n, released) = (st.clone(), n.clone(), released.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(st.clone(), n.clone(), released.clone(), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Receiver { addr, state, count, release, runtime: Some(runtime) }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn members(&self) -> Members {
        self.state.lock().unwrap().members.clone()
    }

    /// Every request so far, answered or held.
    pub fn requests(&self) -> Vec<Got> {
        self.state.lock().unwrap().log.clone()
    }

    /// Requests received so far (held ones included).
    pub fn received(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Forgets the request log (membership stays).
    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    pub fn reject(&self, ids: &[i64]) {
        self.state.lock().unwrap().reject = ids.iter().copied().collect();
    }

    /// Answers 200 to requests holding `ids`, listing those users as refused the way
    /// `refusals` says (and not applying them).
    pub fn refuse(&self, ids: &[i64], refusals: Refusals) {
        let mut st = self.state.lock().unwrap();
        st.refuse = ids.iter().copied().collect();
        st.refusals = refusals;
    }

    /// Holds request number `index` (from 0, over the receiver's life) without answering.
    pub fn hold(&self, index: usize) {
        self.state.lock().unwrap().hold = Some(index);
    }

    /// Lets a held request be answered (200, applied).
    pub fn release(&self) {
        self.state.lock().unwrap().hold = None;
        let _ = self.release.send(true);
    }

    /// Waits until `n` requests have arrived.
    pub fn wait_for(&self, n: usize, within: Duration) {
        wait_until(within, &format!("the receiver to get {n} requests"), || self.received() >= n);
    }

    /// The ids the requests of `method` carried, in order.
    pub fn ids(&self, method: &str) -> Vec<i64> {
        self.requests().iter().filter(|g| g.method == method && g.status == 200).flat_map(|g| g.ids.clone()).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    count: Arc<AtomicUsize>,
    mut released: watch::Receiver<bool>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let method = req.method().to_string();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let users: Vec<Value> = body["users"].as_array().cloned().unwrap_or_default();
    let ids: Vec<i64> = users.iter().filter_map(|u| u["id"].as_i64()).collect();
    let index = count.fetch_add(1, Ordering::SeqCst);
    let held = state.lock().unwrap().hold == Some(index);
    // A held request is logged at once (status 0), and gets its status if it is ever answered.
    let held_at = if held {
        let mut st = state.lock().unwrap();
        st.log.push(Got { method: method.clone(), body: body.clone(), ids: ids.clone(), status: 0 });
        Some(st.log.len() - 1)
    } else {
        None
    };
    if held {
        let _ = released.wait_for(|r| *r).await;
    }
    let mut st = state.lock().unwrap();
    let status = if ids.iter().any(|id| st.reject.contains(id)) { 422 } else { 200 };
    let refused = refusals(&st, &users);
    if status == 200 {
        for (id, user) in ids.iter().zip(&users) {
            if st.refuse.contains(id) {
                continue;
            }
            if method == "DELETE" {
                st.members.remove(id);
            } else {
                st.members.insert(*id, user.clone());
            }
        }
    }
    match held_at {
        // The log may have been cleared since (the test moved on): then there is nothing to mark.
        Some(i) => {
            if let Some(got) = st.log.get_mut(i).filter(|g| g.status == 0 && g.ids == ids) {
                got.status = status;
            }
        }
        None => st.log.push(Got { method, body, ids, status }),
    }
    let reply = if status == 200 { refused.to_string() } else { "{\"error\": \"rejected\"}".to_owned() };
    Ok(Response::builder().status(status).body(Full::new(Bytes::from(reply))).unwrap())
}

/// The body of a 200 answer to `users`, listing the refused ones as the receiver's mode says.
fn refusals(st: &State, users: &[Value]) -> Value {
    let refused = |u: &Value| u["id"].as_i64().is_some_and(|id| st.refuse.contains(&id));
    let why = |u: &Value| format!("user {} is not allowed", u["id"]);
    match st.refusals {
        Refusals::ByIndex => {
            let errors: Vec<Value> = users
                .iter()
                .enumerate()
                .filter(|(_, u)| refused(u))
                .map(|(i, u)| serde_json::json!({"index": i, "message": why(u)}))
                .collect();
            serde_json::json!({ "errors": errors })
        }
        Refusals::ByStatus => {
            let results: Vec<Value> = users
                .iter()
                .map(|u| {
                    if refused(u) {
                        serde_json::json!({"status": "invalid", "error": why(u)})
                    } else {
                        serde_json::json!({"status": "ok"})
                    }
                })
                .collect();
            serde_json::json!({ "results": results })
        }
        Refusals::ByEmail => {
            let rejected: Vec<Value> = users
                .iter()
                .filter(|u| refused(u))
                .map(|u| serde_json::json!({"identifier": u["email"], "why": why(u)}))
                .collect();
            serde_json::json!({ "rejected": rejected })
        }
        Refusals::Twice | Refusals::Unknown => {
            let mut errors = Vec::new();
            for (i, u) in users.iter().enumerate().filter(|(_, u)| refused(u)) {
                errors.push(serde_json::json!({"index": i, "message": why(u)}));
                if st.refusals == Refusals::Twice {
                    errors.push(serde_json::json!({"index": i, "message": "named again"}));
                }
            }
            if st.refusals == Refusals::Unknown && !errors.is_empty() {
                errors.push(serde_json::json!({"index": 999, "message": "no such record"}));
            }
            serde_json::json!({ "errors": errors })
        }
    }
}

/// Runs `audience sync` over users 1 to 50 in batches of 10, one request at a time; holds the
/// third request (ids 21 to 30) and kills the process (SIGKILL) while it waits, once the first
/// two batches are recorded. The receiver still holds; returns the config.
pub fn kill_9_after_two_batches(w: &Warehouse, r: &Receiver) -> PathBuf {
    w.add_users(1..=50);
    let settings = Settings { batch_size: 10, max_concurrency: 1, ..Settings::default() };
    let config = write_config(w, r, &settings);
    r.hold(2);
    let mut child = spawn_sync_quietly(&config);
    r.wait_for(3, Duration::from_secs(60));
    wait_until(Duration::from_secs(20), "the first two batches to be recorded", || w.recorded() == 20);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    config
}

/// `audience sync CONFIG` started and left to itself, its output discarded: a run to hold, kill
/// or wait for.
pub fn spawn_sync_quietly(config: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["sync", config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Polls `done` until it holds, or fails the test after `within`.
pub fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh folder for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audience-sync-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The engine a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    /// fakesnow: Snowflake's protocol and SQL on DuckDB.
    Snowflake,
}

/// A warehouse with a `users` model (id, email, name) and a way to run SQL in it.
pub struct Warehouse {
    pub kind: Kind,
    pub dir: PathBuf,
    /// SQLite: the database file.
    path: PathBuf,
    /// PostgreSQL: the test database's URL.
    url: String,
    /// PostgreSQL: the test database, dropped with the warehouse.
    database: Option<String>,
    runtime: tokio::runtime::Runtime,
    pg: Option<tokio_postgres::Client>,
    /// Snowflake: a session on the test's database.
    sf: Option<Mutex<audience::warehouse::snowflake::Session>>,
}

/// `SNOWFLAKE_TEST_URL` (`http://127.0.0.1:PORT`, fakesnow) as host and port, or a failure
/// that says how to get one.
pub fn fakesnow_address() -> (String, String) {
    let url = std::env::var("SNOWFLAKE_TEST_URL").unwrap_or_else(|_| {
        panic!(
            "SNOWFLAKE_TEST_URL is not set: the Snowflake tests need fakesnow. Run them with scripts/test, which \
             installs and starts it, or start `fakesnow -s -p PORT` and set SNOWFLAKE_TEST_URL=http://127.0.0.1:PORT"
        )
    });
    let rest = url.strip_prefix("http://").expect("SNOWFLAKE_TEST_URL is http://HOST:PORT");
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':').expect("SNOWFLAKE_TEST_URL has a port");
    (host.to_owned(), port.to_owned())
}

/// The source of database `database` on fakesnow (it takes any password).
pub fn fakesnow_source(database: &str) -> String {
    let (host, port) = fakesnow_address();
    format!("snowflake://audience@fake/{database}/PUBLIC?password=any-password&host={host}&port={port}&protocol=http")
}

/// A Snowflake cell as text, as the other engines' tests read their rows.
fn snowflake_text(v: &audience::fields::OwnedValue) -> Option<String> {
    use audience::fields::OwnedValue as V;
    match v {
        V::Null => None,
        V::Int(n) => Some(n.to_string()),
        V::Float(f) => Some(f.to_string()),
        V::Numeric(s) | V::Text(s) | V::Timestamp(s) => Some(s.clone()),
        V::Bool(b) => Some(b.to_string()),
        V::Json(j) => Some(j.to_string()),
        V::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

/// `DATABASE_URL`, or a failure that says how to get one.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: the PostgreSQL tests need a server. Run them with scripts/test, which \
             starts the machine's PostgreSQL and sets DATABASE_URL, or set it to postgres://USER:PASSWORD@HOST/DB \
             (the role needs CREATEDB: each test makes its own database)"
        )
    })
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Warehouse {
    /// A new, empty warehouse for test `name` with a `users` table (no primary key: models may
    /// have duplicate keys).
    pub fn new(kind: Kind, name: &str) -> Warehouse {
        let dir = scratch_dir(&format!("{name}-{kind:?}").to_lowercase());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let path = dir.join("warehouse.db");
        let (url, pg, database) = match kind {
            Kind::Sqlite => {
                rusqlite::Connection::open(&path).unwrap();
                (String::new(), None, None)
            }
            Kind::Postgres => {
                let admin_url = database_url();
                // The process id keeps suites that share a server (two checkouts, two CI jobs)
                // out of each other's databases; PostgreSQL names hold 63 bytes.
                let mut db = format!("audience_t_{}_{}", std::process::id(), name.to_lowercase());
                db.truncate(63);
                runtime.block_on(async {
                    let (admin, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
                        .await
                        .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL: {e}"));
                    tokio::spawn(conn);
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.unwrap();
                    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
                });
                let url = with_database(&admin_url, &db);
                let client = runtime.block_on(async {
                    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
                    tokio::spawn(conn);
                    client
                });
                (url, Some(client), Some(db))
            }
            Kind::Snowflake => {
                let mut db = format!("AUDIENCE_T_{}_{}", std::process::id(), name.to_uppercase());
                db.truncate(200);
                (fakesnow_source(&db), None, Some(db))
            }
        };
        let sf = (kind == Kind::Snowflake).then(|| {
            use audience::warehouse::snowflake::{Session, SnowflakeSource, session::SessionOptions};
            let source = SnowflakeSource::parse(&url).unwrap();
            let session = runtime
                .block_on(Session::login(&source, &SessionOptions::default()))
                .unwrap_or_else(|e| panic!("cannot log in to fakesnow at SNOWFLAKE_TEST_URL: {e}"));
            Mutex::new(session)
        });
        let w = Warehouse { kind, dir, path, url, database, runtime, pg, sf };
        if let Some(db) = w.database().filter(|_| kind == Kind::Snowflake) {
            // The process id keeps the databases of two runs of a suite apart (fakesnow cannot
            // drop a database: they stay in its memory until it stops).
            w.exec(&format!("CREATE DATABASE IF NOT EXISTS \"{db}\""));
            w.exec(&format!("CREATE SCHEMA IF NOT EXISTS \"{db}\".\"PUBLIC\""));
            w.exec(&format!("USE SCHEMA \"{db}\".\"PUBLIC\""));
        }
        w.exec("CREATE TABLE users (id bigint, email text, name text)");
        w
    }

    /// PostgreSQL: the test database's name.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// SQLite: the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sync's `source`.
    pub fn source(&self) -> String {
        match self.kind {
            Kind::Sqlite => format!("sqlite://{}", self.path.display()),
            Kind::Postgres => format!("{}{}sslmode=disable", self.url, if self.url.contains('?') { "&" } else { "?" }),
            Kind::Snowflake => self.url.clone(),
        }
    }

    /// Snowflake: runs one statement, its rows as text.
    fn snowflake(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut session = self.sf.as_ref().unwrap().lock().unwrap();
        let result = self.runtime.block_on(session.query(sql, &[])).unwrap_or_else(|e| panic!("{sql}: {e}"));
        result.rows.iter().map(|r| r.iter().map(snowflake_text).collect()).collect()
    }

    pub fn exec(&self, sql: &str) {
        match self.kind {
            Kind::Sqlite => {
                let conn = rusqlite::Connection::open(&self.path).unwrap();
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                conn.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Kind::Postgres => {
                let client = self.pg.as_ref().unwrap();
                self.runtime.block_on(client.batch_execute(sql)).unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            // One statement per request: the tests' statements hold no `;` inside a literal.
            Kind::Snowflake => {
                for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
                    self.snowflake(statement);
                }
            }
        }
    }

    /// The first column of the first row, as an integer (a `count(*)`).
    pub fn count(&self, sql: &str) -> i64 {
        match self.kind {
            Kind::Sqlite => {
                let conn = rusqlite::Connection::open(&self.path).unwrap();
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Kind::Postgres => {
                let client = self.pg.as_ref().unwrap();
                let row = self.runtime.block_on(client.query_one(sql, &[])).unwrap_or_else(|e| panic!("{sql}: {e}"));
                row.get(0)
            }
            Kind::Snowflake => {
                let rows = self.snowflake(sql);
                let cell = rows.first().and_then(|r| r.first()).cloned().flatten();
                cell.unwrap_or_else(|| panic!("{sql}: no integer")).parse().unwrap()
            }
        }
    }

    /// Rows of a query whose columns are all text (or cast to it), `None` for null.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self.kind {
            Kind::Sqlite => {
                let conn = rusqlite::Connection::open(&self.path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                let n = stmt.column_count();
                stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Option<String>>(i)).collect::<Result<Vec<_>, _>>())
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap()
            }
            Kind::Postgres => {
                let client = self.pg.as_ref().unwrap();
                let rows = self.runtime.block_on(client.query(sql, &[])).unwrap_or_else(|e| panic!("{sql}: {e}"));
                rows.iter().map(|r| (0..r.len()).map(|i| r.get::<_, Option<String>>(i)).collect()).collect()
            }
            Kind::Snowflake => self.snowflake(sql),
        }
    }

    /// A state table's name as SQL: `_audience_logs` (SQLite) or `_audience.logs`.
    pub fn state(&self, base: &str) -> String {
        match self.kind {
            Kind::Sqlite => format!("\"_audience_{base}\""),
            Kind::Postgres => format!("\"_audience\".\"{base}\""),
            Kind::Snowflake => format!("\"_AUDIENCE\".\"{}\"", base.to_uppercase()),
        }
    }

    /// The sync `members`'s baseline table as SQL.
    pub fn baseline(&self) -> String {
        match self.kind {
            Kind::Sqlite => "\"_audience_baseline_members\"".into(),
            Kind::Postgres => "\"_audience\".\"baseline_members\"".into(),
            Kind::Snowflake => "\"_AUDIENCE\".\"BASELINE_MEMBERS\"".into(),
        }
    }

    /// The baseline's key column as SQL, compared with an integer key `id`.
    pub fn baseline_key_is(&self, id: i64) -> String {
        match self.kind {
            Kind::Snowflake => format!("\"_AUDIENCE_KEY\" = {id}"),
            _ => format!("\"_audience_key\" = {id}"),
        }
    }

    /// Records whose outcome the running sync recorded: its log rows on SQLite and PostgreSQL,
    /// which write them per batch; on Snowflake, the records of its journal rows (the log rows
    /// are derived from the journal when the run ends).
    pub fn recorded(&self) -> i64 {
        match self.kind {
            Kind::Snowflake => {
                self.count(&format!("SELECT COALESCE(SUM(seq_hi - seq_lo + 1), 0) FROM {}", self.state("outcomes")))
            }
            _ => self.count(&format!("SELECT count(*) FROM {}", self.state("logs"))),
        }
    }

    /// Names of our tables (`_audience_*` in SQLite, the `_audience` schema's in PostgreSQL).
    pub fn state_tables(&self) -> Vec<String> {
        let sql = match self.kind {
            Kind::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_audience%' ESCAPE '\\' ORDER BY name"
            }
            Kind::Postgres => {
                "SELECT table_schema || '.' || table_name FROM information_schema.tables \
                 WHERE table_schema = '_audience' OR table_name LIKE '%audience%' ORDER BY 1"
            }
            // Snowflake upper-cases names; the tests look for them in lower case.
            Kind::Snowflake => {
                "SELECT LOWER(TABLE_SCHEMA || '.' || TABLE_NAME) FROM INFORMATION_SCHEMA.TABLES \
                 WHERE TABLE_SCHEMA = '_AUDIENCE' ORDER BY 1"
            }
        };
        self.rows(sql).into_iter().filter_map(|r| r.into_iter().next().flatten()).collect()
    }

    /// Whether the `_audience` schema exists (PostgreSQL; SQLite: whether any state table does).
    pub fn has_state(&self) -> bool {
        match self.kind {
            Kind::Sqlite => !self.state_tables().is_empty(),
            Kind::Postgres => self.count("SELECT count(*) FROM pg_namespace WHERE nspname = '_audience'") > 0,
            Kind::Snowflake => {
                self.count("SELECT COUNT(*) FROM INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = '_AUDIENCE'") > 0
            }
        }
    }

    /// Inserts users `ids` with e-mail `u<id>@example.com` and name `N<id>`.
    pub fn add_users(&self, ids: impl IntoIterator<Item = i64>) {
        let values: Vec<String> = ids.into_iter().map(|i| format!("({i}, 'u{i}@example.com', 'N{i}')")).collect();
        for chunk in values.chunks(1000) {
            self.exec(&format!("INSERT INTO users (id, email, name) VALUES {}", chunk.join(", ")));
        }
    }

    /// The model's valid rows as the receiver should hold them: id -> {id, email, name}.
    pub fn expected_members(&self) -> Members {
        let rows = self.rows(
            "SELECT CAST(id AS TEXT), email, name FROM users WHERE id IS NOT NULL AND id IN \
             (SELECT id FROM users GROUP BY id HAVING count(*) = 1)",
        );
        rows.into_iter()
            .map(|r| {
                let id: i64 = r[0].as_deref().unwrap().parse().unwrap();
                let mut user = serde_json::Map::new();
                user.insert("id".into(), Value::from(id));
                if let Some(email) = &r[1] {
                    user.insert("email".into(), Value::from(email.clone()));
                }
                if let Some(name) = &r[2] {
                    user.insert("name".into(), Value::from(name.clone()));
                }
                (id, Value::Object(user))
            })
            .collect()
    }
}

/// A PostgreSQL test database goes when its test ends (passed or failed), so that local runs do
/// not pile them up. Best effort: a server that is gone or refuses leaves it, and the test's
/// outcome stands.
impl Drop for Warehouse {
    fn drop(&mut self) {
        if self.kind == Kind::Snowflake {
            return;
        }
        let Some(db) = self.database.take() else { return };
        // Our own connection first; FORCE ends any a killed child left behind.
        self.pg = None;
        let Ok(admin_url) = std::env::var("DATABASE_URL") else { return };
        let dropped = self.runtime.block_on(async {
            let (admin, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await
        });
        if let Err(e) = dropped {
            eprintln!("note: test database {db} was left on the server: {e}");
        }
    }
}

/// Whether database `name` exists on the `DATABASE_URL` server.
pub fn database_exists(name: &str) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (admin, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let row = admin.query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name]).await.unwrap();
        row.get::<_, i64>(0) > 0
    })
}

/// Settings of a test config.
#[derive(Clone, Debug)]
pub struct Settings {
    pub sync: String,
    pub batch_size: usize,
    pub max_concurrency: u32,
    /// Extra lines for the `[syncs.NAME]` table.
    pub sync_extra: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { sync: "members".into(), batch_size: 10, max_concurrency: 2, sync_extra: String::new() }
    }
}

/// Writes a config for `w`'s `users` model and `receiver`; returns its path.
pub fn write_config(w: &Warehouse, receiver: &Receiver, s: &Settings) -> PathBuf {
    let text = format!(
        r#"
[destination]
name = "Test API"
base_url = "{base}"
max_concurrency = {concurrency}
timeout = "10s"
[destination.retry]
max_attempts = 2
initial_backoff = "10ms"
max_backoff = "20ms"
[destination.actions.add]
method = "POST"
path = "/audiences/{{{{connection.audienceId}}}}/members"
batch_size = {batch}
template = '{{"users": [$$.records.{{"id": user_id, "email": email, "name": name}}]}}'
[destination.actions.update]
method = "PATCH"
path = "/audiences/{{{{connection.audienceId}}}}/members"
batch_size = {batch}
template = '{{"users": [$$.records.{{"id": user_id, "email": email, "name": name}}]}}'
[destination.actions.remove]
method = "DELETE"
path = "/audiences/{{{{connection.audienceId}}}}/members"
batch_size = {batch}
template = '{{"users": [$$.records.{{"id": user_id, "email": email}}]}}'
[destination.fields.email]
required = true
[syncs.{sync}]
audience_name = "Members"
audience_id = "42"
source = "{source}"
query = "SELECT id, email, name FROM users"
primary_key = "id"
hash_pii = false
map = {{ user_id = "id", email = "email", name = "name" }}
{extra}
"#,
        base = receiver.base_url(),
        concurrency = s.max_concurrency,
        batch = s.batch_size,
        sync = s.sync,
        source = w.source(),
        extra = s.sync_extra,
    );
    let path = w.dir.join("audience.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `audience ARGS`, waited for.
pub fn audience(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audience")).args(args).output().unwrap()
}

/// `audience sync CONFIG --format json ARGS`: the exit code and the sync's summary.
pub fn sync(config: &Path, args: &[&str]) -> (i32, Value, String) {
    let config = config.to_str().unwrap();
    let mut all = vec!["sync", config, "--format", "json"];
    all.extend_from_slice(args);
    let out = audience(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("sync printed no JSON ({e}): {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), json["syncs"][0].clone(), stderr)
}

/// A warehouse `name` with users `ids`, a receiver, and a config with the default settings for
/// both: what most tests start from.
pub fn set_up(kind: Kind, name: &str, ids: impl IntoIterator<Item = i64>) -> (Warehouse, Receiver, PathBuf) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(ids);
    let config = write_config(&w, &r, &Settings::default());
    (w, r, config)
}

/// Rewrites the config file at `config`, each `(from, to)` in turn; each `from` must be there.
pub fn edit_config(config: &Path, edits: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(config).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "the config has no {from:?}");
        text = text.replace(from, to);
    }
    std::fs::write(config, text).unwrap();
}

/// A warehouse of `kind` with users `ids`, a receiver, and the default config, after a first
/// sync that sent every user.
pub fn first_synced(kind: Kind, name: &str, ids: impl IntoIterator<Item = i64>) -> (Warehouse, Receiver, PathBuf) {
    let (w, r, config) = set_up(kind, name, ids);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    (w, r, config)
}
