//! Status and code of the token, password and account-closing errors (contract section 4).

use actix_web::http::StatusCode;
#[cfg(test)]
use portcullis_domain::ResetPasswordError;
use portcullis_domain::{
    AlertRevokeError, ChangePasswordError, EmailChangeError, ForgotPasswordError, ReauthError, RefreshError,
    RevertEmailChangeError, SignInCodeRequestError,
};

use super::ApiError;

impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        match e {
            // One answer for unknown, spent, revoked and expired tokens and blocked accounts.
            RefreshError::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "The refresh token is invalid, expired or revoked. Sign in again.",
            ),
            RefreshError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            RefreshError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<AlertRevokeError> for ApiError {
    fn from(e: AlertRevokeError) -> Self {
        match e {
            AlertRevokeError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            AlertRevokeError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<EmailChangeError> for ApiError {
    fn from(e: EmailChangeError) -> Self {
        match e {
            EmailChangeError::WrongPassword => ReauthError::WrongPassword.into(),
            EmailChangeError::TooManyAttempts { retry_after } => ReauthError::TooManyAttempts { retry_after }.into(),
            EmailChangeError::SameAddress => Self::field("new_email", "is already the account's address"),
            EmailChangeError::SecondFactorRequired => Self::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "This account has a second factor: change its address from a session that used it.",
            ),
            EmailChangeError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            EmailChangeError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<RevertEmailChangeError> for ApiError {
    fn from(e: RevertEmailChangeError) -> Self {
        match e {
            RevertEmailChangeError::InvalidToken => {
                Self::new(StatusCode::BAD_REQUEST, "INVALID_CODE", "The link is invalid, used or expired.")
            }
            RevertEmailChangeError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            RevertEmailChangeError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<SignInCodeRequestError> for ApiError {
    fn from(e: SignInCodeRequestError) -> Self {
        match e {
            SignInCodeRequestError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            SignInCodeRequestError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<ForgotPasswordError> for ApiError {
    fn from(e: ForgotPasswordError) -> Self {
        match e {
            ForgotPasswordError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            ForgotPasswordError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<ReauthError> for ApiError {
    fn from(e: ReauthError) -> Self {
        match e {
            ReauthError::WrongPassword => {
                Self::new(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS", "The password is incorrect.")
            }
            // Confirmations share the per-address failure limit of login.
            ReauthError::TooManyAttempts { retry_after } => Self::too_many("LOGIN_ATTEMPTS_EXCEEDED", retry_after),
            ReauthError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(e: ChangePasswordError) -> Self {
        match e {
            ChangePasswordError::WrongPassword => ReauthError::WrongPassword.into(),
            ChangePasswordError::TooManyAttempts { retry_after } => ReauthError::TooManyAttempts { retry_after }.into(),
            ChangePasswordError::PasswordBreached => Self::breached_password("new_password"),
            ChangePasswordError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::ResponseError;

    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (RefreshError::Unauthorized.into(), 401, "UNAUTHORIZED"),
            (ResetPasswordError::InvalidCode.into(), 400, "INVALID_CODE"),
            (ResetPasswordError::CodeExpired.into(), 400, "CODE_EXPIRED"),
            (ResetPasswordError::AttemptsExceeded.into(), 400, "CODE_ATTEMPTS_EXCEEDED"),
            (ReauthError::WrongPassword.into(), 401, "INVALID_CREDENTIALS"),
            (
                ReauthError::TooManyAttempts { retry_after: Duration::from_secs(5) }.into(),
                429,
                "LOGIN_ATTEMPTS_EXCEEDED",
            ),
            (AlertRevokeError::RateLimited { retry_after: Duration::from_secs(5) }.into(), 429, "RATE_LIMIT_EXCEEDED"),
            (
                ForgotPasswordError::RateLimited { retry_after: Duration::from_secs(5) }.into(),
                429,
                "RATE_LIMIT_EXCEEDED",
            ),
            (
                SignInCodeRequestError::RateLimited { retry_after: Duration::from_secs(5) }.into(),
                429,
                "RATE_LIMIT_EXCEEDED",
            ),
            (EmailChangeError::WrongPassword.into(), 401, "INVALID_CREDENTIALS"),
            (EmailChangeError::SameAddress.into(), 400, "VALIDATION_ERROR"),
            (EmailChangeError::SecondFactorRequired.into(), 403, "FORBIDDEN"),
            (
                EmailChangeError::TooManyAttempts { retry_after: Duration::from_secs(5) }.into(),
                429,
                "LOGIN_ATTEMPTS_EXCEEDED",
            ),
            (EmailChangeError::RateLimited { retry_after: Duration::from_secs(5) }.into(), 429, "RATE_LIMIT_EXCEEDED"),
            (RevertEmailChangeError::InvalidToken.into(), 400, "INVALID_CODE"),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status_code().as_u16(), error.code()), (status, code));
        }
        let wrong = ApiError::from(ReauthError::WrongPassword).error_response();
        assert!(wrong.headers().get("www-authenticate").is_none(), "a password, not a token, was wrong");
        let limited = ApiError::from(ReauthError::TooManyAttempts { retry_after: Duration::from_secs(5) });
        assert_eq!(limited.error_response().headers().get("retry-after").unwrap(), "5");
    }
}
