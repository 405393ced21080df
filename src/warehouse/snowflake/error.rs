//! What can go wrong talking to Snowflake. No variant carries a password, a passphrase, a key,
//! a JWT or a session token: messages name the setting or the step, and Snowflake's own
//! messages are passed through the session's `http::mask::Masker` before they are stored here.

use std::fmt;

/// An error of the Snowflake protocol layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnowflakeError {
    /// The source URL is malformed or inconsistent, e.g. `snowflake://u@acct/db` (no schema), an
    /// unknown parameter, or both `password` and `private_key_file`. The text names the part.
    Source(String),
    /// The private key cannot be used: unreadable file, not PEM, not RSA, encrypted (not yet
    /// supported). The text names the file, never its contents.
    Key(String),
    /// The request did not get an answer: connection refused, TLS failure, timeout.
    Transport(String),
    /// Snowflake answered with `success: false` (a login refused, a statement that failed):
    /// its error code (`390100`, `002003`...), SQL state when given, and message.
    Snowflake {
        /// Snowflake's error code.
        code: String,
        /// The SQL state, when given.
        sql_state: Option<String>,
        /// Snowflake's message.
        message: String,
    },
    /// An HTTP status without Snowflake's JSON envelope (a proxy, a 5xx), with the start of
    /// the body.
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The answer is not what the protocol says: missing fields, bad base64, an Arrow stream
    /// we cannot read, a type we do not map. The text says which.
    Protocol(String),
    /// The result did not come back inline: Snowflake split it into chunks to download, which
    /// a paged read never needs. `page_rows` is the page size asked for, when the
    /// statement read a page.
    Chunked {
        /// The page size asked for, when the statement read a page.
        page_rows: Option<usize>,
        /// Rows of the whole result.
        total_rows: u64,
        /// Chunks Snowflake split it into.
        chunks: usize,
    },
}

impl fmt::Display for SnowflakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnowflakeError::Source(m) => write!(f, "snowflake source: {m}"),
            SnowflakeError::Key(m) => write!(f, "snowflake private key: {m}"),
            SnowflakeError::Transport(m) => write!(f, "snowflake: {m}"),
            SnowflakeError::Snowflake { code, sql_state, message } => match sql_state {
                Some(state) => write!(f, "snowflake error {code} ({state}): {message}"),
                None => write!(f, "snowflake error {code}: {message}"),
            },
            SnowflakeError::Status { status, body } => write!(f, "snowflake answered HTTP {status}: {body}"),
            SnowflakeError::Protocol(m) => write!(f, "snowflake protocol: {m}"),
            SnowflakeError::Chunked { page_rows, total_rows, chunks } => {
                write!(f, "snowflake returned a result of {total_rows} rows in {chunks} chunks instead of inline")?;
                match page_rows {
                    Some(rows) => write!(
                        f,
                        "; pages of {rows} rows are too large for this account's inline results, use a smaller page size"
                    ),
                    None => write!(f, "; this statement's result must be read in pages"),
                }
            }
        }
    }
}

impl std::error::Error for SnowflakeError {}
