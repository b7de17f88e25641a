//! A Pwned Passwords range API inside the test process (feature `test-server`), so breach
//! tests need no network beyond loopback.
//!
//! [`MockRangeServer`] listens on `127.0.0.1` with an ephemeral port (plain HTTP, or TLS
//! with a certificate the test supplies) and answers `GET …/range/{PREFIX}` as HIBP does:
//! `SUFFIX:COUNT` lines, CRLF-ended, sorted, upper case; with `Add-Padding: true` it mixes
//! in count-0 lines with random suffixes up to 800–1,000 lines. It records every request
//! as it arrives (before answering, so a request it never answers is seen too), and can be
//! told to hang, fail with a status, or answer garbage.
//!
//! ```no_run
//! # async fn demo() {
//! use portcullis_breach::test_server::{Behaviour, MockRangeServer};
//! let server = MockRangeServer::start([("P@ssw0rd", 52_579)]).await;
//! // point a RangeApi at `server.url()`, look a password up, then:
//! assert_eq!(server.requests()[0].header("add-padding"), Some("true"));
//! server.set_behaviour(Behaviour::Hang);
//! # }
//! ```

use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::hash::BuildHasher as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use portcullis_domain::model::Password;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::hash::{hex_upper, hex_value, sha1_bytes};

/// How the server answers the requests that arrive from now on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Behaviour {
    /// As HIBP: `200` with the prefix's lines (padded when asked).
    #[default]
    Answer,
    /// Never answers, and holds the connection open (until the server is dropped).
    Hang,
    /// This status with an empty body (an invalid code is sent as 500).
    Status(u16),
    /// `200` with an HTML page instead of range lines (a captive portal, say).
    Garbage,
    /// `200` with exactly this body.
    Body(Vec<u8>),
}

/// A hash the server lists: a password (hashed here) or a SHA-1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed {
    /// A password, listed under its SHA-1 (of the text as given, not NFKC-normalised).
    Password(String),
    /// A SHA-1.
    Sha1([u8; 20]),
}

impl From<&str> for Listed {
    fn from(password: &str) -> Self {
        Self::Password(password.to_owned())
    }
}

impl From<String> for Listed {
    fn from(password: String) -> Self {
        Self::Password(password)
    }
}

impl From<&Password> for Listed {
    fn from(password: &Password) -> Self {
        Self::Password(password.expose().to_owned())
    }
}

impl From<[u8; 20]> for Listed {
    fn from(sha1: [u8; 20]) -> Self {
        Self::Sha1(sha1)
    }
}

impl Listed {
    /// The 40 upper-case hex digits.
    fn hex(&self) -> String {
        match self {
            Self::Password(p) => hex_upper(&sha1_bytes(p.as_bytes())),
            Self::Sha1(sha1) => hex_upper(sha1),
        }
    }
}

/// One request the server got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, normally.
    pub method: String,
    /// Path and query, as in the request line.
    pub path: String,
    /// Every header in the order sent, names in lower case, values as text (invalid UTF-8
    /// replaced).
    pub headers: Vec<(String, String)>,
    /// When the request's head arrived.
    pub at: Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

struct State {
    behaviour: Mutex<Behaviour>,
    /// (40 upper-case hex digits, count).
    hashes: Mutex<Vec<(String, u64)>>,
    requests: Mutex<Vec<RecordedRequest>>,
    random: (RandomState, AtomicU64),
}

// A test that panicked while holding a lock must not hide the state from the next.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// A fresh pseudo-random number (padding only needs to look random).
    fn next_random(&self) -> u64 {
        let (seed, counter) = &self.random;
        seed.hash_one(counter.fetch_add(1, Ordering::Relaxed))
    }
}

/// A range API on `127.0.0.1` with an ephemeral port. Stops when dropped.
pub struct MockRangeServer {
    addr: SocketAddr,
    https: bool,
    state: Arc<State>,
    acceptor: JoinHandle<()>,
}

impl MockRangeServer {
    /// A plain-HTTP server listing `entries` (each a password or a SHA-1, with its count; a
    /// count of 0 is served like a padding line).
    ///
    /// # Panics
    /// When no port can be bound (test support: failing loudly is the point).
    pub async fn start<I, K>(entries: I) -> Self
    where
        I: IntoIterator<Item = (K, u64)>,
        K: Into<Listed>,
    {
        Self::bind(entries, None).await
    }

    /// The same over TLS with `config` (its certificate is the test's to trust; ALPN is set
    /// to `http/1.1`). [`url`](Self::url) is then `https://localhost:PORT`.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub async fn start_tls<I, K>(entries: I, mut config: ServerConfig) -> Self
    where
        I: IntoIterator<Item = (K, u64)>,
        K: Into<Listed>,
    {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self::bind(entries, Some(TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn bind<I, K>(entries: I, tls: Option<TlsAcceptor>) -> Self
    where
        I: IntoIterator<Item = (K, u64)>,
        K: Into<Listed>,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("mock range server: cannot bind 127.0.0.1:0: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("mock range server: no local address: {e}"));
        let state = Arc::new(State {
            behaviour: Mutex::new(Behaviour::Answer),
            hashes: Mutex::new(entries.into_iter().map(|(k, n)| (k.into().hex(), n)).collect()),
            requests: Mutex::new(Vec::new()),
            random: (RandomState::new(), AtomicU64::new(0)),
        });
        let https = tls.is_some();
        let acceptor = tokio::spawn(accept_loop(listener, tls, Arc::clone(&state)));
        Self { addr, https, state, acceptor }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give a `RangeApi`: `http://127.0.0.1:PORT`, or
    /// `https://localhost:PORT` for a TLS server.
    pub fn url(&self) -> String {
        if self.https { format!("https://localhost:{}", self.addr.port()) } else { format!("http://{}", self.addr) }
    }

    /// Lists one more hash (a password or a SHA-1) with its count.
    pub fn insert(&self, entry: impl Into<Listed>, count: u64) {
        lock(&self.state.hashes).push((entry.into().hex(), count));
    }

    /// How to answer from now on (requests already waiting keep their answer).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.state.behaviour) = behaviour;
    }

    /// The requests received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// How many requests have arrived.
    pub fn count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        lock(&self.state.requests).clear();
    }
}

impl Drop for MockRangeServer {
    fn drop(&mut self) {
        // The accept loop owns the connections' tasks: aborting it aborts them all.
        self.acceptor.abort();
    }
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                connections.spawn(serve(stream, tls.clone(), Arc::clone(&state)));
            }
            // E.g. too many open files: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn serve(stream: TcpStream, tls: Option<TlsAcceptor>, state: Arc<State>) {
    let service = service_fn(move |request| answer(request, Arc::clone(&state)));
    let http = hyper::server::conn::http1::Builder::new();
    // A client that hangs up or distrusts the certificate is an error here: fine.
    match tls {
        None => {
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        }
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(stream).await {
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
            }
        }
    }
}

async fn answer(request: Request<Incoming>, state: Arc<State>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (head, _body) = request.into_parts();
    let path = head.uri.path_and_query().map_or_else(|| head.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let padded = head.headers.get("add-padding").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    lock(&state.requests).push(RecordedRequest {
        method: head.method.as_str().to_owned(),
        path: path.clone(),
        headers,
        at: Instant::now(),
    });

    let behaviour = lock(&state.behaviour).clone();
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        Ok(response)
    };
    match behaviour {
        Behaviour::Answer => {}
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::Status(code) => {
            return reply(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Vec::new());
        }
        Behaviour::Garbage => {
            return reply(
                StatusCode::OK,
                b"<html><body><h1>Welcome to the hotel Wi-Fi</h1></body></html>\r\n".to_vec(),
            );
        }
        Behaviour::Body(body) => return reply(StatusCode::OK, body),
    }
    if head.method != hyper::Method::GET {
        return reply(StatusCode::METHOD_NOT_ALLOWED, Vec::new());
    }
    let Some(prefix) = head.uri.path().rsplit_once("/range/").map(|(_, p)| p.to_ascii_uppercase()) else {
        return reply(StatusCode::NOT_FOUND, Vec::new());
    };
    if prefix.len() != 5 || !prefix.bytes().all(|c| hex_value(c).is_some()) {
        return reply(StatusCode::BAD_REQUEST, b"The hash prefix was not in a valid format".to_vec());
    }
    reply(StatusCode::OK, range_body(&state, &prefix, padded).into_bytes())
}

/// The lines for `prefix`: the listed hashes under it, plus count-0 lines with random
/// suffixes up to 800–1,000 lines when `padded`, sorted by suffix as HIBP sends them.
fn range_body(state: &State, prefix: &str, padded: bool) -> String {
    let mut lines: Vec<(String, u64)> = lock(&state.hashes)
        .iter()
        .filter(|(hex, _)| hex.starts_with(prefix))
        .map(|(hex, count)| (hex[5..].to_owned(), *count))
        .collect();
    if padded {
        let target = 800 + usize::try_from(state.next_random() % 201).unwrap_or(0);
        while lines.len() < target {
            let mut bytes = [0u8; 18];
            for chunk in bytes.chunks_mut(8) {
                chunk.copy_from_slice(&state.next_random().to_be_bytes()[..chunk.len()]);
            }
            // 36 hex digits, less one: a suffix is 35.
            let mut suffix = hex_upper(&bytes);
            suffix.truncate(35);
            lines.push((suffix, 0));
        }
    }
    lines.sort();
    lines.iter().map(|(suffix, count)| format!("{suffix}:{count}\r\n")).collect()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    async fn get(server: &MockRangeServer, path: &str, padding: bool) -> String {
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        let padding = if padding { "Add-Padding: true\r\n" } else { "" };
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{padding}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        let _ = tokio::time::timeout(Duration::from_millis(500), stream.read_to_string(&mut out)).await;
        out
    }

    #[tokio::test]
    async fn answers_like_hibp() {
        // SHA-1("P@ssw0rd") = 21BD1 2DC183F740EE76F27B78EB39C8AD972A757
        let server = MockRangeServer::start([("P@ssw0rd", 52_579)]).await;
        let answer = get(&server, "/range/21bd1", false).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(answer.ends_with("\r\n\r\n2DC183F740EE76F27B78EB39C8AD972A757:52579\r\n"), "{answer}");

        let answer = get(&server, "/mirror/range/21BD1", true).await;
        let lines: Vec<&str> = answer.split("\r\n\r\n").nth(1).unwrap().lines().collect();
        assert!((800..=1000).contains(&lines.len()), "{}", lines.len());
        assert_eq!(lines.iter().filter(|l| !l.ends_with(":0")).count(), 1);
        assert!(lines.contains(&"2DC183F740EE76F27B78EB39C8AD972A757:52579"));
        assert!(lines.iter().all(|l| l.len() >= 37 && l.as_bytes()[35] == b':'));
        let mut sorted = lines.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, lines);

        assert!(get(&server, "/range/21BD", false).await.starts_with("HTTP/1.1 400 "));
        assert!(get(&server, "/other", false).await.starts_with("HTTP/1.1 404 "));
        let got = server.requests();
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].path, "/mirror/range/21BD1");
        assert_eq!(got[1].header("ADD-PADDING"), Some("true"));
        assert_eq!(got[0].header("add-padding"), None);
    }

    #[tokio::test]
    async fn misbehaves_as_told_and_stops_when_dropped() {
        let server = MockRangeServer::start::<_, &str>([]).await;
        server.set_behaviour(Behaviour::Status(503));
        assert!(get(&server, "/range/00000", false).await.starts_with("HTTP/1.1 503 "));
        server.set_behaviour(Behaviour::Garbage);
        assert!(get(&server, "/range/00000", false).await.contains("<html>"));
        server.set_behaviour(Behaviour::Hang);
        assert_eq!(get(&server, "/range/00000", false).await, "");
        assert_eq!(server.count(), 3, "the hung request is recorded too");
        server.clear();
        assert_eq!(server.count(), 0);
        let addr = server.addr();
        drop(server);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
