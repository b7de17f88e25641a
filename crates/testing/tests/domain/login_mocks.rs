//! Login and registration with a `MockPasswordHasher`: which requests reach the password
//! check, and with which hash.

use mockall::predicate::always;
use portcullis_domain::model::{PasswordHash, RequestContext};
use portcullis_domain::ports::{MockPasswordHasher, Ports};
use portcullis_domain::{LoginError, Policy, Portcullis};
use portcullis_testing::fakes::FastHasher;
use portcullis_testing::fixtures::PASSWORD;
use portcullis_testing::{TestHandles, TestServiceBuilder};

use crate::support::{ctx, login_request, registration, seed_verified};

/// A service whose password hasher is `hasher`, with the default policy.
pub fn service_with(hasher: MockPasswordHasher) -> (Portcullis<impl Ports>, TestHandles) {
    service_with_policy(hasher, Policy::default())
}

fn service_with_policy(hasher: MockPasswordHasher, policy: Policy) -> (Portcullis<impl Ports>, TestHandles) {
    TestServiceBuilder::new().hasher(hasher).build(policy)
}

#[tokio::test]
async fn a_locked_address_never_reaches_the_password_check() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().times(5).returning(|_, _| Ok(false));
    hasher.expect_dummy_hash().never();
    let (svc, h) = service_with(hasher);
    seed_verified(&h, "laura@example.com").await;
    for _ in 0..5 {
        let err = svc.login(login_request("laura@example.com", "wrong", false), &ctx()).await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    }
    for _ in 0..3 {
        let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
        assert!(matches!(err, LoginError::TooManyAttempts { .. }), "{err:?}");
    }
    // The mock panics on a sixth verify and checks `times(5)` when dropped.
}

#[tokio::test]
async fn an_ip_over_its_limit_never_reaches_the_password_check() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().never();
    hasher.expect_dummy_hash().never();
    let policy = Policy { requests_per_ip_per_minute: 0, ..Policy::default() };
    let (svc, h) = service_with_policy(hasher, policy);
    seed_verified(&h, "laura@example.com").await;
    let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::RateLimited { .. }), "{err:?}");
    assert!(h.store.audit_entries().is_empty());
}

#[tokio::test]
async fn an_unknown_address_verifies_the_dummy_hash_once() {
    let dummy = PasswordHash::new("fake$dummy".to_owned());
    let mut hasher = MockPasswordHasher::new();
    let returned = dummy.clone();
    hasher.expect_dummy_hash().times(1).returning(move || returned.clone());
    hasher.expect_verify().withf(move |_, hash| *hash == dummy).times(1).returning(|_, _| Ok(false));
    let (svc, h) = service_with(hasher);
    let err = svc.login(login_request("nobody@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    assert!(h.store.audit_entries().is_empty());
}

#[tokio::test]
async fn a_known_address_verifies_its_own_hash() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_dummy_hash().never();
    hasher
        .expect_verify()
        .withf(|password, hash| password.expose() == PASSWORD && *hash == FastHasher::hash_of(PASSWORD))
        .times(1)
        .returning(|_, _| Ok(true));
    hasher.expect_needs_rehash().return_const(false);
    let (svc, h) = service_with(hasher);
    seed_verified(&h, "laura@example.com").await;
    svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap();
}

#[tokio::test]
async fn registration_hashes_exactly_once_whether_or_not_the_address_is_known() {
    for known in [false, true] {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().with(always()).times(1).returning(|_| Ok(FastHasher::hash_of(PASSWORD)));
        hasher.expect_verify().never();
        let (svc, h) = service_with(hasher);
        if known {
            seed_verified(&h, "laura@example.com").await;
        }
        let other_ip = RequestContext::new("192.0.2.9".parse().unwrap(), None);
        svc.register(registration("laura@example.com"), &other_ip).await.unwrap();
        assert_eq!(h.store.users().len(), 1);
    }
}

#[tokio::test]
async fn a_token_that_cannot_be_issued_fails_the_login_and_gives_the_slot_back() {
    use portcullis_domain::ports::{MockTokenIssuer, TokenError};
    let mut tokens = MockTokenIssuer::new();
    tokens.expect_issue().returning(|_| Err(TokenError::Issue("key unavailable".into())));
    let (svc, h) = TestServiceBuilder::new().tokens(tokens).build(Policy::default());
    seed_verified(&h, "laura@example.com").await;
    let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::Infra(_)), "{err:?}");
    assert!(h.store.sessions().is_empty());
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0, "the right password's slot is back");
}
