//! The port that hands a message to a mail system.

use crate::model::OutgoingMail;

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// Worth retrying (server down, timeout, 4xx).
    #[error("temporary mail failure: {0}")]
    Transient(String),
    /// Will never succeed (5xx, bad address); the message is dropped after logging.
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

/// Delivers one message (SMTP, a file per message, or the log).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait MailTransport: Send + Sync + 'static {
    /// Sends `mail`; success means the mail system accepted it.
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError>;
}
