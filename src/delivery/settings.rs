//! What delivery is told: the destination's limits and retry settings, and, per action, where
//! requests go. Small input types of this module's own, so that delivery does not depend on how
//! the config is read (`src/destination` builds them).

use std::fmt;
use std::time::Duration;

pub use crate::http::retry::RetrySettings;

/// The destination's delivery settings (`[destination]` and `[destination.retry]` of
/// docs/design/interface.md). Shared by every sync that uses the destination.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliverySettings {
    /// Per request, from sending to the end of reading the response (`timeout`, default 30 s).
    pub timeout: Duration,
    /// Requests in flight at once, across every sync of the destination (`max_concurrency`,
    /// default 4). 0 is taken as 1.
    pub max_concurrency: u32,
    /// Requests started per second, across every sync of the destination (`rate_limit`,
    /// default none). A value that is not a positive finite number means no limit.
    pub rate_limit: Option<f64>,
    /// Largest request body in bytes (`max_request_bytes`, default none).
    pub max_request_bytes: Option<u64>,
    /// `[destination.retry]`.
    pub retry: RetrySettings,
}

impl Default for DeliverySettings {
    fn default() -> DeliverySettings {
        DeliverySettings {
            timeout: Duration::from_secs(30),
            max_concurrency: 4,
            rate_limit: None,
            max_request_bytes: None,
            retry: RetrySettings::default(),
        }
    }
}

/// The three actions of a mirror sync. Part of every idempotency key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Records in the model that the audience does not hold yet.
    Add,
    /// Records in both whose synced fields changed.
    Update,
    /// Records the audience holds that left the model.
    Remove,
}

impl Action {
    /// The config name: `add`, `update` or `remove`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Update => "update",
            Action::Remove => "remove",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an action's requests go: the method, the resolved URL and every header in order
/// (`Content-Type` first, then custom headers, then auth, as `src/destination` builds them).
/// The body and `Idempotency-Key` are added per request.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `POST`, `PUT`, `PATCH`, `GET` or `DELETE`.
    pub method: String,
    /// The full URL, path placeholders already percent-encoded.
    pub url: String,
    /// Every header, in the order they are sent.
    pub headers: Vec<Header>,
}

/// One request header. A secret's value is masked wherever a response echoes it, and is marked
/// sensitive for the HTTP stack.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name, as configured.
    pub name: String,
    /// The header value, sent as is.
    pub value: String,
    /// Whether the value is a secret (masked in responses, sensitive for the HTTP stack).
    pub secret: bool,
}

impl Header {
    /// A header named `name` with `value`; `secret` marks a value to hide.
    pub fn new(name: impl Into<String>, value: impl Into<String>, secret: bool) -> Header {
        Header { name: name.into(), value: value.into(), secret }
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.secret { super::mask::MASK } else { &self.value };
        write!(f, "{}: {value}", self.name)
    }
}

impl fmt::Debug for Endpoint {
    /// The URL is left out: a path placeholder may hold a value from the environment, which
    /// docs/design/interface.md counts as a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint").field("method", &self.method).field("headers", &self.headers).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_ones() {
        let d = DeliverySettings::default();
        assert_eq!(d.timeout, Duration::from_secs(30));
        assert_eq!(d.max_concurrency, 4);
        assert_eq!(d.rate_limit, None);
        assert_eq!(d.max_request_bytes, None);
        assert_eq!(d.retry.max_attempts, 6);
        assert_eq!(d.retry.initial_backoff, Duration::from_millis(500));
        assert_eq!(d.retry.max_backoff, Duration::from_secs(30));
        assert_eq!(d.retry.max_elapsed, Duration::from_secs(300));
    }

    #[test]
    fn debug_hides_secrets_and_the_url() {
        let e = Endpoint {
            method: "POST".into(),
            url: "https://api.example.com/a/s3cr3t".into(),
            headers: vec![Header::new("X-Version", "2", false), Header::new("Authorization", "Bearer tok", true)],
        };
        let shown = format!("{e:?}");
        assert!(shown.contains("X-Version: 2") && shown.contains("Authorization: ***"), "{shown}");
        assert!(!shown.contains("tok") && !shown.contains("s3cr3t"), "{shown}");
    }
}
