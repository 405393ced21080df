//! The one way this crate builds an HTTP client: rustls with the process's crypto provider, a
//! timeout per request, no redirects followed, our user agent. Delivery builds its client here,
//! and so would an HTTPS warehouse connector.

use std::time::Duration;

/// What a client is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSettings {
    /// Per request, from sending to the end of reading the response.
    pub timeout: Duration,
    /// Idle connections kept per host (as many as can be busy at once: each is reused).
    pub max_idle_per_host: usize,
}

/// A URL as it goes on the wire: parsed by the URL parser reqwest sends with (WHATWG URL), which
/// resolves dot segments (`%2e` included), lower-cases the host and drops a default port.
/// Delivery sends this parse and `preview` shows it, so what is shown is what is sent.
pub fn wire_url(url: &str) -> Result<reqwest::Url, String> {
    reqwest::Url::parse(url).map_err(|e| e.to_string())
}

/// A reqwest client with these settings. No redirect is followed (docs/design/sync.md: a 3xx fails its
/// records with the `Location`, and a credential must not follow a redirect elsewhere).
pub fn build(settings: ClientSettings) -> Result<reqwest::Client, reqwest::Error> {
    super::tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .pool_max_idle_per_host(settings.max_idle_per_host)
        .user_agent(concat!("audience/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The first `max` bytes of a response's body (less when it ends or fails first): what an
/// error message quotes from an answer, read without holding more than that.
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < max {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(max - body.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// An error and its causes on one line, without the URL (which may hold a secret), e.g.
/// `error sending request: client error (Connect): tcp connect error: Connection refused`.
pub fn describe(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    let own = error.to_string();
    // reqwest's own message names the URL: keep only what comes before it.
    parts.push(own.split(" for url (").next().unwrap_or(&own).to_owned());
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}
