//! The TLS side of Portcullis's outbound HTTP clients (the webhook transport and the
//! breached-password range API): the trust anchors (webpki-roots, plus any extra roots an
//! operator adds) and the rustls configuration built from them.
//!
//! A crate of its own so that both adapters share one copy without depending on each
//! other: a deployment may use either alone.

use std::sync::Arc;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Why extra root certificates were not accepted ([`add_roots`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RootsError {
    /// PEM input without a `-----BEGIN CERTIFICATE-----` block.
    #[error("the PEM input holds no CERTIFICATE block")]
    NoCertificate,
    /// PEM input that could not be read (a broken block, bad base64).
    #[error("unreadable PEM: {0}")]
    Pem(String),
    /// A certificate that cannot serve as a trust anchor (not DER X.509, unparsable).
    #[error("not a usable root certificate: {0}")]
    Certificate(String),
}

/// The default trust anchors: Mozilla's, as `webpki-roots` builds them in (no system store).
pub fn default_roots() -> RootCertStore {
    RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// Adds the certificates of `input` (one DER certificate, or PEM with one or more
/// `CERTIFICATE` blocks) to `roots`. Nothing is added when any of them fails.
pub fn add_roots(roots: &mut RootCertStore, input: &[u8]) -> Result<(), RootsError> {
    let certs = if looks_like_pem(input) {
        let certs = CertificateDer::pem_slice_iter(input)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RootsError::Pem(e.to_string()))?;
        if certs.is_empty() {
            return Err(RootsError::NoCertificate);
        }
        certs
    } else {
        vec![CertificateDer::from(input.to_vec())]
    };
    let mut added = roots.clone();
    for cert in certs {
        added.add(cert).map_err(|e| RootsError::Certificate(e.to_string()))?;
    }
    *roots = added;
    Ok(())
}

fn looks_like_pem(input: &[u8]) -> bool {
    input.windows(11).any(|w| w == b"-----BEGIN ")
}

/// A client configuration trusting `roots`, with ring (the provider the rest of the tree
/// uses; naming it avoids the panic of `ClientConfig::builder()` when a build has both ring
/// and aws-lc), TLS 1.2 and 1.3, and ALPN `http/1.1`.
pub fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring's default provider supports the default protocol versions"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap()
    }

    #[test]
    fn takes_der_and_pem() {
        let (a, b) = (cert(), cert());
        let mut roots = RootCertStore::empty();
        add_roots(&mut roots, a.cert.der()).unwrap();
        assert_eq!(roots.len(), 1);
        let pem = format!("{}{}", a.cert.pem(), b.cert.pem());
        add_roots(&mut roots, pem.as_bytes()).unwrap();
        assert_eq!(roots.len(), 3);
    }

    #[test]
    fn refuses_junk_and_adds_nothing() {
        let mut roots = RootCertStore::empty();
        assert_eq!(
            add_roots(&mut roots, b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"),
            Err(RootsError::NoCertificate)
        );
        assert!(matches!(add_roots(&mut roots, b"not a certificate"), Err(RootsError::Certificate(_))));
        let pem = format!("{}-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n", cert().cert.pem());
        assert!(add_roots(&mut roots, pem.as_bytes()).is_err());
        assert!(roots.is_empty());
        assert!(default_roots().len() > 100);
    }
}
