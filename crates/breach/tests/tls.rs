//! HTTPS: the range server over TLS with a self-signed `localhost` / `127.0.0.1` certificate
//! (rcgen), trusted as an extra root or not at all.
#![expect(clippy::unwrap_used, reason = "helpers outside #[test] fns; a failed setup should fail the test loudly")]

use std::sync::Arc;
use std::time::Duration;

use portcullis_breach::RangeApi;
use portcullis_breach::test_server::MockRangeServer;
use portcullis_domain::model::Password;
use portcullis_domain::ports::{BreachLookupError, BreachedPasswords, Exposure};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const TIMEOUT: Duration = Duration::from_secs(2);

/// A TLS range server listing "P@ssw0rd" 52,579 times, and its certificate (PEM, DER).
async fn tls_server() -> (MockRangeServer, String, Vec<u8>) {
    // rcgen turns a name that parses as an IP address into an IP SAN.
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let server = MockRangeServer::start_tls([("P@ssw0rd", 52_579)], config).await;
    (server, certified.cert.pem(), certified.cert.der().to_vec())
}

#[tokio::test]
async fn a_trusted_certificate_answers_over_tls() {
    let (server, pem, der) = tls_server().await;
    assert!(server.url().starts_with("https://localhost:"));
    let api = RangeApi::new(&server.url(), TIMEOUT).unwrap().with_extra_roots(pem.as_bytes()).unwrap();
    assert_eq!(api.exposure(&Password::new("P@ssw0rd")).await.unwrap(), Exposure::Seen { times: 52_579 });
    assert_eq!(api.exposure(&Password::new("not listed")).await.unwrap(), Exposure::Unlisted);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/range/21BD1");
    assert_eq!(requests[0].header("add-padding"), Some("true"));
    assert_eq!(requests[0].header("host"), Some(format!("localhost:{}", server.addr().port()).as_str()));

    // By address (the certificate's IP SAN, no SNI), trusting the DER form.
    let by_ip = format!("https://127.0.0.1:{}/", server.addr().port());
    let api = RangeApi::new(&by_ip, TIMEOUT).unwrap().with_extra_roots(&der).unwrap();
    assert_eq!(api.exposure(&Password::new("P@ssw0rd")).await.unwrap(), Exposure::Seen { times: 52_579 });
}

#[tokio::test]
async fn an_untrusted_certificate_is_unavailable() {
    let (server, _, _) = tls_server().await;
    let api = RangeApi::new(&server.url(), TIMEOUT).unwrap();
    match api.exposure(&Password::new("P@ssw0rd")).await {
        Err(BreachLookupError::Unavailable(message)) => {
            assert!(message.starts_with("tls: ") && message.contains("UnknownIssuer"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.count(), 0, "no request was sent");
}

#[tokio::test]
async fn plain_http_to_a_tls_server_fails_without_hanging() {
    let (server, _, _) = tls_server().await;
    let api = RangeApi::new(&format!("http://127.0.0.1:{}", server.addr().port()), TIMEOUT).unwrap();
    let result = api.exposure(&Password::new("P@ssw0rd")).await;
    assert!(matches!(result, Err(BreachLookupError::Unavailable(_) | BreachLookupError::Timeout)), "{result:?}");
}
