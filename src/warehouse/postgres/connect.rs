//! Opening a PostgreSQL session: the connection string's TLS parameters, the rustls
//! configuration, and libpq's `sslmode` fallback. The process's rustls crypto provider is
//! installed at start-up by [`crate::http::tls::install_crypto_provider`].

use std::str::FromStr;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

use crate::warehouse::{Result, WarehouseError};

/// `sslmode` as libpq spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    /// `require`, `verify-ca`, `verify-full` (all verified).
    Require,
}

/// A connection string split into what tokio-postgres reads and the TLS settings we handle.
#[derive(Debug, PartialEq, Eq)]
pub struct ConnectionString {
    /// The URL without `sslmode` and `sslrootcert`.
    pub url: String,
    pub tls: TlsMode,
    pub root_cert: Option<String>,
}

/// Splits the TLS parameters off a `postgres://` URL. The error never quotes the URL (it may
/// hold a password).
pub fn parse_connection_string(url: &str) -> std::result::Result<ConnectionString, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut tls = TlsMode::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for param in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key {
            "sslmode" => {
                tls = match value {
                    "disable" => TlsMode::Disable,
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" | "verify-ca" | "verify-full" => TlsMode::Require,
                    _ => {
                        return Err(format!(
                            "unknown sslmode `{value}`: use disable, prefer, require, verify-ca or verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => root_cert = Some(crate::percent::percent_decode(value)),
            _ => kept.push(param),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok(ConnectionString { url, tls, root_cert })
}

fn tls_config(root_cert: Option<&str>) -> std::result::Result<rustls::ClientConfig, String> {
    match root_cert {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| format!("cannot read sslrootcert: {e}"))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("cannot read sslrootcert: {e}"))?;
                roots.add(cert).map_err(|e| format!("sslrootcert holds an unusable certificate: {e}"))?;
            }
            Ok(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth())
        }
        None => {
            use rustls_platform_verifier::ConfigVerifierExt;
            rustls::ClientConfig::with_platform_verifier().map_err(|e| format!("cannot load the TLS roots: {e}"))
        }
    }
}

/// Opens a session to `url` (a secret: it may hold a password); `shown` is the URL with the
/// password masked, for errors. The task that drives the connection is returned with the client.
pub(super) async fn session(url: &str, shown: &str) -> Result<(Client, JoinHandle<()>)> {
    let fail = |why: String| WarehouseError::Connect(format!("{shown}: {why}"));
    let parsed = parse_connection_string(url).map_err(fail)?;
    // tokio-postgres's own message for a bad string names the option, not its value.
    let mut config = tokio_postgres::Config::from_str(&parsed.url).map_err(|e| fail(e.to_string()))?;
    let connect = |config: tokio_postgres::Config, tls: Option<rustls::ClientConfig>| async move {
        match tls {
            None => config.connect(NoTls).await.map(|(c, conn)| {
                (
                    c,
                    tokio::spawn(async move {
                        let _ = conn.await;
                    }),
                )
            }),
            Some(tls) => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
                config.connect(tls).await.map(|(c, conn)| {
                    (
                        c,
                        tokio::spawn(async move {
                            let _ = conn.await;
                        }),
                    )
                })
            }
        }
    };
    let (client, connection) = match parsed.tls {
        TlsMode::Disable => {
            config.ssl_mode(SslMode::Disable);
            connect(config, None).await.map_err(|e| fail(super::describe(&e)))?
        }
        TlsMode::Require => {
            config.ssl_mode(SslMode::Require);
            let tls = tls_config(parsed.root_cert.as_deref()).map_err(fail)?;
            connect(config, Some(tls)).await.map_err(|e| fail(super::describe(&e)))?
        }
        TlsMode::Prefer => {
            config.ssl_mode(SslMode::Prefer);
            let tls = tls_config(parsed.root_cert.as_deref()).map_err(fail)?;
            match connect(config.clone(), Some(tls)).await {
                Ok(pair) => pair,
                // libpq's `prefer` falls back to no TLS when the TLS attempt fails.
                Err(e) if super::describe(&e).contains("TLS") => {
                    config.ssl_mode(SslMode::Disable);
                    connect(config, None).await.map_err(|e| fail(super::describe(&e)))?
                }
                Err(e) => return Err(fail(super::describe(&e))),
            }
        }
    };
    Ok((client, connection))
}
