//! What every HTTP user of the crate shares, so that none reaches into another: the process's
//! TLS set-up ([`tls`]), building a client with its timeouts ([`client`]), the credential seam
//! ([`auth`]: a request's credentials asked for at each request; [`oauth`]: OAuth2 client
//! credentials behind it), the retry policy ([`retry`]: the settings and their defaults;
//! [`policy`]: the response table and the backoff schedule, as pure functions), and the reading
//! of records refused inside a 2xx answer ([`response`]). Delivery uses all of it; an HTTPS
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
