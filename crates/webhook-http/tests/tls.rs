//! HTTPS: a small hyper + tokio-rustls server with a self-signed `localhost` / `127.0.0.1`
//! certificate (rcgen), trusted as an extra root or not at all.
#![expect(clippy::unwrap_used, reason = "helpers outside #[test] fns; a failed setup should fail the test loudly")]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use portcullis_domain::model::{TargetPolicy, WebhookUrl};
use portcullis_domain::ports::{WebhookRequest, WebhookResponse, WebhookTransport};
use portcullis_webhook_http::HttpWebhookTransport;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// One request as the TLS server saw it: the SNI the client sent and the body.
#[derive(Clone, Debug)]
struct Seen {
    sni: Option<String>,
    body: Vec<u8>,
}

struct TlsReceiver {
    port: u16,
    cert_der: Vec<u8>,
    cert_pem: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for TlsReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsReceiver {
    async fn start() -> Self {
        // rcgen turns a name that parses as an IP address into an IP SAN.
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(serve(listener, acceptor, Arc::clone(&seen)));
        Self { port, cert_der: certified.cert.der().to_vec(), cert_pem: certified.cert.pem(), seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, seen: Arc<Mutex<Vec<Seen>>>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let (acceptor, seen) = (acceptor.clone(), Arc::clone(&seen));
        connections.spawn(async move {
            // A client that distrusts the certificate aborts the handshake: nothing to serve.
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let sni = tls.get_ref().1.server_name().map(str::to_owned);
            let service = service_fn(move |request: Request<Incoming>| {
                let (sni, seen) = (sni.clone(), Arc::clone(&seen));
                async move {
                    let body = request.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                    seen.lock().unwrap().push(Seen { sni, body });
                    let mut response = Response::new(http_body_util::Empty::<hyper::body::Bytes>::new());
                    *response.status_mut() = StatusCode::NO_CONTENT;
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
        });
    }
}

fn loopback() -> TargetPolicy {
    TargetPolicy {
        allow_http: false,
        allowed_private: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
    }
}

fn request(url: &str) -> WebhookRequest {
    WebhookRequest {
        url: WebhookUrl::parse(url).unwrap(),
        headers: vec![("webhook-id", "evt_tls".to_owned())],
        body: br#"{"over":"tls"}"#.to_vec(),
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_trusted_certificate_delivers_over_tls() {
    let receiver = TlsReceiver::start().await;
    let transport = HttpWebhookTransport::new(loopback()).with_extra_roots(receiver.cert_pem.as_bytes()).unwrap();
    let sent = transport.send(request(&format!("https://localhost:{}/hook", receiver.port))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 204, retry_after: None });
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].sni.as_deref(), Some("localhost"), "SNI is the URL's host");
    assert_eq!(seen[0].body, br#"{"over":"tls"}"#);
}

#[tokio::test]
async fn an_address_literal_is_checked_against_the_ip_san() {
    let receiver = TlsReceiver::start().await;
    // DER this time.
    let transport = HttpWebhookTransport::new(loopback()).with_extra_roots(&receiver.cert_der).unwrap();
    let sent = transport.send(request(&format!("https://127.0.0.1:{}/hook", receiver.port))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 204, retry_after: None });
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].sni, None, "no SNI for an address");
}

#[tokio::test]
async fn an_untrusted_certificate_fails() {
    let receiver = TlsReceiver::start().await;
    let transport = HttpWebhookTransport::new(loopback());
    let sent = transport.send(request(&format!("https://localhost:{}/hook", receiver.port))).await;
    let WebhookResponse::Failed(message) = sent else { panic!("expected a failure, got {sent:?}") };
    assert!(message.starts_with("tls: ") && message.contains("certificate"), "{message}");
    // Trusting another certificate does not help.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let transport = HttpWebhookTransport::new(loopback()).with_extra_roots(other.cert.pem().as_bytes()).unwrap();
    let sent = transport.send(request(&format!("https://localhost:{}/hook", receiver.port))).await;
    assert!(matches!(&sent, WebhookResponse::Failed(m) if m.contains("certificate")), "{sent:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(receiver.seen().is_empty());
}
