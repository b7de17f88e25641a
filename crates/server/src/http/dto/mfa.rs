//! Bodies of section 8: the second step of a sign-in and the management of one's factors.
//! The management answers are the objects themselves, without a `data` wrapper.

use portcullis_domain::model::Factor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /auth/mfa/verify`
// No `Debug`: it carries secrets, and a derived `Debug` would print them.
#[derive(Deserialize, ToSchema)]
pub struct MfaVerifyBody {
    /// The `mfa_token` of the login's `MFA_REQUIRED` problem.
    pub mfa_token: String,
    /// `totp`, `recovery_code` or `webauthn`.
    pub factor: String,
    /// Six digits from the authenticator, or a recovery code (`xxxx-xxxx-xxxx`; case,
    /// spaces and dashes do not matter). Required unless `factor` is `webauthn`.
    pub code: Option<String>,
    /// With `webauthn`: the `AuthenticationResponseJSON` answering the `webauthn_options` of
    /// the `MFA_REQUIRED` problem.
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

/// `POST /users/me/mfa/totp`
// No `Debug`: it carries the password.
#[derive(Deserialize, ToSchema)]
pub struct TotpEnrolBody {
    /// The account's current password.
    pub password: String,
    /// A label for the authenticator, 1 to 64 characters; `Authenticator app` when absent.
    pub name: Option<String>,
}

/// `201` of `POST /users/me/mfa/totp`: a pending factor, shown once.
// No `Debug`: it carries the seed.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolResponse {
    /// The pending factor's id, to confirm.
    pub id: String,
    /// The seed in base32 (160 bits), for typing into an authenticator.
    pub secret: String,
    /// The `otpauth://totp/...` URI to show as a QR code.
    pub otpauth_uri: String,
    /// Seconds left to confirm it.
    pub expires_in: u64,
}

/// `POST /users/me/mfa/totp/{id}/confirm`
// No `Debug`: it carries a code.
#[derive(Deserialize, ToSchema)]
pub struct ConfirmTotpBody {
    /// Six digits from the authenticator.
    pub code: String,
}

/// A second factor.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorView {
    /// Id (UUIDv7).
    pub id: String,
    /// `totp` or `webauthn`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The user's label.
    pub name: String,
    /// When it was enrolled (RFC 3339, ms, UTC).
    pub created_at: String,
    /// When it last signed the user in; null before the first time.
    pub last_used_at: Option<String>,
    /// Refused at sign-in, yet still the account's factor (so a clone cannot remove the
    /// second step): a passkey whose signature counter went backwards. Remove it, with
    /// the password, to add another.
    pub disabled: bool,
}

impl From<&Factor> for FactorView {
    fn from(f: &Factor) -> Self {
        Self {
            id: f.id.to_string(),
            kind: f.kind.as_str(),
            name: f.name.as_str().to_owned(),
            created_at: f.created_at.to_rfc3339(),
            last_used_at: f.last_used_at.map(|t| t.to_rfc3339()),
            disabled: false,
        }
    }
}

impl FactorView {
    /// `f` as listed among the account's factors, `disabled` as the overview says.
    pub fn listed(f: &Factor, disabled: &[portcullis_domain::model::FactorId]) -> Self {
        Self { disabled: disabled.contains(&f.id), ..Self::from(f) }
    }
}

/// `200` of `POST /users/me/mfa/totp/{id}/confirm`: the active factor, and for the
/// account's first factor its ten recovery codes, shown this once.
// No `Debug`: it may carry recovery codes.
#[derive(Serialize, ToSchema)]
pub struct ConfirmTotpResponse {
    /// The factor, now active.
    #[serde(flatten)]
    pub factor: FactorView,
    /// Present with the first active factor only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// `200` of `GET /users/me/mfa`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaOverviewResponse {
    /// Active factors, oldest first (pending enrolments are left out).
    pub factors: Vec<FactorView>,
    /// Recovery codes not used yet.
    pub recovery_codes_remaining: u32,
}

/// `201` of `POST /users/me/mfa/recovery-codes`: shown this once.
// No `Debug`: it carries recovery codes.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Ten new codes; the previous ones no longer work.
    pub recovery_codes: Vec<String>,
}

/// `200` of `DELETE /admin/users/{id}/mfa`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaResetResponse {
    /// The account.
    pub user_id: String,
    /// Active factors removed (recovery codes and pending enrolments went too).
    pub factors_removed: usize,
}
