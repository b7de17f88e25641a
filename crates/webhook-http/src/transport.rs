//! [`HttpWebhookTransport`], the [`WebhookTransport`] adapter: one HTTP/1.1 `POST` per try,
//! over a connection to an address the [`TargetPolicy`] has just approved.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue, RETRY_AFTER, TRANSFER_ENCODING,
};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use portcullis_domain::model::{TargetPolicy, TargetRefusal, WebhookUrl};
use portcullis_domain::ports::{WebhookRequest, WebhookResponse, WebhookTransport};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{DnsName, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use portcullis_tls_client::{self as tls, RootsError};

/// The `user-agent` of every delivery: `Portcullis-Webhooks/<this crate's version>`.
pub const USER_AGENT: &str = concat!("Portcullis-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Most bytes of an answer's body read before the connection is dropped. The body is
/// discarded; reading a little only lets a well-behaved receiver finish its answer, and the
/// bound keeps a hostile one (an endless body) from holding the try.
pub const MAX_BODY_READ: usize = 64 * 1024;

/// Request headers that only the transport sets: they frame the request or pick the
/// virtual host, so a caller's copy is ignored.
static RESERVED: [HeaderName; 4] = [HOST, CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION];

/// Sends webhook deliveries over HTTP/1.1, plain or TLS (rustls, ring), enforcing a
/// [`TargetPolicy`] on every address it connects to.
///
/// Every try resolves the host again, checks the scheme and **every** address against the
/// policy, and then connects to those very addresses (never resolving a second time), so a
/// DNS answer that changes between the check and the connect (DNS rebinding) cannot steer a
/// try to a private address. For the same reason there is no connection pool: a pooled
/// connection would carry a try to an address vetted for an earlier one. Redirects are
/// never followed (a 3xx is an answer like any other), and at most [`MAX_BODY_READ`] bytes
/// of an answer's body are read.
///
/// Server certificates are checked against the `webpki-roots` trust anchors, plus any added
/// with [`with_extra_roots`](Self::with_extra_roots). Cheap to share behind an `Arc`; a
/// clone shares the TLS configuration and copies the policy and the list of roots.
#[derive(Clone)]
pub struct HttpWebhookTransport {
    policy: TargetPolicy,
    roots: RootCertStore,
    tls: Arc<ClientConfig>,
}

impl HttpWebhookTransport {
    /// A transport enforcing `policy`, trusting the `webpki-roots` certificates.
    pub fn new(policy: TargetPolicy) -> Self {
        let roots = tls::default_roots();
        let tls = tls::client_config(roots.clone());
        Self { policy, roots, tls }
    }

    /// Also trusts the root certificates in `certificates`: one DER certificate, or PEM with
    /// one or more `CERTIFICATE` blocks (other blocks are skipped). For a private CA, or a
    /// test's self-signed certificate. Call it again to add more.
    ///
    /// # Errors
    /// [`RootsError`] when the input holds no certificate or one that cannot be a trust
    /// anchor; nothing is added then.
    pub fn with_extra_roots(mut self, certificates: &[u8]) -> Result<Self, RootsError> {
        tls::add_roots(&mut self.roots, certificates)?;
        self.tls = tls::client_config(self.roots.clone());
        Ok(self)
    }

    /// The policy every target is checked against.
    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// The scheme and address checks, and the resolution: every address the host has, each
    /// allowed by the policy, with the URL's port.
    async fn resolve(&self, url: &WebhookUrl) -> Result<Vec<SocketAddr>, TargetRefusal> {
        self.policy.check_url(url)?;
        let port = url.port();
        let mut addrs: Vec<SocketAddr> = Vec::new();
        match url.ip_literal() {
            Some(ip) => addrs.push(SocketAddr::new(ip, port)),
            None => {
                let found = tokio::net::lookup_host((url.host(), port)).await.map_err(|e| {
                    tracing::debug!(host = url.host(), error = %e, "webhook target does not resolve");
                    TargetRefusal::Unresolvable
                })?;
                for addr in found {
                    if !addrs.contains(&addr) {
                        addrs.push(addr);
                    }
                }
            }
        }
        if addrs.is_empty() {
            return Err(TargetRefusal::Unresolvable);
        }
        // All or nothing: a name with one private address among public ones is refused, so
        // the choice of address can never reach the private one.
        for addr in &addrs {
            self.policy.check_ip(addr.ip())?;
        }
        Ok(addrs)
    }

    /// One try, the part that [`send`](WebhookTransport::send) bounds by the timeout up to
    /// the answer's head; the body is drained until `deadline` at the latest.
    async fn attempt(&self, request: WebhookRequest, deadline: Instant) -> Result<WebhookResponse, Expired> {
        let WebhookRequest { url, headers, body, .. } = request;
        let url = &url;
        let addrs = match self.resolve(url).await {
            Ok(addrs) => addrs,
            Err(refusal) => return Ok(WebhookResponse::Refused(refusal)),
        };
        let head = async {
            let http_request = build_request(url, &headers, body)?;
            let tcp = connect(&addrs).await?;
            if url.is_https() {
                let name = server_name(url)?;
                let stream = TlsConnector::from(Arc::clone(&self.tls))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("tls: {}", io_message(&e)))?;
                exchange(stream, http_request).await
            } else {
                exchange(tcp, http_request).await
            }
        };
        let (status, retry_after, mut exchange) = match tokio::time::timeout_at(deadline, head).await {
            Err(_) => return Err(Expired),
            Ok(Err(message)) => {
                tracing::debug!(host = url.host(), error = %message, "webhook try failed");
                return Ok(WebhookResponse::Failed(message));
            }
            Ok(Ok(answer)) => answer,
        };
        // The answer is in: the body is only drained (bounded in size and by the same
        // deadline), and a slow or broken body does not change what the receiver said.
        let _drained = tokio::time::timeout_at(deadline, exchange.drain()).await;
        Ok(WebhookResponse::Answered { status, retry_after })
    }
}

impl fmt::Debug for HttpWebhookTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpWebhookTransport")
            .field("policy", &self.policy)
            .field("trusted_roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}

impl WebhookTransport for HttpWebhookTransport {
    async fn vet(&self, url: &WebhookUrl) -> Result<Vec<IpAddr>, TargetRefusal> {
        // Registration waits for this answer: a resolver that does not answer must not hold
        // the admin's request (or a connection of the store) for long.
        match tokio::time::timeout(VET_TIMEOUT, self.resolve(url)).await {
            Ok(addrs) => Ok(addrs?.into_iter().map(|addr| addr.ip()).collect()),
            Err(_) => Err(TargetRefusal::Unresolvable),
        }
    }

    async fn send(&self, request: WebhookRequest) -> WebhookResponse {
        let deadline = Instant::now() + request.timeout;
        match tokio::time::timeout_at(deadline, self.attempt(request, deadline)).await {
            Ok(Ok(response)) => response,
            Ok(Err(Expired)) | Err(_) => WebhookResponse::TimedOut,
        }
    }
}

/// The try ran out of time before the answer's head arrived.
struct Expired;

/// Longest wait for the resolver when a target is checked at registration; past it the host
/// counts as not resolving.
pub const VET_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to the vetted addresses in order, never resolving anything.
async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, String> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Small request, one round trip: do not wait for more to coalesce.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(|| "no address to connect to".to_owned(), |e| io_message(&e)))
}

/// SNI and the name the certificate must carry: the URL's host, a DNS name or an address.
fn server_name(url: &WebhookUrl) -> Result<ServerName<'static>, String> {
    match url.ip_literal() {
        Some(ip) => Ok(ServerName::IpAddress(ip.into())),
        None => DnsName::try_from(url.host().to_owned())
            .map(ServerName::DnsName)
            .map_err(|_| "tls: the host is not a valid server name".to_owned()),
    }
}

/// The `POST`: the transport's headers, then the caller's (which replace `content-type` and
/// `user-agent` when they carry them, but never the framing headers).
fn build_request(
    url: &WebhookUrl,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> Result<Request<Full<Bytes>>, String> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(url.path_and_query())
        .header(HOST, host_header(url))
        .header(CONTENT_LENGTH, body.len());
    let has = |name: &HeaderName| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()));
    if !has(&CONTENT_TYPE) {
        builder = builder.header(CONTENT_TYPE, "application/json");
    }
    if !has(&hyper::header::USER_AGENT) {
        builder = builder.header(hyper::header::USER_AGENT, USER_AGENT);
    }
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
        if RESERVED.contains(&name) {
            continue;
        }
        // The value may be a signature: never put it in the message.
        let value = HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        builder = builder.header(name, value);
    }
    builder.body(Full::new(Bytes::from(body))).map_err(|e| format!("invalid request: {e}"))
}

/// `host[:port]`, the port only when it is not the scheme's default, brackets around IPv6.
fn host_header(url: &WebhookUrl) -> String {
    let host = match url.ip_literal() {
        Some(IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => url.host().to_owned(),
    };
    let default_port = if url.is_https() { 443 } else { 80 };
    if url.port() == default_port { host } else { format!("{host}:{}", url.port()) }
}

/// A connection with its answer's head read, its body still to drain. Dropping it aborts
/// the connection's task, closing the socket (also when a try is cancelled by the timeout).
struct Exchange {
    body: hyper::body::Incoming,
    _driver: AbortOnDrop,
}

impl Exchange {
    /// Reads and discards up to [`MAX_BODY_READ`] bytes of the body, or until it ends or
    /// breaks.
    async fn drain(&mut self) {
        let mut read = 0usize;
        while read < MAX_BODY_READ {
            match self.body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                Some(Err(_)) | None => break,
            }
        }
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// HTTP/1.1 over `io`: the handshake, the request, the answer's head.
async fn exchange<S>(io: S, request: Request<Full<Bytes>>) -> Result<(u16, Option<String>, Exchange), String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        // Bounds the answer's head too (the default is about 400 KiB).
        .max_buf_size(MAX_BODY_READ)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| hyper_message(&e))?;
    let driver = AbortOnDrop(tokio::spawn(async move {
        // Its errors surface through `send_request` or the body.
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await.map_err(|e| hyper_message(&e))?;
    let status = response.status().as_u16();
    let retry_after =
        response.headers().get(RETRY_AFTER).and_then(|v| std::str::from_utf8(v.as_bytes()).ok()).map(str::to_owned);
    Ok((status, retry_after, Exchange { body: response.into_body(), _driver: driver }))
}

/// A short message for an I/O error: its kind for the common ones (`connection refused`),
/// the error's own text otherwise (rustls' for a TLS failure).
fn io_message(e: &io::Error) -> String {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::AddrNotAvailable
        | K::TimedOut
        | K::UnexpectedEof
        | K::BrokenPipe => e.kind().to_string(),
        _ => match e.get_ref() {
            Some(inner) => inner.to_string(),
            None => e.to_string(),
        },
    }
}

/// hyper's message, with its cause when it has one (`connection closed before message
/// completed`, `invalid HTTP version parsed`...).
fn hyper_message(e: &hyper::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(cause) => format!("http: {e}: {cause}"),
        None => format!("http: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn post(url: &str, headers: &[(&'static str, String)]) -> Result<Request<Full<Bytes>>, String> {
        build_request(&WebhookUrl::parse(url).unwrap(), headers, b"{}".to_vec())
    }

    fn request(url: &str, headers: Vec<(&'static str, String)>) -> WebhookRequest {
        WebhookRequest {
            url: WebhookUrl::parse(url).unwrap(),
            headers,
            body: b"{}".to_vec(),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn host_header_has_the_port_only_when_needed() {
        let host = |url: &str| host_header(&WebhookUrl::parse(url).unwrap());
        assert_eq!(host("https://example.com/x"), "example.com");
        assert_eq!(host("https://example.com:443/x"), "example.com");
        assert_eq!(host("http://example.com:80/x"), "example.com");
        assert_eq!(host("https://example.com:8443/x"), "example.com:8443");
        assert_eq!(host("http://10.0.0.1:8080/"), "10.0.0.1:8080");
        assert_eq!(host("https://[2001:db8::1]/"), "[2001:db8::1]");
        assert_eq!(host("http://[::1]:8080/"), "[::1]:8080");
    }

    #[test]
    fn builds_the_post() {
        let req = post(
            "https://example.com:8443/hooks/in?team=7",
            &[
                ("webhook-id", "evt_1".to_owned()),
                ("content-type", "application/json; charset=utf-8".to_owned()),
                ("host", "evil.example".to_owned()),
                ("content-length", "999".to_owned()),
            ],
        )
        .unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri(), "/hooks/in?team=7");
        let headers = req.headers();
        assert_eq!(headers.get_all(HOST).iter().collect::<Vec<_>>(), ["example.com:8443"]);
        assert_eq!(headers.get_all(CONTENT_LENGTH).iter().collect::<Vec<_>>(), ["2"]);
        assert_eq!(headers.get_all(CONTENT_TYPE).iter().collect::<Vec<_>>(), ["application/json; charset=utf-8"]);
        assert_eq!(headers.get(hyper::header::USER_AGENT).unwrap(), USER_AGENT);
        assert_eq!(headers.get("webhook-id").unwrap(), "evt_1");
        assert!(USER_AGENT.starts_with("Portcullis-Webhooks/0."));

        let plain = post("http://example.com/", &[]).unwrap();
        assert_eq!(plain.headers().get(CONTENT_TYPE).unwrap(), "application/json");
        assert_eq!(plain.headers().get(HOST).unwrap(), "example.com");
    }

    #[test]
    fn a_bad_header_value_fails_without_showing_it() {
        let err = post("http://example.com/", &[("webhook-signature", "v1,se\ncret".to_owned())]).unwrap_err();
        assert!(!err.contains("cret"), "{err}");
        assert!(err.contains("webhook-signature"), "{err}");
    }

    #[test]
    fn server_names() {
        let name = |url: &str| server_name(&WebhookUrl::parse(url).unwrap()).unwrap();
        assert!(matches!(name("https://example.com/"), ServerName::DnsName(n) if n.as_ref() == "example.com"));
        assert!(matches!(name("https://127.0.0.1/"), ServerName::IpAddress(_)));
        assert!(matches!(name("https://[::1]/"), ServerName::IpAddress(_)));
    }

    #[tokio::test]
    async fn resolves_literals_without_dns_and_refuses_before_connecting() {
        let open = HttpWebhookTransport::new(TargetPolicy {
            allow_http: true,
            allowed_private: vec!["10.0.0.0/8".parse().unwrap()],
        });
        let url = WebhookUrl::parse("http://10.1.2.3:9000/").unwrap();
        assert_eq!(open.resolve(&url).await.unwrap(), ["10.1.2.3:9000".parse::<SocketAddr>().unwrap()]);
        let strict = HttpWebhookTransport::new(TargetPolicy::default());
        let url = WebhookUrl::parse("https://10.1.2.3/").unwrap();
        assert_eq!(strict.vet(&url).await, Err(TargetRefusal::PrivateAddress("10.1.2.3".parse().unwrap())));
        // IPv4-mapped IPv6 is judged as the IPv4 address it reaches.
        let url = WebhookUrl::parse("https://[::ffff:127.0.0.1]/").unwrap();
        assert!(matches!(strict.vet(&url).await, Err(TargetRefusal::PrivateAddress(_))));
        assert!(format!("{strict:?}").contains("trusted_roots"));
    }

    #[tokio::test]
    async fn an_unknown_name_is_unresolvable() {
        let transport = HttpWebhookTransport::new(TargetPolicy::default());
        let url = WebhookUrl::parse("https://portcullis-test.invalid/").unwrap();
        assert_eq!(transport.vet(&url).await, Err(TargetRefusal::Unresolvable));
        let sent = transport.send(request("https://portcullis-test.invalid/", Vec::new())).await;
        assert_eq!(sent, WebhookResponse::Refused(TargetRefusal::Unresolvable));
    }
}
