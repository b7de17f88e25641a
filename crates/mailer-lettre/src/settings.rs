//! What the mailer is configured with, and the errors a bad configuration gives.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Where messages go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// An SMTP server, reached through [`MailerSettings::smtp_url`].
    Smtp,
    /// One `.eml` file per message in [`MailerSettings::dir`] (development, tests).
    File,
    /// A log line per message, without the body (development only: nothing is delivered).
    Log,
}

impl TransportKind {
    /// The configuration spelling: `smtp`, `file` or `log`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "smtp",
            Self::File => "file",
            Self::Log => "log",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TransportKind {
    type Err = MailerError;

    /// Accepts `smtp`, `file` or `log`, ignoring case and surrounding space, because the value
    /// usually comes from an environment variable.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "smtp" => Ok(Self::Smtp),
            "file" => Ok(Self::File),
            "log" => Ok(Self::Log),
            _ => Err(MailerError::UnknownTransport(s.to_owned())),
        }
    }
}

/// Everything [`crate::LettreMailer::new`] needs.
///
/// Only the fields of the chosen transport are used, but `from` is checked for every transport
/// so a typo surfaces at start-up rather than when the first real mail is sent.
#[derive(Clone)]
pub struct MailerSettings {
    /// Which transport to use.
    pub transport: TransportKind,
    /// Directory for [`TransportKind::File`]; created if missing.
    pub dir: PathBuf,
    /// For [`TransportKind::Smtp`]: `smtp://host:port` (plain), `smtp://host:port?tls=required`
    /// (STARTTLS, or `tls=opportunistic` to use it only when offered), `smtps://host:port`
    /// (implicit TLS); `user:password@` (percent-encoded) adds credentials, sent with AUTH PLAIN
    /// or LOGIN, whichever the server offers.
    pub smtp_url: String,
    /// For [`TransportKind::Smtp`] with TLS: a PEM file of CA certificates trusted in addition
    /// to the built-in web PKI roots (a private CA, or a test server's). Ignored for plain
    /// `smtp://` URLs. `None`: the web PKI roots only.
    pub tls_ca_file: Option<PathBuf>,
    /// The `From` mailbox, e.g. `Portcullis <no-reply@example.com>`.
    pub from: String,
    /// For [`TransportKind::Smtp`]: the longest one delivery may take, connecting included;
    /// past it the attempt is a transient failure and the outbox retries later.
    pub timeout: Duration,
}

impl Default for MailerSettings {
    /// The log transport with the local-sink defaults filled in, so switching to `file` or
    /// `smtp` in development needs one setting.
    fn default() -> Self {
        Self {
            transport: TransportKind::Log,
            dir: PathBuf::from("mail"),
            smtp_url: "smtp://127.0.0.1:1025".to_owned(),
            tls_ca_file: None,
            from: "Portcullis <no-reply@localhost>".to_owned(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for MailerSettings {
    // Hand-written because the SMTP URL may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailerSettings")
            .field("transport", &self.transport)
            .field("dir", &self.dir)
            .field("smtp_url", &portcullis_domain::redact::url_password(&self.smtp_url))
            .field("tls_ca_file", &self.tls_ca_file)
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why the mailer could not be built.
///
/// Delivery failures are not here: they are the domain's
/// [`MailError`](portcullis_domain::ports::MailError).
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The transport name is not `smtp`, `file` or `log`.
    #[error("unknown mail transport {0:?}: expected \"smtp\", \"file\" or \"log\"")]
    UnknownTransport(String),
    /// `from` is not a mailbox such as `Name <user@example.com>`.
    #[error("invalid mail sender (from) {value:?}: expected e.g. \"Portcullis <no-reply@example.com>\"")]
    InvalidFrom {
        /// The rejected setting.
        value: String,
        /// What lettre objected to.
        #[source]
        source: lettre::address::AddressError,
    },
    /// `smtp_url` could not be parsed. The URL itself is left out: it may hold a password.
    #[error("invalid SMTP URL (expected smtp://host:port, smtp://host:port?tls=required or smtps://host:port)")]
    InvalidSmtpUrl(#[source] lettre::transport::smtp::Error),
    /// `tls_ca_file` could not be read.
    #[error("cannot read mailer TLS CA file {}", path.display())]
    ReadTlsCa {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `tls_ca_file` holds no usable PEM certificate, or the TLS settings could not be built
    /// from it.
    #[error("invalid mailer TLS CA file {}: {reason}", path.display())]
    InvalidTlsCa {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The mail directory could not be created.
    #[error("cannot create mail directory {}", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transport_names() {
        assert_eq!("smtp".parse::<TransportKind>().ok(), Some(TransportKind::Smtp));
        assert_eq!(" File ".parse::<TransportKind>().ok(), Some(TransportKind::File));
        assert_eq!("LOG".parse::<TransportKind>().ok(), Some(TransportKind::Log));
        let err = "sendmail".parse::<TransportKind>().unwrap_err();
        assert!(err.to_string().contains("sendmail"), "{err}");
        for kind in [TransportKind::Smtp, TransportKind::File, TransportKind::Log] {
            assert_eq!(kind.to_string().parse::<TransportKind>().ok(), Some(kind));
        }
    }

    #[test]
    fn debug_hides_smtp_password() {
        let settings = MailerSettings {
            smtp_url: "smtps://mailer:hunter2@smtp.example.com:465/?x=y@z".to_owned(),
            ..MailerSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("smtps://***@smtp.example.com:465/?x=y@z"), "{shown}");
    }
}
