//! Bodies of the token and password endpoints: refresh, the "Not you?" revocation, password
//! recovery and change, and closing one's own account.

use std::time::Duration;

use portcullis_domain::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest refresh or alert token accepted. Real ones are 43 characters; the cap keeps
/// arbitrary input away from the keyed hash and the store.
pub const MAX_TOKEN_CHARS: usize = 512;

/// An opaque token field, trimmed: present, not blank, at most [`MAX_TOKEN_CHARS`].
///
/// # Errors
/// A [`FieldError`] naming `field` (never echoing the value).
pub fn opaque_token<'a>(field: &str, value: &'a str) -> Result<&'a str, FieldError> {
    let token = value.trim();
    if token.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if token.chars().count() > MAX_TOKEN_CHARS {
        return Err(FieldError::new(field, format!("must be at most {MAX_TOKEN_CHARS} characters")));
    }
    Ok(token)
}

/// A remaining lifetime in whole seconds, rounded up: a token that has 899.9 s left is
/// announced as 900, as at login, not as 899.
pub fn whole_seconds(left: Duration) -> u64 {
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

/// `POST /auth/refresh`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct RefreshBody {
    /// The refresh token of the login (or of the previous refresh), at most 512 characters.
    pub refresh_token: String,
}

/// `200` of `POST /auth/refresh`: the token fields of the login response.
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Serialize, ToSchema)]
pub struct RefreshResponse {
    /// Always `success`.
    pub status: &'static str,
    /// Human-readable.
    pub message: &'static str,
    /// A new PASETO v4.local access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token has left.
    pub expires_in: u64,
    /// The next refresh token; the one sent is spent.
    pub refresh_token: String,
}

/// `POST /auth/sessions/revoke-from-alert`, as JSON or as an HTML form
/// (`application/x-www-form-urlencoded`).
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct AlertRevokeBody {
    /// The token of the "Not you?" link in the new-sign-in mail, at most 512 characters.
    pub token: String,
}

/// `POST /auth/forgot-password`
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordBody {
    /// The account's address.
    pub email: String,
}

/// `POST /auth/login/code`
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignInCodeBody {
    /// The account's address.
    pub email: String,
}

/// `POST /auth/login/code/verify`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct CodeLoginBody {
    /// The account's address.
    pub email: String,
    /// The six digits of the mailed sign-in code.
    pub code: String,
    /// Keep the session for 30 days instead of one, as at password login.
    #[serde(default)]
    pub remember_me: Option<bool>,
}

/// `POST /users/me/email`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct ChangeEmailBody {
    /// The account's current password.
    pub password: String,
    /// The address to move the account to.
    pub new_email: String,
}

/// `POST /users/me/email/confirm`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct ConfirmEmailChangeBody {
    /// The six digits mailed to the new address.
    pub code: String,
}

/// The answer of `POST /users/me/email/confirm`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChangedResponse {
    /// Always `success`.
    pub status: &'static str,
    /// Human-readable.
    pub message: &'static str,
    /// The account's address from now on.
    pub email: String,
}

/// `POST /auth/email-change/revert`, as JSON or as the HTML form of the link's page
/// (`application/x-www-form-urlencoded`).
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct EmailRevertBody {
    /// The token of the link in the "your address was changed" mail, at most 512 characters.
    pub token: String,
}

/// `POST /auth/reset-password`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordBody {
    /// The account's address.
    pub email: String,
    /// The six digits of the reset mail.
    pub code: String,
    /// 15 to 128 characters by default, not common, not the email.
    pub new_password: String,
}

/// `POST /auth/change-password`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    /// The password in use now.
    pub current_password: String,
    /// 15 to 128 characters by default, not common, not the email.
    pub new_password: String,
}

/// `POST /users/me/deactivate` and `DELETE /users/me`: the password, confirming the caller.
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct ConfirmPasswordBody {
    /// The account's current password.
    pub password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_and_bounded() {
        assert_eq!(opaque_token("token", "  abc \n").unwrap(), "abc");
        assert_eq!(opaque_token("token", " ").unwrap_err().message, "is required");
        assert!(opaque_token("token", &"x".repeat(MAX_TOKEN_CHARS)).is_ok());
        let e = opaque_token("refresh_token", &"x".repeat(MAX_TOKEN_CHARS + 1)).unwrap_err();
        assert_eq!(e.field, "refresh_token");
        assert!(!e.message.contains("xxx"));
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(whole_seconds(Duration::from_millis(899_001)), 900);
        assert_eq!(whole_seconds(Duration::from_secs(900)), 900);
        assert_eq!(whole_seconds(Duration::ZERO), 0);
    }
}
