//! Section 9: one's own passkeys, signing in with one, and the demo page.

pub mod demo;
pub mod manage;
pub mod sign_in;
