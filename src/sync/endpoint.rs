//! The adapter from the checked config (`src/destination`) to what delivery takes
//! (`src/delivery`): the destination's settings and credentials, and one action's endpoint.
//! Delivery keeps its own small input types so that it does not depend on how the config is
//! read; this is the one place that translates.
//!
//! The `auth` of the config reaches delivery as [`Credentials`], asked for at every request
//! (see [`crate::http::auth`]), not as a fixed header of each endpoint: a credential that
//! changes during a run plugs in here, as another [`Credentials`].

use std::sync::Arc;

use crate::delivery::{self, DeliveryClient, DeliveryError, DeliverySettings, Endpoint, Header};
use crate::destination::headers::auth_header;
use crate::destination::{ActionKind, Auth, Config, Destination, PreparedAction, Redactor};
use crate::http::auth::{AuthHeaders, Credentials, HeadersFuture, SecretSink, StaticCredentials};
use crate::http::oauth::{OAuth2Credentials, OAuth2Settings};

/// The delivery client of a config's destination: its settings, its credentials, and every
/// secret of the config to mask. A secret the credentials obtain during a run reaches delivery's
/// masker and the config's redactor (which masks errors and summaries) alike.
pub fn delivery_client(config: &Config) -> Result<DeliveryClient, DeliveryError> {
    let credentials =
        Arc::new(AlsoRedacted { inner: credentials(&config.destination)?, redactor: config.redactor.clone() });
    DeliveryClient::with_credentials(delivery_settings(&config.destination), config.redactor.secrets(), credentials)
}

/// Credentials whose new secrets also go to the config's [`Redactor`].
#[derive(Debug)]
struct AlsoRedacted {
    inner: Arc<dyn Credentials>,
    redactor: Redactor,
}

impl Credentials for AlsoRedacted {
    fn headers<'a>(&'a self, secrets: &'a dyn SecretSink) -> HeadersFuture<'a> {
        Box::pin(async move {
            let both = Both(secrets, &self.redactor);
            self.inner.headers(&both).await
        })
    }

    fn refused(&self, sent: &AuthHeaders) -> bool {
        self.inner.refused(sent)
    }
}

/// A sink that hands each secret to two.
struct Both<'a>(&'a dyn SecretSink, &'a dyn SecretSink);

impl SecretSink for Both<'_> {
    fn add_secret(&self, secret: &str) {
        self.0.add_secret(secret);
        self.1.add_secret(secret);
    }
}

impl SecretSink for Redactor {
    fn add_secret(&self, secret: &str) {
        self.add(secret);
    }
}

/// The credentials of `[destination.auth]`: an OAuth2 token source, or a header that never
/// changes. The token request takes the destination's timeout and retry policy.
pub fn credentials(destination: &Destination) -> Result<Arc<dyn Credentials>, DeliveryError> {
    let auth = &destination.auth;
    if let Auth::OAuth2(o) = auth {
        let settings = OAuth2Settings {
            token_url: o.token_url.as_str().to_owned(),
            client_id: o.client_id.as_str().to_owned(),
            client_secret: o.client_secret.as_str().to_owned(),
            scope: o.scope.as_ref().map(|s| s.as_str().to_owned()),
            client_auth: o.client_auth,
            params: o.params.iter().map(|(k, v)| (k.clone(), v.as_str().to_owned())).collect(),
            timeout: destination.timeout,
            retry: destination.retry,
        };
        let credentials = OAuth2Credentials::new(settings).map_err(|e| DeliveryError::Client(e.to_string()))?;
        return Ok(Arc::new(credentials));
    }
    let header = auth_header(auth).map(|h| (h.name, h.value.as_str().to_owned()));
    let credentials = StaticCredentials::new(header).map_err(|e| DeliveryError::Header { name: e.0 })?;
    Ok(Arc::new(credentials))
}

/// `[destination]` limits and `[destination.retry]` as delivery settings.
pub fn delivery_settings(d: &Destination) -> DeliverySettings {
    DeliverySettings {
        timeout: d.timeout,
        max_concurrency: d.max_concurrency,
        rate_limit: d.rate_limit,
        max_request_bytes: d.max_request_bytes,
        retry: d.retry,
    }
}

/// Where a prepared action's requests go: method, URL and headers (secrets marked), without the
/// header of `auth`, which the client's [`Credentials`] add to each request.
pub fn endpoint(action: &PreparedAction, auth: &Auth) -> Endpoint {
    let auth = auth_header(auth).map(|h| h.name);
    Endpoint {
        method: action.method.as_str().to_owned(),
        url: action.url.as_str().to_owned(),
        headers: action
            .headers
            .iter()
            .filter(|h| !auth.as_ref().is_some_and(|name| name.eq_ignore_ascii_case(&h.name)))
            .map(|h| Header::new(h.name.clone(), h.value.as_str(), h.value.is_secret()))
            .collect(),
    }
}

/// The delivery action a config action is sent as (part of every idempotency key).
pub fn delivery_action(kind: ActionKind) -> delivery::Action {
    match kind {
        ActionKind::Add => delivery::Action::Add,
        ActionKind::Update => delivery::Action::Update,
        ActionKind::Remove => delivery::Action::Remove,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::mask::Masker;
    use crate::http::auth::HeaderValue;

    /// A credential that obtains a new secret at each call.
    #[derive(Debug)]
    struct Fresh;

    impl Credentials for Fresh {
        fn headers<'a>(&'a self, secrets: &'a dyn SecretSink) -> HeadersFuture<'a> {
            secrets.add_secret("fresh-t0ken");
            Box::pin(std::future::ready(Ok(vec![(
                crate::http::auth::HeaderName::from_static("authorization"),
                HeaderValue::from_static("Bearer fresh-t0ken"),
            )])))
        }
    }

    #[tokio::test]
    async fn secrets_obtained_during_a_run_reach_the_masker_and_the_redactor() {
        let redactor = Redactor::new(["config-secret"]);
        let config_copy = redactor.clone();
        let credentials = AlsoRedacted { inner: Arc::new(Fresh), redactor };
        let masker = Masker::new(["config-secret"]);
        assert_eq!(config_copy.redact("error: fresh-t0ken"), "error: fresh-t0ken");
        let headers = credentials.headers(&masker).await.unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!(masker.mask("body: fresh-t0ken"), "body: ***");
        assert_eq!(config_copy.redact("error: fresh-t0ken"), "error: ***", "the config's redactor, through a clone");
    }
}
