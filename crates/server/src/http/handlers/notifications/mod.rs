//! The caller's in-app notifications: one handler per file.

pub mod list;
pub mod read;
pub mod read_all;
