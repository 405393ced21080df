//! A Snowflake session over the REST protocol Snowflake's own drivers speak:
//!
//! * `POST /session/v1/login-request?databaseName=&schemaName=&warehouse=&roleName=&requestId=`
//!   with `{"data": {ACCOUNT_NAME, LOGIN_NAME, PASSWORD | AUTHENTICATOR + TOKEN,
//!   CLIENT_ENVIRONMENT, SESSION_PARAMETERS}}`, answered with the session token;
//! * `POST /queries/v1/query-request?requestId=` with `{"sqlText", "bindings", "sequenceId",
//!   ...}` and `Authorization: Snowflake Token="…"`, one statement per request;
//! * a statement still running after about 45 s is answered with code `333334` and a
//!   `getResultUrl` to poll (`GET`) until the result is there;
//! * `POST /session?delete=true` logs out.
//!
//! Every response is a JSON envelope `{"success", "code", "message", "data"}`; `success: false`
//! becomes [`SnowflakeError::Snowflake`] with the code, SQL state and message, secrets masked.
//!
//! Session parameters sent at login: `AUTOCOMMIT=true` (no transaction ever spans round trips:
//! a killed run leaves nothing open), `ABORT_DETACHED_QUERY=true` (a statement whose client
//! went away is cancelled, not left running), `TIMEZONE=UTC` (TIMESTAMP_LTZ and
//! `CURRENT_TIMESTAMP` read the same on every host), and `QUERY_TAG=audience` (the runs are
//! easy to find in `QUERY_HISTORY`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Value, json};

use super::arrow::read_stream;
use super::error::SnowflakeError;
use super::jwt::KeyPair;
use super::rowset::{ColumnType, arrow_rows, json_rows};
use super::source::{SnowflakeAuth, SnowflakeSource};
use crate::fields::OwnedValue;
use crate::http::client::ClientSettings;
use crate::http::mask::Masker;

/// Error bodies are quoted up to this many characters.
const BODY_QUOTE_CHARS: usize = 300;

/// How a session talks to Snowflake.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Per HTTP request. Snowflake answers a long statement after about 45 s with a result URL
    /// to poll, so no single request waits much longer than that.
    pub request_timeout: Duration,
    /// The longest a statement may run, polling included.
    pub statement_timeout: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { request_timeout: Duration::from_secs(120), statement_timeout: Duration::from_secs(3600) }
    }
}

/// A bind value of a statement (`?` placeholders, numbered from 1), with the type name the
/// protocol gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Bind {
    /// A string (`TEXT`).
    Text(String),
    /// An integer (`FIXED`).
    Fixed(i64),
    /// A float (`REAL`); the infinities are spelled out.
    Real(f64),
    /// A boolean (`BOOLEAN`).
    Boolean(bool),
    /// A NULL (sent as TEXT).
    Null,
}

impl Bind {
    fn to_json(&self) -> Value {
        let (ty, value) = match self {
            Bind::Text(s) => ("TEXT", json!(s)),
            Bind::Fixed(i) => ("FIXED", json!(i.to_string())),
            // The protocol spells the infinities out (`inf` is refused).
            Bind::Real(f) if f.is_infinite() => ("REAL", json!(if *f > 0.0 { "Infinity" } else { "-Infinity" })),
            Bind::Real(f) => ("REAL", json!(f.to_string())),
            Bind::Boolean(b) => ("BOOLEAN", json!(b.to_string())),
            Bind::Null => ("TEXT", Value::Null),
        };
        json!({ "type": ty, "value": value })
    }
}

/// What a statement returned: rows typed by `columns`, or for DML one row of counts (`number of
/// rows inserted`, `updated`, `deleted`...).
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// Snowflake's id of the statement (empty when the answer has none).
    pub query_id: String,
    /// Snowflake's statement type: 0x1000 SELECT, 0x3000-0x3fff DML, 0x6000 DDL...
    pub statement_type_id: u64,
    /// The result's columns, in order.
    pub columns: Vec<ColumnType>,
    /// The rows, one value per column.
    pub rows: Vec<Vec<OwnedValue>>,
}

impl QueryResult {
    /// Whether the statement was DML (insert, update, delete, merge...): its one row holds counts.
    pub fn is_dml(&self) -> bool {
        (0x3000..0x4000).contains(&self.statement_type_id)
    }

    /// For DML, the rows the statement changed: the sum of its `number of rows …` counts
    /// (inserted, updated, deleted; not `multi-joined`). `None` for any other statement.
    pub fn affected_rows(&self) -> Option<i64> {
        if !self.is_dml() {
            return None;
        }
        let row = self.rows.first()?;
        let mut total = 0;
        for (column, value) in self.columns.iter().zip(row) {
            let name = column.name.to_ascii_lowercase();
            if let (true, OwnedValue::Int(n)) = (name.starts_with("number of rows"), value) {
                total += n;
            }
        }
        Some(total)
    }

    /// One count by its column name (`number of rows updated`), case-insensitively.
    pub fn count(&self, name: &str) -> Option<i64> {
        let index = self.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name))?;
        match self.rows.first()?.get(index)? {
            OwnedValue::Int(n) => Some(*n),
            _ => None,
        }
    }
}

/// A logged-in session. Statements run one at a time (`&mut self`), each autocommitted.
pub struct Session {
    http: reqwest::Client,
    base: Url,
    token: String,
    /// Every secret of the session (password, passphrase, login token, session token), masked
    /// in text about to be stored in an error.
    masker: Masker,
    options: SessionOptions,
    sequence: u64,
    round_trips: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("base", &self.base.as_str()).field("round_trips", &self.round_trips).finish()
    }
}

impl Session {
    /// Logs in with the source's credentials: a password, or a JWT signed with the private key
    /// (authenticator `SNOWFLAKE_JWT`).
    pub async fn login(source: &SnowflakeSource, options: &SessionOptions) -> Result<Session, SnowflakeError> {
        let masker = Masker::default();
        for secret in source.auth.secrets() {
            masker.add(secret);
        }
        // One connection at a time: a session runs one statement after the other.
        let settings = ClientSettings { timeout: options.request_timeout, max_idle_per_host: 1 };
        let http = crate::http::client::build(settings)
            .map_err(|e| SnowflakeError::Transport(format!("cannot build the HTTP client: {e}")))?;
        let base = Url::parse(&source.base_url())
            .map_err(|e| SnowflakeError::Source(format!("host {:?} does not make a URL: {e}", source.host)))?;
        let key = match &source.auth {
            SnowflakeAuth::KeyPair { private_key_file, passphrase } => {
                Some(KeyPair::load(private_key_file, passphrase.as_deref())?)
            }
            SnowflakeAuth::Password(_) => None,
        };
        let body = login_body(source, key.as_ref(), unix_now().as_secs())?;
        if let Some(token) = body["data"]["TOKEN"].as_str() {
            masker.add(token);
        }
        let mut url = base.join("session/v1/login-request").map_err(|e| SnowflakeError::Protocol(e.to_string()))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("databaseName", &source.database).append_pair("schemaName", &source.schema);
            if let Some(warehouse) = &source.warehouse {
                query.append_pair("warehouse", warehouse);
            }
            if let Some(role) = &source.role {
                query.append_pair("roleName", role);
            }
            query.append_pair("requestId", &request_id());
        }
        let mut session =
            Session { http, base, token: String::new(), masker, options: options.clone(), sequence: 0, round_trips: 0 };
        let data = session.send(session.http.post(url).json_body(&body)).await?.data;
        let token = data
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| SnowflakeError::Protocol("the login answer has no session token".into()))?;
        session.token = token.to_string();
        session.masker.add(token);
        Ok(session)
    }

    /// HTTP requests sent so far, the login and any polling included.
    pub fn round_trips(&self) -> u64 {
        self.round_trips
    }

    /// Runs one statement. A result that did not come back inline (chunks) is an error.
    pub async fn query(&mut self, sql: &str, binds: &[Bind]) -> Result<QueryResult, SnowflakeError> {
        self.query_inner(sql, binds, None).await
    }

    /// Runs one query that reads a page of at most `page_rows` rows. A result that came back in
    /// chunks is an error naming the page size: the page is too large for this account's
    /// inline results.
    pub async fn query_page(
        &mut self,
        sql: &str,
        binds: &[Bind],
        page_rows: usize,
    ) -> Result<QueryResult, SnowflakeError> {
        let result = self.query_inner(sql, binds, Some(page_rows)).await?;
        if result.rows.len() > page_rows {
            return Err(SnowflakeError::Protocol(format!(
                "a page of {page_rows} rows returned {} rows",
                result.rows.len()
            )));
        }
        Ok(result)
    }

    async fn query_inner(
        &mut self,
        sql: &str,
        binds: &[Bind],
        page_rows: Option<usize>,
    ) -> Result<QueryResult, SnowflakeError> {
        self.sequence += 1;
        let mut body = json!({
            "sqlText": sql,
            "asyncExec": false,
            "sequenceId": self.sequence,
            "querySubmissionTime": unix_now().as_millis() as u64,
        });
        if !binds.is_empty() {
            let bindings: serde_json::Map<String, Value> =
                binds.iter().enumerate().map(|(i, b)| ((i + 1).to_string(), b.to_json())).collect();
            body["bindings"] = Value::Object(bindings);
        }
        let mut url =
            self.base.join("queries/v1/query-request").map_err(|e| SnowflakeError::Protocol(e.to_string()))?;
        url.query_pairs_mut().append_pair("requestId", &request_id());
        let request = self.http.post(url).json_body(&body);
        let mut answer = self.send(self.authorized(request)).await?;
        let started = std::time::Instant::now();
        let mut wait = Duration::from_millis(50);
        // Still running: poll the result URL, backing off up to a second between polls.
        while answer.running {
            let path =
                answer.data.get("getResultUrl").and_then(Value::as_str).ok_or_else(|| {
                    SnowflakeError::Protocol("a statement still running, without a result URL".into())
                })?;
            if started.elapsed() > self.options.statement_timeout {
                return Err(SnowflakeError::Transport(format!(
                    "the statement ran past {} s",
                    self.options.statement_timeout.as_secs()
                )));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
            let url = self.base.join(path).map_err(|e| SnowflakeError::Protocol(format!("a bad result URL: {e}")))?;
            let request = self.http.get(url);
            answer = self.send(self.authorized(request)).await?;
        }
        self.result(answer.data, page_rows)
    }

    /// Logs out, ending the session on Snowflake's side (its token stops working).
    pub async fn logout(mut self) -> Result<(), SnowflakeError> {
        let mut url = self.base.join("session").map_err(|e| SnowflakeError::Protocol(e.to_string()))?;
        url.query_pairs_mut().append_pair("delete", "true");
        let request = self.http.post(url).json_body(&json!({}));
        self.send(self.authorized(request)).await.map(|_| ())
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header(AUTHORIZATION, format!("Snowflake Token=\"{}\"", self.token))
    }

    /// Sends one request and opens the envelope: the `data` of a success or of a statement
    /// still running, or the error.
    async fn send(&mut self, request: reqwest::RequestBuilder) -> Result<Answer, SnowflakeError> {
        self.round_trips += 1;
        let request = request.header(ACCEPT, "application/snowflake");
        let again = request.try_clone();
        let response = match (request.send().await, again) {
            // A pooled connection the server (or a load balancer) closed as we sent on it, its
            // keep-alive having run out: sent again, once, on a new connection, with the same
            // request id. (A server that closed mid-statement instead may run it twice: every
            // statement is idempotent or fenced, and a journal row twice counts once.)
            (Err(e), Some(again)) if closed_while_idle(&e) => {
                self.round_trips += 1;
                again.send().await
            }
            (result, _) => result,
        }
        .map_err(|e| SnowflakeError::Transport(self.masker.mask(&describe_transport(&e)).into_owned()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| SnowflakeError::Transport(self.masker.mask(&describe_transport(&e)).into_owned()))?;
        let envelope: Option<Envelope> = serde_json::from_slice(&bytes).ok();
        let Some(envelope) = envelope else {
            let text = String::from_utf8_lossy(&bytes);
            let body: String = text.chars().take(BODY_QUOTE_CHARS).collect();
            return Err(if status.is_success() {
                SnowflakeError::Protocol(format!("an answer that is not Snowflake's JSON: {}", self.masker.mask(&body)))
            } else {
                SnowflakeError::Status { status: status.as_u16(), body: self.masker.mask(&body).into_owned() }
            });
        };
        let code = envelope.code.as_ref().map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        // 333333 / 333334: accepted, still running; `data.getResultUrl` is where to poll.
        let running = matches!(code.as_deref(), Some("333333" | "333334"));
        if envelope.success || running {
            return Ok(Answer { running, data: envelope.data.unwrap_or(Value::Null) });
        }
        let sql_state =
            envelope.data.as_ref().and_then(|d| d.get("sqlState")).and_then(Value::as_str).map(str::to_string);
        Err(SnowflakeError::Snowflake {
            code: code.unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
            sql_state,
            message: self.masker.mask(envelope.message.as_deref().unwrap_or("(no message)")).into_owned(),
        })
    }

    fn result(&self, data: Value, page_rows: Option<usize>) -> Result<QueryResult, SnowflakeError> {
        let data: QueryData = serde_json::from_value(data)
            .map_err(|e| SnowflakeError::Protocol(format!("a query answer without the expected fields: {e}")))?;
        if !data.chunks.is_empty() {
            return Err(SnowflakeError::Chunked {
                page_rows,
                total_rows: data.total.unwrap_or(0),
                chunks: data.chunks.len(),
            });
        }
        let protocol = |e: String| SnowflakeError::Protocol(e);
        let rows = match (data.rowset_base64.as_deref(), data.rowset.as_ref()) {
            (Some(b64), _) if !b64.is_empty() => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| protocol(format!("rowsetBase64 is not base64: {e}")))?;
                let stream = read_stream(&bytes).map_err(|e| protocol(format!("the Arrow result: {e}")))?;
                arrow_rows(&stream, &data.rowtype).map_err(protocol)?
            }
            (_, Some(rowset)) => json_rows(rowset, &data.rowtype).map_err(protocol)?,
            _ => Vec::new(),
        };
        Ok(QueryResult {
            query_id: data.query_id.unwrap_or_default(),
            statement_type_id: data.statement_type_id.unwrap_or(0),
            columns: data.rowtype,
            rows,
        })
    }
}

/// The login request's body. `now` is the JWT's `iat` (seconds since the epoch).
pub fn login_body(source: &SnowflakeSource, key: Option<&KeyPair>, now: u64) -> Result<Value, SnowflakeError> {
    let account = source.account_name();
    let mut data = json!({
        "ACCOUNT_NAME": account,
        "LOGIN_NAME": source.user,
        "CLIENT_ENVIRONMENT": { "APPLICATION": "audience", "OS": std::env::consts::OS },
        "SESSION_PARAMETERS": {
            "AUTOCOMMIT": true,
            "ABORT_DETACHED_QUERY": true,
            "TIMEZONE": "UTC",
            "QUERY_TAG": "audience",
        },
    });
    match (&source.auth, key) {
        (SnowflakeAuth::Password(password), _) => {
            data["PASSWORD"] = json!(password);
        }
        (SnowflakeAuth::KeyPair { .. }, Some(key)) => {
            data["AUTHENTICATOR"] = json!("SNOWFLAKE_JWT");
            data["TOKEN"] = json!(key.token(&account, &source.user, now)?);
        }
        (SnowflakeAuth::KeyPair { .. }, None) => {
            return Err(SnowflakeError::Key("key-pair authentication without a key".into()));
        }
    }
    Ok(json!({ "data": data }))
}

/// An answer opened: its `data`, and whether the statement is still running.
struct Answer {
    running: bool,
    data: Value,
}

/// The JSON envelope of every answer.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Option<Value>,
}

/// The `data` of a query answer, as far as we read it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    #[serde(default)]
    rowtype: Vec<ColumnType>,
    #[serde(default)]
    rowset: Option<Vec<Vec<Option<String>>>>,
    #[serde(default)]
    rowset_base64: Option<String>,
    #[serde(default)]
    total: Option<u64>,
    /// Result chunks to download: present when the result is too large to come inline.
    #[serde(default)]
    chunks: Vec<Value>,
    #[serde(default)]
    query_id: Option<String>,
    #[serde(default)]
    statement_type_id: Option<u64>,
}

trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header(CONTENT_TYPE, "application/json").body(body.to_string())
    }
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// A random UUID (version 4), as the protocol's `requestId`.
fn request_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    // The system's random source does not fail on the platforms we build for; a zero id is
    // still a valid request id if it ever did.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = const_hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Whether `e` is a pooled connection closed by the other side before any answer began: hyper's
/// "connection closed before message completed", which an idle connection meets when the
/// server's keep-alive ran out just as a request went out on it.
fn closed_while_idle(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            return hyper.is_incomplete_message();
        }
        source = cause.source();
    }
    false
}

/// A transport error with its causes (reqwest's top-level text is often just "error sending
/// request"); reqwest never puts headers or bodies in it, so no token can appear.
fn describe_transport(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, request_id());
    }

    #[test]
    fn binds_as_the_protocol_spells_them() {
        assert_eq!(Bind::Fixed(-3).to_json(), json!({"type": "FIXED", "value": "-3"}));
        assert_eq!(Bind::Real(f64::NEG_INFINITY).to_json(), json!({"type": "REAL", "value": "-Infinity"}));
        assert_eq!(Bind::Boolean(true).to_json(), json!({"type": "BOOLEAN", "value": "true"}));
        assert_eq!(Bind::Null.to_json(), json!({"type": "TEXT", "value": null}));
    }

    #[test]
    fn masking() {
        let m = Masker::default();
        m.add("hunter2");
        m.add("");
        assert_eq!(m.mask("bad password hunter2!"), "bad password ***!");
    }
}
