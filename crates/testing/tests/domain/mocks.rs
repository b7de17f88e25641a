//! Smoke test: every `Mock*` of the domain's `mocks` feature still compiles and fits the
//! `Ports` bounds, so embedders can wire a service entirely of mocks.

use portcullis_domain::ports::{
    MockAuditRepository, MockBreachedPasswords, MockClock, MockCodeRepository, MockDeviceDetector, MockGeoLookup,
    MockMailOutbox, MockMailTransport, MockNotificationRepository, MockPasskeyCeremonies, MockPasswordHasher,
    MockRandomSource, MockRateLimiter, MockSecretCipher, MockSecretHasher, MockSessionRepository, MockStoreHealth,
    MockTokenIssuer, MockUnitOfWork, MockUserRepository, Ports,
};
use portcullis_domain::{Deps, Policy, Portcullis};
use portcullis_testing::InMemoryStore;
use portcullis_testing::fakes::T0;

struct AllMocks;

impl Ports for AllMocks {
    type Store = InMemoryStore;
    type Hasher = MockPasswordHasher;
    type Tokens = MockTokenIssuer;
    type Secrets = MockSecretHasher;
    type Random = MockRandomSource;
    type Clock = MockClock;
    type Geo = MockGeoLookup;
    type Devices = MockDeviceDetector;
    type Cipher = MockSecretCipher;
    type Passkeys = MockPasskeyCeremonies;
    type Breaches = MockBreachedPasswords;
}

#[test]
fn every_mock_compiles_and_wires() {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(T0);
    let deps = Deps::<AllMocks> {
        store: InMemoryStore::new(),
        hasher: MockPasswordHasher::new(),
        tokens: MockTokenIssuer::new(),
        secrets: MockSecretHasher::new(),
        random: MockRandomSource::new(),
        clock,
        geo: MockGeoLookup::new(),
        devices: MockDeviceDetector::new(),
        cipher: MockSecretCipher::new(),
        passkeys: MockPasskeyCeremonies::new(),
        breaches: MockBreachedPasswords::new(),
    };
    let svc = Portcullis::new(deps, Policy::default());
    assert_eq!(svc.now(), T0);
    // The store-side mocks, one port each.
    let _ = (
        MockUnitOfWork::new(),
        MockUserRepository::new(),
        MockCodeRepository::new(),
        MockSessionRepository::new(),
        MockAuditRepository::new(),
        MockNotificationRepository::new(),
        MockRateLimiter::new(),
        MockMailOutbox::new(),
        MockStoreHealth::new(),
        MockMailTransport::new(),
    );
}

/// One store port mocked, the rest in memory, in a few lines: the login reads the account
/// through the mock, and only through it.
#[tokio::test]
async fn one_store_port_is_a_mock_and_the_rest_stay_in_memory() {
    use portcullis_domain::ports::{ComposedStore, StoreError};
    use portcullis_domain::{InfraError, LoginError};
    use portcullis_testing::fixtures::{PASSWORD, email};
    use portcullis_testing::test_service_with;

    use crate::support::{ctx, login_request, seed_verified};

    let mut users = MockUserRepository::new();
    users
        .expect_user_by_email()
        .withf(|address| *address == email("laura@example.com"))
        .times(2)
        .returning(|_| Ok(None));
    let (svc, h) = test_service_with(Policy::default(), |memory| ComposedStore::new(memory).users(users));
    // Laura exists in memory, but the service reads users only through the mock.
    seed_verified(&h, "laura@example.com").await;
    for _ in 0..2 {
        let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    }
    assert_eq!(h.store.sessions().len(), 0);

    let mut down = MockUserRepository::new();
    down.expect_user_by_email().returning(|_| Err(StoreError::Unavailable("users table unreachable".into())));
    let (svc, h) = test_service_with(Policy::default(), |memory| ComposedStore::new(memory).users(down));
    for _ in 0..6 {
        let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
        assert!(matches!(err, LoginError::Infra(InfraError::Unavailable(_))), "{err:?}");
        // The reservation made before the account read failed went back: no password was
        // checked, so nothing counts, and the sixth try is not locked out.
        assert_eq!(h.store.rate_events("login:laura@example.com"), 0);
    }
}

/// Registration and resend read the account through the users slot too, together with the
/// address's mail allowance; when that read fails, the allowance goes back (no mail was sent)
/// and nothing is stored.
#[tokio::test]
async fn registration_reads_the_account_through_the_users_slot_and_returns_the_allowance_on_failure() {
    use portcullis_domain::ports::{ComposedStore, StoreError};
    use portcullis_domain::{InfraError, RegisterError, ResendError};
    use portcullis_testing::fixtures::email;
    use portcullis_testing::test_service_with;

    use crate::support::{ctx, registration};

    let mut down = MockUserRepository::new();
    down.expect_user_by_email()
        .withf(|address| *address == email("laura@example.com"))
        .times(2)
        .returning(|_| Err(StoreError::Unavailable("users table unreachable".into())));
    let (svc, h) = test_service_with(Policy::default(), |memory| ComposedStore::new(memory).users(down));
    let err = svc.register(registration("laura@example.com"), &ctx()).await.unwrap_err();
    assert!(matches!(err, RegisterError::Infra(InfraError::Unavailable(_))), "{err:?}");
    assert_eq!(h.store.rate_events("resend:laura@example.com"), 0, "the allowance went back");
    let err = svc.resend_verification(&email("laura@example.com"), &ctx()).await.unwrap_err();
    assert!(matches!(err, ResendError::Infra(InfraError::Unavailable(_))), "{err:?}");
    assert_eq!(h.store.rate_events("resend:laura@example.com"), 0, "the allowance went back");
    assert!(h.store.users().is_empty());
    assert!(h.store.queued_mail().is_empty());
}
