//! A tiny HTTP/1.1 server inside the test process (feature `test-receiver`), so webhook tests
//! need no external receiver.
//!
//! It listens on `127.0.0.1` with an ephemeral port, records every request as it arrives
//! (method, path, headers, body; before answering, so even a request it never answers is
//! seen), and answers as told by a [`Behaviour`] that can be changed at any time: accept,
//! any status (with `Retry-After`), hang, redirect, or an endless body. Plain HTTP only: a
//! transport needs `allow_http` and `127.0.0.0/8` among the allowed private ranges to reach
//! it. Each connection gets its own task; dropping the receiver stops all of them.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use portcullis_webhook_http::test_receiver::{Behaviour, Receiver};
//! let receiver = Receiver::start().await;
//! // point an endpoint at `receiver.url()`, send, then:
//! let got = receiver.wait_for(1, Duration::from_secs(5)).await;
//! assert_eq!(got[0].header("content-type"), Some("application/json"));
//! receiver.set_behaviour(Behaviour::Status { status: 503, retry_after: Some("30".to_owned()) });
//! # }
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, LOCATION, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Largest request body recorded whole; a longer one is recorded empty.
const MAX_RECORDED_BODY: usize = 1024 * 1024;

/// How the receiver answers the requests that arrive from now on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Behaviour {
    /// `204 No Content`.
    #[default]
    Accept,
    /// This status (an invalid code is sent as 500), with `Retry-After` when given.
    Status {
        /// The status code.
        status: u16,
        /// The raw `Retry-After` value (e.g. `120`); dropped when not a valid header value.
        retry_after: Option<String>,
    },
    /// Never answers, and holds the connection open (until the receiver is dropped).
    Hang,
    /// `302 Found` with this `Location`.
    Redirect(String),
    /// `200 OK` with a chunked body that never ends.
    EndlessBody,
}

/// One request the receiver got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// `POST`, normally.
    pub method: String,
    /// Path and query, as in the request line.
    pub path: String,
    /// Every header in the order sent, names in lower case, values as text (invalid UTF-8
    /// replaced).
    pub headers: Vec<(String, String)>,
    /// The body (empty when longer than 1 MiB).
    pub body: Vec<u8>,
    /// When the request (head and body) had arrived.
    pub at: Instant,
}

impl ReceivedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    behaviour: Mutex<Behaviour>,
    requests: Mutex<Vec<ReceivedRequest>>,
}

impl State {
    // A test that panicked while holding a lock must not hide the requests from the next.
    fn requests(&self) -> MutexGuard<'_, Vec<ReceivedRequest>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        self.behaviour.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An HTTP server on `127.0.0.1` with an ephemeral port, recording what it gets and answering
/// as its [`Behaviour`] says ([`Behaviour::Accept`] at first). Stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: JoinHandle<()>,
}

impl Receiver {
    /// Binds `127.0.0.1:0` and starts accepting connections.
    ///
    /// # Panics
    /// When no port can be bound (test support: failing loudly is the point).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("test receiver: cannot bind 127.0.0.1:0: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("test receiver: no local address: {e}"));
        let state = Arc::new(State::default());
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Self { addr, state, acceptor }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// How to answer from now on (requests already waiting keep their answer).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.state.behaviour() = behaviour;
    }

    /// The requests received so far, oldest first.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state.requests().clone()
    }

    /// How many requests have arrived.
    pub fn count(&self) -> usize {
        self.state.requests().len()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        self.state.requests().clear();
    }

    /// Polls until at least `n` requests have arrived or `timeout` passes, then returns what
    /// there is (check the length: fewer than `n` means the timeout hit).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= n || tokio::time::Instant::now() >= deadline {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // The accept loop owns the connections' tasks: aborting it aborts them all.
        self.acceptor.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                connections.spawn(serve(stream, Arc::clone(&state)));
            }
            // E.g. too many open files: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn serve(stream: TcpStream, state: Arc<State>) {
    let service = service_fn(move |request| answer(request, Arc::clone(&state)));
    // A client hanging up mid-answer (the transport's bounded read) is an error here: fine.
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
}

async fn answer(request: Request<Incoming>, state: Arc<State>) -> Result<Response<ReplyBody>, Infallible> {
    let (head, body) = request.into_parts();
    let body = match Limited::new(body, MAX_RECORDED_BODY).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let headers = head
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let path = head.uri.path_and_query().map_or_else(|| head.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    state.requests().push(ReceivedRequest {
        method: head.method.as_str().to_owned(),
        path,
        headers,
        body,
        at: Instant::now(),
    });

    let behaviour = state.behaviour().clone();
    let mut response = Response::new(ReplyBody::Empty);
    match behaviour {
        Behaviour::Accept => *response.status_mut() = StatusCode::NO_CONTENT,
        Behaviour::Status { status, retry_after } => {
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::Redirect(location) => {
            *response.status_mut() = StatusCode::FOUND;
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, value);
            }
        }
        Behaviour::EndlessBody => *response.body_mut() = ReplyBody::Endless,
    }
    Ok(response)
}

static CHUNK: [u8; 8192] = [b'x'; 8192];

/// An answer's body: nothing, or `x` forever.
enum ReplyBody {
    Empty,
    Endless,
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match *self {
            Self::Empty => Poll::Ready(None),
            Self::Endless => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK))))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Empty)
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Endless => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Sends one raw request and returns what arrives within `wait` (the connection may
    /// stay open).
    async fn raw(receiver: &Receiver, wait: Duration) -> String {
        let mut stream = TcpStream::connect(receiver.addr()).await.unwrap();
        stream
            .write_all(b"POST /hook?x=1 HTTP/1.1\r\nHost: t\r\nX-Thing: One\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + wait;
        while out.len() < 40_000 {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn answers_as_told_and_records_everything() {
        let receiver = Receiver::start().await;
        assert!(receiver.url().starts_with("http://127.0.0.1:") && receiver.url().ends_with("/hook"));
        let short = Duration::from_millis(200);
        assert!(raw(&receiver, short).await.starts_with("HTTP/1.1 204 "));

        receiver.set_behaviour(Behaviour::Status { status: 503, retry_after: Some("7".to_owned()) });
        let answer = raw(&receiver, short).await.to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 503 ") && answer.contains("retry-after: 7\r\n"), "{answer}");

        receiver.set_behaviour(Behaviour::Redirect("http://example.com/".to_owned()));
        let answer = raw(&receiver, short).await.to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 302 ") && answer.contains("location: http://example.com/\r\n"));

        receiver.set_behaviour(Behaviour::EndlessBody);
        let answer = raw(&receiver, short).await;
        assert!(answer.starts_with("HTTP/1.1 200 ") && answer.len() >= 40_000, "{}", answer.len());

        receiver.set_behaviour(Behaviour::Hang);
        assert_eq!(raw(&receiver, short).await, "");

        let got = receiver.requests();
        assert_eq!(got.len(), 5, "the hung request is recorded too");
        assert_eq!(receiver.count(), 5);
        assert_eq!(got[0].method, "POST");
        assert_eq!(got[0].path, "/hook?x=1");
        assert_eq!(got[0].body, b"hello");
        assert_eq!(got[0].header("X-THING"), Some("One"));
        assert!(got[0].headers.iter().any(|(n, _)| n == "x-thing"));
        assert!(got[0].at <= got[4].at);
        receiver.clear();
        assert!(receiver.wait_for(1, Duration::from_millis(30)).await.is_empty());
    }

    #[tokio::test]
    async fn stops_when_dropped() {
        let receiver = Receiver::start().await;
        let addr = receiver.addr();
        drop(receiver);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
