//! One SMTP connection of the sink: the command loop, STARTTLS upgrade, AUTH rounds and DATA.

use std::sync::atomic::Ordering;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::auth::{self, Mechanism};
use super::{ReceivedMail, SinkTls, State};

/// Longest command or data line accepted; a longer one ends the connection (robustness, not policy).
const MAX_LINE: u64 = 64 * 1024;

pub(super) async fn serve(stream: TcpStream, state: std::sync::Arc<State>) {
    // Any I/O error just ends the conversation; the client sees a dropped connection.
    let _ignored = conversation(stream, &state).await;
}

/// A connection before or after TLS, so one conversation loop serves both.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

type Conn = BufReader<Box<dyn Stream>>;

/// What one connection has established so far.
#[derive(Default)]
struct Session {
    tls: bool,
    user: Option<String>,
    from: Option<String>,
    to: Vec<String>,
}

async fn conversation(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut session = Session::default();
    let stream: Box<dyn Stream> = match (&state.tls, state.tls_mode) {
        (Some(tls), SinkTls::Implicit) => {
            session.tls = true;
            Box::new(tls.acceptor.accept(stream).await?)
        }
        _ => Box::new(stream),
    };
    let mut conn: Conn = BufReader::new(stream);
    if state.refusing.load(Ordering::SeqCst) {
        return conn.write_all(b"421 4.3.2 sink refusing connections\r\n").await;
    }
    conn.write_all(b"220 portcullis-sink ESMTP ready\r\n").await?;
    let mut line = Vec::new();
    loop {
        if !read_line(&mut conn, &mut line).await? {
            return Ok(());
        }
        if state.refusing.load(Ordering::SeqCst) {
            return conn.write_all(b"421 4.3.2 sink refusing, closing connection\r\n").await;
        }
        let text = String::from_utf8_lossy(&line);
        let command = text.trim_end_matches(['\r', '\n']).to_owned();
        let verb = command.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let reply: Vec<u8> = match verb.as_str() {
            "EHLO" => ehlo_reply(state, &session).into_bytes(),
            "HELO" => b"250 portcullis-sink\r\n".to_vec(),
            "STARTTLS" => match &state.tls {
                Some(tls) if state.tls_mode == SinkTls::StartTls && !session.tls => {
                    conn.write_all(b"220 2.0.0 ready to start TLS\r\n").await?;
                    // Anything the client sent after STARTTLS before the handshake is dropped
                    // with the buffer, as RFC 3207 requires.
                    let plain = conn.into_inner();
                    conn = BufReader::new(Box::new(tls.acceptor.accept(plain).await?));
                    // RFC 3207: the client starts over with EHLO, and knows nothing from before.
                    session = Session { tls: true, ..Session::default() };
                    continue;
                }
                _ => b"502 5.5.1 STARTTLS not offered\r\n".to_vec(),
            },
            "AUTH" => authenticate(&mut conn, &mut line, state, &mut session, &command).await?.to_vec(),
            "MAIL" if state.auth.is_some() && session.user.is_none() => {
                b"530 5.7.0 authentication required\r\n".to_vec()
            }
            "MAIL" => match path_arg(&command, "MAIL FROM:") {
                Some(path) => {
                    session.from = Some(path);
                    session.to.clear();
                    b"250 2.1.0 OK\r\n".to_vec()
                }
                None => b"501 5.5.4 syntax: MAIL FROM:<address>\r\n".to_vec(),
            },
            "RCPT" => match (&session.from, path_arg(&command, "RCPT TO:")) {
                (None, _) => b"503 5.5.1 MAIL first\r\n".to_vec(),
                (Some(_), None) => b"501 5.5.4 syntax: RCPT TO:<address>\r\n".to_vec(),
                (Some(_), Some(_)) if state.rejecting.load(Ordering::SeqCst) => {
                    b"550 5.1.1 mailbox unavailable\r\n".to_vec()
                }
                (Some(_), Some(path)) => {
                    session.to.push(path);
                    b"250 2.1.5 OK\r\n".to_vec()
                }
            },
            "DATA" => match (session.from.take(), session.to.is_empty()) {
                (Some(sender), false) => {
                    conn.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                    let data = read_data(&mut conn, &mut line).await?;
                    state.messages().push(ReceivedMail {
                        from: sender,
                        to: std::mem::take(&mut session.to),
                        data,
                        tls: session.tls,
                        user: session.user.clone(),
                    });
                    b"250 2.0.0 OK queued\r\n".to_vec()
                }
                (sender, _) => {
                    session.from = sender;
                    b"503 5.5.1 need MAIL and RCPT first\r\n".to_vec()
                }
            },
            "RSET" => {
                session.from = None;
                session.to.clear();
                b"250 2.0.0 OK\r\n".to_vec()
            }
            "NOOP" => b"250 2.0.0 OK\r\n".to_vec(),
            "VRFY" => b"252 2.5.0 cannot verify\r\n".to_vec(),
            "QUIT" => return conn.write_all(b"221 2.0.0 bye\r\n").await,
            _ => b"500 5.5.2 command not recognised\r\n".to_vec(),
        };
        conn.write_all(&reply).await?;
    }
}

/// The `EHLO` reply: extensions depend on the options and on what the session has done.
fn ehlo_reply(state: &State, session: &Session) -> String {
    let mut lines = vec!["portcullis-sink"];
    if !state.no_8bitmime.load(Ordering::SeqCst) {
        lines.extend(["8BITMIME", "SMTPUTF8"]);
    }
    if state.tls_mode == SinkTls::StartTls && !session.tls {
        lines.push("STARTTLS");
    }
    if state.auth.is_some() {
        lines.push("AUTH PLAIN LOGIN");
    }
    lines.push("SIZE 10485760");
    let last = lines.len() - 1;
    lines.iter().enumerate().map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' })).collect()
}

/// Runs an `AUTH` exchange (with its `334` rounds) and returns the final reply.
async fn authenticate(
    conn: &mut Conn,
    line: &mut Vec<u8>,
    state: &State,
    session: &mut Session,
    command: &str,
) -> std::io::Result<&'static [u8]> {
    let Some((user, password)) = &state.auth else {
        return Ok(b"502 5.5.1 AUTH not offered\r\n");
    };
    if session.user.is_some() {
        return Ok(b"503 5.5.1 already authenticated\r\n");
    }
    let Some((mechanism, initial)) = auth::parse_command(command) else {
        return Ok(b"504 5.5.4 unrecognised authentication mechanism\r\n");
    };
    let given = match mechanism {
        Mechanism::Plain => {
            let response = match initial {
                Some(r) => r.to_owned(),
                None => match challenge(conn, line, b"334 \r\n").await? {
                    Some(r) => r,
                    None => return Ok(b"501 5.7.0 authentication cancelled\r\n"),
                },
            };
            auth::decode_plain(&response)
        }
        Mechanism::Login => {
            let name = match initial {
                Some(r) => Some(r.to_owned()),
                None => challenge(conn, line, auth::LOGIN_USER_PROMPT).await?,
            };
            let Some(name) = name else {
                return Ok(b"501 5.7.0 authentication cancelled\r\n");
            };
            let Some(secret) = challenge(conn, line, auth::LOGIN_PASSWORD_PROMPT).await? else {
                return Ok(b"501 5.7.0 authentication cancelled\r\n");
            };
            auth::decode_text(&name).zip(auth::decode_text(&secret))
        }
    };
    Ok(match given {
        Some((u, p)) if u == *user && p == *password => {
            session.user = Some(u);
            b"235 2.7.0 authentication succeeded\r\n"
        }
        _ => b"535 5.7.8 authentication credentials invalid\r\n",
    })
}

/// Sends a `334` prompt and reads the client's answer; `None` when the client cancels (`*`).
async fn challenge(conn: &mut Conn, line: &mut Vec<u8>, prompt: &[u8]) -> std::io::Result<Option<String>> {
    conn.write_all(prompt).await?;
    if !read_line(conn, line).await? {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let answer = String::from_utf8_lossy(line).trim_end_matches(['\r', '\n']).to_owned();
    Ok((answer != "*").then_some(answer))
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
pub(super) fn path_arg(command: &str, prefix: &str) -> Option<String> {
    let head = command.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = command[prefix.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}
