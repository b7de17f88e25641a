//! The caller's own account, `/users/me`: one handler per file.

pub mod deactivate;
pub mod delete;
pub mod email;
pub mod export;
pub mod show;
pub mod update;
