//! Section 8: the second step of a sign-in, and one's own second factors.

pub mod confirm;
pub mod enrol;
pub mod overview;
pub mod recovery_codes;
pub mod remove;
pub mod verify;

use portcullis_domain::model::FactorId;
use uuid::Uuid;

/// The factor id of a path. A malformed id becomes the nil UUID, which no factor has, so it
/// is answered exactly as an unknown one (404).
fn factor_id(raw: &str) -> FactorId {
    raw.parse().unwrap_or_else(|_| FactorId::from_uuid(Uuid::nil()))
}

/// The password of a management body: present and not empty.
fn password(raw: &str) -> Result<portcullis_domain::model::Password, crate::http::problem::ApiError> {
    if raw.is_empty() {
        return Err(crate::http::problem::ApiError::field("password", "is required"));
    }
    Ok(portcullis_domain::model::Password::new(raw))
}
