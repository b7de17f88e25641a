//! `/api/v1/auth/sessions/revoke-from-alert`: the "Not you?" link of the new-sign-in mail.
//!
//! The mail links here with `GET`, but a `GET` changes nothing: mail scanners and link
//! previews fetch links on their own, and must not sign anyone out. The `GET` answers a small
//! page whose button `POST`s the token back as a form; API clients `POST` JSON.

pub mod page;
pub mod post;
pub mod show;
