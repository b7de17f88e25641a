//! [`FakeMailTransport`]: a mail system that records what it accepts and fails on cue.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use portcullis_domain::model::OutgoingMail;
use portcullis_domain::ports::{MailError, MailTransport};

/// What the next [`MailTransport::send`] of a [`FakeMailTransport`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accept the message.
    Accept,
    /// Fail with [`MailError::Transient`].
    Transient,
    /// Fail with [`MailError::Permanent`].
    Permanent,
}

#[derive(Debug, Default)]
struct Record {
    script: VecDeque<SendOutcome>,
    accepted: Vec<OutgoingMail>,
    attempts: usize,
}

/// A [`MailTransport`] that plays a script of outcomes (then accepts everything) and keeps
/// every accepted message. Clones share the record.
#[derive(Clone, Debug, Default)]
pub struct FakeMailTransport {
    record: Arc<Mutex<Record>>,
}

impl FakeMailTransport {
    /// A transport that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues outcomes for the next sends, in order.
    pub fn script(&self, outcomes: impl IntoIterator<Item = SendOutcome>) {
        self.lock().script.extend(outcomes);
    }

    /// Every accepted message, in order.
    pub fn accepted(&self) -> Vec<OutgoingMail> {
        self.lock().accepted.clone()
    }

    /// Sends tried, failed ones included.
    pub fn attempts(&self) -> usize {
        self.lock().attempts
    }
}

impl MailTransport for FakeMailTransport {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let mut record = self.lock();
        record.attempts += 1;
        match record.script.pop_front().unwrap_or(SendOutcome::Accept) {
            SendOutcome::Accept => {
                record.accepted.push(mail);
                Ok(())
            }
            SendOutcome::Transient => Err(MailError::Transient("scripted temporary failure".to_owned())),
            SendOutcome::Permanent => Err(MailError::Permanent("scripted permanent failure".to_owned())),
        }
    }
}
