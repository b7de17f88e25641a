//! One `GET` over a fresh HTTP/1.1 connection, plain or TLS, with the answer's body read up
//! to a bound. The caller puts the whole of it under the lookup's timeout.

use std::io;
use std::sync::Arc;

use http_body_util::{BodyExt as _, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::{HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use portcullis_domain::ports::BreachLookupError;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;

use super::url::BaseUrl;
use super::{MAX_BODY, USER_AGENT};

/// hyper's read buffer, which also bounds the answer's head.
const MAX_HEAD: usize = 64 * 1024;

/// `GET {base}{path}` and the answer's body, at most [`MAX_BODY`] bytes of it.
///
/// # Errors
/// `Unavailable` when no connection, no TLS session or no answer could be had, or the
/// status is not 2xx; `Malformed` when the body is longer than [`MAX_BODY`]. Messages are
/// short and carry neither the path (it holds the hash prefix) nor the body.
pub(crate) async fn get(base: &BaseUrl, tls: &Arc<ClientConfig>, path: &str) -> Result<Bytes, BreachLookupError> {
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(HOST, &base.host_header)
        .header(hyper::header::USER_AGENT, HeaderValue::from_static(USER_AGENT))
        // HIBP mixes 800 to 1,000 count-0 lines into every answer, so the answer's size does
        // not tell an observer of the TLS stream which prefix was asked for.
        .header("add-padding", HeaderValue::from_static("true"))
        .body(Empty::<Bytes>::new())
        .map_err(|_| unavailable("invalid request"))?;
    let tcp = TcpStream::connect((base.host.as_str(), base.port)).await.map_err(|e| unavailable(&io_message(&e)))?;
    // One small request and its answer: do not wait for more to coalesce.
    let _ = tcp.set_nodelay(true);
    match &base.server_name {
        Some(name) => {
            let stream = TlsConnector::from(Arc::clone(tls))
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| unavailable(&format!("tls: {}", io_message(&e))))?;
            exchange(stream, request).await
        }
        None => exchange(tcp, request).await,
    }
}

fn unavailable(message: &str) -> BreachLookupError {
    BreachLookupError::Unavailable(message.to_owned())
}

/// Aborts the connection's task when dropped: on every return, and when the lookup's
/// timeout cancels it, the socket closes.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn exchange<S>(io: S, request: Request<Empty<Bytes>>) -> Result<Bytes, BreachLookupError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| unavailable(&hyper_message(&e)))?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        // Its errors surface through `send_request` or the body.
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await.map_err(|e| unavailable(&hyper_message(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(BreachLookupError::Unavailable(format!("status {}", status.as_u16())));
    }
    match Limited::new(response.into_body(), MAX_BODY).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(BreachLookupError::Malformed(format!("answer longer than {MAX_BODY} bytes")))
        }
        Err(e) => Err(unavailable(&match e.downcast_ref::<hyper::Error>() {
            Some(e) => hyper_message(e),
            None => format!("http: {e}"),
        })),
    }
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

/// hyper's message, with its cause when it has one.
fn hyper_message(e: &hyper::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(cause) => format!("http: {e}: {cause}"),
        None => format!("http: {e}"),
    }
}
