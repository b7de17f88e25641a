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

    /// Every accepted message to `address` (compared as typed, case-insensitively), in order.
    pub fn sent_to(&self, address: &str) -> Vec<OutgoingMail> {
        self.accepted().into_iter().filter(|m| m.to.as_str().eq_ignore_ascii_case(address)).collect()
    }

    /// The code of the last accepted message to `address` that carries one: the one-time
    /// codes Portcullis mails stand on a line of their own in the text part.
    pub fn last_code_to(&self, address: &str) -> Option<String> {
        self.sent_to(address).iter().rev().find_map(|m| code_in(&m.body))
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

/// The first line of `body` that is a six-digit code and nothing else (spaces around it
/// aside), as the code mails print it.
///
/// ```
/// assert_eq!(portcullis_testing::fakes::code_in("Your code is:\n\n    493817\n"), Some("493817".to_owned()));
/// assert_eq!(portcullis_testing::fakes::code_in("call 0800 123456 now"), None);
/// ```
pub fn code_in(body: &str) -> Option<String> {
    body.lines()
        .map(str::trim)
        .find(|line| line.len() == 6 && line.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}
