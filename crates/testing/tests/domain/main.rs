//! Use-case tests of `portcullis-domain` on the in-memory store and the fakes, with
//! `mockall` mocks where asserting calls says more than inspecting state. One binary.

mod account;
mod authenticate;
mod deliver_mail;
mod login;
mod login_history;
mod login_mocks;
mod mocks;
mod notifications;
mod register;
mod resend;
mod sign_in_event;
mod support;
mod verify_email;
