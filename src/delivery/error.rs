//! Errors in what delivery is given (before anything is sent). Records' failures are not
//! errors: they are [`super::Outcome`]s.

use std::fmt;

/// A client or an endpoint that cannot be used. The messages never hold a header value or the
/// URL (either may be a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryError {
    /// The HTTP client could not be built (no usable TLS roots, for example).
    Client(String),
    /// The method is not an HTTP method token.
    Method(String),
    /// The URL does not parse, or is not http or https: why (not the URL itself).
    Url(String),
    /// A header whose name is not a token, or whose value holds CR, LF or another control
    /// character.
    Header {
        /// The header's name as configured (never its value, which may be a secret).
        name: String,
    },
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Client(why) => write!(f, "the HTTP client could not be built: {why}"),
            DeliveryError::Method(method) => write!(f, "{method:?} is not an HTTP method"),
            DeliveryError::Url(why) => write!(f, "the request URL is not usable: {why}"),
            DeliveryError::Header { name } => write!(f, "the header {name:?} has an invalid name or value"),
        }
    }
}

impl std::error::Error for DeliveryError {}
