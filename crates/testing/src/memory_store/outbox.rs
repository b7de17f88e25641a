//! The durable mail queue with leases, and the health probe.

use std::time::Duration;

use portcullis_domain::model::{MailId, OutgoingMail, Timestamp};
use portcullis_domain::ports::{MailOutbox, StoreError, StoreHealth};

use super::InMemoryStore;

impl MailOutbox for InMemoryStore {
    async fn claim_mail(&self, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<OutgoingMail>, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let mut due: Vec<usize> = (0..state.mails.len())
            .filter(|&i| {
                let q = &state.mails[i];
                q.failed_at.is_none() && q.mail.next_attempt_at <= now && q.leased_until.is_none_or(|end| end <= now)
            })
            .collect();
        due.sort_by_key(|&i| {
            let m = &state.mails[i].mail;
            (m.next_attempt_at, m.created_at, m.id)
        });
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let until = now.plus(lease);
        Ok(due
            .into_iter()
            .map(|i| {
                state.mails[i].leased_until = Some(until);
                state.mails[i].mail.clone()
            })
            .collect())
    }

    async fn mail_sent(&self, id: MailId) -> Result<(), StoreError> {
        self.enter().await?;
        self.lock().mails.retain(|q| q.mail.id != id);
        Ok(())
    }

    async fn mail_failed(&self, id: MailId, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        self.enter().await?;
        if let Some(q) = self.lock().mails.iter_mut().find(|q| q.mail.id == id) {
            q.mail.attempts += 1;
            q.mail.next_attempt_at = next_attempt_at;
            q.leased_until = None;
        }
        Ok(())
    }

    async fn mail_abandoned(&self, id: MailId, at: Timestamp) -> Result<(), StoreError> {
        self.enter().await?;
        // Guarded like the SQL update: the first give-up stands.
        if let Some(q) = self.lock().mails.iter_mut().find(|q| q.mail.id == id && q.failed_at.is_none()) {
            q.mail.attempts += 1;
            q.leased_until = None;
            q.failed_at = Some(at);
        }
        Ok(())
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.enter().await?;
        Ok(self.lock().mails.iter().filter(|q| q.failed_at.is_none()).count() as u64)
    }

    async fn outbox_failed_count(&self) -> Result<u64, StoreError> {
        self.enter().await?;
        Ok(self.lock().mails.iter().filter(|q| q.failed_at.is_some()).count() as u64)
    }
}

impl StoreHealth for InMemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.enter().await
    }
}
