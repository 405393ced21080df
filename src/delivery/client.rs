//! The destination's HTTP client: one reqwest client (so connections are reused), the shared
//! [`Limiter`], and one attempt of one request.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use tokio::sync::mpsc::UnboundedSender;

use super::error::DeliveryError;
use super::idempotency;
use super::limits::Limiter;
use super::mask::Masker;
use super::outcome::Report;
use super::records::RenderBatch;
use super::sender::{ActionContext, ActionSender};
use super::settings::{DeliverySettings, Endpoint};
use super::stop::StopToken;
use crate::http::auth::{AuthHeaders, Credentials, StaticCredentials};
use crate::http::client::ClientSettings;
use crate::http::client::describe;
use crate::http::response::ResponseRule;

/// Response bodies are read up to this many bytes (docs/design/sync.md): enough for any error message, and
/// an API that answers with megabytes costs no memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Delivers requests to one destination. Cheap to clone; clones share the connections and the
/// limits, so every sync that runs at the same time under `run` should deliver through clones
/// of one client.
#[derive(Clone, Debug)]
pub struct DeliveryClient {
    pub(crate) inner: Arc<ClientInner>,
}

#[derive(Debug)]
pub(crate) struct ClientInner {
    http: reqwest::Client,
    pub(crate) limiter: Limiter,
    pub(crate) settings: DeliverySettings,
    /// The secrets of the whole config; an action adds its endpoint's secret headers, and the
    /// credentials the secrets they obtain.
    pub(crate) masker: Masker,
    /// Asked for the authentication headers of every attempt.
    credentials: Arc<dyn Credentials>,
}

impl DeliveryClient {
    /// A client for a destination with these settings, whose requests carry only their
    /// endpoint's headers. `secrets` are every secret of the config (tokens, passwords, secret
    /// headers, values from the environment): any of them echoed in a response is masked before
    /// it is stored.
    pub fn new<S: AsRef<str>>(
        settings: DeliverySettings,
        secrets: impl IntoIterator<Item = S>,
    ) -> Result<DeliveryClient, DeliveryError> {
        DeliveryClient::with_credentials(settings, secrets, Arc::new(StaticCredentials::none()))
    }

    /// As [`DeliveryClient::new`], every attempt also carrying the headers `credentials` give
    /// for it (replacing the endpoint's headers of the same names).
    pub fn with_credentials<S: AsRef<str>>(
        settings: DeliverySettings,
        secrets: impl IntoIterator<Item = S>,
        credentials: Arc<dyn Credentials>,
    ) -> Result<DeliveryClient, DeliveryError> {
        let http = crate::http::client::build(ClientSettings {
            timeout: settings.timeout,
            // As many idle connections as can be busy at once: each is reused.
            max_idle_per_host: settings.max_concurrency.max(1) as usize,
        })
        .map_err(|e| DeliveryError::Client(e.to_string()))?;
        let limiter = Limiter::new(settings.max_concurrency, settings.rate_limit);
        let masker = Masker::new(secrets);
        Ok(DeliveryClient { inner: Arc::new(ClientInner { http, limiter, settings, masker, credentials }) })
    }

    /// The settings the client was built with.
    pub fn settings(&self) -> &DeliverySettings {
        &self.inner.settings
    }

    /// Starts delivering one action of one run: hand its records over with
    /// [`ActionSender::send`], then call [`ActionSender::finish`]. Every record's outcome is sent
    /// on `reports` as requests complete; `stop` is the run's.
    pub fn action<B: RenderBatch>(
        &self,
        context: ActionContext,
        stop: StopToken,
        reports: UnboundedSender<Report<B>>,
    ) -> Result<ActionSender<B>, DeliveryError> {
        self.action_reading(context, None, stop, reports)
    }

    /// As [`DeliveryClient::action`], with the action's `response` setting: a 2xx body is read
    /// (up to [`crate::http::response::MAX_READ_BYTES`]) for the records it refuses.
    pub fn action_reading<B: RenderBatch>(
        &self,
        context: ActionContext,
        response: Option<Arc<ResponseRule>>,
        stop: StopToken,
        reports: UnboundedSender<Report<B>>,
    ) -> Result<ActionSender<B>, DeliveryError> {
        let target = Target::new(&context.endpoint)?;
        let masker = self.inner.masker.clone();
        for header in context.endpoint.headers.iter().filter(|h| h.secret) {
            masker.add(&header.value);
        }
        Ok(ActionSender::new(self.inner.clone(), target, masker, context, response, stop, reports))
    }
}

/// An endpoint checked and turned into the HTTP stack's types, once per action.
#[derive(Debug)]
pub(crate) struct Target {
    method: reqwest::Method,
    url: reqwest::Url,
    headers: HeaderMap,
}

impl Target {
    pub(crate) fn new(endpoint: &Endpoint) -> Result<Target, DeliveryError> {
        let method = reqwest::Method::from_bytes(endpoint.method.as_bytes())
            .map_err(|_| DeliveryError::Method(endpoint.method.clone()))?;
        let url = crate::http::client::wire_url(&endpoint.url).map_err(DeliveryError::Url)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeliveryError::Url(format!("the scheme must be http or https, not {}", url.scheme())));
        }
        let mut headers = HeaderMap::new();
        for header in &endpoint.headers {
            let invalid = || DeliveryError::Header { name: header.name.clone() };
            let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| invalid())?;
            let mut value = HeaderValue::from_str(&header.value).map_err(|_| invalid())?;
            // Sensitive values are left out of the HTTP stack's own debug output.
            value.set_sensitive(header.secret);
            // A later header replaces an earlier one of the same name (docs/design/interface.md).
            headers.insert(name, value);
        }
        Ok(Target { method, url, headers })
    }
}

/// What one attempt got.
#[derive(Debug)]
pub(crate) enum Attempted {
    Response {
        status: u16,
        retry_after: Option<String>,
        location: Option<String>,
        /// At most the cap the attempt was given; secrets not yet masked.
        body: Vec<u8>,
        /// Whether `body` is the whole body (not cut at the cap, nor broken off midway).
        complete: bool,
    },
    /// No complete response within the timeout.
    Timeout,
    /// No response: the error's description (without the URL; secrets not yet masked).
    Failed(String),
    /// The server's TLS certificate failed verification: rustls's reason.
    Certificate(String),
    /// Not sent: the credentials could not be obtained (secrets not yet masked); the run stops.
    NoCredentials(String),
}

impl ClientInner {
    /// Sends the request once, with the credentials it carried, and reads the response body up
    /// to `cap` bytes. In flight, it is not cancelled by a stop: docs/design/sync.md lets requests in flight
    /// finish.
    pub(crate) async fn attempt(
        &self,
        target: &Target,
        key: &str,
        body: Bytes,
        cap: usize,
    ) -> (Attempted, AuthHeaders) {
        let mut headers = target.headers.clone();
        let auth = match self.credentials.headers(&self.masker).await {
            Ok(auth) => auth,
            Err(why) => return (Attempted::NoCredentials(why.reason), Vec::new()),
        };
        for (name, value) in &auth {
            headers.insert(name.clone(), value.clone());
        }
        (self.send(target, key, body, headers, cap).await, auth)
    }

    /// The API refused `sent` with a 401: whether sending once more with fresh credentials may
    /// cure it (see [`Credentials::refused`]).
    pub(crate) fn credentials_refused(&self, sent: &AuthHeaders) -> bool {
        self.credentials.refused(sent)
    }

    async fn send(&self, target: &Target, key: &str, body: Bytes, headers: HeaderMap, cap: usize) -> Attempted {
        let request = self
            .http
            .request(target.method.clone(), target.url.clone())
            .headers(headers)
            .header(idempotency::HEADER, key)
            .body(body);
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Attempted::Timeout,
            Err(e) => {
                return match certificate_error(&e) {
                    Some(why) => Attempted::Certificate(why),
                    None => Attempted::Failed(describe(&e)),
                };
            }
        };
        let header = |name| {
            response.headers().get(name).map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let (status, retry_after, location) = (response.status().as_u16(), header(RETRY_AFTER), header(LOCATION));
        // Read the body (up to the cap) even on success, so that the connection goes back to
        // the pool. A body that fails midway keeps what came: the status has decided already.
        let mut body = Vec::new();
        let complete = loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > cap => {
                    body.extend_from_slice(&chunk[..cap - body.len()]);
                    break false;
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break true,
                Err(_) => break false,
            }
        };
        Attempted::Response { status, retry_after, location, body, complete }
    }
}

/// The reason a certificate failed verification, when that is why `error` happened: rustls's
/// error, found among the causes. An `io::Error` hides the error it wraps from `source` (it
/// answers with that error's source), and rustls's error comes wrapped in two of them, so each
/// one is opened too.
fn certificate_error(error: &reqwest::Error) -> Option<String> {
    type Cause<'a> = &'a (dyn std::error::Error + 'static);
    let mut pending: Vec<Cause<'_>> = vec![error];
    // Bounded, whatever a cause's `source` does.
    for _ in 0..64 {
        let e = pending.pop()?;
        if let Some(rustls::Error::InvalidCertificate(why)) = e.downcast_ref::<rustls::Error>() {
            return Some(rustls::Error::InvalidCertificate(why.clone()).to_string());
        }
        pending.extend(e.source());
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            pending.push(inner as Cause<'_>);
        }
    }
    None
}

/// The per-request timeout as people write it (`30s`, `250ms`).
pub(crate) fn show_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::super::settings::Header;
    use super::*;

    fn endpoint(method: &str, url: &str, headers: Vec<Header>) -> Endpoint {
        Endpoint { method: method.into(), url: url.into(), headers }
    }

    #[test]
    fn targets_are_checked() {
        let ok = Target::new(&endpoint(
            "POST",
            "https://api.example.com/a/1/members",
            vec![
                Header::new("Content-Type", "application/json", false),
                Header::new("authorization", "Bearer t", true),
            ],
        ))
        .unwrap();
        assert!(ok.headers["authorization"].is_sensitive());
        assert!(!ok.headers["content-type"].is_sensitive());
        let dup = Target::new(&endpoint(
            "PUT",
            "http://x/",
            vec![Header::new("X-A", "1", false), Header::new("x-a", "2", false)],
        ))
        .unwrap();
        assert_eq!(dup.headers.get_all("x-a").iter().count(), 1);
        assert_eq!(dup.headers["x-a"], "2");

        let bad = [
            endpoint("PO ST", "http://x/", vec![]),
            endpoint("POST", "not a url", vec![]),
            endpoint("POST", "ftp://x/", vec![]),
            endpoint("POST", "http://x/", vec![Header::new("Bad Name", "v", false)]),
            endpoint("POST", "http://x/", vec![Header::new("X-Key", "a\r\nb: c", true)]),
        ];
        for e in &bad {
            let err = Target::new(e).unwrap_err().to_string();
            assert!(!err.contains("a\r\nb"), "{err}");
        }
    }

    #[test]
    fn durations_shown() {
        assert_eq!(show_duration(Duration::from_secs(30)), "30s");
        assert_eq!(show_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(show_duration(Duration::from_micros(1_500)), "0.002s");
    }
}
