//! Use-case tests of `portcullis-domain` on the in-memory store and the fakes, with
//! `mockall` mocks where asserting calls says more than inspecting state. One binary.

mod account;
mod admin;
mod alert_revoke;
mod authenticate;
mod breached_passwords;
mod change_password;
mod close_account;
mod deliver_mail;
mod email_change;
mod export;
mod faults;
mod login;
mod login_code;
mod login_history;
mod login_mocks;
mod mfa_factors;
mod mfa_sign_in;
mod mocks;
mod notifications;
mod operations;
mod passkeys;
mod password_reset;
mod refresh;
mod register;
mod rehash;
mod resend;
mod retention;
mod sign_in_event;
mod support;
mod verify_email;
mod webhooks;
