//! [`LettreMailer`], the [`MailTransport`] adapter: SMTP, one file per message, or the log.

use std::error::Error as _;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, Error as SmtpError};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portcullis_domain::model::OutgoingMail;
use portcullis_domain::ports::{MailError, MailTransport};

use crate::message::{self, BodyStyle};
use crate::settings::{MailerError, MailerSettings, TransportKind};

/// Sends [`OutgoingMail`] with lettre, to the transport chosen in [`MailerSettings`].
///
/// Cheap to share behind an `Arc`. SMTP opens one connection per message: lettre's pool is
/// compiled out because its `Drop` spawns a task and aborts the process when no runtime is
/// left (shutdown, test teardown); the outbox worker sends few messages, so pooling buys little.
pub struct LettreMailer {
    from: Mailbox,
    backend: Backend,
}

enum Backend {
    // Boxed: the builder is ~400 bytes and the other variants are tiny.
    Smtp(Box<Smtp>),
    File { dir: PathBuf },
    Log,
}

impl LettreMailer {
    /// Checks the settings and prepares the transport. No connection is made yet.
    ///
    /// # Errors
    /// [`MailerError::InvalidFrom`] when `from` is not a mailbox (checked for every transport),
    /// [`MailerError::InvalidSmtpUrl`] for an unusable `smtp_url`,
    /// [`MailerError::ReadTlsCa`] / [`MailerError::InvalidTlsCa`] for an unreadable or unusable
    /// `tls_ca_file` (SMTP only), and [`MailerError::CreateDir`] when `dir` cannot be created
    /// (file only).
    pub fn new(settings: &MailerSettings) -> Result<Self, MailerError> {
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|source| MailerError::InvalidFrom { value: settings.from.clone(), source })?;
        let backend = match settings.transport {
            TransportKind::Smtp => {
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
                    .map_err(MailerError::InvalidSmtpUrl)?
                    .timeout(Some(settings.timeout));
                if let Some(ca_file) = &settings.tls_ca_file
                    && let Some(tls) = tls_with_ca(&settings.smtp_url, ca_file)?
                {
                    builder = builder.tls(tls);
                }
                Backend::Smtp(Box::new(Smtp { builder, timeout: settings.timeout, transport: OnceLock::new() }))
            }
            TransportKind::File => {
                std::fs::create_dir_all(&settings.dir)
                    .map_err(|source| MailerError::CreateDir { dir: settings.dir.clone(), source })?;
                Backend::File { dir: settings.dir.clone() }
            }
            TransportKind::Log => Backend::Log,
        };
        Ok(Self { from, backend })
    }

    /// The transport in use.
    pub fn kind(&self) -> TransportKind {
        match self.backend {
            Backend::Smtp(_) => TransportKind::Smtp,
            Backend::File { .. } => TransportKind::File,
            Backend::Log => TransportKind::Log,
        }
    }

    /// Closes any open SMTP connection politely (`QUIT`); a no-op for the other transports.
    /// Call it on graceful shutdown; dropping the mailer just drops the connections.
    pub async fn shutdown(&self) {
        if let Backend::Smtp(smtp) = &self.backend
            && let Some(transport) = smtp.transport.get()
        {
            transport.shutdown().await;
        }
    }
}

struct Smtp {
    builder: AsyncSmtpTransportBuilder,
    timeout: Duration,
    // Built on first use, inside the runtime that sends; `new` works before one exists.
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Smtp {
    async fn send(&self, from: &Mailbox, mail: &OutgoingMail, msg: Message) -> Result<(), MailError> {
        let transport = self.transport.get_or_init(|| self.builder.clone().build());
        let attempt = async {
            // Headers are RFC 2047 encoded, so only the body can make the message 8bit.
            let eight_bit = !mail.body.is_ascii();
            match transport.send(msg).await {
                // lettre refuses 8bit content before MAIL FROM when the server lacks 8BITMIME;
                // the same text in quoted-printable or base64 goes through.
                Err(e) if e.is_client() && eight_bit => {
                    let ascii = message::build(from, mail, BodyStyle::AsciiSafe)?;
                    transport.send(ascii).await.map(drop).map_err(smtp_error)
                }
                sent => sent.map(drop).map_err(smtp_error),
            }
        };
        // lettre bounds only the TCP connect; a server that accepts and then goes quiet would
        // hold this delivery (and the outbox worker) forever.
        tokio::time::timeout(self.timeout, attempt).await.unwrap_or_else(|_| {
            Err(MailError::Transient(format!("SMTP: no answer within {} ms", self.timeout.as_millis())))
        })
    }
}

impl MailTransport for LettreMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let msg = message::build(&self.from, &mail, BodyStyle::Readable)?;
        match &self.backend {
            Backend::Smtp(smtp) => smtp.send(&self.from, &mail, msg).await,
            Backend::File { dir } => write_eml(dir, &mail, &msg).await,
            Backend::Log => {
                // Recipient, subject and id only: the body holds one-time codes and sign-out links.
                tracing::info!(
                    to = %mail.to,
                    subject = %mail.subject,
                    message_id = %message::message_id(&mail),
                    "mail not sent (log transport)"
                );
                Ok(())
            }
        }
    }
}

impl fmt::Debug for LettreMailer {
    // By hand: lettre's builder would print SMTP credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("LettreMailer");
        s.field("transport", &self.kind()).field("from", &self.from.to_string());
        if let Backend::File { dir } = &self.backend {
            s.field("dir", dir);
        }
        s.finish_non_exhaustive()
    }
}

/// The TLS mode `smtp_url` asks for, rebuilt to trust `ca_file` as well as the web PKI roots;
/// `None` for a plain `smtp://` URL, which has no TLS to configure.
///
/// lettre's `from_url` offers no way to add a root, so the URL is read again here the same way
/// (the `url` crate, the same scheme and `tls=` rules) and only the `Tls` value is replaced:
/// port, credentials and HELO name stay as `from_url` set them.
fn tls_with_ca(smtp_url: &str, ca_file: &Path) -> Result<Option<Tls>, MailerError> {
    let invalid = |reason: String| MailerError::InvalidTlsCa { path: ca_file.to_owned(), reason };
    // Cannot fail after `from_url` accepted the URL; `ParseError` never quotes the URL (password).
    let url = url::Url::parse(smtp_url).map_err(|e| invalid(format!("unusable smtp_url: {e}")))?;
    let tls_query = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    // `from_url` already accepted the URL, so the scheme and `tls=` are one of these.
    let wrap: fn(TlsParameters) -> Tls = match (url.scheme(), tls_query.as_deref()) {
        ("smtps", _) => Tls::Wrapper,
        ("smtp", Some("required")) => Tls::Required,
        ("smtp", Some("opportunistic")) => Tls::Opportunistic,
        _ => return Ok(None),
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    let pem = std::fs::read(ca_file).map_err(|source| MailerError::ReadTlsCa { path: ca_file.to_owned(), source })?;
    // lettre accepts a file without any certificate and would then trust nothing extra; an
    // empty or wrong file is a configuration mistake worth stopping for.
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(invalid("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".to_owned()));
    }
    let ca = Certificate::from_pem(&pem).map_err(|e| invalid(e.to_string()))?;
    // The default store stays (web PKI roots with this build's features); the CA is added to it.
    let params =
        TlsParameters::builder(host).add_root_certificate(ca).build_rustls().map_err(|e| invalid(e.to_string()))?;
    Ok(Some(wrap(params)))
}

/// Writes `<dir>/<mail id>.eml`.
///
/// Named by mail id so a retry overwrites rather than duplicates, and written to a temporary
/// name first so a reader polling the directory never sees half a message.
async fn write_eml(dir: &Path, mail: &OutgoingMail, msg: &Message) -> Result<(), MailError> {
    let io = |what: &str, e: std::io::Error| MailError::Transient(format!("{what} in {}: {e}", dir.display()));
    // Again here, not only in `new`: someone may have cleaned the directory away meanwhile.
    tokio::fs::create_dir_all(dir).await.map_err(|e| io("cannot create mail directory", e))?;
    let path = dir.join(format!("{}.eml", mail.id));
    let tmp = dir.join(format!(".{}.eml.tmp", mail.id));
    tokio::fs::write(&tmp, msg.formatted()).await.map_err(|e| io("cannot write mail file", e))?;
    tokio::fs::rename(&tmp, &path).await.map_err(|e| io("cannot rename mail file", e))
}

/// 5xx replies are final; everything else (4xx, refused or dropped connections, timeouts,
/// TLS trouble, garbled replies) may pass, so the outbox retries it.
fn smtp_error(err: SmtpError) -> MailError {
    let mut text = err.to_string();
    // lettre keeps the server's reply text and I/O details in the source chain.
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if err.is_permanent() {
        MailError::Permanent(format!("SMTP: {text}"))
    } else {
        MailError::Transient(format!("SMTP: {text}"))
    }
}
