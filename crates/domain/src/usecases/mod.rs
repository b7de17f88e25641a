//! The use cases, each a method of [`crate::Portcullis`] in its own module.

pub mod authenticate;
mod common;
pub mod deliver_mail;
pub mod login;
pub mod login_history;
pub mod logout;
pub mod notifications;
pub mod profile;
pub mod register;
pub mod resend;
pub mod security_events;
pub mod sessions;
pub mod sign_in_event;
pub mod verify_email;
