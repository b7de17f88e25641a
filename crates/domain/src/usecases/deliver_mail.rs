//! Drain the mail outbox: the background worker's one step.

use std::time::Duration;

use crate::model::Timestamp;
use crate::ports::{MailError, MailOutbox, MailTransport, Ports, StoreError};
use crate::service::Portcullis;

/// How long a claimed message is reserved for one worker.
pub const MAIL_LEASE: Duration = Duration::from_secs(120);
/// Longest wait between two tries of a message.
pub const MAX_MAIL_BACKOFF: Duration = Duration::from_secs(3600);

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Accepted by the mail system.
    pub sent: u32,
    /// Failed temporarily, rescheduled.
    pub retried: u32,
    /// Failed permanently, dropped.
    pub dropped: u32,
}

/// Wait before the try after `attempts` failed ones: 5 s, 10 s, 20 s ... capped at an hour.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempts.min(20));
    Duration::from_secs(secs).min(MAX_MAIL_BACKOFF)
}

impl<P: Ports> Portcullis<P> {
    /// Claims due messages and hands each to `transport`. A temporary failure reschedules the
    /// message with backoff; nothing is lost while the mail server is down.
    pub async fn deliver_mail<T: MailTransport>(
        &self,
        transport: &T,
        batch: u32,
    ) -> Result<DeliveryReport, StoreError> {
        let now: Timestamp = self.now();
        let mut report = DeliveryReport::default();
        for mail in self.store.claim_mail(now, MAIL_LEASE, batch).await? {
            let id = mail.id;
            let attempts = mail.attempts;
            match transport.send(mail).await {
                Ok(()) => {
                    self.store.mail_sent(id).await?;
                    report.sent += 1;
                }
                Err(MailError::Transient(_)) => {
                    self.store.mail_failed(id, now.plus(backoff(attempts))).await?;
                    report.retried += 1;
                }
                Err(MailError::Permanent(_)) => {
                    self.store.mail_sent(id).await?;
                    report.dropped += 1;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(40), MAX_MAIL_BACKOFF);
    }
}
