//! Section 9: one's own passkeys, and signing in with one.

pub mod manage;
pub mod sign_in;
