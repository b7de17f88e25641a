#![doc = include_str!("../README.md")]

pub mod breach;
pub mod cli;
pub mod config;
pub mod http;
pub mod mail_templates;
pub mod metrics;
pub mod production;
pub mod startup;
pub mod telemetry;
pub mod webhook_worker;
pub mod wiring;
pub mod worker;

pub use config::Settings;
pub use startup::Application;
pub use wiring::{ServerPorts, Service};
