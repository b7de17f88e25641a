//! Ports: the traits the domain owns and adapters implement.
//!
//! Async ports are `async fn` traits made `Send` by `trait_variant`, so the futures of the
//! generic service can be spawned on a multi-threaded runtime by embedders. With the `mocks`
//! feature each port has a `mockall` mock named `Mock<Port>`.

mod breach;
mod compose;
mod enrich;
mod mail;
mod passkey;
mod security;
mod store;
mod webhook;

pub use breach::*;
pub use compose::ComposedStore;
pub use enrich::*;
pub use mail::*;
pub use passkey::*;
pub use security::*;
pub use store::*;
pub use webhook::*;

/// The set of adapters a [`crate::Portcullis`] service is built from.
///
/// One type per deployment names them all, so the service has one type parameter
/// instead of nine:
/// ```text
/// struct Production;
/// impl Ports for Production { type Store = DieselStore; /* ... */ }
/// ```
pub trait Ports: Send + Sync + 'static {
    /// Persistence.
    type Store: Store;
    /// Password hashing.
    type Hasher: PasswordHasher;
    /// Access tokens.
    type Tokens: TokenIssuer;
    /// Keyed hashing of codes and tokens.
    type Secrets: SecretHasher;
    /// Randomness.
    type Random: RandomSource;
    /// Time.
    type Clock: Clock;
    /// IP geolocation.
    type Geo: GeoLookup;
    /// User-agent parsing.
    type Devices: DeviceDetector;
    /// Encryption of second-factor secrets at rest.
    type Cipher: SecretCipher;
    /// The WebAuthn ceremonies of passkeys.
    type Passkeys: PasskeyCeremonies;
    /// Breached-password lookups ([`NoBreachSource`] where there are none).
    type Breaches: BreachedPasswords;
}
