//! Deterministic fakes of the non-store ports. Each keeps its state behind an `Arc`, so
//! clones are handles onto the same fake.

mod breaches;
mod cipher;
mod clock;
mod enrich;
mod hashers;
mod passkeys;
mod random;
mod tokens;
mod transport;
mod webhooks;

pub use breaches::{BreachSourceState, FakeBreaches};
pub use cipher::PlainCipher;
pub use clock::{ManualClock, T0};
pub use enrich::{FixedDevices, FixedGeo, firefox_on_linux, london};
pub use hashers::{FAST_HASH_PREFIX, FastHasher, PlainSecretHasher};
pub use passkeys::FakePasskeys;
pub use random::SequenceRandom;
pub use tokens::FakeTokens;
pub use transport::{FakeMailTransport, SendOutcome, code_in};
pub use webhooks::FakeWebhookTransport;
