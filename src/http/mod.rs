//! What every HTTP user of the crate shares, so that none reaches into another: the process's
//! TLS set-up ([`tls`]), building a client with its timeouts ([`client`]), the credential seam
//! ([`auth`]: a request's credentials asked for at each request; [`oauth`]: OAuth2 client
//! credentials behind it), the retry policy ([`retry`]: the settings and their defaults;
//! [`policy`]: the response table and the backoff schedule, as pure functions), and the reading
//! of records refused inside a 2xx answer ([`response`]), and a JSON document POSTed to a
//! webhook with the same retries ([`webhook`]: alerts). Delivery uses all of it; an HTTPS
//! warehouse connector (Snowflake) would use it the same way. What the config reads too
//! ([`retry`], [`response`], [`ClientAuth`]) builds without the `cli` feature.

pub mod response;
pub mod retry;

#[cfg(feature = "cli")]
pub mod auth;
#[cfg(feature = "cli")]
pub mod client;
#[cfg(feature = "cli")]
pub mod mask;
#[cfg(feature = "cli")]
pub mod oauth;
#[cfg(feature = "cli")]
pub mod policy;
#[cfg(feature = "cli")]
pub mod tls;
#[cfg(feature = "cli")]
pub mod webhook;

pub use retry::RetrySettings;

/// How an OAuth2 client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: `Authorization: Basic` of the form-encoded id and secret.
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// The part of a webhook URL after its host (path and query) when there is more than `/`: the
/// credential of a Slack-style webhook, masked on its own too. Empty otherwise.
pub fn secret_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find(['/', '?']) {
        Some(at) if rest.len() - at > 1 => &rest[at..],
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_path_of_a_webhook_is_masked_on_its_own() {
        assert_eq!(super::secret_path("https://hooks.slack.com/services/T0/B0/x"), "/services/T0/B0/x");
        assert_eq!(super::secret_path("http://127.0.0.1:9/?k=1"), "/?k=1");
        assert_eq!(super::secret_path("https://h/"), "");
        assert_eq!(super::secret_path("https://h"), "");
    }
}
