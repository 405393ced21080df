//! Opening a PostgreSQL session: the connection string's TLS and timeout parameters, the rustls
//! configuration of each `sslmode`, and the warning for an unverified remote connection. The
//! process's rustls crypto provider is installed at start-up by
//! [`crate::http::tls::install_crypto_provider`].
//!
//! `sslmode` follows docs/design/sync.md's table (libpq's meanings, never weaker):
//!
//! | `sslmode` | TLS | chain | host name |
//! |---|---|---|---|
//! | `disable` | never | – | – |
//! | `prefer` (default; `allow` too) | when the server offers it | only with `sslrootcert` | no |
//! | `require` | always | only with `sslrootcert` | no |
//! | `verify-ca` | always | yes | no |
//! | `verify-full` | always | yes | yes |
//!
//! A failed TLS handshake is never retried without TLS: under `prefer`, plaintext happens only
//! when the server answers the TLS request with "no" (tokio-postgres's `Prefer` does exactly
//! that). libpq's `prefer` falls back to plaintext on any TLS failure, which an attacker in the
//! path can provoke; here it fails closed. libpq verifies `prefer` against a root file when one
//! exists; here `sslrootcert` under `prefer` is verified too, and a failure is not retried.
//!
//! The roots are the PEM file of `sslrootcert` (`system`: the platform's), or the platform's
//! for `verify-ca`/`verify-full` without one. A certificate of that file that the server
//! presents as its own is accepted as it is (a self-signed server certificate, which OpenSSL
//! accepts and webpki refuses as `CaUsedAsEndEntity`), its host name still checked under
//! `verify-full`.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls};

use crate::warehouse::{Result, WarehouseError};

/// `sslmode` as libpq spells it (`allow` is taken as `prefer`: it encrypts whenever it can).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it; plaintext only when it refuses.
    Prefer,
    /// Always TLS; the chain checked only against `sslrootcert`.
    Require,
    /// Always TLS, the chain checked; not the host name.
    VerifyCa,
    /// Always TLS, the chain and the host name checked.
    VerifyFull,
}

/// How long connecting may take when the URL does not say (`connect_timeout`, seconds).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection string split into what tokio-postgres reads and the settings we handle.
#[derive(Debug, PartialEq, Eq)]
pub struct ConnectionString {
    /// The URL without `sslmode`, `sslrootcert` and `statement_timeout`.
    pub url: String,
    /// How the connection is encrypted and the server verified (`sslmode`).
    pub tls: TlsMode,
    /// The PEM file of `sslrootcert`, or `system` for the platform's roots.
    pub root_cert: Option<String>,
    /// `statement_timeout` as PostgreSQL reads it (`"30s"`, `"5min"`, `"1500"` ms), set for the
    /// session when given; none by default (a snapshot of a large model may run long).
    pub statement_timeout: Option<String>,
}

/// Splits our parameters off a `postgres://` URL. The error never quotes the URL (it may hold a
/// password).
pub fn parse_connection_string(url: &str) -> std::result::Result<ConnectionString, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut tls = TlsMode::Prefer;
    let mut root_cert = None;
    let mut statement_timeout = None;
    let mut kept = Vec::new();
    for param in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key {
            "sslmode" => {
                tls = match value {
                    "disable" => TlsMode::Disable,
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    _ => {
                        return Err(format!(
                            "unknown sslmode `{value}`: use disable, prefer, require, verify-ca or verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => root_cert = Some(crate::percent::percent_decode(value)),
            "statement_timeout" => {
                let value = crate::percent::percent_decode(value);
                statement_timeout = Some(check_statement_timeout(&value)?);
            }
            _ => kept.push(param),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok(ConnectionString { url, tls, root_cert, statement_timeout })
}

/// A `statement_timeout` value: a whole number, optionally followed by one of PostgreSQL's time
/// units. Checked here because it goes into the session's start-up options.
fn check_statement_timeout(value: &str) -> std::result::Result<String, String> {
    let value = value.trim();
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let unit = value[digits..].trim();
    if digits > 0 && ["", "us", "ms", "s", "min", "h", "d"].contains(&unit) {
        Ok(format!("{}{unit}", &value[..digits]))
    } else {
        Err(format!(
            "statement_timeout `{value}` is not a duration: a whole number of milliseconds, or with a unit (us, ms, s, min, h, d)"
        ))
    }
}

impl TlsMode {
    /// Whether a session in this mode has authenticated the server (with `has_root`: the URL
    /// names an `sslrootcert`, or `system`). Plaintext and encryption without a checked chain
    /// are not.
    pub fn verified(self, has_root: bool) -> bool {
        match self {
            TlsMode::Disable | TlsMode::Prefer => false,
            TlsMode::Require => has_root,
            TlsMode::VerifyCa | TlsMode::VerifyFull => true,
        }
    }
}

/// Whether `host` is this machine: a loopback name or address, or a Unix socket.
pub fn is_local(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            let name = name.trim_start_matches('[').trim_end_matches(']');
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
                || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// The warning for a session that does not authenticate a server on another machine, or `None`.
/// It names the host (never the URL, which may hold a password) and what to set instead.
pub fn unverified_warning(config: &tokio_postgres::Config, parsed: &ConnectionString) -> Option<String> {
    if parsed.tls.verified(parsed.root_cert.is_some()) {
        return None;
    }
    let (hosts, hostaddrs) = (config.get_hosts(), config.get_hostaddrs());
    let remote: Vec<String> = (0..hosts.len().max(hostaddrs.len()))
        .filter_map(|i| match (hostaddrs.get(i), hosts.get(i)) {
            // A `hostaddr` is where the connection really goes.
            (Some(ip), _) => (!ip.is_loopback()).then(|| ip.to_string()),
            (None, Some(host)) => (!is_local(host)).then(|| match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            }),
            (None, None) => None,
        })
        .collect();
    if remote.is_empty() {
        return None;
    }
    let how = match parsed.tls {
        TlsMode::Disable => "sslmode=disable sends everything in plaintext",
        TlsMode::Prefer => {
            "sslmode=prefer encrypts without checking the server's certificate, and uses plaintext when the server refuses TLS"
        }
        _ => "sslmode=require encrypts without checking the server's certificate",
    };
    Some(format!(
        "the PostgreSQL connection to {} is not verified: {how}; use sslmode=verify-full (with sslrootcert for a private CA)",
        remote.join(", ")
    ))
}

/// The certificates of a PEM file.
fn read_pem(path: &str) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("sslrootcert {path} holds no certificate"));
    }
    Ok(certs)
}

/// The rustls client configuration of a mode that uses TLS.
fn tls_config(tls: TlsMode, root_cert: Option<&str>) -> std::result::Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (tls, root_cert) {
        // Encrypted, the server not authenticated (the table's "no" under "checks the chain").
        // (`disable` never gets here.)
        (TlsMode::Disable | TlsMode::Prefer | TlsMode::Require, None) => Arc::new(Unverified { provider }),
        (TlsMode::VerifyCa | TlsMode::VerifyFull, None) | (_, Some("system")) => {
            let inner = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| format!("cannot load the platform's TLS roots: {e}"))?;
            Arc::new(Verified { inner: Arc::new(inner), pinned: Vec::new(), check_name: tls == TlsMode::VerifyFull })
        }
        (_, Some(path)) => {
            let pinned = read_pem(path)?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in &pinned {
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("sslrootcert {path} holds an unusable certificate: {e}"))?;
            }
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            Arc::new(Verified { inner, pinned, check_name: tls == TlsMode::VerifyFull })
        }
    };
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

/// Encryption without authentication (`prefer`, `require` without a root): any certificate is
/// taken, but the handshake's signatures are still checked against it, so the session is
/// encrypted to whoever holds that certificate's key.
#[derive(Debug)]
struct Unverified {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The chain checked by `inner`; the host name too when `check_name` (`verify-full`). A
/// certificate of `pinned` (the `sslrootcert` file) presented as the server's own is trusted as
/// it is: a self-signed server certificate.
#[derive(Debug)]
struct Verified {
    inner: Arc<dyn ServerCertVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    check_name: bool,
}

impl ServerCertVerifier for Verified {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        if self.pinned.iter().any(|pinned| pinned.as_ref() == end_entity.as_ref()) {
            if self.check_name {
                let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&cert, server_name)?;
            }
            return Ok(ServerCertVerified::assertion());
        }
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            // webpki checks the chain before the name: a wrong name means the chain held.
            Err(rustls::Error::InvalidCertificate(NotValidForName | NotValidForNameContext { .. }))
                if !self.check_name =>
            {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// An open session: the client, the task that drives its connection, and the warning to log
/// when it does not authenticate a server on another machine.
pub struct Session {
    /// The client that sends statements.
    pub client: Client,
    /// The task that drives the connection; it ends when the client is dropped.
    pub connection: JoinHandle<()>,
    /// The warning to log when the server is not authenticated, if any.
    pub warning: Option<String>,
}

/// The client, and its connection driven on a task of its own (whatever the TLS under it).
fn spawn_connection<S, T>(
    (client, connection): (tokio_postgres::Client, tokio_postgres::Connection<S, T>),
) -> (tokio_postgres::Client, JoinHandle<()>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    (
        client,
        tokio::spawn(async move {
            let _ = connection.await;
        }),
    )
}

/// Opens a session to `url` (a secret: it may hold a password); `shown` is the URL with the
/// password masked, for errors. Connecting (TCP, TLS, authentication) is bounded by
/// `connect_timeout` (default 10 s) per host.
pub async fn open_session(url: &str, shown: &str) -> Result<Session> {
    let fail = |why: String| WarehouseError::Connect(format!("{shown}: {why}"));
    let parsed = parse_connection_string(url).map_err(fail)?;
    // tokio-postgres's own message for a bad string names the option, not its value.
    let mut config = tokio_postgres::Config::from_str(&parsed.url).map_err(|e| fail(e.to_string()))?;
    let timeout = *config.get_connect_timeout().unwrap_or(&DEFAULT_CONNECT_TIMEOUT);
    config.connect_timeout(timeout);
    if let Some(limit) = &parsed.statement_timeout {
        let options = match config.get_options() {
            Some(options) if !options.trim().is_empty() => format!("{options} -c statement_timeout={limit}"),
            _ => format!("-c statement_timeout={limit}"),
        };
        config.options(options);
    }
    let warning = unverified_warning(&config, &parsed);
    // tokio-postgres bounds the TCP connect by `connect_timeout`; a host that accepts and then
    // goes silent (in the TLS handshake, in authentication) is bounded here, per host.
    let hosts = config.get_hosts().len().max(config.get_hostaddrs().len()).max(1);
    let whole = timeout.saturating_mul(u32::try_from(hosts).unwrap_or(u32::MAX));
    let attempt = async {
        match parsed.tls {
            TlsMode::Disable => {
                config.ssl_mode(SslMode::Disable);
                config.connect(NoTls).await.map(spawn_connection).map_err(|e| fail(super::describe(&e)))
            }
            mode => {
                // Under `Prefer`, tokio-postgres goes on without TLS only when the server refuses
                // it; a failed handshake is an error.
                config.ssl_mode(if mode == TlsMode::Prefer { SslMode::Prefer } else { SslMode::Require });
                let tls = tls_config(mode, parsed.root_cert.as_deref()).map_err(fail)?;
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
                config.connect(tls).await.map(spawn_connection).map_err(|e| fail(super::describe(&e)))
            }
        }
    };
    let (client, connection) = match tokio::time::timeout(whole, attempt).await {
        Ok(result) => result?,
        Err(_) => return Err(fail(format!("no connection within connect_timeout ({} s)", timeout.as_secs()))),
    };
    Ok(Session { client, connection, warning })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> ConnectionString {
        parse_connection_string(url).unwrap()
    }

    #[test]
    fn our_parameters_are_split_off() {
        assert_eq!(
            parse(
                "postgres://u:p@h/db?sslmode=verify-full&sslrootcert=%2Fca.pem&application_name=x&statement_timeout=30s"
            ),
            ConnectionString {
                url: "postgres://u:p@h/db?application_name=x".into(),
                tls: TlsMode::VerifyFull,
                root_cert: Some("/ca.pem".into()),
                statement_timeout: Some("30s".into()),
            }
        );
        let modes = [
            ("", TlsMode::Prefer),
            ("?sslmode=disable", TlsMode::Disable),
            ("?sslmode=allow", TlsMode::Prefer),
            ("?sslmode=prefer", TlsMode::Prefer),
            ("?sslmode=require", TlsMode::Require),
            ("?sslmode=verify-ca", TlsMode::VerifyCa),
            ("?sslmode=verify-full", TlsMode::VerifyFull),
        ];
        for (query, mode) in modes {
            assert_eq!(parse(&format!("postgres://h/db{query}")).tls, mode, "{query}");
        }
        let err = parse_connection_string("postgres://u:secret@h/db?sslmode=bogus").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn statement_timeouts_are_whole_numbers_with_a_unit() {
        let table = [
            ("1500", Some("1500")),
            ("30s", Some("30s")),
            ("5min", Some("5min")),
            ("2%20h", Some("2h")),
            ("", None),
            ("1.5s", None),
            ("5;DROP", None),
            ("10 -c", None),
            ("s", None),
        ];
        for (value, want) in table {
            let got = parse_connection_string(&format!("postgres://h/db?statement_timeout={value}"));
            assert_eq!(got.ok().and_then(|p| p.statement_timeout).as_deref(), want, "{value:?}");
        }
    }

    #[test]
    fn only_unverified_remote_connections_warn() {
        let warns = |url: &str| {
            let parsed = parse(url);
            let config = tokio_postgres::Config::from_str(&parsed.url).unwrap();
            unverified_warning(&config, &parsed)
        };
        let table = [
            ("postgres://db.example.com/x", true),
            ("postgres://db.example.com/x?sslmode=disable", true),
            ("postgres://db.example.com/x?sslmode=prefer&sslrootcert=ca.pem", true),
            ("postgres://db.example.com/x?sslmode=require", true),
            ("postgres://db.example.com/x?sslmode=require&sslrootcert=ca.pem", false),
            ("postgres://db.example.com/x?sslmode=verify-ca", false),
            ("postgres://db.example.com/x?sslmode=verify-full", false),
            ("postgres://10.0.0.5/x?sslmode=require", true),
            ("postgres://localhost/x", false),
            ("postgres://127.0.0.1/x?sslmode=disable", false),
            ("postgres://127.8.0.1/x?sslmode=disable", false),
            ("postgres://[::1]/x?sslmode=disable", false),
            ("postgres://app.localhost/x", false),
            ("postgres://%2Fvar%2Frun%2Fpostgresql/x?sslmode=disable", false),
            // `hostaddr` is where it goes.
            ("postgres://localhost/x?hostaddr=10.0.0.5", true),
            ("postgres://db.example.com/x?hostaddr=127.0.0.1", false),
            // One remote host of several is enough.
            ("postgres://localhost,db.example.com/x", true),
        ];
        for (url, want) in table {
            let warning = warns(url);
            assert_eq!(warning.is_some(), want, "{url}: {warning:?}");
        }
        let w = warns("postgres://u:secret@db.example.com/x?sslmode=require").unwrap();
        assert!(w.contains("db.example.com") && w.contains("sslmode=require") && !w.contains("secret"), "{w}");
    }
}
