//! PostgreSQL TLS by docs/design/sync.md's `sslmode` table, on a private cluster this binary starts
//! (`pg_cluster`): each row of the table, and why each connection succeeds or fails. Whether a
//! session is encrypted is asked of the server (`pg_stat_ssl`), not taken from the client.

mod pg_cluster;

use audience::warehouse::postgres::open_session;
use pg_cluster::cluster;

/// What a connection attempt came to: `Ok(encrypted)` as the server saw it, or the error.
fn connect(url: &str) -> Result<bool, String> {
    audience::http::tls::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let session = open_session(url, "postgres://postgres@test").await.map_err(|e| e.to_string())?;
        let row = session
            .client
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .await
            .map_err(|e| e.to_string())?;
        Ok(row.get::<_, bool>(0))
    })
}

/// A URL to one of the private servers, `host` as the client names it.
fn url(host: &str, port: u16, params: &str) -> String {
    format!("postgres://postgres@{host}:{port}/postgres{}{params}", if params.is_empty() { "" } else { "?" })
}

fn encrypted(url: &str) {
    assert_eq!(connect(url), Ok(true), "{url}");
}

fn refused(url: &str, reason: &str) {
    let err = connect(url).expect_err(url);
    assert!(err.starts_with("cannot open the warehouse: postgres://postgres@test: "), "{url}: {err}");
    assert!(err.contains(reason), "{url}: expected `{reason}` in: {err}");
}

#[test]
fn disable_never_encrypts() {
    let c = cluster();
    assert_eq!(connect(&url("127.0.0.1", c.tls_port, "sslmode=disable")), Ok(false));
}

/// `prefer` (also the default) encrypts whenever the server offers TLS, whatever certificate it
/// shows: a certificate no root vouches for is no reason to fall back to plaintext.
#[test]
fn prefer_encrypts_whenever_the_server_offers_tls() {
    let c = cluster();
    for params in ["", "sslmode=prefer", "sslmode=allow"] {
        encrypted(&url("127.0.0.1", c.tls_port, params));
        encrypted(&url("localhost", c.tls_port, params));
        encrypted(&url("127.0.0.1", c.self_signed_port, params));
    }
}

/// Plaintext under `prefer` only from a server that refuses TLS; `require` and stronger refuse
/// such a server.
#[test]
fn only_a_server_that_refuses_tls_gets_plaintext() {
    let c = cluster();
    assert_eq!(connect(&url("127.0.0.1", c.plain_port, "")), Ok(false));
    assert_eq!(connect(&url("127.0.0.1", c.plain_port, "sslmode=prefer")), Ok(false));
    for mode in ["require", "verify-ca", "verify-full"] {
        let params = format!("sslmode={mode}&sslrootcert={}", c.ca());
        refused(&url("127.0.0.1", c.plain_port, &params), "server does not support TLS");
    }
}

/// `require` without a root encrypts without checking the chain or the name.
#[test]
fn require_encrypts_without_a_root() {
    let c = cluster();
    encrypted(&url("127.0.0.1", c.tls_port, "sslmode=require"));
    encrypted(&url("127.0.0.1", c.self_signed_port, "sslmode=require"));
    // A name the certificate does not hold.
    encrypted(&url("db.invalid", c.tls_port, "sslmode=require&hostaddr=127.0.0.1"));
}

/// `require` with `sslrootcert` is `verify-ca`: the chain checked, not the name.
#[test]
fn require_with_a_root_checks_the_chain() {
    let c = cluster();
    encrypted(&url("db.invalid", c.tls_port, &format!("sslmode=require&hostaddr=127.0.0.1&sslrootcert={}", c.ca())));
    refused(&url("localhost", c.tls_port, &format!("sslmode=require&sslrootcert={}", c.other_ca())), "UnknownIssuer");
}

#[test]
fn verify_ca_checks_the_chain_not_the_name() {
    let c = cluster();
    encrypted(&url("localhost", c.tls_port, &format!("sslmode=verify-ca&sslrootcert={}", c.ca())));
    encrypted(&url("db.invalid", c.tls_port, &format!("sslmode=verify-ca&hostaddr=127.0.0.1&sslrootcert={}", c.ca())));
    // The platform's roots (no sslrootcert) do not know the private CA.
    refused(&url("localhost", c.tls_port, "sslmode=verify-ca"), "invalid peer certificate");
}

#[test]
fn verify_full_checks_the_chain_and_the_name() {
    let c = cluster();
    let ca = format!("sslmode=verify-full&sslrootcert={}", c.ca());
    encrypted(&url("localhost", c.tls_port, &ca));
    encrypted(&url("127.0.0.1", c.tls_port, &ca));
    refused(&url("db.invalid", c.tls_port, &format!("{ca}&hostaddr=127.0.0.1")), "not valid for name");
    refused(&url("localhost", c.tls_port, "sslmode=verify-full"), "invalid peer certificate");
}

/// A wrong root fails closed in every mode that reads it, `prefer` included: an error naming
/// the unknown issuer, never a plaintext session.
#[test]
fn a_wrong_root_fails_closed_with_its_reason() {
    let c = cluster();
    for mode in ["prefer", "require", "verify-ca", "verify-full"] {
        let params = format!("sslmode={mode}&sslrootcert={}", c.other_ca());
        refused(&url("localhost", c.tls_port, &params), "invalid peer certificate: UnknownIssuer");
    }
    // The CA against the self-signed server: its certificate was signed by nobody the root knows.
    refused(
        &url("localhost", c.self_signed_port, &format!("sslmode=verify-full&sslrootcert={}", c.ca())),
        "invalid peer certificate",
    );
    refused(
        &url("localhost", c.tls_port, "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
        "cannot read sslrootcert /nonexistent/ca.pem",
    );
}

/// A self-signed server certificate given as `sslrootcert` (it is `CA:TRUE`, which webpki alone
/// refuses as `CaUsedAsEndEntity`) verifies, its name still checked under `verify-full`.
#[test]
fn a_self_signed_certificate_is_usable_through_sslrootcert() {
    let c = cluster();
    let own = format!("sslrootcert={}", c.self_signed());
    for mode in ["require", "verify-ca", "verify-full"] {
        encrypted(&url("localhost", c.self_signed_port, &format!("sslmode={mode}&{own}")));
    }
    encrypted(&url("db.invalid", c.self_signed_port, &format!("sslmode=verify-ca&hostaddr=127.0.0.1&{own}")));
    refused(
        &url("db.invalid", c.self_signed_port, &format!("sslmode=verify-full&hostaddr=127.0.0.1&{own}")),
        "not valid for name",
    );
    // Pinned to the self-signed server, not a root for anyone else.
    refused(&url("localhost", c.tls_port, &format!("sslmode=verify-full&{own}")), "invalid peer certificate");
}

#[test]
fn statement_timeout_is_set_for_the_session_when_the_url_asks() {
    let c = cluster();
    let show = |params: &str| -> String {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let s = open_session(&url("localhost", c.tls_port, params), "shown").await.unwrap();
            s.client.query_one("SHOW statement_timeout", &[]).await.unwrap().get(0)
        })
    };
    assert_eq!(show("sslmode=disable"), "0", "none by default");
    assert_eq!(show("sslmode=disable&statement_timeout=1500"), "1500ms");
    assert_eq!(show("statement_timeout=5min&application_name=x"), "5min");
    refused(
        &url("localhost", c.tls_port, "statement_timeout=5%3BDROP"),
        "statement_timeout `5;DROP` is not a duration",
    );
}

/// A server that accepts the connection and never answers is given up after `connect_timeout`.
#[test]
fn connect_timeout_bounds_a_silent_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepted and held open, never answered.
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    refused(&url("127.0.0.1", port, "connect_timeout=1"), "no connection within connect_timeout (1 s)");
    drop(held);
}
