//! A tiny SMTP server inside the test process, so SMTP tests need no external mail catcher.
//!
//! It speaks just enough SMTP for lettre (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing,
//! RSET, NOOP, QUIT), keeps every accepted message in memory, and can be told to refuse
//! (`421`) or to reject recipients (`550`) so tests can see both failure classes. Each
//! connection gets its own task; dropping the sink stops all of them.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use portcullis_mailer_lettre::test_sink::SmtpSink;
//! let sink = SmtpSink::start().await?;
//! // configure the mailer with `sink.url()`, send, then:
//! let got = sink.wait_for(1, std::time::Duration::from_secs(5)).await;
//! assert!(got[0].text().contains("123456"));
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Longest command or data line accepted; a longer one ends the connection (robustness, not policy).
const MAX_LINE: u64 = 64 * 1024;

/// One message the sink accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// Envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// The message as received after dot-unstuffing: headers, blank line, body, CRLF line ends.
    pub data: Vec<u8>,
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

#[derive(Default)]
struct State {
    messages: Mutex<Vec<ReceivedMail>>,
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
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(Self { addr, state, acceptor: Mutex::new(Some(acceptor)) })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`, ready for `MailerSettings::smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
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

async fn serve(stream: TcpStream, state: Arc<State>) {
    // Any I/O error just ends the conversation; the client sees a dropped connection.
    let _ignored = conversation(stream, &state).await;
}

async fn conversation(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    if state.refusing.load(Ordering::SeqCst) {
        return write.write_all(b"421 4.3.2 sink refusing connections\r\n").await;
    }
    write.write_all(b"220 portcullis-sink ESMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        if !read_line(&mut read, &mut line).await? {
            return Ok(());
        }
        if state.refusing.load(Ordering::SeqCst) {
            return write.write_all(b"421 4.3.2 sink refusing, closing connection\r\n").await;
        }
        let text = String::from_utf8_lossy(&line);
        let command = text.trim_end_matches(['\r', '\n']);
        let verb = command.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if state.no_8bitmime.load(Ordering::SeqCst) => b"250-portcullis-sink\r\n250 SIZE 10485760\r\n",
            "EHLO" => b"250-portcullis-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n",
            "HELO" => b"250 portcullis-sink\r\n",
            "MAIL" => match path_arg(command, "MAIL FROM:") {
                Some(path) => {
                    from = Some(path);
                    to.clear();
                    b"250 2.1.0 OK\r\n"
                }
                None => b"501 5.5.4 syntax: MAIL FROM:<address>\r\n",
            },
            "RCPT" => match (&from, path_arg(command, "RCPT TO:")) {
                (None, _) => b"503 5.5.1 MAIL first\r\n",
                (Some(_), None) => b"501 5.5.4 syntax: RCPT TO:<address>\r\n",
                (Some(_), Some(_)) if state.rejecting.load(Ordering::SeqCst) => b"550 5.1.1 mailbox unavailable\r\n",
                (Some(_), Some(path)) => {
                    to.push(path);
                    b"250 2.1.5 OK\r\n"
                }
            },
            "DATA" => match (from.take(), to.is_empty()) {
                (Some(sender), false) => {
                    write.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                    let data = read_data(&mut read, &mut line).await?;
                    state.messages().push(ReceivedMail { from: sender, to: std::mem::take(&mut to), data });
                    b"250 2.0.0 OK queued\r\n"
                }
                (sender, _) => {
                    from = sender;
                    b"503 5.5.1 need MAIL and RCPT first\r\n"
                }
            },
            "RSET" => {
                from = None;
                to.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "VRFY" => b"252 2.5.0 cannot verify\r\n",
            "QUIT" => return write.write_all(b"221 2.0.0 bye\r\n").await,
            _ => b"500 5.5.2 command not recognised\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Reads one line (with its line end) into `line`; `false` at end of stream.
async fn read_line<R: AsyncRead + Unpin>(read: &mut BufReader<R>, line: &mut Vec<u8>) -> std::io::Result<bool> {
    line.clear();
    let n = read.take(MAX_LINE).read_until(b'\n', line).await?;
    if n as u64 == MAX_LINE && !line.ends_with(b"\n") {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(n > 0)
}

/// Reads DATA up to the lone `.` line, undoing dot-stuffing (RFC 5321 §4.5.2).
async fn read_data<R: AsyncRead + Unpin>(read: &mut BufReader<R>, line: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        if !read_line(read, line).await? {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = if line.starts_with(b".") { &line[1..] } else { &line[..] };
        data.extend_from_slice(unstuffed);
    }
}

/// `MAIL FROM:<a@b> SIZE=1` with prefix `MAIL FROM:` gives `a@b` (`<>` gives the empty string).
fn path_arg(command: &str, prefix: &str) -> Option<String> {
    let head = command.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = command[prefix.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

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
