//! The use cases, each a method of [`crate::Portcullis`] in its own module.

pub mod account;
pub mod admin;
pub mod alert_revoke;
pub mod authenticate;
pub mod codes;
mod common;
pub mod deliver_mail;
pub mod login;
pub mod login_history;
pub mod logout;
pub mod mfa_factors;
pub mod mfa_sign_in;
pub mod notifications;
pub mod operations;
pub mod passkey_factors;
pub mod passkey_sign_in;
pub mod password;
pub mod profile;
pub mod reauth;
pub mod refresh;
pub mod register;
pub mod resend;
pub mod security_events;
pub mod sessions;
pub mod sign_in_event;
pub mod verify_email;
