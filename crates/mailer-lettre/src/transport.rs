//! [`LettreMailer`], the [`MailTransport`] adapter: SMTP, one file per message, or the log.

use std::error::Error as _;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lettre::message::Mailbox;
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, Error as SmtpError};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portcullis_domain::model::OutgoingMail;
use portcullis_domain::ports::{MailError, MailTransport};

use crate::message;
use crate::settings::{MailerError, MailerSettings, TransportKind};

/// Sends [`OutgoingMail`] with lettre, to the transport chosen in [`MailerSettings`].
///
/// Cheap to share behind an `Arc`; the SMTP transport keeps a pool of connections.
pub struct LettreMailer {
    from: Mailbox,
    backend: Backend,
}

enum Backend {
    Smtp {
        builder: AsyncSmtpTransportBuilder,
        // Built on first use: building starts the pool's clean-up task, which needs a tokio
        // runtime, and `new` should work before one exists (e.g. while loading configuration).
        transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    },
    File {
        dir: PathBuf,
    },
    Log,
}

impl LettreMailer {
    /// Checks the settings and prepares the transport. No connection is made yet.
    ///
    /// # Errors
    /// [`MailerError::InvalidFrom`] when `from` is not a mailbox (checked for every transport),
    /// [`MailerError::InvalidSmtpUrl`] for an unusable `smtp_url` (SMTP only), and
    /// [`MailerError::CreateDir`] when `dir` cannot be created (file only).
    pub fn new(settings: &MailerSettings) -> Result<Self, MailerError> {
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|source| MailerError::InvalidFrom { value: settings.from.clone(), source })?;
        let backend = match settings.transport {
            TransportKind::Smtp => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
                    .map_err(MailerError::InvalidSmtpUrl)?
                    .timeout(Some(settings.timeout));
                Backend::Smtp { builder, transport: OnceLock::new() }
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
            Backend::Smtp { .. } => TransportKind::Smtp,
            Backend::File { .. } => TransportKind::File,
            Backend::Log => TransportKind::Log,
        }
    }

    /// Closes pooled SMTP connections politely (`QUIT`); a no-op for the other transports.
    /// Call it on graceful shutdown; dropping the mailer just drops the connections.
    pub async fn shutdown(&self) {
        if let Backend::Smtp { transport, .. } = &self.backend
            && let Some(transport) = transport.get()
        {
            transport.shutdown().await;
        }
    }

    async fn send_smtp(
        builder: &AsyncSmtpTransportBuilder,
        transport: &OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
        msg: Message,
    ) -> Result<(), MailError> {
        let transport = transport.get_or_init(|| builder.clone().build());
        transport.send(msg).await.map(drop).map_err(smtp_error)
    }
}

impl MailTransport for LettreMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let msg = message::build(&self.from, &mail)?;
        match &self.backend {
            Backend::Smtp { builder, transport } => Self::send_smtp(builder, transport, msg).await,
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
    if err.is_permanent() { MailError::Permanent(format!("SMTP: {text}")) } else { MailError::Transient(format!("SMTP: {text}")) }
}
