//! The credential seam: what authenticates a request is asked for at each request, not fixed
//! when the config is read. Delivery asks its [`Credentials`] for the headers of every attempt,
//! so that a credential that changes during a run (an OAuth2 access token, fetched and refreshed
//! before it expires) has a place to live: a new kind of credential is one more implementation
//! of [`Credentials`]. Each secret it obtains goes to the [`SecretSink`] it is handed (delivery's
//! masker) before it is used, so that a response echoing it is masked like any secret of the
//! config.
//!
//! Here rather than in delivery so that an HTTPS warehouse connector can authenticate the same
//! way; the sink is a trait so that this module depends on no masker.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use reqwest::header::{HeaderName, HeaderValue};

/// Where a secret goes as it arrives, so that nothing shows it afterwards.
pub trait SecretSink: Sync {
    /// Adds `secret` to what is masked; an empty one is ignored.
    fn add_secret(&self, secret: &str);
}

/// The headers that authenticate one request, values marked sensitive.
pub type AuthHeaders = Vec<(HeaderName, HeaderValue)>;

/// What [`Credentials::headers`] returns: the headers, or why there are none.
pub type HeadersFuture<'a> = Pin<Box<dyn Future<Output = Result<AuthHeaders, AuthError>> + Send + 'a>>;

/// Why a source has no credentials to give (a refused client secret, a token endpoint that
/// stayed down through its retries): the run stops with `reason`, masked. Never holds a
/// secret the source knows of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    /// Why, for the run's stop reason.
    pub reason: String,
}

impl AuthError {
    /// An error with this reason.
    pub fn new(reason: impl Into<String>) -> AuthError {
        AuthError { reason: reason.into() }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Where the credentials of a request come from.
pub trait Credentials: Send + Sync + fmt::Debug {
    /// The headers that authenticate the next request; they replace headers of the same name.
    /// A source that obtains a new secret hands it to `secrets` before returning it. Called
    /// for every attempt, so a source that caches (a token until shortly before it expires)
    /// answers at once from its cache. A source retries what it fetches itself (under the
    /// retry policy); its error stops the run, since no request can succeed without it.
    fn headers<'a>(&'a self, secrets: &'a dyn SecretSink) -> HeadersFuture<'a>;

    /// The API answered 401 to a request that carried `sent` (what [`Credentials::headers`]
    /// gave for it). True when asking again may give credentials that work (a token is
    /// fetched anew): delivery then sends that request once more before the 401 stops the
    /// run. Credentials that never change say no.
    fn refused(&self, _sent: &AuthHeaders) -> bool {
        false
    }
}

/// Credentials that never change: none, `basic`, `api_key` and `bearer` of the config, as the
/// header they make.
#[derive(Clone, Default)]
pub struct StaticCredentials {
    headers: AuthHeaders,
}

/// A header [`StaticCredentials::new`] cannot send: its name, never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidHeader(pub String);

impl StaticCredentials {
    /// No credentials: requests carry only the endpoint's headers.
    pub fn none() -> StaticCredentials {
        StaticCredentials::default()
    }

    /// Credentials sent as these headers (name, secret value).
    pub fn new(headers: impl IntoIterator<Item = (String, String)>) -> Result<StaticCredentials, InvalidHeader> {
        let headers = headers
            .into_iter()
            .map(|(name, value)| {
                let invalid = || InvalidHeader(name.clone());
                let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
                let mut value = HeaderValue::from_str(&value).map_err(|_| invalid())?;
                // Left out of the HTTP stack's own debug output.
                value.set_sensitive(true);
                Ok((header, value))
            })
            .collect::<Result<_, _>>()?;
        Ok(StaticCredentials { headers })
    }

    /// The names of the headers it sends.
    pub fn names(&self) -> impl Iterator<Item = &HeaderName> {
        self.headers.iter().map(|(name, _)| name)
    }
}

impl fmt::Debug for StaticCredentials {
    /// The header names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StaticCredentials").field(&self.names().collect::<Vec<_>>()).finish()
    }
}

impl Credentials for StaticCredentials {
    fn headers<'a>(&'a self, _secrets: &'a dyn SecretSink) -> HeadersFuture<'a> {
        // The config's secrets are in the masker from the start: nothing new to hand over.
        Box::pin(std::future::ready(Ok(self.headers.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_credentials_are_sensitive_and_checked() {
        let c = StaticCredentials::new([("Authorization".to_owned(), "Bearer t0k".to_owned())]).unwrap();
        assert_eq!(format!("{c:?}"), "StaticCredentials([\"authorization\"])", "no value in Debug");
        assert!(c.headers.iter().all(|(_, v)| v.is_sensitive()));
        let bad = StaticCredentials::new([("X-Key".to_owned(), "a\r\nb".to_owned())]).unwrap_err();
        assert_eq!(bad, InvalidHeader("X-Key".into()), "the name, never the value");
        assert!(StaticCredentials::none().names().next().is_none());
    }
}
