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
use crate::destination::{ActionKind, Auth, Config, Destination, PreparedAction};
use crate::http::auth::{Credentials, StaticCredentials};

/// The delivery client of a config's destination: its settings, its credentials, and every
/// secret of the config to mask.
pub fn delivery_client(config: &Config) -> Result<DeliveryClient, DeliveryError> {
    let credentials = credentials(&config.destination.auth)?;
    DeliveryClient::with_credentials(delivery_settings(&config.destination), config.redactor.secrets(), credentials)
}

/// The credentials of `[destination.auth]`: today's kinds never change during a run.
pub fn credentials(auth: &Auth) -> Result<Arc<dyn Credentials>, DeliveryError> {
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
