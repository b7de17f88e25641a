//! The shared store contract suite of `portcullis-testing`, run against SQLite: every case
//! on a fresh database file in its own temporary directory.

use std::time::Duration;

use portcullis_domain::model::{
    AuditAction, AuditEntry, CodeId, CodePurpose, Email, MailId, OutgoingMail, Page, Session, SessionId, StoredCode,
    Timestamp, User, UserId,
};
use portcullis_domain::ports::{
    AuditRepository, Change, CodeRepository, MailOutbox, Permit, RateDecision, RateLimiter, RateRule,
    SessionRepository, StoreError, StoreHealth, UnitOfWork, UserRepository,
};
use portcullis_store_diesel::{DbConfig, DieselStore};
use tempfile::TempDir;

/// A store on a file that is deleted, with its directory, when the case ends. The ports are
/// delegated because the suite takes the store by value and `DieselStore` alone would leave
/// the directory behind.
struct TempStore {
    store: DieselStore,
    _dir: TempDir,
}

async fn fresh_store() -> TempStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = DbConfig::new(format!("sqlite://{}", dir.path().join("contract.db").display()));
    let store = DieselStore::connect(&cfg).await.expect("connect");
    TempStore { store, _dir: dir }
}

mod contract {
    portcullis_testing::store_contract_tests!(async { super::fresh_store().await });
}

impl UnitOfWork for TempStore {
    async fn commit(&self, changes: Vec<Change>) -> Result<Vec<i64>, StoreError> {
        self.store.commit(changes).await
    }
}

impl UserRepository for TempStore {
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.store.user_by_email(email).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.store.user_by_id(id).await
    }
}

impl CodeRepository for TempStore {
    async fn active_code(&self, user_id: UserId, purpose: CodePurpose) -> Result<Option<StoredCode>, StoreError> {
        self.store.active_code(user_id, purpose).await
    }
    async fn count_code_attempt(&self, id: CodeId, max_attempts: u32) -> Result<Option<u32>, StoreError> {
        self.store.count_code_attempt(id, max_attempts).await
    }
}

impl SessionRepository for TempStore {
    async fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError> {
        self.store.session_with_user(id).await
    }
}

impl AuditRepository for TempStore {
    async fn audit_page(
        &self,
        user_id: UserId,
        actions: Vec<AuditAction>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.store.audit_page(user_id, actions, limit, offset).await
    }
}

impl RateLimiter for TempStore {
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError> {
        self.store.acquire(key, rules, now).await
    }
    async fn release(&self, permit: Permit) -> Result<(), StoreError> {
        self.store.release(permit).await
    }
    async fn purge_rate_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.store.purge_rate_events(before).await
    }
}

impl MailOutbox for TempStore {
    async fn claim_mail(&self, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<OutgoingMail>, StoreError> {
        self.store.claim_mail(now, lease, limit).await
    }
    async fn mail_sent(&self, id: MailId) -> Result<(), StoreError> {
        self.store.mail_sent(id).await
    }
    async fn mail_failed(&self, id: MailId, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        self.store.mail_failed(id, next_attempt_at).await
    }
    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.store.outbox_depth().await
    }
}

impl StoreHealth for TempStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }
}
