//! Store failures and lost races injected through a `MockUnitOfWork`: what each new use
//! case answers, and that nothing is half-written.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use portcullis_domain::model::{
    AccountStatus, AuditEntry, AuditQuery, CodeId, CodePurpose, Email, MailId, NotificationId, NotificationPage,
    OutgoingMail, Page, Password, RefreshHit, SecretDigest, Session, SessionId, StoredCode, Timestamp, User, UserId,
    UserQuery,
};
use portcullis_domain::ports::{
    AttemptDecision, AuditRepository, Change, CodeRepository, MailOutbox, MockUnitOfWork, NotificationRepository,
    Permit, Ports, RateDecision, RateLimiter, RateRule, SessionRepository, StoreError, StoreHealth, UnitOfWork,
    UserRepository,
};
use portcullis_domain::{
    Actor, AdminError, AlertRevokeError, AuthError, Deps, ForgotPasswordError, InfraError, Policy, Portcullis,
    ReauthError, RefreshError, ResetPasswordError,
};
use portcullis_testing::fakes::{
    FakeTokens, FastHasher, FixedDevices, FixedGeo, ManualClock, PlainSecretHasher, SequenceRandom,
};
use portcullis_testing::fixtures::PASSWORD;
use portcullis_testing::{InMemoryStore, TestHandles, test_deps};

use crate::support::{
    NEW_PASSWORD, alert_token, code, ctx, email, login_request, new_password, seed_verified, stored_session,
    stored_user,
};

/// The in-memory store with every commit shown to a `MockUnitOfWork` first. The mock's
/// answer decides: an error fails the commit with nothing applied; `Ok` lets it through to
/// the in-memory store, whose answer is returned.
struct GatedStore {
    inner: InMemoryStore,
    gate: MockUnitOfWork,
}

impl UnitOfWork for GatedStore {
    async fn commit(&self, changes: Vec<Change>) -> Result<Vec<i64>, StoreError> {
        self.gate.commit(changes.clone()).await?;
        self.inner.commit(changes).await
    }
}

impl UserRepository for GatedStore {
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.inner.user_by_email(email).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.inner.user_by_id(id).await
    }
    async fn search_users(&self, query: UserQuery) -> Result<Page<User>, StoreError> {
        self.inner.search_users(query).await
    }
}

impl CodeRepository for GatedStore {
    async fn active_code(&self, user_id: UserId, purpose: CodePurpose) -> Result<Option<StoredCode>, StoreError> {
        self.inner.active_code(user_id, purpose).await
    }
    async fn count_code_attempt(&self, id: CodeId, max_attempts: u32) -> Result<Option<u32>, StoreError> {
        self.inner.count_code_attempt(id, max_attempts).await
    }
}

impl SessionRepository for GatedStore {
    async fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError> {
        self.inner.session_with_user(id).await
    }
    async fn live_sessions(&self, user_id: UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        self.inner.live_sessions(user_id, now).await
    }
    async fn session_by_refresh(
        &self,
        digest: SecretDigest,
    ) -> Result<Option<(Session, User, RefreshHit)>, StoreError> {
        self.inner.session_by_refresh(digest).await
    }
    async fn session_by_alert(&self, digest: SecretDigest) -> Result<Option<(Session, User)>, StoreError> {
        self.inner.session_by_alert(digest).await
    }
    async fn purge_ended_sessions(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.inner.purge_ended_sessions(before).await
    }
}

impl AuditRepository for GatedStore {
    async fn audit_page(
        &self,
        user_id: UserId,
        actions: Vec<portcullis_domain::model::AuditAction>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.inner.audit_page(user_id, actions, limit, offset).await
    }
    async fn search_audit(&self, query: AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        self.inner.search_audit(query).await
    }
}

impl NotificationRepository for GatedStore {
    async fn notifications_page(
        &self,
        user_id: UserId,
        unread_only: bool,
        limit: u32,
        offset: u64,
    ) -> Result<NotificationPage, StoreError> {
        self.inner.notifications_page(user_id, unread_only, limit, offset).await
    }
    async fn mark_notification_read(
        &self,
        user_id: UserId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.mark_notification_read(user_id, id, at).await
    }
    async fn mark_all_notifications_read(&self, user_id: UserId, at: Timestamp) -> Result<u64, StoreError> {
        self.inner.mark_all_notifications_read(user_id, at).await
    }
}

impl RateLimiter for GatedStore {
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError> {
        self.inner.acquire(key, rules, now).await
    }
    async fn release(&self, permit: Permit) -> Result<(), StoreError> {
        self.inner.release(permit).await
    }
    async fn reserve_attempt(
        &self,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
        hold: Duration,
        patience: Duration,
    ) -> Result<AttemptDecision, StoreError> {
        self.inner.reserve_attempt(key, rules, now, hold, patience).await
    }
    async fn confirm_failure(&self, permit: Permit, at: Timestamp) -> Result<(), StoreError> {
        self.inner.confirm_failure(permit, at).await
    }
    async fn purge_rate_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.inner.purge_rate_events(before).await
    }
}

impl MailOutbox for GatedStore {
    async fn claim_mail(&self, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<OutgoingMail>, StoreError> {
        self.inner.claim_mail(now, lease, limit).await
    }
    async fn mail_sent(&self, id: MailId) -> Result<(), StoreError> {
        self.inner.mail_sent(id).await
    }
    async fn mail_failed(&self, id: MailId, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        self.inner.mail_failed(id, next_attempt_at).await
    }
    async fn mail_abandoned(&self, id: MailId, at: Timestamp) -> Result<(), StoreError> {
        self.inner.mail_abandoned(id, at).await
    }
    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.inner.outbox_depth().await
    }
    async fn outbox_failed_count(&self) -> Result<u64, StoreError> {
        self.inner.outbox_failed_count().await
    }
}

impl StoreHealth for GatedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

/// [`portcullis_testing::TestPorts`] with the gated store.
struct GatedPorts;

impl Ports for GatedPorts {
    type Store = GatedStore;
    type Hasher = FastHasher;
    type Tokens = FakeTokens;
    type Secrets = PlainSecretHasher;
    type Random = SequenceRandom;
    type Clock = ManualClock;
    type Geo = FixedGeo;
    type Devices = FixedDevices;
}

type GatedService = Portcullis<GatedPorts>;

/// A service whose commits pass `gate` first; `h.store` is the in-memory store behind it.
fn gated_service(gate: MockUnitOfWork) -> (GatedService, TestHandles) {
    let (d, handles) = test_deps();
    let deps = Deps::<GatedPorts> {
        store: GatedStore { inner: d.store, gate },
        hasher: d.hasher,
        tokens: d.tokens,
        secrets: d.secrets,
        random: d.random,
        clock: d.clock,
        geo: d.geo,
        devices: d.devices,
    };
    (Portcullis::new(deps, Policy::default()), handles)
}

fn store_failure() -> StoreError {
    StoreError::Other("injected failure".into())
}

/// A gate that lets every commit through until the returned switch is turned on, then fails
/// every commit.
fn failing_gate() -> (MockUnitOfWork, Arc<AtomicBool>) {
    let armed = Arc::new(AtomicBool::new(false));
    let mut gate = MockUnitOfWork::new();
    let switch = armed.clone();
    gate.expect_commit()
        .returning(move |_| if switch.load(Ordering::SeqCst) { Err(store_failure()) } else { Ok(Vec::new()) });
    (gate, armed)
}

/// A gate that answers `Conflict` to the first `limit` commits holding a change `pick`
/// selects, and lets everything else through.
fn conflicting_gate(limit: usize, pick: fn(&Change) -> bool) -> (MockUnitOfWork, Arc<AtomicUsize>) {
    let conflicts = Arc::new(AtomicUsize::new(0));
    let count = conflicts.clone();
    let mut gate = MockUnitOfWork::new();
    gate.expect_commit().returning(move |changes| {
        if changes.iter().any(pick) && count.fetch_add(1, Ordering::SeqCst) < limit {
            Err(StoreError::Conflict)
        } else {
            Ok(Vec::new())
        }
    });
    (gate, conflicts)
}

#[tokio::test]
async fn a_failing_store_is_infra_for_every_new_use_case_and_writes_nothing() {
    let (gate, armed) = failing_gate();
    let (svc, h) = gated_service(gate);
    let laura = seed_verified(&h, "laura@example.com").await;
    let ana = seed_verified(&h, "ana@example.com").await;
    let out = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
    let me = svc.authenticate(&out.access_token).await.unwrap();
    let alert = alert_token(&h.store.queued_mail()[0]);
    svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap();
    let digits = h.random.last_code().unwrap();
    armed.store(true, Ordering::SeqCst);
    let users = h.store.users();
    let sessions = h.store.sessions();
    let audit = h.store.audit_entries().len();

    let err = svc.refresh(&out.refresh_token, &ctx()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Infra(InfraError::Unexpected(_))), "{err:?}");
    let err = svc.revoke_from_alert(&alert, &ctx()).await.unwrap_err();
    assert!(matches!(err, AlertRevokeError::Infra(InfraError::Unexpected(_))), "{err:?}");
    h.clock.advance(Duration::from_secs(61));
    let err = svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap_err();
    assert!(matches!(err, ForgotPasswordError::Infra(InfraError::Unexpected(_))), "{err:?}");
    let err = svc
        .reset_password(&email("laura@example.com"), &code(&digits), &new_password(NEW_PASSWORD), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, ResetPasswordError::Infra(InfraError::Unexpected(_))), "{err:?}");
    let err = svc.change_password(&me, Password::new(PASSWORD), &new_password(NEW_PASSWORD), &ctx()).await;
    assert!(matches!(err, Err(ReauthError::Infra(InfraError::Unexpected(_)))), "{err:?}");
    let err = svc.change_password(&me, Password::new("wrong"), &new_password(NEW_PASSWORD), &ctx()).await;
    assert!(matches!(err, Err(ReauthError::Infra(_))), "the failure audit could not be written: {err:?}");
    let err = svc.deactivate_account(&me, Password::new(PASSWORD), &ctx()).await.unwrap_err();
    assert!(matches!(err, ReauthError::Infra(_)), "{err:?}");
    let err = svc.delete_account(&me, Password::new(PASSWORD), &ctx()).await.unwrap_err();
    assert!(matches!(err, ReauthError::Infra(_)), "{err:?}");
    let err = svc.admin_set_status(&Actor::Operator, ana.id, AccountStatus::Suspended, None, &ctx()).await.unwrap_err();
    assert!(matches!(err, AdminError::Infra(InfraError::Unexpected(_))), "{err:?}");

    assert_eq!(h.store.users(), users);
    assert_eq!(h.store.sessions(), sessions);
    assert_eq!(h.store.audit_entries().len(), audit);
    assert_eq!(stored_user(&h, laura.id).status, AccountStatus::Active);
}

#[tokio::test]
async fn a_conflict_consuming_the_reset_code_is_invalid_code_and_changes_nothing() {
    let (gate, conflicts) = conflicting_gate(1, |c| matches!(c, Change::ConsumeCode { .. }));
    let (svc, h) = gated_service(gate);
    let laura = seed_verified(&h, "laura@example.com").await;
    let out = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
    svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap();
    let digits = h.random.last_code().unwrap();
    let (address, typed, password, request) =
        (email("laura@example.com"), code(&digits), new_password(NEW_PASSWORD), ctx());
    let reset = || svc.reset_password(&address, &typed, &password, &request);

    let err = reset().await.unwrap_err();

    assert!(matches!(err, ResetPasswordError::InvalidCode), "a parallel reset used the code: {err:?}");
    assert_eq!(conflicts.load(Ordering::SeqCst), 1);
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
    svc.authenticate(&out.access_token).await.expect("no session was revoked");
    reset().await.expect("the gate lets the next try through");
}

#[tokio::test]
async fn a_conflict_using_the_alert_token_is_ok_and_changes_nothing() {
    let (gate, conflicts) = conflicting_gate(1, |c| matches!(c, Change::ConsumeAlertToken { .. }));
    let (svc, h) = gated_service(gate);
    seed_verified(&h, "laura@example.com").await;
    let out = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
    let token = alert_token(&h.store.queued_mail()[0]);
    let audit = h.store.audit_entries().len();

    svc.revoke_from_alert(&token, &ctx()).await.expect("a parallel click did the work");

    assert_eq!(conflicts.load(Ordering::SeqCst), 1);
    assert_eq!(stored_session(&h, out.session_id).revoked_at, None);
    assert_eq!(h.store.audit_entries().len(), audit);
    assert!(h.store.codes().is_empty());
}

#[tokio::test]
async fn a_rotation_that_conflicts_is_looked_up_again() {
    let (gate, conflicts) = conflicting_gate(1, |c| matches!(c, Change::RotateRefreshToken { .. }));
    let (svc, h) = gated_service(gate);
    seed_verified(&h, "laura@example.com").await;
    let out = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();

    let pair = svc.refresh(&out.refresh_token, &ctx()).await.unwrap();

    assert_eq!(conflicts.load(Ordering::SeqCst), 2, "one conflict, then one rotation");
    svc.authenticate(&pair.access_token).await.unwrap();
    svc.refresh(&pair.refresh_token, &ctx()).await.expect("the returned pair is the stored one");
}

#[tokio::test]
async fn a_rotation_losing_to_a_revocation_is_unauthorized() {
    let conflicts = Arc::new(AtomicUsize::new(0));
    let count = conflicts.clone();
    // The store exists only once the service is built: the gate reads it from here.
    let store_slot = Arc::new(OnceLock::<InMemoryStore>::new());
    let store_for_gate = store_slot.clone();
    let mut gate = MockUnitOfWork::new();
    gate.expect_commit().returning(move |changes| {
        let Some(Change::RotateRefreshToken { session_id, at, .. }) =
            changes.iter().find(|c| matches!(c, Change::RotateRefreshToken { .. }))
        else {
            return Ok(Vec::new());
        };
        // A logout commits just before this rotation does.
        count.fetch_add(1, Ordering::SeqCst);
        let store = store_for_gate.get().expect("the store handle is set");
        assert!(store.modify_session(*session_id, |s| s.revoked_at = Some(*at)));
        Err(StoreError::Conflict)
    });
    let (svc, h) = gated_service(gate);
    assert!(store_slot.set(h.store.clone()).is_ok());
    seed_verified(&h, "laura@example.com").await;
    let out = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();

    let err = svc.refresh(&out.refresh_token, &ctx()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Unauthorized), "{err:?}");
    assert_eq!(conflicts.load(Ordering::SeqCst), 1, "the second look sees the revoked session");
    assert!(matches!(svc.authenticate(&out.access_token).await, Err(AuthError::Unauthorized)));
}

#[tokio::test]
async fn a_rehash_does_not_undo_a_concurrent_password_change() {
    let store_slot = Arc::new(OnceLock::<InMemoryStore>::new());
    let store_for_gate = store_slot.clone();
    let rehashes = Arc::new(AtomicUsize::new(0));
    let seen = rehashes.clone();
    let mut gate = MockUnitOfWork::new();
    gate.expect_commit().returning(move |changes| {
        let login = changes.iter().any(|c| matches!(c, Change::InsertSession(_)));
        if let Some(Change::RehashPassword { user_id, .. }) =
            changes.iter().find(|c| matches!(c, Change::RehashPassword { .. }))
            && login
        {
            // The owner changes the password between the login's read and its commit.
            seen.fetch_add(1, Ordering::SeqCst);
            let store = store_for_gate.get().expect("the store handle is set");
            assert!(store.modify_user(*user_id, |u| u.password_hash = FastHasher::hash_of(NEW_PASSWORD)));
        }
        Ok(Vec::new())
    });
    let (svc, h) = gated_service(gate);
    assert!(store_slot.set(h.store.clone()).is_ok());
    let mut user = portcullis_testing::fixtures::user("laura@example.com", portcullis_testing::fakes::T0);
    user.password_hash = FastHasher::legacy_hash_of(PASSWORD);
    let laura = crate::support::seed(&h, user).await;

    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();

    assert_eq!(rehashes.load(Ordering::SeqCst), 1, "the login did try to rehash");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(NEW_PASSWORD), "the newer password stands");
}
