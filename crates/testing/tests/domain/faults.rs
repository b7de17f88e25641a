//! Store failures and lost races injected through a `MockUnitOfWork`: what each new use
//! case answers, and that nothing is half-written.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use portcullis_domain::model::{AccountStatus, Password};
use portcullis_domain::ports::{Change, Committed, ComposedStore, MockUnitOfWork, Ports, StoreError, UnitOfWork};
use portcullis_domain::{
    Actor, AdminError, AlertRevokeError, AuthError, ChangePasswordError, ForgotPasswordError, InfraError, Policy,
    Portcullis, ReauthError, RefreshError, ResetPasswordError,
};
use portcullis_testing::fakes::FastHasher;
use portcullis_testing::fixtures::PASSWORD;
use portcullis_testing::{InMemoryStore, TestHandles, test_service_with};

use crate::support::{
    NEW_PASSWORD, alert_token, code, ctx, email, login_request, new_password, seed_verified, stored_session,
    stored_user,
};

/// The in-memory writer with every commit shown to a `MockUnitOfWork` first. The mock's
/// answer decides: an error fails the commit with nothing applied; `Ok` lets it through to
/// the in-memory store, whose answer is returned.
struct GatedWrites {
    inner: InMemoryStore,
    gate: MockUnitOfWork,
}

impl UnitOfWork for GatedWrites {
    async fn commit(&self, changes: Vec<Change>) -> Result<Committed, StoreError> {
        self.gate.commit(changes.clone()).await?;
        self.inner.commit(changes).await
    }
}

/// A service whose commits pass `gate` first; `h.store` is the in-memory store behind it,
/// which also serves every other port.
fn gated_service(gate: MockUnitOfWork) -> (Portcullis<impl Ports>, TestHandles) {
    test_service_with(Policy::default(), |memory| {
        ComposedStore::new(memory.clone()).writes(GatedWrites { inner: memory, gate })
    })
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
    gate.expect_commit().returning(move |_| {
        if switch.load(Ordering::SeqCst) { Err(store_failure()) } else { Ok(Committed::default()) }
    });
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
            Ok(Committed::default())
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
    assert!(matches!(err, Err(ChangePasswordError::Infra(InfraError::Unexpected(_)))), "{err:?}");
    let err = svc.change_password(&me, Password::new("wrong"), &new_password(NEW_PASSWORD), &ctx()).await;
    assert!(matches!(err, Err(ChangePasswordError::Infra(_))), "the failure audit could not be written: {err:?}");
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
            return Ok(Committed::default());
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
        Ok(Committed::default())
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

/// A right password's reservation goes back inside the commit that starts the session (no
/// release of its own); when that commit fails, it is released on its own, so a store
/// failure never turns a right password into a counted failure.
#[tokio::test]
async fn a_right_password_gives_its_reservation_back_even_when_the_session_commit_fails() {
    let released = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(AtomicBool::new(false));
    let mut gate = MockUnitOfWork::new();
    let (seen, switch) = (released.clone(), armed.clone());
    gate.expect_commit().returning(move |changes| {
        if changes.iter().any(|c| matches!(c, Change::ReleasePermit(_))) {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        if switch.load(Ordering::SeqCst) { Err(store_failure()) } else { Ok(Committed::default()) }
    });
    let (svc, h) = gated_service(gate);
    seed_verified(&h, "laura@example.com").await;
    let key = "login:laura@example.com";

    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
    assert_eq!(released.load(Ordering::SeqCst), 1, "the session commit carries the release");
    assert_eq!(h.store.rate_events(key), 0);

    armed.store(true, Ordering::SeqCst);
    for _ in 0..6 {
        let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
        assert!(matches!(err, portcullis_domain::LoginError::Infra(_)), "{err:?}");
        assert_eq!(h.store.rate_events(key), 0, "released although the commit failed");
    }
    armed.store(false, Ordering::SeqCst);
    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
}
