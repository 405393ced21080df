//! `audience check CONFIG --connect`: what the config says, tried against the world without
//! syncing anything.
//!
//! Per sync: the warehouse is opened, the model prepared without being read, and its columns
//! compared with the primary key and the mapped columns. Then, once for the destination (every
//! sync sends to the same API): the host of `base_url` resolves, a TCP connection opens, and for
//! https the TLS handshake succeeds; then the `[destination.health]` request, when there is one,
//! is sent (with the credentials: for OAuth2 that fetches a token) and must answer 2xx. No
//! other request is sent, and nothing is written to the warehouse.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::connect::connect;
use crate::destination::{Config, Health, Model, Sync, keypath};
use crate::http::auth::SecretSink;
use crate::http::client::{ClientSettings, describe};
use crate::warehouse::{Warehouse, ident, model_sql};

/// Something `--connect` found wrong: where (the sync, when it is one sync's) and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectProblem {
    /// The sync it belongs to; `None` for the destination's API.
    pub sync: Option<String>,
    /// The config key it is about, such as `syncs.main.map.email` or `destination.health`.
    pub key: String,
    /// What happened, secrets masked.
    pub message: String,
}

/// Every problem `--connect` finds in `config` (already checked and valid).
pub async fn check_connections(config: &Config) -> Vec<ConnectProblem> {
    let mut problems = Vec::new();
    for sync in &config.syncs {
        problems.extend(warehouse(sync).await);
    }
    problems.extend(api(config).await);
    for p in &mut problems {
        p.message = config.redactor.redact(&p.message).into_owned();
    }
    problems
}

async fn warehouse(sync: &Sync) -> Vec<ConnectProblem> {
    let base = keypath::join("syncs", &sync.name);
    let problem = |key: &str, message: String| ConnectProblem {
        sync: Some(sync.name.clone()),
        key: keypath::join(&base, key),
        message,
    };
    let mut w = match connect(sync).await {
        Ok(w) => w,
        Err(e) => return vec![problem("source", format!("cannot open the warehouse: {e}"))],
    };
    let (sql, model_key) = match &sync.model {
        Model::Query(q) => (model_sql(Some(q.as_str()), None), "query"),
        Model::Table(t) => (model_sql(None, Some(t.as_str())), "table"),
    };
    let columns = match w.model_columns(&sql).await {
        Ok(columns) => columns,
        Err(e) => return vec![problem(model_key, format!("the model cannot be prepared: {e}"))],
    };
    let listed = columns.join(", ");
    let mut problems = Vec::new();
    if ident::resolve_column(sync.primary_key.as_str(), &columns).is_none() {
        problems.push(problem(
            "primary_key",
            format!("the model has no column {}; its columns are: {listed}", sync.primary_key.shown()),
        ));
    }
    for (field, column) in &sync.map {
        if ident::resolve_column(column.as_str(), &columns).is_none() {
            problems.push(ConnectProblem {
                sync: Some(sync.name.clone()),
                key: keypath::join(&keypath::join(&base, "map"), field),
                message: format!(
                    "the model has no column {} (mapped to field {field}); its columns are: {listed}",
                    column.shown()
                ),
            });
        }
    }
    problems
}

async fn api(config: &Config) -> Vec<ConnectProblem> {
    let d = &config.destination;
    let problem = |key: &str, message: String| ConnectProblem { sync: None, key: key.to_owned(), message };
    let url = match reqwest::Url::parse(d.base_url.as_str()) {
        Ok(url) => url,
        Err(e) => return vec![problem("destination.base_url", format!("the base URL cannot be used: {e}"))],
    };
    let (Some(host), Some(port)) = (url.host_str().map(str::to_owned), url.port_or_known_default()) else {
        return vec![problem("destination.base_url", "the base URL has no host".into())];
    };
    let https = url.scheme() == "https";
    let timeout = d.timeout;
    let reached = tokio::task::spawn_blocking(move || reach(&host, port, https, timeout)).await;
    match reached {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return vec![problem("destination.base_url", why)],
        Err(e) => return vec![problem("destination.base_url", format!("the connection check failed: {e}"))],
    }
    match &d.health {
        Some(health) => health_request(config, health)
            .await
            .err()
            .map(|why| problem("destination.health", why))
            .into_iter()
            .collect(),
        None => Vec::new(),
    }
}

/// Resolves `host`, opens a TCP connection, and for https completes a TLS handshake (the
/// platform's roots, as delivery uses); sends nothing else. Blocking: run it off the runtime.
fn reach(host: &str, port: u16, https: bool, timeout: Duration) -> Result<(), String> {
    // An IPv6 literal comes bracketed from the URL.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> =
        (bare, port).to_socket_addrs().map_err(|e| format!("the API's host {host} does not resolve: {e}"))?.collect();
    let mut last = None;
    let mut stream = None;
    for address in &addresses {
        match TcpStream::connect_timeout(address, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(format!("cannot connect to the API at {address}: {e}")),
        }
    }
    let Some(mut stream) = stream else {
        return Err(last.unwrap_or_else(|| format!("the API's host {host} resolves to no address")));
    };
    if !https {
        return Ok(());
    }
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    crate::http::tls::install_crypto_provider();
    let handshake = |why: String| format!("the TLS handshake with the API ({host}) failed: {why}");
    let tls = {
        use rustls_platform_verifier::ConfigVerifierExt;
        rustls::ClientConfig::with_platform_verifier().map_err(|e| handshake(format!("no TLS roots: {e}")))?
    };
    let name = rustls::pki_types::ServerName::try_from(bare.to_owned()).map_err(|e| handshake(e.to_string()))?;
    let mut connection = rustls::ClientConnection::new(Arc::new(tls), name).map_err(|e| handshake(e.to_string()))?;
    while connection.is_handshaking() {
        connection.complete_io(&mut stream).map_err(|e| handshake(e.to_string()))?;
    }
    Ok(())
}

/// Sends the health request with the destination's headers and credentials: `Err` with why,
/// unless it answers 2xx.
async fn health_request(config: &Config, health: &Health) -> Result<(), String> {
    let d = &config.destination;
    let shown = format!("{} {}", health.method, health.path.shown());
    let client = crate::http::client::build(ClientSettings { timeout: d.timeout, max_idle_per_host: 1 })
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let credentials = super::endpoint::credentials(d).map_err(|e| e.to_string())?;
    let secrets: &dyn SecretSink = &config.redactor;
    let auth = credentials.headers(secrets).await.map_err(|e| format!("no credentials for the API: {e}"))?;
    let method = reqwest::Method::from_bytes(health.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = client.request(method, format!("{}{}", d.base_url.as_str(), health.path.as_str()));
    for header in &d.headers {
        request = request.header(header.name.as_str(), header.value.as_str());
    }
    for (name, value) in auth {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| {
        let kind = if e.is_timeout() { "timed out" } else { "failed" };
        format!("the health request ({shown}) {kind}: {}", describe(&e))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let bytes = crate::http::client::read_capped(response, 4096).await;
    let body = String::from_utf8_lossy(&bytes);
    let body = body.trim();
    let cut = body.char_indices().nth(200).map_or(body.len(), |(i, _)| i);
    let mut why = format!("the health request ({shown}) answered HTTP {}", status.as_u16());
    if let Some(reason) = status.canonical_reason() {
        why.push(' ');
        why.push_str(reason);
    }
    if !body.is_empty() {
        why.push_str(": ");
        why.push_str(&body[..cut]);
    }
    Err(why)
}
