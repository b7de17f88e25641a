#![doc = include_str!("../README.md")]

mod audit;
mod codes;
mod config;
mod error;
mod outbox;
mod pool;
mod rate_limit;
mod rows;
mod schema;
mod sessions;
mod unit_of_work;
mod users;

pub use config::DbConfig;
pub use pool::{DieselStore, migrate};
