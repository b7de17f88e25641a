//! [`TestPorts`] and [`test_service`]: the domain service wired to the in-memory store and
//! the fakes, plus handles onto each of them for assertions.

use portcullis_domain::ports::Ports;
use portcullis_domain::{Deps, Policy, Portcullis};

use crate::fakes::{
    FakeTokens, FastHasher, FixedDevices, FixedGeo, ManualClock, PlainSecretHasher, SequenceRandom, firefox_on_linux,
    london,
};
use crate::fixtures::{FIREFOX_UA, LONDON_IP, ip};
use crate::memory_store::InMemoryStore;

/// The adapter set of tests: [`InMemoryStore`] and the fakes.
#[derive(Debug)]
pub struct TestPorts;

impl Ports for TestPorts {
    type Store = InMemoryStore;
    type Hasher = FastHasher;
    type Tokens = FakeTokens;
    type Secrets = PlainSecretHasher;
    type Random = SequenceRandom;
    type Clock = ManualClock;
    type Geo = FixedGeo;
    type Devices = FixedDevices;
}

/// Handles onto the adapters of a [`test_service`]: clones sharing state with the ones the
/// service owns.
#[derive(Clone, Debug)]
pub struct TestHandles {
    /// The store.
    pub store: InMemoryStore,
    /// The clock, starting at [`crate::fakes::T0`].
    pub clock: ManualClock,
    /// Issued codes and tokens.
    pub random: SequenceRandom,
    /// Hash and verify counters, busy switch.
    pub hasher: FastHasher,
    /// Known IP locations ([`LONDON_IP`] is London).
    pub geo: FixedGeo,
    /// Known user agents ([`FIREFOX_UA`] is Firefox on Linux).
    pub devices: FixedDevices,
    /// The secret hasher, to compute the digests the service stores.
    pub secrets: PlainSecretHasher,
    /// The token issuer, to forge tokens with chosen claims.
    pub tokens: FakeTokens,
}

/// Fresh adapters and handles onto them, for building a service by hand.
pub fn test_deps() -> (Deps<TestPorts>, TestHandles) {
    let geo = FixedGeo::default();
    geo.insert(ip(LONDON_IP), london());
    let devices = FixedDevices::default();
    devices.insert(FIREFOX_UA, firefox_on_linux());
    let handles = TestHandles {
        store: InMemoryStore::new(),
        clock: ManualClock::default(),
        random: SequenceRandom::new(),
        hasher: FastHasher::new(),
        geo,
        devices,
        secrets: PlainSecretHasher,
        tokens: FakeTokens,
    };
    let deps = Deps {
        store: handles.store.clone(),
        hasher: handles.hasher.clone(),
        tokens: handles.tokens,
        secrets: handles.secrets,
        random: handles.random.clone(),
        clock: handles.clock.clone(),
        geo: handles.geo.clone(),
        devices: handles.devices.clone(),
    };
    (deps, handles)
}

/// The domain service on fresh fakes with `policy`, and handles onto the fakes.
///
/// ```
/// use portcullis_domain::Policy;
/// let (service, handles) = portcullis_testing::test_service(Policy::default());
/// assert_eq!(service.now(), portcullis_testing::fakes::T0);
/// assert_eq!(handles.hasher.verify_calls(), 0);
/// ```
pub fn test_service(policy: Policy) -> (Portcullis<TestPorts>, TestHandles) {
    let (deps, handles) = test_deps();
    (Portcullis::new(deps, policy), handles)
}
