#![doc = include_str!("../README.md")]

#[cfg(any(test, feature = "test-receiver"))]
pub mod test_receiver;

mod transport;

pub use portcullis_tls_client::RootsError;
pub use transport::{HttpWebhookTransport, MAX_BODY_READ, USER_AGENT, VET_TIMEOUT};
