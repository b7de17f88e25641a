//! Status and code of the second-factor errors (contract section 8).

use actix_web::http::StatusCode;
use portcullis_domain::{ExportError, LoginError, MfaManageError, MfaVerifyError, PasskeySignInError};

use super::ApiError;

impl From<MfaVerifyError> for ApiError {
    fn from(e: MfaVerifyError) -> Self {
        match e {
            // Unknown, malformed, used and expired tokens alike: start again with the password.
            MfaVerifyError::UnknownChallenge => Self::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "The mfa_token is invalid, used or expired. Sign in with your password again.",
            ),
            MfaVerifyError::InvalidCode => Self::new(StatusCode::BAD_REQUEST, "INVALID_CODE", "The code is incorrect."),
            MfaVerifyError::InvalidCredential { webauthn_options } => {
                let mut refused = invalid_credential();
                if let Some(options) = webauthn_options {
                    // Another try on the same mfa_token: a ceremony of its own, as in MFA_REQUIRED.
                    let mut members = serde_json::Map::new();
                    members.insert("webauthn_options".to_owned(), crate::http::dto::options_json(options));
                    refused.extensions = Some(Box::new(members));
                }
                refused
            }
            MfaVerifyError::ChallengeBurned => Self::new(
                StatusCode::BAD_REQUEST,
                "CODE_ATTEMPTS_EXCEEDED",
                "Too many wrong codes for this sign-in. Sign in with your password again.",
            ),
            MfaVerifyError::TooManyAttempts { retry_after } => Self::too_many("MFA_ATTEMPTS_EXCEEDED", retry_after),
            MfaVerifyError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            // The account was suspended or deleted after its password step: as at login.
            MfaVerifyError::Blocked(block) => LoginError::Blocked(block).into(),
            MfaVerifyError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::SecondFactorRequired => Self::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "This account has a second factor: sign in with it to export the account's data.",
            ),
            ExportError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            ExportError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<MfaManageError> for ApiError {
    fn from(e: MfaManageError) -> Self {
        match e {
            MfaManageError::WrongPassword => {
                Self::new(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS", "The password is incorrect.")
            }
            MfaManageError::TooManyAttempts { retry_after } => Self::too_many("LOGIN_ATTEMPTS_EXCEEDED", retry_after),
            MfaManageError::SecondFactorRequired => Self::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "This account has a second factor: sign in with it to manage second factors.",
            ),
            MfaManageError::NotFound => Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such second factor."),
            MfaManageError::EnrolmentExpired => Self::new(
                StatusCode::BAD_REQUEST,
                "CODE_EXPIRED",
                "This enrolment expired. Start again with a new secret.",
            ),
            MfaManageError::InvalidCode => {
                Self::new(StatusCode::BAD_REQUEST, "INVALID_CODE", "The code does not match this authenticator.")
            }
            MfaManageError::CodeAttemptsExceeded => Self::new(
                StatusCode::BAD_REQUEST,
                "CODE_ATTEMPTS_EXCEEDED",
                "Too many wrong codes: this enrolment was cancelled. Start again with a new secret.",
            ),
            MfaManageError::NoActiveFactor => {
                Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "This account has no active second factor.")
            }
            MfaManageError::InvalidCredential => invalid_credential(),
            MfaManageError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

/// Every refused WebAuthn response alike: the reason is in the audit log, not the answer.
fn invalid_credential() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_CREDENTIAL",
        "The passkey response was refused: start the ceremony again from its options.",
    )
}

impl From<PasskeySignInError> for ApiError {
    fn from(e: PasskeySignInError) -> Self {
        match e {
            PasskeySignInError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            PasskeySignInError::TooManyAttempts { retry_after } => LoginError::TooManyAttempts { retry_after }.into(),
            PasskeySignInError::InvalidCredential => invalid_credential(),
            PasskeySignInError::Blocked(block) => LoginError::Blocked(block).into(),
            PasskeySignInError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::ResponseError;
    use portcullis_domain::model::AccountBlock;

    use super::*;

    #[test]
    fn every_second_step_error_has_the_contracts_status_and_code() {
        let cases = [
            (MfaVerifyError::UnknownChallenge, 401, "UNAUTHORIZED"),
            (MfaVerifyError::InvalidCode, 400, "INVALID_CODE"),
            (MfaVerifyError::InvalidCredential { webauthn_options: None }, 400, "INVALID_CREDENTIAL"),
            (MfaVerifyError::ChallengeBurned, 400, "CODE_ATTEMPTS_EXCEEDED"),
            (MfaVerifyError::TooManyAttempts { retry_after: Duration::from_secs(60) }, 429, "MFA_ATTEMPTS_EXCEEDED"),
            (MfaVerifyError::Blocked(AccountBlock::Suspended), 403, "ACCOUNT_SUSPENDED"),
            (MfaVerifyError::RateLimited { retry_after: Duration::from_secs(5) }, 429, "RATE_LIMIT_EXCEEDED"),
        ];
        for (error, status, code) in cases {
            let problem = ApiError::from(error);
            assert_eq!((problem.status_code().as_u16(), problem.code()), (status, code));
        }
        let limited = ApiError::from(MfaVerifyError::TooManyAttempts { retry_after: Duration::from_secs(61) });
        let response = limited.error_response();
        assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("61"));
    }

    #[test]
    fn every_passkey_sign_in_error_has_a_status_and_code() {
        let cases = [
            (PasskeySignInError::InvalidCredential, 400, "INVALID_CREDENTIAL"),
            (PasskeySignInError::RateLimited { retry_after: Duration::from_secs(5) }, 429, "RATE_LIMIT_EXCEEDED"),
            (
                PasskeySignInError::TooManyAttempts { retry_after: Duration::from_secs(5) },
                429,
                "LOGIN_ATTEMPTS_EXCEEDED",
            ),
            (PasskeySignInError::Blocked(AccountBlock::Deleted), 403, "ACCOUNT_DELETED"),
        ];
        for (error, status, code) in cases {
            let problem = ApiError::from(error);
            assert_eq!((problem.status_code().as_u16(), problem.code()), (status, code));
        }
    }

    #[test]
    fn every_management_error_has_a_status_and_code() {
        let cases = [
            (MfaManageError::WrongPassword, 401, "INVALID_CREDENTIALS"),
            (MfaManageError::SecondFactorRequired, 403, "FORBIDDEN"),
            (MfaManageError::NotFound, 404, "NOT_FOUND"),
            (MfaManageError::EnrolmentExpired, 400, "CODE_EXPIRED"),
            (MfaManageError::InvalidCode, 400, "INVALID_CODE"),
            (MfaManageError::CodeAttemptsExceeded, 400, "CODE_ATTEMPTS_EXCEEDED"),
            (MfaManageError::NoActiveFactor, 404, "NOT_FOUND"),
            (MfaManageError::InvalidCredential, 400, "INVALID_CREDENTIAL"),
        ];
        for (error, status, code) in cases {
            let problem = ApiError::from(error);
            assert_eq!((problem.status_code().as_u16(), problem.code()), (status, code));
        }
    }
}
