//! One-time codes mailed to prove control of an address.

use super::{CodeId, SecretDigest, Timestamp, UserId};

/// What a code proves.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum CodePurpose {
    /// Email verification after registration.
    VerifyEmail,
    /// Password reset.
    ResetPassword,
    /// The second step of a sign-in: the `mfa_token` a correct password earns when the
    /// account has an active second factor. Never mailed; its "code" is the token.
    MfaChallenge,
    /// Sign-in without the password (`POST /auth/login/code`).
    SignIn,
    /// Proves the new address of an [`super::EmailChange`]; mailed there, not to the
    /// account's address.
    ChangeEmail,
}

impl CodePurpose {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::MfaChallenge => "mfa_challenge",
            Self::SignIn => "sign_in",
            Self::ChangeEmail => "change_email",
        }
    }
    /// Parses the storage name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "verify_email" => Some(Self::VerifyEmail),
            "reset_password" => Some(Self::ResetPassword),
            "mfa_challenge" => Some(Self::MfaChallenge),
            "sign_in" => Some(Self::SignIn),
            "change_email" => Some(Self::ChangeEmail),
            _ => None,
        }
    }
}

/// A six-digit code as typed by the user. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

/// The code is not six ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("code must be 6 digits")]
pub struct CodeFormatError;

impl OneTimeCode {
    /// Accepts exactly six ASCII digits (surrounding white space trimmed).
    ///
    /// # Errors
    /// [`CodeFormatError`] otherwise.
    pub fn parse(raw: &str) -> Result<Self, CodeFormatError> {
        let code = raw.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(CodeFormatError)
        }
    }
    /// The digits.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeCode([REDACTED])")
    }
}

/// A stored code: only its keyed digest is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredCode {
    /// Id.
    pub id: CodeId,
    /// Whose address it proves.
    pub user_id: UserId,
    /// What it is for.
    pub purpose: CodePurpose,
    /// Keyed digest of the six digits (of the token, for an [`CodePurpose::MfaChallenge`]).
    pub digest: SecretDigest,
    /// Tries made so far (each try is counted before the comparison).
    pub attempts: u32,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was used.
    pub consumed_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_only() {
        assert!(OneTimeCode::parse("012345").is_ok());
        assert!(OneTimeCode::parse(" 012345 ").is_ok());
        for bad in ["12345", "1234567", "12a456", "١٢٣٤٥٦", ""] {
            assert!(OneTimeCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_code() {
        assert!(!format!("{:?}", OneTimeCode::parse("654321").unwrap()).contains("654321"));
    }
}
