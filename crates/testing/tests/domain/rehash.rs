//! Login replaces a password hash made with old parameters, best effort.

use std::time::Duration;

use portcullis_domain::LoginError;
use portcullis_domain::model::{AccountBlock, AccountStatus, Password};
use portcullis_domain::ports::{HashError, MockPasswordHasher};
use portcullis_testing::fakes::{FastHasher, T0};
use portcullis_testing::fixtures::{self, PASSWORD};

use crate::login_mocks::service_with;
use crate::support::{ctx, login_request, seed, service, stored_user};

fn legacy_user(address: &str) -> portcullis_domain::model::User {
    let mut user = fixtures::user(address, T0);
    user.password_hash = FastHasher::legacy_hash_of(PASSWORD);
    user
}

#[tokio::test]
async fn a_legacy_hash_is_replaced_by_a_current_one_on_login() {
    let (svc, h) = service();
    let laura = seed(&h, legacy_user("laura@example.com")).await;
    let now = h.clock.advance(Duration::from_secs(42));

    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();

    let user = stored_user(&h, laura.id);
    assert_eq!(user.password_hash, FastHasher::hash_of(PASSWORD));
    assert_eq!(user.updated_at, now);
    assert_eq!(h.hasher.hash_calls(), 1);

    // Now current: the next login leaves it alone, and it still verifies.
    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
    assert_eq!(h.hasher.hash_calls(), 1);
}

#[tokio::test]
async fn a_wrong_password_does_not_rehash() {
    let (svc, h) = service();
    let laura = seed(&h, legacy_user("laura@example.com")).await;
    let err = svc.login(login_request("laura@example.com", "not my password", false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::legacy_hash_of(PASSWORD));
    assert_eq!(h.hasher.hash_calls(), 0);
}

#[tokio::test]
async fn a_current_hash_is_not_rehashed() {
    let (svc, h) = service();
    let laura = seed(&h, fixtures::user("laura@example.com", T0)).await;
    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
    assert_eq!(h.hasher.hash_calls(), 0);
    assert_eq!(stored_user(&h, laura.id), laura, "not even updated_at moves");
}

#[tokio::test]
async fn a_blocked_account_is_not_rehashed() {
    let (svc, h) = service();
    let mut user = legacy_user("laura@example.com");
    user.status = AccountStatus::Suspended;
    let laura = seed(&h, user).await;
    let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::Blocked(AccountBlock::Suspended)), "{err:?}");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::legacy_hash_of(PASSWORD));
    assert_eq!(h.hasher.hash_calls(), 0);
}

#[tokio::test]
async fn a_busy_hasher_keeps_the_old_hash_and_still_signs_in() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    hasher.expect_needs_rehash().times(1).return_const(true);
    hasher
        .expect_hash()
        .withf(|password: &Password| password.expose() == PASSWORD)
        .times(1)
        .returning(|_| Err(HashError::Busy { retry_after: Duration::from_secs(1) }));
    let (svc, h) = service_with(hasher);
    let laura = seed(&h, legacy_user("laura@example.com")).await;

    let out = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();

    assert_eq!(out.user.id, laura.id);
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::legacy_hash_of(PASSWORD));
    assert_eq!(h.store.sessions().len(), 1);
}

#[tokio::test]
async fn the_rehash_is_asked_about_the_stored_hash_and_hashes_the_typed_password() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    hasher
        .expect_needs_rehash()
        .withf(|hash| *hash == FastHasher::legacy_hash_of(PASSWORD))
        .times(1)
        .return_const(true);
    hasher
        .expect_hash()
        .withf(|password: &Password| password.expose() == PASSWORD)
        .times(1)
        .returning(|_| Ok(FastHasher::hash_of(PASSWORD)));
    let (svc, h) = service_with(hasher);
    let laura = seed(&h, legacy_user("laura@example.com")).await;
    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
}

#[tokio::test]
async fn the_slot_goes_back_before_the_rehash_not_after_it() {
    use std::sync::{Arc, OnceLock};
    let store: Arc<OnceLock<portcullis_testing::InMemoryStore>> = Arc::new(OnceLock::new());
    let seen = store.clone();
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    hasher.expect_needs_rehash().times(1).return_const(true);
    hasher.expect_hash().times(1).returning(move |_| {
        // While the second hash runs, no reservation of this login is held.
        let held = seen.get().map(|s| s.rate_events("login:laura@example.com"));
        assert_eq!(held, Some(0), "the reservation is held through the rehash");
        Ok(FastHasher::hash_of(PASSWORD))
    });
    let (svc, h) = service_with(hasher);
    let _ = store.set(h.store.clone());
    let laura = seed(&h, legacy_user("laura@example.com")).await;
    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0);
}
