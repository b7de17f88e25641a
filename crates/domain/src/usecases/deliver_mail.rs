//! Drain the mail outbox: the background worker's one step.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::Timestamp;
use crate::ports::{MailError, MailOutbox, MailTransport, Ports};
use crate::service::Portcullis;

/// How long a claimed message is reserved for one worker.
pub const MAIL_LEASE: Duration = Duration::from_secs(120);
/// Longest wait between two tries of a message.
pub const MAX_MAIL_BACKOFF: Duration = Duration::from_secs(3600);
/// Tries of one message before it is given up. With [`backoff`] the waits between the 20
/// tries are 5 s, 10 s, ... 2560 s, then nine of an hour: the last try comes about 10 h 25 min
/// ([`total_retry_window`]) after the first, so a mail server that is down for a night delays
/// mail rather than losing it, while a message nobody can deliver does not stay due forever.
pub const MAX_MAIL_ATTEMPTS: u32 = 20;

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Accepted by the mail system.
    pub sent: u32,
    /// Failed temporarily, rescheduled.
    pub retried: u32,
    /// Failed permanently: kept in the outbox, marked failed, never tried again.
    pub dropped: u32,
    /// Failed temporarily on the last allowed try ([`MAX_MAIL_ATTEMPTS`]): kept in the
    /// outbox, marked failed, never tried again.
    pub abandoned: u32,
}

/// Wait before the try after `attempts` failed ones: 5 s, 10 s, 20 s ... capped at an hour.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempts.min(20));
    Duration::from_secs(secs).min(MAX_MAIL_BACKOFF)
}

/// Time from the first to the last try of a message that always fails temporarily.
pub fn total_retry_window() -> Duration {
    (0..MAX_MAIL_ATTEMPTS.saturating_sub(1)).map(backoff).sum()
}

impl<P: Ports> Portcullis<P> {
    /// Claims due messages and hands each to `transport`. A temporary failure reschedules the
    /// message with backoff, so nothing is lost while the mail server is down, until the
    /// [`MAX_MAIL_ATTEMPTS`]-th try: then, as after a permanent failure, the message is kept
    /// but marked failed. The caller logs and counts what the report says (the domain does
    /// no logging).
    ///
    /// ```
    /// use portcullis_domain::Policy;
    /// use portcullis_testing::fakes::FakeMailTransport;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (service, _) = portcullis_testing::test_service(Policy::default());
    /// let report = service.deliver_mail(&FakeMailTransport::new(), 50).await.unwrap();
    /// assert_eq!(report.sent, 0, "nothing queued yet");
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails; messages already handled in this round stay
    /// handled.
    pub async fn deliver_mail<T: MailTransport>(
        &self,
        transport: &T,
        batch: u32,
    ) -> Result<DeliveryReport, InfraError> {
        let now: Timestamp = self.now();
        let mut report = DeliveryReport::default();
        for mail in self.store.claim_mail(now, MAIL_LEASE, batch).await? {
            let id = mail.id;
            // `attempts` counts the failed tries before this one.
            let attempts = mail.attempts;
            let last_try = attempts.saturating_add(1) >= MAX_MAIL_ATTEMPTS;
            match transport.send(mail).await {
                Ok(()) => {
                    self.store.mail_sent(id).await?;
                    report.sent += 1;
                }
                Err(MailError::Transient(_)) if last_try => {
                    self.store.mail_abandoned(id, now).await?;
                    report.abandoned += 1;
                }
                Err(MailError::Transient(_)) => {
                    self.store.mail_failed(id, now.plus(backoff(attempts))).await?;
                    report.retried += 1;
                }
                Err(MailError::Permanent(_)) => {
                    self.store.mail_abandoned(id, now).await?;
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

    #[test]
    fn retries_span_about_ten_hours() {
        // 5 + 10 + ... + 2560 = 5115 s, then 9 × 3600 s.
        assert_eq!(total_retry_window(), Duration::from_secs(5115 + 9 * 3600));
    }
}
