//! What every HTTP user of the crate shares, so that none reaches into another: the process's
//! TLS set-up ([`tls`]), building a client with its timeouts ([`client`]), the credential seam
//! ([`auth`]: a request's credentials asked for at each request; [`oauth`]: OAuth2 client
//! credentials behind it), and the retry policy
//! ([`retry`]: the settings and their defaults; [`policy`]: the response table and the backoff
//! schedule, as pure functions). Delivery uses all of it; an HTTPS warehouse connector
//! (Snowflake) would use it the same way.

pub mod retry;

#[cfg(feature = "cli")]
pub mod auth;
#[cfg(feature = "cli")]
pub mod client;
#[cfg(feature = "cli")]
pub mod oauth;
#[cfg(feature = "cli")]
pub mod policy;
#[cfg(feature = "cli")]
pub mod tls;

pub use retry::RetrySettings;
