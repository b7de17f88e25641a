//! RFC 9457 problem details: the one error body of the API, and the mapping from every
//! domain error to a status and a stable `code`.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use portcullis_domain::{
    AuthError, FieldError, InfraError, LoginError, RegisterError, ResendError, SignInEventError, VerifyEmailError,
    model::AccountBlock,
};
use serde::Serialize;

// The mappings of the token, password and account-closing errors.
mod credentials;
mod mfa;
// The mapping of the administration errors.
mod admin;

/// The problem+json media type.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An API error: status, stable code, human detail, optional field errors and `Retry-After`.
/// Its `Debug` names the extension members but never shows their values (an `mfa_token`).
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<Duration>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Extension members of the problem (RFC 9457 §3.2), such as `MFA_REQUIRED`'s token.
    /// Boxed: it is rare, and every `Result<_, ApiError>` carries its size.
    extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldErrorBody<'a>>,
    #[serde(flatten)]
    extensions: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
struct FieldErrorBody<'a> {
    field: &'a str,
    message: &'a str,
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let members: Vec<&str> = self.extensions.iter().flat_map(|m| m.keys().map(String::as_str)).collect();
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field("errors", &self.errors)
            .field("retry_after", &self.retry_after)
            .field("cause", &self.cause)
            .field("extension_members", &members)
            .finish()
    }
}

impl ApiError {
    /// An error with a status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), errors: vec![], retry_after: None, cause: None, extensions: None }
    }

    /// 400 `VALIDATION_ERROR` listing the bad fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => "The request has invalid fields.".to_owned(),
        };
        Self { errors, ..Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", detail) }
    }

    /// 400 `VALIDATION_ERROR` for one field.
    pub fn field(field: &str, message: impl ToString) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 400 `VALIDATION_ERROR` on `field` (the body's field holding the new password:
    /// `password` at registration, `new_password` for a reset or a change): the new password
    /// is in known breaches (`passwords.breach_check`). The answer says nothing of the count.
    pub fn breached_password(field: &str) -> Self {
        Self::field(field, "This password appears in known data breaches, so attackers try it first. Choose another.")
    }

    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "A valid access token is required.")
    }

    /// 429 with `Retry-After`.
    pub fn too_many(code: &'static str, retry_after: Duration) -> Self {
        let detail = match code {
            "LOGIN_ATTEMPTS_EXCEEDED" => "Too many failed login attempts for this account. Try again later.",
            "MFA_ATTEMPTS_EXCEEDED" => "Too many wrong second-factor codes for this account. Try again later.",
            _ => "Too many requests. Try again later.",
        };
        Self { retry_after: Some(retry_after), ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail) }
    }

    /// 500 `INTERNAL_ERROR`; the cause goes to the log, never to the client.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "An unexpected error occurred.")
        }
    }

    /// A 500 for a domain outcome this server does not map yet: the domain's error enums are
    /// `#[non_exhaustive]`, so a variant added to `portcullis-domain` compiles here before it
    /// has its own answer. Logged as an error (as every 500 is), so it is noticed.
    pub fn unmapped(outcome: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::internal(outcome)
    }

    /// Replaces the 500 code (e.g. `HISTORY_FETCH_FAILED`).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            // The cause chain is for operators; the body stays generic.
            let chain = self.cause.as_deref().map(|e| crate::wiring::error_chain(e)).unwrap_or_default();
            tracing::error!(status = self.status.as_u16(), code = self.code, cause = %chain, "request failed");
        }
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(wait) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED && self.code == "UNAUTHORIZED" {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.body(self.body())
    }
}

impl ApiError {
    /// The problem+json document sent to the client.
    pub fn body(&self) -> String {
        let body = ProblemBody {
            kind: format!("https://portcullis.dev/problems/{}", self.code.to_lowercase().replace('_', "-")),
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
            errors: self.errors.iter().map(|e| FieldErrorBody { field: &e.field, message: &e.message }).collect(),
            extensions: self.extensions.as_deref(),
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// One bad field: 400 `VALIDATION_ERROR` naming it, so a field check can end with `?`.
impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::validation(vec![e])
    }
}

impl From<InfraError> for ApiError {
    fn from(e: InfraError) -> Self {
        match e {
            InfraError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "dependency unavailable");
                Self {
                    retry_after: Some(Duration::from_secs(1)),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "SERVICE_UNAVAILABLE",
                        "The service is temporarily unavailable. Try again shortly.",
                    )
                }
            }
            InfraError::Busy { retry_after } => Self {
                retry_after: Some(retry_after),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    "The server is busy. Try again shortly.",
                )
            },
            InfraError::Unexpected(cause) => Self::internal(cause),
            other => Self::internal(other),
        }
    }
}

impl From<portcullis_domain::ports::StoreError> for ApiError {
    fn from(e: portcullis_domain::ports::StoreError) -> Self {
        InfraError::from(e).into()
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            RegisterError::PasswordBreached => Self::breached_password("password"),
            RegisterError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

/// Email verification and password reset share the code rules, and so their answers.
impl From<VerifyEmailError> for ApiError {
    fn from(e: VerifyEmailError) -> Self {
        let bad = |code, detail| Self::new(StatusCode::BAD_REQUEST, code, detail);
        match e {
            VerifyEmailError::InvalidCode => bad("INVALID_CODE", "The code is invalid."),
            VerifyEmailError::CodeExpired => bad("CODE_EXPIRED", "The code has expired. Request a new one."),
            VerifyEmailError::AttemptsExceeded => {
                bad("CODE_ATTEMPTS_EXCEEDED", "Too many wrong codes. Request a new one later.")
            }
            VerifyEmailError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            VerifyEmailError::PasswordBreached => Self::breached_password("new_password"),
            VerifyEmailError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<ResendError> for ApiError {
    fn from(e: ResendError) -> Self {
        match e {
            ResendError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            ResendError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        let forbidden = |code, detail| Self::new(StatusCode::FORBIDDEN, code, detail);
        match e {
            LoginError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            LoginError::TooManyAttempts { retry_after } => Self::too_many("LOGIN_ATTEMPTS_EXCEEDED", retry_after),
            LoginError::InvalidCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS", "The email or password is incorrect.")
            }
            LoginError::Blocked(AccountBlock::Deleted) => {
                forbidden("ACCOUNT_DELETED", "This account has been deleted.")
            }
            LoginError::Blocked(AccountBlock::Suspended) => {
                forbidden("ACCOUNT_SUSPENDED", "This account has been suspended.")
            }
            LoginError::Blocked(AccountBlock::Deactivated) => {
                forbidden("ACCOUNT_DEACTIVATED", "This account has been deactivated.")
            }
            LoginError::Blocked(AccountBlock::NotVerified) => {
                forbidden("ACCOUNT_NOT_VERIFIED", "Verify your email address before signing in.")
            }
            LoginError::MfaRequired(challenge) => {
                let factors: Vec<&str> = challenge.factors.iter().map(|f| f.as_str()).collect();
                let mut members = serde_json::Map::new();
                members.insert("mfa_token".to_owned(), challenge.mfa_token.into());
                members.insert("factors".to_owned(), factors.into());
                members.insert("expires_in".to_owned(), challenge.expires_in.as_secs().into());
                if let Some(options) = challenge.webauthn_options {
                    // The request options themselves, as at `POST /auth/passkey/options`.
                    members.insert("webauthn_options".to_owned(), crate::http::dto::options_json(options));
                }
                Self {
                    extensions: Some(Box::new(members)),
                    ..forbidden("MFA_REQUIRED", "Finish signing in with your second factor.")
                }
            }
            LoginError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized => Self::unauthorized(),
            AuthError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

impl From<SignInEventError> for ApiError {
    fn from(e: SignInEventError) -> Self {
        match e {
            SignInEventError::RateLimited { retry_after } => Self::too_many("RATE_LIMIT_EXCEEDED", retry_after),
            SignInEventError::Infra(e) | SignInEventError::NotRecorded(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use portcullis_domain::{MfaChallenge, SecondFactor};

    use super::*;

    #[test]
    fn mfa_required_carries_its_members_in_the_body_and_never_in_debug() {
        let challenge = MfaChallenge {
            mfa_token: "tok-secret.0".to_owned(),
            factors: vec![SecondFactor::Totp, SecondFactor::RecoveryCode],
            expires_in: Duration::from_secs(300),
            webauthn_options: None,
        };
        let problem = ApiError::from(LoginError::MfaRequired(challenge));
        assert_eq!((problem.status_code(), problem.code()), (StatusCode::FORBIDDEN, "MFA_REQUIRED"));
        let body: serde_json::Value = serde_json::from_str(&problem.body()).unwrap();
        assert_eq!(body["mfa_token"], "tok-secret.0");
        assert_eq!(body["factors"], serde_json::json!(["totp", "recovery_code"]));
        assert_eq!((body["expires_in"].as_u64(), body["status"].as_u64()), (Some(300), Some(403)));
        assert!(!format!("{problem:?}").contains("tok-secret"), "{problem:?}");
        assert!(ApiError::unauthorized().body().find("mfa_token").is_none());
        assert!(body.get("webauthn_options").is_none(), "only for an account with a passkey");
        let with_passkey = MfaChallenge {
            mfa_token: "tok-secret.0".to_owned(),
            factors: vec![SecondFactor::Webauthn],
            expires_in: Duration::from_secs(300),
            webauthn_options: Some(serde_json::json!({"publicKey": {"challenge": "abc"}})),
        };
        let body: serde_json::Value =
            serde_json::from_str(&ApiError::from(LoginError::MfaRequired(with_passkey)).body()).unwrap();
        assert_eq!(body["webauthn_options"], serde_json::json!({"challenge": "abc"}));
        assert_eq!(body["factors"], serde_json::json!(["webauthn"]));
    }
}
