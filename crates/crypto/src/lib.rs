#![doc = include_str!("../README.md")]

mod argon2_engine;
mod argon2_hasher;
mod atomic_write;
mod error;
mod hmac_secret;
mod key_file;
mod key_rotation;
mod keyring;
mod os_random;
mod paseto_issuer;
mod pool_stats;
mod secret_cipher;

pub use argon2_engine::Argon2Engine;
pub use argon2_hasher::{Argon2Config, Argon2Hasher, HashPoolGauge, SCRUB_AFTER};
pub use error::CryptoError;
pub use hmac_secret::HmacSecretHasher;
pub use key_file::{DEVELOPMENT_MARKER, KeyFileKind, key_file_kind};
pub use key_rotation::{KeyRotation, RETIRED_KEY_MARGIN, rotate_key_file};
pub use keyring::retired_keys_path;
pub use os_random::OsRandom;
pub use paseto_issuer::PasetoIssuer;
pub use pool_stats::{HashPoolStats, WaitObserver};
pub use secret_cipher::MfaSecretCipher;
