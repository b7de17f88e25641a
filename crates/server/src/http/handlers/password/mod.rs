//! Password recovery and change: one handler per file.

pub mod change;
pub mod forgot;
pub mod reset;
