#![doc = include_str!("../README.md")]

mod message;
pub mod settings;
#[cfg(any(test, feature = "test-sink"))]
pub mod test_sink;
mod transport;

pub use settings::{MailerError, MailerSettings, TransportKind};
pub use transport::LettreMailer;
