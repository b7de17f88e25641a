//! The one error type of this crate's constructors.
//!
//! Messages name paths and causes, never key material: these errors end up in logs.

use std::path::PathBuf;

/// Why an adapter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A key file could not be read, created or written.
    #[error("key file {}: {source}", .path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A key file exists but holds no key in a recognised format.
    #[error("key file {} does not hold a 32-byte key (raw bytes, 64 hex digits or base64)", .path.display())]
    KeyFileFormat {
        /// The key file.
        path: PathBuf,
    },
    /// A line of the retired-keys file is not `<key> <unix time>`.
    #[error("retired-keys file {} line {line} is not \"<key> <unix time retired>\"", .path.display())]
    KeyringFormat {
        /// The keyring file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
    },
    /// Key bytes of the wrong length.
    #[error("key must be exactly 32 bytes, got {0}")]
    KeyLength(usize),
    /// A configuration value is out of range.
    #[error("invalid crypto configuration: {0}")]
    Config(String),
    /// The operating system's random number generator failed.
    #[error("operating system randomness failed: {0}")]
    Random(String),
    /// A password hashing thread could not be started.
    #[error("cannot start password hashing worker: {0}")]
    Worker(#[source] std::io::Error),
    /// The PASETO library refused the key.
    #[error("paseto key setup failed: {0}")]
    Paseto(String),
    /// Hashing the start-up dummy password failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}
