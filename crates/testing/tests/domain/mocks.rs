//! Smoke test: every `Mock*` of the domain's `mocks` feature still compiles and fits the
//! `Ports` bounds, so embedders can wire a service entirely of mocks.

use portcullis_domain::ports::{
    MockAuditRepository, MockClock, MockCodeRepository, MockDeviceDetector, MockGeoLookup, MockMailOutbox,
    MockMailTransport, MockNotificationRepository, MockPasswordHasher, MockRandomSource, MockRateLimiter,
    MockSecretHasher, MockSessionRepository, MockStoreHealth, MockTokenIssuer, MockUnitOfWork, MockUserRepository,
    Ports,
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
