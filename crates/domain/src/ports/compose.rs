//! [`ComposedStore`]: a [`Store`](super::Store) assembled from one adapter per store port.

use std::fmt;

use super::{
    AttemptDecision, AuditRepository, CodeRepository, Committed, FactorRepository, MailOutbox, NotificationRepository,
    PasswordAttempts, Permit, RateDecision, RateLimiter, RateRule, SessionRepository, StoreError, StoreHealth,
    UnitOfWork, UserRepository,
};
use crate::model::{
    AuditAction, AuditEntry, AuditQuery, CodeId, CodePurpose, CredentialId, Email, EmailChange, Factor, MailId,
    NotificationId, NotificationPage, OutgoingMail, Page, Passkey, RefreshHit, SecretDigest, Session, SessionId,
    StoredCeremony, StoredCode, StoredRecoveryCode, Timestamp, User, UserId, UserQuery,
};
use crate::ports::Change;

/// A [`Store`](super::Store) made of one adapter per store port, so any single port can be
/// swapped (a `MockUserRepository` in a test, an embedder's own user table) while the others
/// stay on a complete store.
///
/// Start from a complete store with [`ComposedStore::new`] (it is cloned into every slot;
/// the project's stores are cheap handles), then replace ports one by one. Each replacement
/// changes one type parameter, so the result is still one concrete type, statically
/// dispatched:
///
/// ```
/// use portcullis_domain::ports::{ComposedStore, MockUserRepository, Store};
/// use portcullis_testing::InMemoryStore;
///
/// let mut users = MockUserRepository::new();
/// users.expect_user_by_email().returning(|_| Ok(None));
/// let store = ComposedStore::new(InMemoryStore::new()).users(users);
///
/// fn wants_a_store(_: &impl Store) {}
/// wants_a_store(&store);
/// ```
///
/// **Atomicity stays with the writer.** Every multi-row write goes through the one
/// [`UnitOfWork`] in the `writes` slot, in one transaction; the repositories only read. A
/// replaced repository must therefore read what that writer writes: a test swapping the
/// `UserRepository` for a mock keeps the in-memory writer, and an embedder keeping users in
/// its own table also provides the writer that commits to it (see `docs/ARCHITECTURE.md`).
#[derive(Clone)]
pub struct ComposedStore<W, U = W, C = W, S = W, A = W, N = W, R = W, O = W, H = W, F = W> {
    writes: W,
    users: U,
    codes: C,
    sessions: S,
    audit: A,
    notifications: N,
    rates: R,
    outbox: O,
    health: H,
    factors: F,
}

impl<W> fmt::Debug for ComposedStore<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ComposedStore")
    }
}

impl<T: Clone> ComposedStore<T> {
    /// Every port served by `store` (cloned into each slot).
    pub fn new(store: T) -> Self {
        Self {
            writes: store.clone(),
            users: store.clone(),
            codes: store.clone(),
            sessions: store.clone(),
            audit: store.clone(),
            notifications: store.clone(),
            rates: store.clone(),
            outbox: store.clone(),
            health: store.clone(),
            factors: store,
        }
    }
}

impl<W, U, C, S, A, N, R, O, H, F> ComposedStore<W, U, C, S, A, N, R, O, H, F> {
    /// Commits go to `writes` instead.
    pub fn writes<X: UnitOfWork>(self, writes: X) -> ComposedStore<X, U, C, S, A, N, R, O, H, F> {
        let Self { users, codes, sessions, audit, notifications, rates, outbox, health, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// User reads go to `users` instead.
    pub fn users<X: UserRepository>(self, users: X) -> ComposedStore<W, X, C, S, A, N, R, O, H, F> {
        let Self { writes, codes, sessions, audit, notifications, rates, outbox, health, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// Code reads and try counting go to `codes` instead.
    pub fn codes<X: CodeRepository>(self, codes: X) -> ComposedStore<W, U, X, S, A, N, R, O, H, F> {
        let Self { writes, users, sessions, audit, notifications, rates, outbox, health, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// Session reads and housekeeping go to `sessions` instead.
    pub fn sessions<X: SessionRepository>(self, sessions: X) -> ComposedStore<W, U, C, X, A, N, R, O, H, F> {
        let Self { writes, users, codes, audit, notifications, rates, outbox, health, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// Audit log reads go to `audit` instead.
    pub fn audit<X: AuditRepository>(self, audit: X) -> ComposedStore<W, U, C, S, X, N, R, O, H, F> {
        let Self { writes, users, codes, sessions, notifications, rates, outbox, health, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// Notification reads and marks go to `notifications` instead.
    pub fn notifications<X: NotificationRepository>(
        self,
        notifications: X,
    ) -> ComposedStore<W, U, C, S, A, X, R, O, H, F> {
        let Self { writes, users, codes, sessions, audit, rates, outbox, health, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// Rate limiting goes to `rates` instead (a shared counter such as Redis, say).
    ///
    /// Two kinds of [`Change`] act on rate events inside a commit:
    /// [`Change::ClearFailures`] (a login, reset or verification lifts a lockout) and
    /// [`Change::ReleasePermit`] (a right password gives its reservation back). They reach
    /// the writer, like every change, so the writer must apply them to the events `rates`
    /// keeps: replace the writer along with the rate limiter (or have it forward those two),
    /// or successful logins would leave their reservations to expire into counted failures.
    pub fn rates<X: RateLimiter>(self, rates: X) -> ComposedStore<W, U, C, S, A, N, X, O, H, F> {
        let Self { writes, users, codes, sessions, audit, notifications, outbox, health, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// The mail queue's claims and outcomes go to `outbox` instead. Queuing itself is a
    /// [`Change::EnqueueMail`], committed by the writer.
    pub fn outbox<X: MailOutbox>(self, outbox: X) -> ComposedStore<W, U, C, S, A, N, R, X, H, F> {
        let Self { writes, users, codes, sessions, audit, notifications, rates, health, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// Second-factor reads go to `factors` instead.
    pub fn factors<X: FactorRepository>(self, factors: X) -> ComposedStore<W, U, C, S, A, N, R, O, H, X> {
        let Self { writes, users, codes, sessions, audit, notifications, rates, outbox, health, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }

    /// Readiness pings go to `health` instead.
    pub fn health<X: StoreHealth>(self, health: X) -> ComposedStore<W, U, C, S, A, N, R, O, X, F> {
        let Self { writes, users, codes, sessions, audit, notifications, rates, outbox, factors, .. } = self;
        ComposedStore { writes, users, codes, sessions, audit, notifications, rates, outbox, health, factors }
    }
}

/// The bound every slot needs for the store to be shared across tasks.
pub trait Slot: Send + Sync + 'static {}
impl<T: Send + Sync + 'static> Slot for T {}

impl<W: UnitOfWork, U: Slot, C: Slot, S: Slot, A: Slot, N: Slot, R: Slot, O: Slot, H: Slot, F: Slot> UnitOfWork
    for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn commit(&self, changes: Vec<Change>) -> Result<Committed, StoreError> {
        self.writes.commit(changes).await
    }
}

impl<W: Slot, U: UserRepository, C: Slot, S: Slot, A: Slot, N: Slot, R: Slot, O: Slot, H: Slot, F: Slot> UserRepository
    for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.users.user_by_email(email).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.users.user_by_id(id).await
    }
    async fn search_users(&self, query: UserQuery) -> Result<Page<User>, StoreError> {
        self.users.search_users(query).await
    }
    async fn deleted_before(&self, before: Timestamp, limit: u32) -> Result<Vec<User>, StoreError> {
        self.users.deleted_before(before, limit).await
    }
}

impl<W: Slot, U: Slot, C: CodeRepository, S: Slot, A: Slot, N: Slot, R: Slot, O: Slot, H: Slot, F: Slot> CodeRepository
    for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn active_code(&self, user_id: UserId, purpose: CodePurpose) -> Result<Option<StoredCode>, StoreError> {
        self.codes.active_code(user_id, purpose).await
    }
    async fn count_code_attempt(&self, id: CodeId, max_attempts: u32) -> Result<Option<u32>, StoreError> {
        self.codes.count_code_attempt(id, max_attempts).await
    }
    async fn email_changes(&self, user_id: UserId) -> Result<Vec<EmailChange>, StoreError> {
        self.codes.email_changes(user_id).await
    }
    async fn email_change_by_revert(&self, digest: SecretDigest) -> Result<Option<EmailChange>, StoreError> {
        self.codes.email_change_by_revert(digest).await
    }
    async fn email_reserved_for_revert(&self, email: &Email, now: Timestamp) -> Result<bool, StoreError> {
        self.codes.email_reserved_for_revert(email, now).await
    }
}

impl<W: Slot, U: Slot, C: Slot, S: SessionRepository, A: Slot, N: Slot, R: Slot, O: Slot, H: Slot, F: Slot>
    SessionRepository for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError> {
        self.sessions.session_with_user(id).await
    }
    async fn live_sessions(&self, user_id: UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        self.sessions.live_sessions(user_id, now).await
    }
    async fn all_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        self.sessions.all_sessions(user_id).await
    }
    async fn session_by_refresh(
        &self,
        digest: SecretDigest,
    ) -> Result<Option<(Session, User, RefreshHit)>, StoreError> {
        self.sessions.session_by_refresh(digest).await
    }
    async fn session_by_alert(&self, digest: SecretDigest) -> Result<Option<(Session, User)>, StoreError> {
        self.sessions.session_by_alert(digest).await
    }
    async fn purge_ended_sessions(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.sessions.purge_ended_sessions(before).await
    }
}

impl<W: Slot, U: Slot, C: Slot, S: Slot, A: AuditRepository, N: Slot, R: Slot, O: Slot, H: Slot, F: Slot>
    AuditRepository for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn audit_page(
        &self,
        user_id: UserId,
        actions: Vec<AuditAction>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.audit.audit_page(user_id, actions, limit, offset).await
    }
    async fn search_audit(&self, query: AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        self.audit.search_audit(query).await
    }
}

impl<W: Slot, U: Slot, C: Slot, S: Slot, A: Slot, N: NotificationRepository, R: Slot, O: Slot, H: Slot, F: Slot>
    NotificationRepository for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn notifications_page(
        &self,
        user_id: UserId,
        unread_only: bool,
        limit: u32,
        offset: u64,
    ) -> Result<NotificationPage, StoreError> {
        self.notifications.notifications_page(user_id, unread_only, limit, offset).await
    }
    async fn mark_notification_read(
        &self,
        user_id: UserId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.notifications.mark_notification_read(user_id, id, at).await
    }
    async fn mark_all_notifications_read(&self, user_id: UserId, at: Timestamp) -> Result<u64, StoreError> {
        self.notifications.mark_all_notifications_read(user_id, at).await
    }
}

impl<W: Slot, U: Slot, C: Slot, S: Slot, A: Slot, N: Slot, R: Slot, O: Slot, H: Slot, F: FactorRepository>
    FactorRepository for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn factors(&self, user_id: UserId) -> Result<Vec<Factor>, StoreError> {
        self.factors.factors(user_id).await
    }
    async fn recovery_codes(&self, user_id: UserId) -> Result<Vec<StoredRecoveryCode>, StoreError> {
        self.factors.recovery_codes(user_id).await
    }
    async fn mfa_challenge(&self, digest: SecretDigest) -> Result<Option<StoredCode>, StoreError> {
        self.factors.mfa_challenge(digest).await
    }
    async fn purge_pending_factors(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.factors.purge_pending_factors(before).await
    }
    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, StoreError> {
        self.factors.passkeys(user_id).await
    }
    async fn passkey(&self, credential_id: CredentialId) -> Result<Option<Passkey>, StoreError> {
        self.factors.passkey(credential_id).await
    }
    async fn take_ceremony(&self, digest: SecretDigest, now: Timestamp) -> Result<Option<StoredCeremony>, StoreError> {
        self.factors.take_ceremony(digest, now).await
    }
    async fn purge_expired_ceremonies(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.factors.purge_expired_ceremonies(before).await
    }
}

impl<W: Slot, U: Slot, C: Slot, S: Slot, A: Slot, N: Slot, R: RateLimiter, O: Slot, H: Slot, F: Slot> RateLimiter
    for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError> {
        self.rates.acquire(key, rules, now).await
    }
    async fn release(&self, permit: Permit) -> Result<(), StoreError> {
        self.rates.release(permit).await
    }
    async fn reserve_attempt(
        &self,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
        hold: std::time::Duration,
        patience: std::time::Duration,
    ) -> Result<AttemptDecision, StoreError> {
        self.rates.reserve_attempt(key, rules, now, hold, patience).await
    }
    async fn confirm_failure(&self, permit: Permit, at: Timestamp) -> Result<(), StoreError> {
        self.rates.confirm_failure(permit, at).await
    }
    async fn purge_rate_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.rates.purge_rate_events(before).await
    }
}

/// The provided two calls, each to its own slot: the rate limiter and the users may be
/// different adapters (an embedder's user table), so neither may answer for the other.
impl<W: Slot, U: UserRepository, C: Slot, S: Slot, A: Slot, N: Slot, R: RateLimiter, O: Slot, H: Slot, F: Slot>
    PasswordAttempts for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
}

impl<W: Slot, U: Slot, C: Slot, S: Slot, A: Slot, N: Slot, R: Slot, O: MailOutbox, H: Slot, F: Slot> MailOutbox
    for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn claim_mail(
        &self,
        now: Timestamp,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<OutgoingMail>, StoreError> {
        self.outbox.claim_mail(now, lease, limit).await
    }
    async fn mail_sent(&self, id: MailId) -> Result<(), StoreError> {
        self.outbox.mail_sent(id).await
    }
    async fn mail_failed(&self, id: MailId, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        self.outbox.mail_failed(id, next_attempt_at).await
    }
    async fn mail_abandoned(&self, id: MailId, at: Timestamp) -> Result<(), StoreError> {
        self.outbox.mail_abandoned(id, at).await
    }
    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.outbox.outbox_depth().await
    }
    async fn outbox_failed_count(&self) -> Result<u64, StoreError> {
        self.outbox.outbox_failed_count().await
    }
}

impl<W: Slot, U: Slot, C: Slot, S: Slot, A: Slot, N: Slot, R: Slot, O: Slot, H: StoreHealth, F: Slot> StoreHealth
    for ComposedStore<W, U, C, S, A, N, R, O, H, F>
{
    async fn ping(&self) -> Result<(), StoreError> {
        self.health.ping().await
    }
}
