#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod contract;
pub mod fakes;
pub mod fixtures;
mod memory_store;
mod service;

pub use memory_store::InMemoryStore;
pub use service::{TestHandles, TestPorts, TestServiceBuilder, sign_in, test_deps, test_service, test_service_with};
