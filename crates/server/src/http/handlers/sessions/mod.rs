//! The caller's sessions: one handler per file.

pub mod list;
pub mod revoke;
