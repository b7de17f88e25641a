//! The sink's TLS side: a throw-away certificate authority and a `localhost` leaf, made at
//! start-up, and the rustls acceptor that serves the leaf.
//!
//! Two certificates rather than one self-signed: webpki refuses a CA certificate presented as
//! the server's own (`CaUsedAsEndEntity`), so the client trusts the CA and the sink shows a
//! `CA:FALSE` leaf signed by it, like a real private CA setup.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A TLS acceptor plus the PEM of the CA that signed its certificate.
pub(super) struct SinkTlsConfig {
    pub(super) acceptor: TlsAcceptor,
    pub(super) ca_pem: String,
}

/// Makes a fresh CA and a leaf for `localhost` and `127.0.0.1`, and a rustls server config
/// serving the leaf.
///
/// # Errors
/// Certificate generation or rustls configuration failures, as `io::Error` (test support: the
/// caller only needs to fail loudly).
pub(super) fn generate() -> io::Result<SinkTlsConfig> {
    let mut ca_params = CertificateParams::new(Vec::new()).map_err(other)?;
    ca_params.distinguished_name.push(DnType::CommonName, "portcullis test sink CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(other)?).map_err(other)?;

    // rcgen turns a name that parses as an IP address into an IP SAN.
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).map_err(other)?;
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(other)?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(other)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    // An explicit provider: `ServerConfig::builder()` panics when a build ends up with both ring
    // and aws-lc enabled, and ring is what lettre uses here anyway.
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .map_err(other)?;
    Ok(SinkTlsConfig { acceptor: TlsAcceptor::from(Arc::new(config)), ca_pem: ca.pem() })
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}
