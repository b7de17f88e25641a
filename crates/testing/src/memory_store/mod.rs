//! [`InMemoryStore`]: every store port of `portcullis_domain::ports`, kept in one mutex.
//!
//! It behaves like the SQL stores (and passes the same [`crate::contract`] suite): commits
//! are all-or-nothing, guarded writes conflict, the rate limiter and the code counter are
//! atomic. Tests can also look inside and flip it into an "unavailable" state.

mod commit;
mod factors;
mod notifications;
mod outbox;
mod rate;
mod reads;
mod webhooks;

pub(crate) use webhooks::QueuedDelivery;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use portcullis_domain::model::{
    AuditEntry, Email, EmailChange, Factor, Notification, OutgoingMail, Passkey, SecretDigest, Session, SessionId,
    StoredCeremony, StoredCode, StoredRecoveryCode, Timestamp, User, UserId,
};
use portcullis_domain::ports::StoreError;

/// A queued message, the end of its current lease, and when it was given up (if it was).
#[derive(Clone, Debug)]
pub(crate) struct QueuedMail {
    pub(crate) mail: OutgoingMail,
    pub(crate) leased_until: Option<Timestamp>,
    pub(crate) failed_at: Option<Timestamp>,
}

/// One counted rate-limit event.
#[derive(Clone, Debug)]
pub(crate) struct RateEvent {
    pub(crate) id: i64,
    pub(crate) key: String,
    pub(crate) at: Timestamp,
    /// Set while the event is a reservation of an attempt still being checked; a
    /// reservation past this time counts as a failure.
    pub(crate) pending_until: Option<Timestamp>,
}

impl RateEvent {
    /// Whether the event holds a reservation at `now` (rather than counting as a failure).
    pub(crate) fn pending_at(&self, now: Timestamp) -> bool {
        self.pending_until.is_some_and(|until| until > now)
    }
}

/// A refresh token a session has rotated away from.
#[derive(Clone, Debug)]
pub(crate) struct SpentRefresh {
    pub(crate) digest: SecretDigest,
    pub(crate) session_id: SessionId,
    pub(crate) spent_at: Timestamp,
    pub(crate) successor: String,
}

/// Every table. Cloned by `commit` so a failing change leaves the original untouched.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pub(crate) users: Vec<User>,
    pub(crate) codes: Vec<StoredCode>,
    pub(crate) sessions: Vec<Session>,
    pub(crate) spent_refresh: Vec<SpentRefresh>,
    pub(crate) audit: Vec<AuditEntry>,
    pub(crate) next_audit_id: i64,
    pub(crate) notifications: Vec<Notification>,
    pub(crate) mails: Vec<QueuedMail>,
    pub(crate) rate_events: Vec<RateEvent>,
    pub(crate) next_rate_id: i64,
    pub(crate) factors: Vec<Factor>,
    pub(crate) recovery_codes: Vec<(UserId, StoredRecoveryCode)>,
    pub(crate) passkeys: Vec<Passkey>,
    pub(crate) ceremonies: Vec<StoredCeremony>,
    pub(crate) email_changes: Vec<EmailChange>,
    pub(crate) webhooks: Vec<portcullis_domain::model::WebhookEndpoint>,
    pub(crate) deliveries: Vec<QueuedDelivery>,
    pub(crate) next_delivery_id: i64,
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<State>,
    unavailable: AtomicBool,
    commits_unavailable: AtomicBool,
}

/// An in-memory implementation of every store port.
///
/// Clones share the same data, so a test can keep a handle while the service owns another.
/// The lock is a `std::sync::Mutex` that is never held across an `.await`.
#[derive(Clone, Debug, Default)]
pub struct InMemoryStore {
    inner: Arc<Inner>,
}

fn unavailable() -> StoreError {
    StoreError::Unavailable(Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "in-memory store switched to unavailable",
    )))
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// When `true`, every call (reads, commits, rate limiter, outbox, ping) returns
    /// [`StoreError::Unavailable`], as a database that went away would.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.inner.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// When `true`, only [`portcullis_domain::ports::UnitOfWork::commit`] returns
    /// [`StoreError::Unavailable`]; reads and the rate limiter keep working. For paths that
    /// must survive a failed write (`POST /auth/log` answering `{"success": false}`).
    pub fn set_commits_unavailable(&self, unavailable: bool) {
        self.inner.commits_unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Fails when switched to unavailable, then yields once so that concurrent callers
    /// interleave as they would against a real database.
    pub(crate) async fn enter(&self) -> Result<(), StoreError> {
        if self.inner.unavailable.load(Ordering::SeqCst) {
            return Err(unavailable());
        }
        YieldOnce(false).await;
        Ok(())
    }

    pub(crate) async fn enter_commit(&self) -> Result<(), StoreError> {
        self.enter().await?;
        if self.inner.commits_unavailable.load(Ordering::SeqCst) {
            return Err(unavailable());
        }
        Ok(())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every user, in insertion order.
    pub fn users(&self) -> Vec<User> {
        self.lock().users.clone()
    }

    /// The user with this normalised address, soft-deleted ones included.
    pub fn user_with_email(&self, email: &str) -> Option<User> {
        let email = Email::parse(email).ok()?;
        self.lock().users.iter().find(|u| u.email == email).cloned()
    }

    /// Changes a stored user in place (status, soft deletion, ...), which no use case of the
    /// domain does yet. Returns `false` when there is no such user.
    pub fn modify_user(&self, id: UserId, change: impl FnOnce(&mut User)) -> bool {
        self.lock().users.iter_mut().find(|u| u.id == id).map(change).is_some()
    }

    /// Every code, consumed ones included, in insertion order.
    pub fn codes(&self) -> Vec<StoredCode> {
        self.lock().codes.clone()
    }

    /// Every session, in insertion order.
    pub fn sessions(&self) -> Vec<Session> {
        self.lock().sessions.clone()
    }

    /// Changes a stored session in place (for example to revoke it). Returns `false` when
    /// there is no such session.
    pub fn modify_session(&self, id: SessionId, change: impl FnOnce(&mut Session)) -> bool {
        self.lock().sessions.iter_mut().find(|s| s.id == id).map(change).is_some()
    }

    /// Every audit entry, oldest (lowest id) first.
    pub fn audit_entries(&self) -> Vec<AuditEntry> {
        self.lock().audit.clone()
    }

    /// Every in-app notification, in insertion order.
    pub fn notifications(&self) -> Vec<Notification> {
        self.lock().notifications.clone()
    }

    /// Every message still waiting for delivery (not failed), in insertion order.
    pub fn queued_mail(&self) -> Vec<OutgoingMail> {
        self.lock().mails.iter().filter(|q| q.failed_at.is_none()).map(|q| q.mail.clone()).collect()
    }

    /// Every message given up on (kept, marked failed) and when, in insertion order.
    pub fn failed_mail(&self) -> Vec<(OutgoingMail, Timestamp)> {
        self.lock().mails.iter().filter_map(|q| q.failed_at.map(|at| (q.mail.clone(), at))).collect()
    }

    /// Queued messages to `email`, in insertion order.
    pub fn mail_to(&self, email: &str) -> Vec<OutgoingMail> {
        let Ok(email) = Email::parse(email) else { return Vec::new() };
        self.lock().mails.iter().filter(|q| q.mail.to == email).map(|q| q.mail.clone()).collect()
    }

    /// Every second factor, pending ones included, in insertion order.
    pub fn factors(&self) -> Vec<Factor> {
        self.lock().factors.clone()
    }

    /// Every address change, pending, confirmed and reverted ones, in insertion order.
    pub fn email_changes(&self) -> Vec<EmailChange> {
        self.lock().email_changes.clone()
    }

    /// Every recovery code of `user_id`, used ones included, in insertion order.
    pub fn recovery_codes_of(&self, user_id: UserId) -> Vec<StoredRecoveryCode> {
        self.lock().recovery_codes.iter().filter(|(owner, _)| *owner == user_id).map(|(_, code)| code.clone()).collect()
    }

    /// Counted rate-limit events of `key` (whatever their age).
    pub fn rate_events(&self, key: &str) -> usize {
        self.lock().rate_events.iter().filter(|e| e.key == key).count()
    }
}

/// Returns `Pending` once (waking itself at once), so a `join_all` of store calls
/// interleaves instead of running each call to completion.
pub(crate) struct YieldOnce(pub(crate) bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
