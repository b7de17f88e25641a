//! A tiny SMTP server inside the test process, so SMTP tests need no external mail catcher.
//!
//! It speaks just enough SMTP for lettre (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing,
//! RSET, NOOP, QUIT, and optionally STARTTLS and AUTH PLAIN/LOGIN), keeps every accepted
//! message in memory, and can be told to refuse (`421`) or to reject recipients (`550`) so
//! tests can see both failure classes. [`SmtpSink::start_with`] adds TLS (STARTTLS or implicit,
//! with a CA made at start-up, see [`SmtpSink::ca_pem`]) and required authentication. Each
//! connection gets its own task; dropping the sink stops all of them.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use portcullis_mailer_lettre::test_sink::{SinkOptions, SinkTls, SmtpSink};
//! let sink = SmtpSink::start().await?;
//! // configure the mailer with `sink.url()`, send, then:
//! let got = sink.wait_for(1, std::time::Duration::from_secs(5)).await;
//! assert!(got[0].text().contains("123456"));
//!
//! // Implicit TLS and AUTH: trust `sink.ca_pem()` and use `sink.url_with_credentials(..)`.
//! let tls = SmtpSink::start_with(SinkOptions {
//!     tls: SinkTls::Implicit,
//!     auth: Some(("mailer".to_owned(), "hunter2".to_owned())),
//! })
//! .await?;
//! assert!(tls.ca_pem().is_some());
//! # Ok(()) }
//! ```

mod auth;
mod session;
mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use self::session::serve;
use self::tls::SinkTlsConfig;

/// One message the sink accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// Envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// The message as received after dot-unstuffing: headers, blank line, body, CRLF line ends.
    pub data: Vec<u8>,
    /// Whether the message came over TLS (implicit, or after `STARTTLS`).
    pub tls: bool,
    /// The user that authenticated on the connection, if any.
    pub user: Option<String>,
}

impl ReceivedMail {
    /// The whole message as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The first header called `name` (case-insensitive), unfolded, as sent (RFC 2047 words
    /// are not decoded).
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            match &mut found {
                Some(value) if line.starts_with([' ', '\t']) => value.push_str(line),
                Some(_) => break,
                None => {
                    if let Some((key, value)) = line.split_once(':')
                        && key.eq_ignore_ascii_case(name)
                    {
                        found = Some(value.trim_start().to_owned());
                    }
                }
            }
        }
        found
    }

    /// Everything after the header block (still transfer-encoded, which for Portcullis mail
    /// is 7bit or 8bit, i.e. the plain text).
    pub fn body(&self) -> String {
        let text = self.text();
        text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
    }
}

/// How the sink offers TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SinkTls {
    /// Plain SMTP only (`smtp://`).
    #[default]
    None,
    /// Plain at first, `STARTTLS` offered in `EHLO` (`smtp://…?tls=required`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// What [`SmtpSink::start_with`] sets up; the default is [`SmtpSink::start`]'s plain sink.
#[derive(Clone, Debug, Default)]
pub struct SinkOptions {
    /// TLS mode; any mode but [`SinkTls::None`] makes a fresh CA, see [`SmtpSink::ca_pem`].
    pub tls: SinkTls,
    /// `Some((user, password))`: `AUTH PLAIN LOGIN` is offered, only these credentials are
    /// accepted (others get `535`), and `MAIL` before a successful `AUTH` gets `530`.
    pub auth: Option<(String, String)>,
}

#[derive(Default)]
struct State {
    messages: Mutex<Vec<ReceivedMail>>,
    tls_mode: SinkTls,
    tls: Option<SinkTlsConfig>,
    auth: Option<(String, String)>,
    refusing: AtomicBool,
    rejecting: AtomicBool,
    // Inverted so `Default` gives the usual server, which offers 8BITMIME.
    no_8bitmime: AtomicBool,
}

impl State {
    fn messages(&self) -> std::sync::MutexGuard<'_, Vec<ReceivedMail>> {
        // A test that panicked while holding the lock must not hide the messages from the next.
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An SMTP server on `127.0.0.1` with an ephemeral port. Stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts accepting connections.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(SinkOptions::default()).await
    }

    /// Like [`start`](Self::start), with TLS and/or authentication as `options` say.
    ///
    /// # Errors
    /// The bind error, or a failure to make the TLS certificates.
    pub async fn start_with(options: SinkOptions) -> std::io::Result<Self> {
        let tls = match options.tls {
            SinkTls::None => None,
            SinkTls::StartTls | SinkTls::Implicit => Some(tls::generate()?),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State { tls_mode: options.tls, tls, auth: options.auth, ..State::default() });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(Self { addr, state, acceptor: Mutex::new(Some(acceptor)) })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ready for `MailerSettings::smtp_url`: `smtp://127.0.0.1:PORT` for a plain sink,
    /// `smtp://localhost:PORT?tls=required` with STARTTLS, `smtps://localhost:PORT` with
    /// implicit TLS (`localhost`, the name in the certificate).
    pub fn url(&self) -> String {
        self.url_with_userinfo("")
    }

    /// [`url`](Self::url) with `user:password@` in it (both must be URL-safe as given).
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        self.url_with_userinfo(&format!("{user}:{password}@"))
    }

    fn url_with_userinfo(&self, userinfo: &str) -> String {
        let port = self.addr.port();
        match self.state.tls_mode {
            SinkTls::None => format!("smtp://{userinfo}{}", self.addr),
            SinkTls::StartTls => format!("smtp://{userinfo}localhost:{port}?tls=required"),
            SinkTls::Implicit => format!("smtps://{userinfo}localhost:{port}"),
        }
    }

    /// The PEM of the CA that signed the sink's certificate (for `MailerSettings::tls_ca_file`);
    /// `None` without TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.state.tls.as_ref().map(|tls| tls.ca_pem.clone())
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.state.messages().clone()
    }

    /// Forgets the messages accepted so far.
    pub fn clear(&self) {
        self.state.messages().clear();
    }

    /// Polls until at least `n` messages have arrived or `timeout` passes, then returns what
    /// there is (check the length: fewer than `n` means the timeout hit).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || tokio::time::Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// While `true`, new connections get `421` instead of the greeting, and commands on open
    /// connections get `421` and a hang-up, so clients see a temporary failure.
    pub fn set_refusing(&self, refusing: bool) {
        self.state.refusing.store(refusing, Ordering::SeqCst);
    }

    /// While `true`, every `RCPT TO` gets `550`, a permanent failure.
    pub fn set_rejecting_recipients(&self, rejecting: bool) {
        self.state.rejecting.store(rejecting, Ordering::SeqCst);
    }

    /// Whether `EHLO` offers 8BITMIME (the default); `false` mimics an old server that only
    /// takes 7-bit content.
    pub fn set_8bitmime(&self, offered: bool) {
        self.state.no_8bitmime.store(!offered, Ordering::SeqCst);
    }

    /// Closes the listener and every open connection; later connections are refused by the OS.
    pub async fn stop(&self) {
        let acceptor = self.acceptor.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(acceptor) = acceptor {
            acceptor.abort();
            // Waiting for the cancelled task means the listener is closed when this returns.
            let _cancelled = acceptor.await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(acceptor) = self.acceptor.lock().unwrap_or_else(PoisonError::into_inner).take() {
            acceptor.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    // Owning the connection tasks here means aborting this task aborts them all (JoinSet drop).
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

#[cfg(test)]
mod tests {
    use super::session::path_arg;
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    async fn expect(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            read.read_line(&mut line).await.unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            // Multi-line replies continue with `code-`.
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }

    #[test]
    fn parses_paths() {
        assert_eq!(path_arg("MAIL FROM:<a@b.c> SIZE=10", "MAIL FROM:").as_deref(), Some("a@b.c"));
        assert_eq!(path_arg("mail from: <>", "MAIL FROM:").as_deref(), Some(""));
        assert_eq!(path_arg("MAIL TO:<a@b.c>", "MAIL FROM:"), None);
        assert_eq!(path_arg("RCPT TO:a@b.c", "RCPT TO:"), None);
    }

    #[tokio::test]
    async fn speaks_smtp_and_unstuffs_dots() {
        let sink = SmtpSink::start().await.unwrap();
        let (read, mut write) = TcpStream::connect(sink.addr()).await.unwrap().into_split();
        let mut read = BufReader::new(read);
        expect(&mut read, "220").await;
        for (cmd, code) in [
            ("EHLO me\r\n", "250"),
            ("DATA\r\n", "503"),
            ("MAIL FROM:<a@example.com>\r\n", "250"),
            ("RCPT TO:<b@example.com>\r\n", "250"),
            ("RCPT TO:<c@example.com>\r\n", "250"),
            ("DATA\r\n", "354"),
            ("Subject: hi\r\n\r\n..leading dot\r\n.\r\n", "250"),
            ("NOOP\r\n", "250"),
            ("RSET\r\n", "250"),
            ("QUIT\r\n", "221"),
        ] {
            write.write_all(cmd.as_bytes()).await.unwrap();
            expect(&mut read, code).await;
        }
        let got = sink.wait_for(1, Duration::from_secs(1)).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].from, "a@example.com");
        assert_eq!(got[0].to, ["b@example.com", "c@example.com"]);
        assert_eq!(got[0].text(), "Subject: hi\r\n\r\n.leading dot\r\n");
        assert_eq!(got[0].header("subject").as_deref(), Some("hi"));
        assert_eq!(got[0].body(), ".leading dot\r\n");
        sink.clear();
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn refuses_when_told() {
        let sink = SmtpSink::start().await.unwrap();
        sink.set_refusing(true);
        let (read, _write) = TcpStream::connect(sink.addr()).await.unwrap().into_split();
        expect(&mut BufReader::new(read), "421").await;
        sink.stop().await;
        assert!(TcpStream::connect(sink.addr()).await.is_err());
    }
}
