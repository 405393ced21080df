//! The demo's audience API: a small HTTP/1.1 server (hyper 1) on 127.0.0.1 that keeps each
//! audience's members in memory and answers like a real audience API would, so that the demo's
//! syncs go through the real delivery path: bearer auth, JSON bodies, `Idempotency-Key`.
//!
//! The contract (what the demo's templates produce):
//!
//! | request | effect |
//! |---|---|
//! | `POST /audiences/{id}/members` | add each of `members` (keyed by its `user_id`) |
//! | `PATCH` or `PUT` the same path | update each (an unknown member is added: an upsert) |
//! | `DELETE` the same path | remove each `user_id` (an unknown one is ignored) |
//!
//! The body is `{"members": [{"user_id": ..., ...}, ...]}` (other keys are kept, not read).
//! Answers: 200 `{"audienceId", "received", "members"}`; 401 without the bearer token; 404 for
//! another path; 405 for another method; 415 when the body is not declared JSON; 400 when it is
//! not JSON, has no `members` array, or a member has no `user_id` (nothing of that request is
//! applied); 413 over [`MAX_BODY`]. A request whose `Idempotency-Key` was already applied is
//! answered 200 again and not applied twice, as idempotent APIs do.
//!
//! It records what it received (requests and records per action, and the first body of each
//! action) until [`AudienceApi::take_received`] hands the tally over and starts a new one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// The largest body the API reads (a batch of 5,000 members fits easily).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// Members kept in a sample body: enough to show its shape.
pub const SAMPLE_MEMBERS: usize = 2;

/// Requests and records of one action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ActionTally {
    /// Requests applied (rejected ones and replays not counted).
    pub requests: u64,
    /// Members in those requests.
    pub records: u64,
}

/// The first request of an action, as an example.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// The HTTP method: `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: String,
    /// The request path, `/audiences/{id}/members`.
    pub path: String,
    /// Members in the request.
    pub records: usize,
    /// The body, its `members` cut to the first [`SAMPLE_MEMBERS`].
    pub body: Value,
}

/// What the API received since the tally was last taken.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Received {
    /// Every request, rejected ones and replays included.
    pub requests: u64,
    /// Adds applied.
    pub add: ActionTally,
    /// Updates applied.
    pub update: ActionTally,
    /// Removes applied.
    pub remove: ActionTally,
    /// Requests answered with a 4xx.
    pub rejected: u64,
    /// Requests whose `Idempotency-Key` had already been applied (answered, not applied again).
    pub replayed: u64,
    /// The first request of each action received (`add`, `update`, `remove`).
    pub samples: BTreeMap<&'static str, Sample>,
}

/// A running API; dropped, it stops (its connections too).
pub struct AudienceApi {
    addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

struct State {
    /// `Authorization: Bearer <token>` is required.
    authorization: String,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Audience id -> member id -> the member as last sent.
    audiences: HashMap<String, BTreeMap<String, Value>>,
    /// Idempotency keys of the requests applied.
    applied: HashSet<String>,
    received: Received,
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Add,
    Update,
    Remove,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Update => "update",
            Action::Remove => "remove",
        }
    }
}

impl AudienceApi {
    /// Starts the API on an ephemeral port of 127.0.0.1; requests must carry `token` as a
    /// bearer token. Needs a tokio runtime.
    pub async fn start(token: &str) -> std::io::Result<AudienceApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State { authorization: format!("Bearer {token}"), inner: Mutex::default() });
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                // Connections live in this set, so aborting the accept loop ends them too.
                let mut connections = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(state.clone(), req));
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                    });
                    while connections.try_join_next().is_some() {}
                }
            }
        });
        Ok(AudienceApi { addr, state, accept })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the API listens on (127.0.0.1 and a port the system chose).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What was received since the last call, and a fresh tally from now on.
    pub fn take_received(&self) -> Received {
        std::mem::take(&mut self.state.lock().received)
    }

    /// The member ids of an audience, sorted as text.
    pub fn members(&self, audience: &str) -> Vec<String> {
        self.state.lock().audiences.get(audience).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// A member as last sent.
    pub fn member(&self, audience: &str, id: &str) -> Option<Value> {
        self.state.lock().audiences.get(audience)?.get(id).cloned()
    }
}

impl Drop for AudienceApi {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind: still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let (status, answer) = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => state.apply(&parts.method, parts.uri.path(), &parts.headers, &body.to_bytes()),
        Err(_) => {
            let mut inner = state.lock();
            inner.received.requests += 1;
            inner.received.rejected += 1;
            (StatusCode::PAYLOAD_TOO_LARGE, json!({ "error": format!("the body is over {MAX_BODY} bytes") }))
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

impl State {
    /// Answers one request, applying it when it is valid.
    fn apply(&self, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
        let mut inner = self.lock();
        inner.received.requests += 1;
        let answer =
            self.check(method, path, headers, body).map(|request| inner.accept(request, method, path, headers));
        match answer {
            Ok(ok) => (StatusCode::OK, ok),
            Err((status, message)) => {
                inner.received.rejected += 1;
                (status, json!({ "error": message }))
            }
        }
    }

    /// Routing, auth and the body's shape: the request, or the status and message of the
    /// rejection.
    fn check<'a>(
        &self,
        method: &Method,
        path: &'a str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Valid<'a>, (StatusCode, String)> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let ["audiences", audience, "members"] = segments[..] else {
            return Err((StatusCode::NOT_FOUND, format!("no endpoint {path}: use /audiences/{{id}}/members")));
        };
        let action = match *method {
            Method::POST => Action::Add,
            Method::PATCH | Method::PUT => Action::Update,
            Method::DELETE => Action::Remove,
            _ => return Err((StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"))),
        };
        let authorized = headers.get(AUTHORIZATION).is_some_and(|v| v.as_bytes() == self.authorization.as_bytes());
        if !authorized {
            return Err((StatusCode::UNAUTHORIZED, "a valid bearer token is required".into()));
        }
        let json_body = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
        if !json_body {
            return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/json".into()));
        }
        let body: Value = serde_json::from_slice(body)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))?;
        let Some(list) = body.get("members").and_then(Value::as_array) else {
            return Err((StatusCode::BAD_REQUEST, "the body has no \"members\" array".into()));
        };
        let mut ids = Vec::with_capacity(list.len());
        for (i, member) in list.iter().enumerate() {
            let id = match member.get("user_id") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err((StatusCode::BAD_REQUEST, format!("members[{i}] has no user_id"))),
            };
            ids.push(id);
        }
        Ok(Valid { action, audience, ids, body })
    }
}

/// A request that passed every check.
struct Valid<'a> {
    action: Action,
    audience: &'a str,
    /// The `user_id` of each of `body.members`, in order.
    ids: Vec<String>,
    body: Value,
}

impl Inner {
    /// Applies a valid request (once per idempotency key) and tallies it.
    fn accept(&mut self, request: Valid<'_>, method: &Method, path: &str, headers: &HeaderMap) -> Value {
        let Valid { action, audience, ids, mut body } = request;
        let n = ids.len();
        let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
        if let Some(key) = key
            && !self.applied.insert(key)
        {
            self.received.replayed += 1;
            let total = self.audiences.get(audience).map_or(0, BTreeMap::len);
            return json!({ "audienceId": audience, "received": n, "members": total, "replayed": true });
        }
        let members = match body.get_mut("members") {
            Some(Value::Array(list)) => std::mem::take(list),
            _ => Vec::new(),
        };
        if !self.received.samples.contains_key(action.name()) {
            body["members"] = Value::Array(members.iter().take(SAMPLE_MEMBERS).cloned().collect());
            let sample = Sample { method: method.to_string(), path: path.to_owned(), records: n, body };
            self.received.samples.insert(action.name(), sample);
        }
        let audience_members = self.audiences.entry(audience.to_owned()).or_default();
        for (id, member) in ids.into_iter().zip(members) {
            match action {
                Action::Add | Action::Update => {
                    audience_members.insert(id, member);
                }
                Action::Remove => {
                    audience_members.remove(&id);
                }
            }
        }
        let total = audience_members.len();
        let tally = match action {
            Action::Add => &mut self.received.add,
            Action::Update => &mut self.received.update,
            Action::Remove => &mut self.received.remove,
        };
        tally.requests += 1;
        tally.records += n as u64;
        json!({ "audienceId": audience, "received": n, "members": total })
    }
}
