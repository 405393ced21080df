//! The process's TLS set-up, in one place: HTTPS delivery (reqwest) and PostgreSQL
//! (tokio-postgres-rustls) both use rustls, with ring as its one crypto provider.

/// Installs ring as the process's rustls crypto provider. The command line calls it once at
/// start-up, before any TLS (HTTP or a warehouse); calling it again does nothing, and
/// [`super::client::build`] calls it too, for library users that skip the command line.
///
/// rustls panics when no provider is installed and more than one is compiled in, which a later
/// dependency could cause; installing one explicitly rules that out.
pub fn install_crypto_provider() {
    // Err only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
