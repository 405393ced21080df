//! The Snowflake source URL of docs/design/interface.md ("Additions (second wave)"):
//!
//! ```text
//! snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&role=ROLE
//!     &private_key_file=PATH[&private_key_passphrase=...]   key-pair authentication
//!     &password=...                                         or password authentication
//!     &host=H&port=P&protocol=http                          another endpoint (a test server)
//! ```
//!
//! Every part is percent-decoded. Errors name the part at fault and never quote a password or a
//! passphrase; `Debug` masks them too.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use super::error::SnowflakeError;

/// A parsed `snowflake://` source.
#[derive(Clone, PartialEq, Eq)]
pub struct SnowflakeSource {
    /// The login name, as given (Snowflake matches it case-insensitively).
    pub user: String,
    /// The account identifier as given: `ORG-ACCOUNT` or a legacy locator such as
    /// `xy12345.eu-west-1` (the region part then belongs to the host name only).
    pub account: String,
    /// The database the model is read from; the state schema `_AUDIENCE` lives there too.
    pub database: String,
    /// The model's schema.
    pub schema: String,
    /// The virtual warehouse to run statements on; the user's default when absent.
    pub warehouse: Option<String>,
    /// The role to take; the user's default when absent.
    pub role: Option<String>,
    /// How the session logs in.
    pub auth: SnowflakeAuth,
    /// `ACCOUNT.snowflakecomputing.com` unless `host=` says otherwise.
    pub host: String,
    /// 443 (80 with `protocol=http`) unless `port=` says otherwise.
    pub port: u16,
    /// `https` unless `protocol=http` (loopback hosts only).
    pub https: bool,
}

/// How the session logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum SnowflakeAuth {
    /// Key-pair authentication (authenticator `SNOWFLAKE_JWT`): a JWT signed with this RSA key.
    KeyPair {
        /// The file of the RSA private key.
        private_key_file: PathBuf,
        /// The key file's passphrase, when it is encrypted.
        passphrase: Option<String>,
    },
    /// Password authentication (authenticator `SNOWFLAKE`).
    Password(String),
}

impl SnowflakeAuth {
    /// The secrets this authentication carries, for masking.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            SnowflakeAuth::KeyPair { passphrase, .. } => passphrase.iter().map(String::as_str).collect(),
            SnowflakeAuth::Password(p) => vec![p.as_str()],
        }
    }
}

impl fmt::Debug for SnowflakeAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnowflakeAuth::KeyPair { private_key_file, passphrase } => f
                .debug_struct("KeyPair")
                .field("private_key_file", private_key_file)
                .field("passphrase", &passphrase.as_ref().map(|_| "***"))
                .finish(),
            SnowflakeAuth::Password(_) => f.write_str("Password(***)"),
        }
    }
}

impl fmt::Debug for SnowflakeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnowflakeSource")
            .field("user", &self.user)
            .field("account", &self.account)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("warehouse", &self.warehouse)
            .field("role", &self.role)
            .field("auth", &self.auth)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("https", &self.https)
            .finish()
    }
}

const SCHEME: &str = "snowflake://";
const SHAPE: &str = "expected snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&...";

impl SnowflakeSource {
    /// Parses a source URL. Secrets in it (`password`, `private_key_passphrase`) are never
    /// quoted in an error.
    pub fn parse(url: &str) -> Result<SnowflakeSource, SnowflakeError> {
        let err = |m: String| SnowflakeError::Source(m);
        let rest = url.strip_prefix(SCHEME).ok_or_else(|| err(format!("the source must start with {SCHEME}")))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = path.split_once('/').unwrap_or((path, ""));
        // The last `@` separates the user from the account: a login name may be an email
        // address, written with its `@` as is or as %40.
        let (user, account) =
            authority.rsplit_once('@').ok_or_else(|| err(format!("no user before the account: {SHAPE}")))?;
        let user = decode(user, "the user")?;
        let account = decode(account, "the account")?;
        if user.is_empty() {
            return Err(err(format!("the user is empty: {SHAPE}")));
        }
        if account.is_empty() || !account.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(err(format!(
                "the account {account:?} is not an account identifier (letters, digits, `-`, `_`, `.`)"
            )));
        }
        let parts: Vec<&str> = path.split('/').collect();
        let (database, schema) = match parts.as_slice() {
            [d, s] | [d, s, ""] if !d.is_empty() && !s.is_empty() => {
                (decode(d, "the database")?, decode(s, "the schema")?)
            }
            _ => return Err(err(format!("the path must be /DATABASE/SCHEMA: {SHAPE}"))),
        };

        let mut params = Params::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key, "a parameter name")?;
            params.set(&key, value)?;
        }

        let auth = match (params.private_key_file, params.password) {
            (Some(_), Some(_)) => {
                return Err(err("give either private_key_file (key-pair) or password, not both".into()));
            }
            (None, None) => {
                return Err(err("no credentials: add private_key_file=PATH (key-pair) or password=${...}".into()));
            }
            (Some(file), None) => SnowflakeAuth::KeyPair {
                private_key_file: PathBuf::from(file),
                passphrase: params.private_key_passphrase,
            },
            (None, Some(password)) => {
                if params.private_key_passphrase.is_some() {
                    return Err(err("private_key_passphrase is only for private_key_file".into()));
                }
                SnowflakeAuth::Password(password)
            }
        };
        let https = match params.protocol.as_deref() {
            None | Some("https") => true,
            Some("http") => false,
            Some(other) => return Err(err(format!("protocol must be https or http, not {other:?}"))),
        };
        let host = params.host.unwrap_or_else(|| format!("{account}.snowflakecomputing.com"));
        if !https && !is_loopback(&host) {
            return Err(err(format!(
                "protocol=http is refused for host {host:?}: plain HTTP is only for a loopback test server"
            )));
        }
        let port = match params.port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| err(format!("port {p:?} is not a port number")))?,
        };
        Ok(SnowflakeSource {
            user,
            account,
            database,
            schema,
            warehouse: params.warehouse,
            role: params.role,
            auth,
            host,
            port,
            https,
        })
    }

    /// The account name as Snowflake's login request and JWT claims want it: upper case, and a
    /// legacy locator without its region (`xy12345.eu-west-1` → `XY12345`).
    pub fn account_name(&self) -> String {
        self.account.split('.').next().unwrap_or(&self.account).to_ascii_uppercase()
    }

    /// `https://host:port` (or `http://` for a loopback test server), without a trailing slash.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{scheme}://{host}:{}", self.port)
    }
}

/// The query parameters, each at most once.
#[derive(Default)]
struct Params {
    warehouse: Option<String>,
    role: Option<String>,
    private_key_file: Option<String>,
    private_key_passphrase: Option<String>,
    password: Option<String>,
    host: Option<String>,
    port: Option<String>,
    protocol: Option<String>,
}

impl Params {
    fn set(&mut self, key: &str, raw: &str) -> Result<(), SnowflakeError> {
        let slot = match key {
            "warehouse" => &mut self.warehouse,
            "role" => &mut self.role,
            "private_key_file" => &mut self.private_key_file,
            "private_key_passphrase" => &mut self.private_key_passphrase,
            "password" => &mut self.password,
            "host" => &mut self.host,
            "port" => &mut self.port,
            "protocol" => &mut self.protocol,
            _ => {
                return Err(SnowflakeError::Source(format!(
                    "unknown parameter {key:?} (known: warehouse, role, private_key_file, \
                     private_key_passphrase, password, host, port, protocol)"
                )));
            }
        };
        if slot.is_some() {
            return Err(SnowflakeError::Source(format!("the parameter {key} is given twice")));
        }
        // A secret's decoding error must not quote it: `decode` quotes nothing but its label.
        let value = decode(raw, key)?;
        if value.is_empty() {
            return Err(SnowflakeError::Source(format!("the parameter {key} is empty")));
        }
        *slot = Some(value);
        Ok(())
    }
}

/// Percent-decodes one part of the URL (`+` stays a plus: this is a path, not a form). The
/// error names the part, never its text.
fn decode(raw: &str, what: &str) -> Result<String, SnowflakeError> {
    let bad = || SnowflakeError::Source(format!("{what} has a malformed %-escape or is not UTF-8"));
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// `localhost`, 127.0.0.0/8 and ::1: the only hosts plain HTTP may reach.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(url: &str) -> String {
        SnowflakeSource::parse(url).unwrap_err().to_string()
    }

    #[test]
    fn key_pair_source() {
        let s = SnowflakeSource::parse(
            "snowflake://svc_audience@myorg-acct1/ANALYTICS/MARTS?warehouse=WH_XS&role=AUDIENCE&private_key_file=%2Fkeys%2Frsa.p8",
        )
        .unwrap();
        assert_eq!(s.user, "svc_audience");
        assert_eq!(s.account, "myorg-acct1");
        assert_eq!(s.account_name(), "MYORG-ACCT1");
        assert_eq!((s.database.as_str(), s.schema.as_str()), ("ANALYTICS", "MARTS"));
        assert_eq!(s.warehouse.as_deref(), Some("WH_XS"));
        assert_eq!(s.role.as_deref(), Some("AUDIENCE"));
        assert_eq!(s.auth, SnowflakeAuth::KeyPair { private_key_file: "/keys/rsa.p8".into(), passphrase: None });
        assert_eq!(s.base_url(), "https://myorg-acct1.snowflakecomputing.com:443");
    }

    #[test]
    fn password_source_on_a_loopback_test_server() {
        let s = SnowflakeSource::parse(
            "snowflake://jane%40example.com@xy12345.eu-west-1/DB/PUBLIC?password=p%26ss&host=127.0.0.1&port=8085&protocol=http",
        )
        .unwrap();
        assert_eq!(s.user, "jane@example.com");
        assert_eq!(s.account_name(), "XY12345");
        assert_eq!(s.auth, SnowflakeAuth::Password("p&ss".into()));
        assert_eq!(s.base_url(), "http://127.0.0.1:8085");
        assert!(!format!("{s:?}").contains("p&ss"), "Debug masks the password");
        let s = SnowflakeSource::parse("snowflake://a@b/c/d?password=x&host=localhost&protocol=http").unwrap();
        assert_eq!(s.base_url(), "http://localhost:80");
    }

    #[test]
    fn errors_name_the_part_and_never_the_secret() {
        let cases = [
            ("postgres://x", "must start with snowflake://"),
            ("snowflake://acct/DB/S?password=x", "no user"),
            ("snowflake://u@acct/DB?password=x", "/DATABASE/SCHEMA"),
            ("snowflake://u@acct/DB/S/T?password=x", "/DATABASE/SCHEMA"),
            ("snowflake://u@ac ct/DB/S?password=x", "not an account identifier"),
            ("snowflake://u@acct/DB/S", "no credentials"),
            ("snowflake://u@acct/DB/S?password=hunter2&private_key_file=k", "not both"),
            ("snowflake://u@acct/DB/S?password=hunter2&private_key_passphrase=sesame", "only for private_key_file"),
            ("snowflake://u@acct/DB/S?password=hunter2&password=hunter2", "given twice"),
            ("snowflake://u@acct/DB/S?password=hunter2&colour=blue", "unknown parameter \"colour\""),
            ("snowflake://u@acct/DB/S?password=hunter2%zz", "password has a malformed"),
            (
                "snowflake://u@acct/DB/S?password=hunter2&protocol=http",
                "refused for host \"acct.snowflakecomputing.com\"",
            ),
            ("snowflake://u@acct/DB/S?password=hunter2&protocol=http&host=10.0.0.1", "refused for host"),
            ("snowflake://u@acct/DB/S?password=hunter2&protocol=ftp", "https or http"),
            ("snowflake://u@acct/DB/S?password=hunter2&port=0", "not a port"),
            ("snowflake://u@acct/DB/S?password=", "password is empty"),
        ];
        for (url, expected) in cases {
            let message = parse_err(url);
            assert!(message.contains(expected), "{url}: {message}");
            assert!(!message.contains("hunter2") && !message.contains("sesame"), "{url}: {message}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1", "localhost.example.com", "::2"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
