//! `audience run --listen ADDR`: `GET /metrics` (the tallies of [`crate::sync::metrics`], in
//! the Prometheus text format) and `GET /healthz` (200 while the scheduler runs, 503 once a
//! signal asked it to stop; the port closes when it has stopped). A hyper 1 server, as the
//! studio's: no new crate.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::delivery::StopToken;
use crate::destination::Schedule;
use crate::sync::metrics::Metrics;

/// What the server reads: the tallies, each scheduled sync's schedule (for its next slot), and
/// the shutdown token (for `/healthz`).
pub struct Shared {
    /// The tallies, updated as runs end.
    pub metrics: Mutex<Metrics>,
    /// The scheduled syncs and their schedules.
    pub schedules: Vec<(String, Schedule)>,
    /// Stopped once a signal asked the scheduler to stop.
    pub shutdown: StopToken,
}

/// The server, serving until dropped.
pub struct Listener {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Binds `addr` (before the scheduler starts, so that a port in use is an error at once)
    /// and serves.
    pub async fn start(addr: &str, shared: Arc<Shared>) -> std::io::Result<Listener> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Listener { addr, accept })
    }

    /// The address it listens on (the port the system chose for `:0`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The listening socket closes with the task: once the scheduler has stopped, nothing
        // answers any more.
        self.accept.abort();
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let now = chrono::Utc::now();
            let next = |name: &str| {
                let schedule = &shared.schedules.iter().find(|(n, _)| n == name)?.1;
                let at = schedule.next_after(now)?;
                Some(at.timestamp() as f64)
            };
            let text = shared.metrics.lock().unwrap_or_else(|p| p.into_inner()).render(&next);
            reply(StatusCode::OK, text, "text/plain; version=0.0.4; charset=utf-8")
        }
        (&Method::GET, "/healthz") if shared.shutdown.is_stopped() => {
            reply(StatusCode::SERVICE_UNAVAILABLE, "stopping\n".to_owned(), "text/plain; charset=utf-8")
        }
        (&Method::GET, "/healthz") => reply(StatusCode::OK, "ok\n".to_owned(), "text/plain; charset=utf-8"),
        (_, "/metrics" | "/healthz") => {
            reply(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n".to_owned(), "text/plain; charset=utf-8")
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "not found: GET /metrics or /healthz\n".to_owned(),
            "text/plain; charset=utf-8",
        ),
    };
    Ok(response)
}

fn reply(status: StatusCode, body: String, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
