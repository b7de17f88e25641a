#![doc = include_str!("../README.md")]

pub mod filter;
mod hash;
pub mod range;
#[cfg(any(test, feature = "test-server"))]
pub mod test_server;

pub use filter::{BreachFilter, BuildError, BuildStats, FilterFileError, MAX_KEYS, build_filter, write_filter};
pub use hash::sha1_of;
pub use portcullis_tls_client::RootsError;
pub use range::{DEFAULT_BASE_URL, DEFAULT_TIMEOUT, MAX_BODY, RangeApi, RangeConfigError, USER_AGENT};
