//! OAuth 2.0 client credentials (RFC 6749 §4.4) behind the credential seam: the access token is
//! fetched from the token endpoint when first needed, shared by every request of the
//! destination (every action and every sync delivering through one client), and fetched again
//! shortly before it expires or when the API refuses it with a 401.
//!
//! ```text
//!  headers() ──cached, not due?──▶ Bearer TOKEN
//!      │ no
//!      ▼
//!  one fetch at a time ──another caller fetched meanwhile?──▶ its token (or its error)
//!      │ no
//!      ▼
//!  POST token_url (grant_type=client_credentials) ──2xx──▶ token to the sink, cached
//!      ├─ 408/425/429/5xx, timeout, connection error ──▶ retried by the retry policy
//!      └─ anything else (400/401 invalid_client ...) ──▶ AuthError: the run stops
//! ```
//!
//! The token is due for renewal a margin before `expires_in` runs out: a quarter of its
//! lifetime, at most a minute, so that a token that lives an hour is renewed a minute early and
//! one that lives eight seconds two seconds early. A token without `expires_in` is kept until
//! the API refuses it.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};

use super::auth::{AuthError, AuthHeaders, Credentials, HeaderName, HeaderValue, HeadersFuture, SecretSink};
use super::client::{ClientSettings, describe, read_capped};
use super::policy::{Answer, Jitter, Verdict, classify, next_retry, parse_retry_after};
use super::retry::RetrySettings;

/// The longest margin before expiry at which a token is renewed.
pub const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(60);

/// Token endpoint answers are read up to this many bytes: a token answer is small.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

pub use super::ClientAuth;

/// What the client credentials grant is made of: `[destination.auth]` with `type = "oauth2"`.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuth2Settings {
    /// http or https (http only for a loopback host: the config's validator sees to it).
    pub token_url: String,
    /// The client's id (a secret when it comes from the environment).
    pub client_id: String,
    /// The client's secret.
    pub client_secret: String,
    /// The `scope` form parameter, when the config sets one.
    pub scope: Option<String>,
    /// How the client authenticates to the token endpoint.
    pub client_auth: ClientAuth,
    /// Extra form parameters (such as `audience`), in config order.
    pub params: Vec<(String, String)>,
    /// Per token request.
    pub timeout: Duration,
    /// How a token request that met a transient failure is tried again.
    pub retry: RetrySettings,
}

impl fmt::Debug for OAuth2Settings {
    /// Neither the secret nor the parameters' values (they may come from the environment).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Settings")
            .field("client_auth", &self.client_auth)
            .field("params", &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A bearer token obtained with the client credentials grant, shared by every request that
/// asks while it is valid.
pub struct OAuth2Credentials {
    settings: OAuth2Settings,
    http: reqwest::Client,
    state: Mutex<State>,
    /// One fetch at a time: callers that find no valid token queue here, and all but the first
    /// find the token (or the error) the first one got.
    fetching: tokio::sync::Mutex<()>,
    /// Token requests sent, retries included.
    requests: AtomicU64,
}

#[derive(Default)]
struct State {
    token: Option<Token>,
    /// Fetches completed, successful or not.
    fetches: u64,
    /// The error of the last fetch, for the callers that were waiting for it.
    failure: Option<AuthError>,
    /// The token endpoint refused the client: every later call gets this error at once (the
    /// config cannot change while the process runs).
    refused: Option<AuthError>,
}

/// Debug shows `Sensitive` for the header: its value is marked so.
#[derive(Clone, Debug)]
struct Token {
    /// `Bearer TOKEN`, marked sensitive.
    header: HeaderValue,
    /// When it is due for renewal; `None`: when the API refuses it.
    renew_at: Option<Instant>,
}

impl fmt::Debug for OAuth2Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Credentials").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl OAuth2Credentials {
    /// Credentials that fetch their first token when a request first needs one.
    pub fn new(settings: OAuth2Settings) -> Result<OAuth2Credentials, reqwest::Error> {
        let http = super::client::build(ClientSettings { timeout: settings.timeout, max_idle_per_host: 1 })?;
        Ok(OAuth2Credentials {
            settings,
            http,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
            requests: AtomicU64::new(0),
        })
    }

    /// Token requests sent so far, retries included.
    pub fn token_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves a consistent state: use it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached token, when it is not yet due for renewal.
    fn current(&self) -> Option<HeaderValue> {
        let state = self.state();
        let token = state.token.as_ref()?;
        match token.renew_at {
            Some(at) if Instant::now() >= at => None,
            _ => Some(token.header.clone()),
        }
    }

    async fn header(&self, secrets: &dyn SecretSink) -> Result<HeaderValue, AuthError> {
        if let Some(header) = self.current() {
            return Ok(header);
        }
        let seen = {
            let state = self.state();
            if let Some(refused) = &state.refused {
                return Err(refused.clone());
            }
            state.fetches
        };
        let _turn = self.fetching.lock().await;
        {
            let state = self.state();
            if state.fetches != seen {
                // Fetched while this caller waited: share that outcome rather than fetch again.
                if let Some(failure) = &state.failure {
                    return Err(failure.clone());
                }
                drop(state);
                if let Some(header) = self.current() {
                    return Ok(header);
                }
            }
        }
        let fetched = self.fetch(secrets).await;
        let mut state = self.state();
        state.fetches += 1;
        match fetched {
            Ok(token) => {
                let header = token.header.clone();
                state.token = Some(token);
                state.failure = None;
                Ok(header)
            }
            Err((e, refused)) => {
                state.token = None;
                state.failure = Some(e.clone());
                if refused {
                    state.refused = Some(e.clone());
                }
                Err(e)
            }
        }
    }

    /// One token, with the retries the policy allows; an error says whether the endpoint
    /// refused the client (rather than staying unreachable).
    async fn fetch(&self, secrets: &dyn SecretSink) -> Result<Token, (AuthError, bool)> {
        let s = &self.settings;
        if s.client_auth == ClientAuth::Basic {
            // The form the secret takes on the wire, in case an answer echoes it.
            secrets.add_secret(&basic(&s.client_id, &s.client_secret));
        }
        let started = Instant::now();
        let mut jitter = Jitter::from_entropy();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent_at = Instant::now();
            let (status, retry_after, last) = match self.request().send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after =
                        response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let body = read_capped(response, MAX_TOKEN_RESPONSE_BYTES).await;
                    match classify(Answer::Status(status)) {
                        Verdict::Accepted => return token(&body, sent_at, secrets).map_err(|e| (e, false)),
                        Verdict::Retry => (Some(status), retry_after, answer_text(status, &body)),
                        _ => {
                            let why = answer_text(status, &body);
                            let e = AuthError::new(format!("the token endpoint refused the client credentials: {why}"));
                            return Err((e, true));
                        }
                    }
                }
                Err(e) if e.is_timeout() => {
                    (None, None, format!("no response within {}s", self.settings.timeout.as_secs_f64()))
                }
                Err(e) => (None, None, format!("connection error: {}", describe(&e))),
            };
            let asked = retry_after.as_deref().and_then(|v| parse_retry_after(v, SystemTime::now()));
            let Some(wait) = next_retry(&s.retry, attempts, started.elapsed(), asked, jitter.next_unit()) else {
                let plural = if attempts == 1 { "" } else { "s" };
                tracing::debug!(status, attempts, "the token endpoint: giving up");
                let e = AuthError::new(format!(
                    "no access token from the token endpoint: {last} (gave up after {attempts} attempt{plural})"
                ));
                return Err((e, false));
            };
            tracing::debug!(status, attempts, "the token endpoint: retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// The token request (RFC 6749 §4.4.2).
    fn request(&self) -> reqwest::RequestBuilder {
        let s = &self.settings;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &s.scope {
            form.push(("scope", scope));
        }
        form.extend(s.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut request = self
            .http
            .post(&s.token_url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json");
        match s.client_auth {
            ClientAuth::Basic => {
                let mut value = HeaderValue::from_str(&format!("Basic {}", basic(&s.client_id, &s.client_secret)))
                    .unwrap_or_else(|_| HeaderValue::from_static(""));
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            ClientAuth::Post => {
                form.push(("client_id", &s.client_id));
                form.push(("client_secret", &s.client_secret));
            }
        }
        request.body(form_encode(&form))
    }
}

impl Credentials for OAuth2Credentials {
    fn headers<'a>(&'a self, secrets: &'a dyn SecretSink) -> HeadersFuture<'a> {
        Box::pin(async move {
            let header = self.header(secrets).await?;
            Ok(vec![(HeaderName::from_static("authorization"), header)])
        })
    }

    /// The token `sent` is dropped (unless another already replaced it), so that the next
    /// request fetches a new one: a token may be revoked before it expires.
    fn refused(&self, sent: &AuthHeaders) -> bool {
        let mut state = self.state();
        let was_current = state.token.as_ref().is_some_and(|t| sent.iter().any(|(_, v)| *v == t.header));
        if was_current {
            state.token = None;
        }
        true
    }
}

/// The token of a 2xx answer (RFC 6749 §5.1), handed to `secrets` before anything else.
fn token(body: &[u8], sent_at: Instant, secrets: &dyn SecretSink) -> Result<Token, AuthError> {
    let bad = |what: &str| AuthError::new(format!("the token endpoint's answer {what}"));
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad("is not JSON"))?;
    let access = match json.get("access_token") {
        Some(serde_json::Value::String(t)) if !t.is_empty() => t,
        _ => return Err(bad("has no `access_token`")),
    };
    secrets.add_secret(access);
    if let Some(kind) = json.get("token_type").and_then(|t| t.as_str())
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(bad(&format!("gives a token of type `{kind}`; only Bearer tokens are supported")));
    }
    let expires_in = match json.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s >= 0.0)
    .map(|s| Duration::from_secs_f64(s.min(1e9)));
    let mut header = HeaderValue::from_str(&format!("Bearer {access}"))
        .map_err(|_| bad("gives a token that is not a header value"))?;
    header.set_sensitive(true);
    // A lifetime past what the clock can hold is kept until refused.
    Ok(Token { header, renew_at: expires_in.and_then(|l| sent_at.checked_add(l - renewal_margin(l))) })
}

/// How long before it expires a token that lives `lifetime` is renewed: a quarter of its
/// lifetime, at most [`MAX_RENEWAL_MARGIN`].
pub fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(MAX_RENEWAL_MARGIN)
}

/// `HTTP 401 Unauthorized: invalid_client: the secret is wrong` from an answer: the OAuth
/// `error` and `error_description` when the body has them, otherwise its start.
fn answer_text(status: u16, body: &[u8]) -> String {
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    let mut text = match reason {
        Some(r) => format!("HTTP {status} {r}"),
        None => format!("HTTP {status}"),
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = json.as_ref().and_then(|j| j.get("error")).and_then(|e| e.as_str());
    if let Some(error) = error {
        text.push_str(": ");
        text.push_str(error);
        if let Some(d) = json.as_ref().and_then(|j| j.get("error_description")).and_then(|e| e.as_str()) {
            text.push_str(": ");
            text.push_str(d);
        }
    } else {
        let body = String::from_utf8_lossy(body);
        let body = body.trim();
        if !body.is_empty() {
            let cut = body.char_indices().nth(200).map_or(body.len(), |(i, _)| i);
            text.push_str(": ");
            text.push_str(&body[..cut]);
        }
    }
    text
}

/// The Basic credentials of the client: id and secret each form-encoded first (RFC 6749
/// §2.3.1), then base64.
fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", form_component(id), form_component(secret)))
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> =
        pairs.iter().map(|(k, v)| format!("{}={}", form_component(k), form_component(v))).collect();
    encoded.join("&")
}

/// One name or value, form-encoded: `*-._` and alphanumerics kept, space as `+`, the rest as
/// `%XX` of its UTF-8 bytes.
fn form_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sink(Mutex<Vec<String>>);

    impl SecretSink for Sink {
        fn add_secret(&self, secret: &str) {
            self.0.lock().unwrap().push(secret.to_owned());
        }
    }

    #[test]
    fn margins_fit_short_and_long_lifetimes() {
        assert_eq!(renewal_margin(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(renewal_margin(Duration::from_secs(8)), Duration::from_secs(2));
        assert_eq!(renewal_margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            form_encode(&[("grant_type", "client_credentials"), ("scope", "a b:c")]),
            "grant_type=client_credentials&scope=a+b%3Ac"
        );
        assert_eq!(form_component("é&="), "%C3%A9%26%3D");
        // RFC 6749 §2.3.1: encoded before base64; `dXNlcjpwJTNBcw==` is `user:p%3As`.
        assert_eq!(basic("user", "p:s"), "dXNlcjpwJTNBcw==");
    }

    #[test]
    fn token_answers_are_read() {
        let sink = Sink(Mutex::new(Vec::new()));
        let now = Instant::now();
        let t = token(br#"{"access_token":"abc","token_type":"bearer","expires_in":"100"}"#, now, &sink).unwrap();
        assert_eq!(t.header, "Bearer abc");
        assert!(t.header.is_sensitive());
        assert_eq!(t.renew_at, Some(now + Duration::from_secs(75)));
        assert_eq!(*sink.0.lock().unwrap(), ["abc"]);
        assert_eq!(token(br#"{"access_token":"x"}"#, now, &sink).unwrap().renew_at, None);
        for (body, why) in [
            (&b"nope"[..], "is not JSON"),
            (br#"{"token_type":"bearer"}"#, "has no `access_token`"),
            (br#"{"access_token":"m","token_type":"mac"}"#, "type `mac`"),
            (br#"{"access_token":"a\nb"}"#, "not a header value"),
        ] {
            let e = token(body, now, &sink).unwrap_err();
            assert!(e.reason.contains(why), "{e}");
        }
        assert!(sink.0.lock().unwrap().contains(&"m".to_owned()), "a token is a secret even when refused");
    }

    #[test]
    fn refusals_are_told_with_the_oauth_error() {
        assert_eq!(
            answer_text(401, br#"{"error":"invalid_client","error_description":"bad secret"}"#),
            "HTTP 401 Unauthorized: invalid_client: bad secret"
        );
        assert_eq!(answer_text(503, b" down \n"), "HTTP 503 Service Unavailable: down");
        assert_eq!(answer_text(599, b""), "HTTP 599");
    }
}
