//! The adapter from the checked config (`src/destination`) to what delivery takes
//! (`src/delivery`): the destination's settings, and one action's endpoint. Delivery keeps its
//! own small input types so that it does not depend on how the config is read; this is the one
//! place that translates.

use crate::delivery::{self, DeliverySettings, Endpoint, Header};
use crate::destination::{ActionKind, Destination, PreparedAction};

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

/// Where a prepared action's requests go: method, URL and headers (secrets marked).
pub fn endpoint(action: &PreparedAction) -> Endpoint {
    Endpoint {
        method: action.method.as_str().to_owned(),
        url: action.url.as_str().to_owned(),
        headers: action
            .headers
            .iter()
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
