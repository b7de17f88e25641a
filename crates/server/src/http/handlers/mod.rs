//! One handler per file: parse, call a use case, map the result.

pub mod admin;
pub mod alert_revoke;
pub mod docs;
pub mod email_revert;
pub mod fallback;
pub mod health;
pub mod login;
pub mod login_code;
pub mod login_history;
pub mod logout;
pub mod me;
pub mod mfa;
pub mod notifications;
pub mod passkeys;
pub mod password;
pub mod refresh;
pub mod register;
pub mod resend_verification;
pub mod security_events;
pub mod sessions;
pub mod sign_in_log;
pub mod verify_email;
