//! [`TestPorts`] and [`test_service`]: the domain service wired to the in-memory store and
//! the fakes, plus handles onto each of them for assertions.

use std::fmt;
use std::marker::PhantomData;

use portcullis_domain::model::{Password, User};
use portcullis_domain::ports::{
    BreachedPasswords, Change, Clock, DeviceDetector, GeoLookup, PasskeyCeremonies, PasswordHasher, Ports,
    RandomSource, SecretCipher, SecretHasher, Store, TokenIssuer, UnitOfWork,
};
use portcullis_domain::{Deps, LoginOutcome, LoginRequest, Policy, Portcullis, Principal};

use crate::fakes::{
    FakeBreaches, FakePasskeys, FakeTokens, FastHasher, FixedDevices, FixedGeo, ManualClock, PlainCipher,
    PlainSecretHasher, SequenceRandom, firefox_on_linux, london,
};
use crate::fixtures::{FIREFOX_UA, LONDON_IP, ip};
use crate::memory_store::InMemoryStore;

/// The adapter set of tests: by default [`InMemoryStore`] and the fakes; any of them can be
/// replaced with [`TestServiceBuilder`], which names this type for you.
#[allow(clippy::type_complexity)]
pub struct TestPorts<
    S = InMemoryStore,
    H = FastHasher,
    T = FakeTokens,
    X = PlainSecretHasher,
    R = SequenceRandom,
    C = ManualClock,
    G = FixedGeo,
    D = FixedDevices,
    K = PlainCipher,
    W = FakePasskeys,
    B = FakeBreaches,
>(PhantomData<fn() -> (S, H, T, X, R, C, G, D, K, W, B)>);

impl<S, H, T, X, R, C, G, D, K, W, B> fmt::Debug for TestPorts<S, H, T, X, R, C, G, D, K, W, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TestPorts")
    }
}

impl<S, H, T, X, R, C, G, D, K, W, B> Ports for TestPorts<S, H, T, X, R, C, G, D, K, W, B>
where
    S: Store,
    H: PasswordHasher,
    T: TokenIssuer,
    X: SecretHasher,
    R: RandomSource,
    C: Clock,
    G: GeoLookup,
    D: DeviceDetector,
    K: SecretCipher,
    W: PasskeyCeremonies,
    B: BreachedPasswords,
{
    type Store = S;
    type Hasher = H;
    type Tokens = T;
    type Secrets = X;
    type Random = R;
    type Clock = C;
    type Geo = G;
    type Devices = D;
    type Cipher = K;
    type Passkeys = W;
    type Breaches = B;
}

/// Builds a test service port by port: every port starts on its fake (the store on a fresh
/// [`InMemoryStore`]), and each method replaces one, with a mock or a fake of your own.
/// [`TestHandles`] keep pointing at the fakes, so a test can still seed and inspect the
/// in-memory store when, say, only the hasher is a mock.
///
/// ```
/// use portcullis_domain::Policy;
/// use portcullis_domain::ports::{ComposedStore, MockPasswordHasher, MockUserRepository};
/// use portcullis_testing::TestServiceBuilder;
///
/// let hasher = MockPasswordHasher::new(); // expectations go here
/// let users = MockUserRepository::new();
/// let (service, handles) = TestServiceBuilder::new()
///     .hasher(hasher)
///     .store(|memory| ComposedStore::new(memory).users(users))
///     .build(Policy::default());
/// assert_eq!(service.now(), portcullis_testing::fakes::T0);
/// assert!(handles.store.users().is_empty());
/// ```
pub struct TestServiceBuilder<
    S = InMemoryStore,
    H = FastHasher,
    T = FakeTokens,
    X = PlainSecretHasher,
    R = SequenceRandom,
    C = ManualClock,
    G = FixedGeo,
    D = FixedDevices,
    K = PlainCipher,
    W = FakePasskeys,
    B = FakeBreaches,
> {
    store: S,
    hasher: H,
    tokens: T,
    secrets: X,
    random: R,
    clock: C,
    geo: G,
    devices: D,
    cipher: K,
    passkeys: W,
    breaches: B,
    handles: TestHandles,
}

impl Default for TestServiceBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TestServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServiceBuilder").field("handles", &self.handles).finish_non_exhaustive()
    }
}

impl TestServiceBuilder {
    /// Every port on a fresh fake.
    pub fn new() -> Self {
        let (deps, handles) = test_deps();
        Self {
            store: deps.store,
            hasher: deps.hasher,
            tokens: deps.tokens,
            secrets: deps.secrets,
            random: deps.random,
            clock: deps.clock,
            geo: deps.geo,
            devices: deps.devices,
            cipher: deps.cipher,
            passkeys: deps.passkeys,
            breaches: deps.breaches,
            handles,
        }
    }
}

impl<S, H, T, X, R, C, G, D, K, W, B> TestServiceBuilder<S, H, T, X, R, C, G, D, K, W, B>
where
    S: Store,
    H: PasswordHasher,
    T: TokenIssuer,
    X: SecretHasher,
    R: RandomSource,
    C: Clock,
    G: GeoLookup,
    D: DeviceDetector,
    K: SecretCipher,
    W: PasskeyCeremonies,
    B: BreachedPasswords,
{
    /// The store made by `make` from the current one (at first the fresh [`InMemoryStore`],
    /// typically wrapped in a [`ComposedStore`](portcullis_domain::ports::ComposedStore)
    /// with one port replaced).
    pub fn store<S2: Store>(self, make: impl FnOnce(S) -> S2) -> TestServiceBuilder<S2, H, T, X, R, C, G, D, K, W, B> {
        let Self { store, hasher, tokens, secrets, random, clock, geo, devices, cipher, passkeys, breaches, handles } =
            self;
        TestServiceBuilder {
            store: make(store),
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// Password hashing by `hasher` (`handles.hasher` stays the unused fake).
    pub fn hasher<H2: PasswordHasher>(self, hasher: H2) -> TestServiceBuilder<S, H2, T, X, R, C, G, D, K, W, B> {
        let Self { store, tokens, secrets, random, clock, geo, devices, cipher, passkeys, breaches, handles, .. } =
            self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// Access tokens by `tokens`.
    pub fn tokens<T2: TokenIssuer>(self, tokens: T2) -> TestServiceBuilder<S, H, T2, X, R, C, G, D, K, W, B> {
        let Self { store, hasher, secrets, random, clock, geo, devices, cipher, passkeys, breaches, handles, .. } =
            self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// Keyed hashing of codes and tokens by `secrets`.
    pub fn secrets<X2: SecretHasher>(self, secrets: X2) -> TestServiceBuilder<S, H, T, X2, R, C, G, D, K, W, B> {
        let Self { store, hasher, tokens, random, clock, geo, devices, cipher, passkeys, breaches, handles, .. } = self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// Codes and tokens drawn from `random` (`handles.random` then sees none of them).
    pub fn random<R2: RandomSource>(self, random: R2) -> TestServiceBuilder<S, H, T, X, R2, C, G, D, K, W, B> {
        let Self { store, hasher, tokens, secrets, clock, geo, devices, cipher, passkeys, breaches, handles, .. } =
            self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// Time from `clock` (`handles.clock` then moves nothing).
    pub fn clock<C2: Clock>(self, clock: C2) -> TestServiceBuilder<S, H, T, X, R, C2, G, D, K, W, B> {
        let Self { store, hasher, tokens, secrets, random, geo, devices, cipher, passkeys, breaches, handles, .. } =
            self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// IP geolocation by `geo`.
    pub fn geo<G2: GeoLookup>(self, geo: G2) -> TestServiceBuilder<S, H, T, X, R, C, G2, D, K, W, B> {
        let Self {
            store, hasher, tokens, secrets, random, clock, devices, cipher, passkeys, breaches, handles, ..
        } = self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// User-agent parsing by `devices`.
    pub fn devices<D2: DeviceDetector>(self, devices: D2) -> TestServiceBuilder<S, H, T, X, R, C, G, D2, K, W, B> {
        let Self { store, hasher, tokens, secrets, random, clock, geo, cipher, passkeys, breaches, handles, .. } = self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// Second-factor secrets sealed by `cipher` (`MfaSecretCipher::from_key` for the real
    /// encryption, or a mock).
    pub fn cipher<K2: SecretCipher>(self, cipher: K2) -> TestServiceBuilder<S, H, T, X, R, C, G, D, K2, W, B> {
        let Self { store, hasher, tokens, secrets, random, clock, geo, devices, passkeys, breaches, handles, .. } =
            self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// Passkey ceremonies by `passkeys` (`portcullis_webauthn::WebauthnCeremonies` for the
    /// real checks against a software authenticator, or a mock).
    pub fn passkeys<W2: PasskeyCeremonies>(self, passkeys: W2) -> TestServiceBuilder<S, H, T, X, R, C, G, D, K, W2, B> {
        let Self { store, hasher, tokens, secrets, random, clock, geo, devices, cipher, breaches, handles, .. } = self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// Breached-password lookups by `breaches` (`handles.breaches` stays the unused fake).
    pub fn breaches<B2: BreachedPasswords>(self, breaches: B2) -> TestServiceBuilder<S, H, T, X, R, C, G, D, K, W, B2> {
        let Self { store, hasher, tokens, secrets, random, clock, geo, devices, cipher, passkeys, handles, .. } = self;
        TestServiceBuilder {
            store,
            hasher,
            tokens,
            secrets,
            random,
            clock,
            geo,
            devices,
            cipher,
            passkeys,
            breaches,
            handles,
        }
    }

    /// The service with `policy`, and the handles onto the fakes.
    #[allow(clippy::type_complexity)]
    pub fn build(self, policy: Policy) -> (Portcullis<TestPorts<S, H, T, X, R, C, G, D, K, W, B>>, TestHandles) {
        let Self { store, hasher, tokens, secrets, random, clock, geo, devices, cipher, passkeys, breaches, handles } =
            self;
        let deps = Deps { store, hasher, tokens, secrets, random, clock, geo, devices, cipher, passkeys, breaches };
        (Portcullis::new(deps, policy), handles)
    }
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
    /// The breach source: list passwords, count lookups, switch it down.
    pub breaches: FakeBreaches,
}

impl TestHandles {
    /// Stores `user` as it is (build it with [`crate::fixtures`]), bypassing the use cases.
    ///
    /// # Panics
    /// When the store refuses it (a duplicate address, say): a bug in the calling test.
    pub async fn seed(&self, user: User) -> User {
        self.store.commit(vec![Change::InsertUser(user.clone())]).await.expect("seeding a user");
        user
    }

    /// Stores an active, verified user of `address` whose password is
    /// [`crate::fixtures::PASSWORD`], created at the clock's time.
    pub async fn seed_verified(&self, address: &str) -> User {
        self.seed(crate::fixtures::user(address, self.clock.now())).await
    }
}

/// Signs `address` in with [`crate::fixtures::PASSWORD`] from London in Firefox, and
/// authenticates the access token: the login's outcome and the caller as the use cases that
/// need one take it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (auth, kit) = portcullis_testing::test_service(portcullis_domain::Policy::default());
/// kit.seed_verified("laura@example.com").await;
/// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
/// assert_eq!(login.session_id, me.session_id);
/// # });
/// ```
///
/// # Panics
/// When the login or the authentication fails: a bug in the calling test.
pub async fn sign_in<P: Ports>(service: &Portcullis<P>, address: &str) -> (LoginOutcome, Principal) {
    let request = LoginRequest {
        email: crate::fixtures::email(address),
        password: Password::new(crate::fixtures::PASSWORD),
        remember_me: false,
    };
    let login = service.login(request, &crate::fixtures::request(LONDON_IP)).await.expect("signing in");
    let me = service.authenticate(&login.access_token).await.expect("a fresh access token");
    (login, me)
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
        breaches: FakeBreaches::default(),
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
        cipher: PlainCipher,
        passkeys: FakePasskeys,
        breaches: handles.breaches.clone(),
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

/// The domain service on fresh fakes, with its store made by `store` from the fresh
/// in-memory one: typically a [`ComposedStore`](portcullis_domain::ports::ComposedStore)
/// with one port replaced by a mock or a fake of your own. `handles.store` is the in-memory
/// store, so seeding and inspecting work as with [`test_service`].
///
/// ```
/// use portcullis_domain::Policy;
/// use portcullis_domain::ports::{ComposedStore, MockUserRepository, StoreError};
///
/// let mut users = MockUserRepository::new();
/// users.expect_user_by_email().returning(|_| Err(StoreError::Unavailable("down".into())));
/// let (service, _handles) =
///     portcullis_testing::test_service_with(Policy::default(), |memory| ComposedStore::new(memory).users(users));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let address = portcullis_testing::fixtures::email("laura@example.com");
/// let outcome = service.forgot_password(&address, &portcullis_testing::fixtures::request("192.0.2.1")).await;
/// assert!(outcome.is_err(), "a user store that is down is an infrastructure error");
/// # });
/// ```
pub fn test_service_with<S: Store>(
    policy: Policy,
    store: impl FnOnce(InMemoryStore) -> S,
) -> (Portcullis<TestPorts<S>>, TestHandles) {
    TestServiceBuilder::new().store(store).build(policy)
}
