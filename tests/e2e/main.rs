//! End-to-end tests of the HTTP contract (`shared/contract/API.md` sections 1-5 and 8,
//! errors, health, several instances), each on SQLite and on PostgreSQL.

// The test bodies are plain async fns that `on_both_backends!` wraps in `#[test]`s, so
// clippy's allowance for unwrap in tests does not reach them.
#![expect(clippy::unwrap_used, reason = "test bodies outside #[test] functions")]

mod account;
mod admin_access;
mod admin_audit;
mod admin_users;
mod alert_revoke;
mod bad_input;
mod breached_passwords;
mod close_account;
mod email_change;
mod enrichment;
mod export;
mod faults;
mod history;
mod instances;
mod login;
mod login_code;
mod mail_content;
mod mail_delivery;
mod metrics;
mod mfa;
mod notifications;
mod operations;
mod passkey_browser;
mod passkeys;
mod password;
mod refresh;
mod register_verify;
mod retention;
mod secrets;
mod secure_defaults;
mod sign_in_log;
mod webhooks;
