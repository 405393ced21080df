//! The studio's HTTP server (hyper 1, HTTP/1.1, 127.0.0.1 only) and its guards: the token, the
//! `Host` header, a body size cap.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::authoring::{Draft, PreviewRequest, Workspace};

use super::{explain, page, warehouse};

/// The largest request body read: a draft of templates and sample records.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Only what the page itself holds may run; nothing loads from anywhere.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; \
                   img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Reads an environment variable: the process environment, or a map in tests.
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A running studio; dropped, it stops.
pub struct Studio {
    addr: SocketAddr,
    token: String,
    accept: tokio::task::JoinHandle<()>,
}

struct State {
    token: String,
    /// `127.0.0.1:PORT` and `localhost:PORT`: the only `Host` values answered.
    hosts: [String; 2],
    workspace: Mutex<Workspace>,
    lookup: EnvLookup,
}

/// The body of `/api/analyse`, `/api/save`, `/api/rows` and `/api/dry-run`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Call {
    draft: Draft,
    request: PreviewRequest,
    /// `/api/rows`: how many rows (default [`DEFAULT_ROWS`]).
    limit: Option<usize>,
}

/// The rows `/api/rows` reads when the call does not say.
const DEFAULT_ROWS: usize = 10;

/// A random token of 128 bits, as hex, from the operating system's generator.
pub fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(const_hex::encode(bytes))
}

impl Studio {
    /// Serves `workspace` on 127.0.0.1:`port` (0: any free port); `lookup` reads environment
    /// variables.
    pub async fn start(workspace: Workspace, port: u16, lookup: EnvLookup) -> std::io::Result<Studio> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let token = random_token()?;
        let hosts = [format!("127.0.0.1:{}", addr.port()), format!("localhost:{}", addr.port())];
        let state = Arc::new(State { token: token.clone(), hosts, workspace: Mutex::new(workspace), lookup });
        let accept = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&state), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Studio { addr, token, accept })
    }

    /// The page's URL, token included.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }

    /// Waits until the server stops (it does not, unless its task fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.accept).await;
    }
}

impl Drop for Studio {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The `token` parameter of a query string.
fn token_of(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix("token="))
}

/// Equal in time independent of where they differ, so the token cannot be found byte by byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !state.hosts.iter().any(|h| h == host) {
        return Ok(text(StatusCode::FORBIDDEN, "the Host header must be the studio's loopback address"));
    }
    if !token_of(parts.uri.query()).is_some_and(|t| same(t, &state.token)) {
        return Ok(text(StatusCode::FORBIDDEN, "the studio's token is missing or wrong: use the URL it printed"));
    }
    let path = parts.uri.path();
    let response = match (&parts.method, path) {
        (&Method::GET, "/") => {
            let name = state.lock().path().display().to_string();
            with_type(StatusCode::OK, page::render(&name), "text/html; charset=utf-8")
        }
        (&Method::GET, p) if p.starts_with("/explain/") && explain::is_code(&p["/explain/".len()..]) => {
            with_type(StatusCode::OK, explain::page(&p["/explain/".len()..]), "text/html; charset=utf-8")
        }
        (&Method::POST, "/api/analyse" | "/api/save" | "/api/rows" | "/api/dry-run") => {
            let bytes = match Limited::new(body, MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return Ok(text(StatusCode::PAYLOAD_TOO_LARGE, "the request is too large")),
            };
            let call: Call = match serde_json::from_slice(&bytes) {
                Ok(call) => call,
                Err(e) => return Ok(json_response(StatusCode::BAD_REQUEST, &json!({ "error": e.to_string() }))),
            };
            let lookup = |name: &str| (state.lookup)(name);
            match path {
                "/api/save" => {
                    let outcome = state.lock().save(&call.draft, &call.request, &lookup);
                    json_response(StatusCode::OK, &outcome)
                }
                "/api/analyse" => {
                    let analysis = state.lock().analyse(&call.draft, &call.request, &lookup);
                    json_response(StatusCode::OK, &analysis)
                }
                _ => {
                    let found = state.lock().warehouse_config(&call.draft, &lookup);
                    let ask = if path == "/api/rows" {
                        warehouse::Ask::Rows(call.limit.unwrap_or(DEFAULT_ROWS))
                    } else {
                        warehouse::Ask::DryRun
                    };
                    match found {
                        Ok((config, templates)) => {
                            let (status, answer) = warehouse::answer(config, templates, call.request.sync, ask).await;
                            json_response(status, &answer)
                        }
                        Err(e) => json_response(StatusCode::CONFLICT, &json!({ "error": e })),
                    }
                }
            }
        }
        (_, "/" | "/api/analyse" | "/api/save" | "/api/rows" | "/api/dry-run") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    };
    Ok(response)
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Workspace> {
        // A panic while holding the lock leaves the last saved state: still usable.
        self.workspace.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn with_type(status: StatusCode, body: String, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    with_type(status, format!("{message}\n"), "text/plain; charset=utf-8")
}

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    match serde_json::to_string(value) {
        Ok(body) => with_type(status, body, "application/json"),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot serialise the answer: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_read_and_compared_whole() {
        assert_eq!(super::token_of(Some("a=1&token=abc")), Some("abc"));
        assert_eq!(super::token_of(Some("tokens=abc")), None);
        assert_eq!(super::token_of(None), None);
        assert!(super::same("abc", "abc") && !super::same("abc", "abd") && !super::same("abc", "ab"));
        let (a, b) = (super::random_token().unwrap(), super::random_token().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
