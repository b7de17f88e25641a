#![doc = include_str!("../README.md")]

pub mod contract;
pub mod fakes;
pub mod fixtures;
mod memory_store;
mod service;

pub use memory_store::InMemoryStore;
pub use service::{TestHandles, TestPorts, TestServiceBuilder, test_deps, test_service, test_service_with};
