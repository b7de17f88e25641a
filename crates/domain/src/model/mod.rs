//! Entities and value objects. Constructors check their rules, so a value that exists is valid.

mod audit;
mod code;
mod email;
mod email_change;
mod factor;
mod ids;
mod notification;
mod passkey;
mod password;
mod recovery_code;
mod role;
mod session;
mod timestamp;
mod totp;
mod user;
mod webhook;

pub use audit::*;
pub use code::*;
pub use email::*;
pub use email_change::*;
pub use factor::*;
pub use ids::*;
pub use notification::*;
pub use passkey::*;
pub use password::*;
pub use recovery_code::*;
pub use role::*;
pub use session::*;
pub use timestamp::*;
pub use totp::*;
pub use user::*;
pub use webhook::*;
