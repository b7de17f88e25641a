//! End-to-end tests of the HTTP contract (`shared/contract/API.md` sections 1-3, errors, health).

mod bad_input;
mod history;
mod login;
mod operations;
mod register_verify;
mod secrets;
mod sign_in_log;
