//! A scripted, fault-injecting HTTP/1.1 server on 127.0.0.1 for delivery tests (and the bench):
//! hyper 1, as the demo's local audience API. A script decides each reply from the request
//! (status, headers, body, a delay, or dropping the connection); the server keeps every request
//! it got and the most requests it ever had in flight at once.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use audience::delivery::RenderBatch;

/// A request as the server got it.
#[derive(Clone, Debug)]
pub struct Received {
    /// Order of arrival, from 0.
    pub seq: usize,
    /// 1 for the first request with this `Idempotency-Key`, 2 for the next, and so on.
    pub attempt: usize,
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn key(&self) -> &str {
        self.header("idempotency-key").unwrap_or("")
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }
}

/// What the server does with a request.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Wait this long before answering (a slow API).
    delay: Duration,
    /// Answer only once this is true (a request held until the test lets it go).
    gate: Option<watch::Receiver<bool>>,
    /// Close the connection without a response.
    drop: bool,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    pub fn status(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Vec::new(), delay: Duration::ZERO, gate: None, drop: false }
    }

    /// Closes the connection without answering.
    pub fn drop_connection() -> Reply {
        Reply { drop: true, ..Reply::ok() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Holds the answer until `gate` is true: a test that needs a request in flight says when
    /// it may end, instead of guessing a delay.
    pub fn when_open(mut self, gate: &watch::Receiver<bool>) -> Reply {
        self.gate = Some(gate.clone());
        self
    }
}

type Script = dyn Fn(&Received) -> Reply + Send + Sync;

struct State {
    script: Box<Script>,
    /// Whether the log keeps request bodies (a sink for benchmarks does not).
    keep_bodies: bool,
    log: Mutex<Vec<Received>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running server; dropped, it stops (connections included).
pub struct Server {
    pub addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts a server on an ephemeral port of 127.0.0.1 answering as `script` says.
    pub async fn start(script: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Server {
        Server::spawn(Box::new(script), true).await
    }

    /// A server that accepts everything and logs requests without their bodies.
    pub async fn sink() -> Server {
        Server::spawn(Box::new(accept_all), false).await
    }

    async fn spawn(script: Box<Script>, keep_bodies: bool) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            script,
            keep_bodies,
            log: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                // Connections live in this set, so stopping the accept loop ends them too.
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
        Server { addr, state, accept }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<Received> {
        self.state.log.lock().unwrap().clone()
    }

    /// The most requests the server was handling at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = answer(&state, req).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    reply
}

async fn answer(state: &State, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let received = {
        let mut log = state.log.lock().unwrap();
        let key = parts.headers.get("idempotency-key").cloned();
        let attempt =
            1 + log.iter().filter(|r| key.is_some() && r.headers.get("idempotency-key") == key.as_ref()).count();
        let received = Received {
            seq: log.len(),
            attempt,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers: parts.headers,
            body,
            at: Instant::now(),
        };
        if state.keep_bodies {
            log.push(received.clone());
        } else {
            log.push(Received { body: Vec::new(), ..received.clone() });
        }
        received
    };
    let reply = (state.script)(&received);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if let Some(mut gate) = reply.gate {
        let _ = gate.wait_for(|open| *open).await;
    }
    if reply.drop {
        // An error from the service makes hyper close the connection without a response.
        return Err(std::io::Error::other("dropped by the script"));
    }
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

/// A script that accepts everything (a sink).
pub fn accept_all(_: &Received) -> Reply {
    Reply::ok()
}

/// Records `r0..`: `{"ids":["r0",...]}`.
#[derive(Debug)]
pub struct Ids(pub Vec<String>);

impl RenderBatch for Ids {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn key(&self, index: usize) -> &[u8] {
        self.0[index].as_bytes()
    }

    fn render(&self, records: Range<usize>, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(serde_json::json!({ "ids": &self.0[records] }).to_string().as_bytes());
        Ok(())
    }
}
