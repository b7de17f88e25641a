#![doc = include_str!("../README.md")]

mod audit;
mod backend;
mod cached_sql;
mod codes;
mod config;
mod detached;
mod error;
mod factors;
mod notifications;
mod outbox;
pub mod own_users;
mod password_attempts;
mod pool;
mod rate_limit;
mod rows;
mod schema;
mod sessions;
mod sql_functions;
mod sql_types;
#[cfg(feature = "test-db")]
pub mod test_db;
mod unit_of_work;
mod users;
mod webhooks;

pub use config::{DbConfig, check_url};
pub use pool::{DieselStore, PoolGauge, PoolStatus, migrate};
