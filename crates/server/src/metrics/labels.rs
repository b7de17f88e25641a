//! Label values, kept to small fixed sets. A label value that comes from the request as sent
//! (a raw path, a method token) would let any client create series without bound and would
//! copy ids into the metrics, so every value here is chosen from a list or from the route
//! table.

use actix_web::http::Method;
use portcullis_domain::{InfraError, LoginError, LoginOutcome, MfaVerifyError, PasskeySignInError};

/// The route label of requests that matched no route (404s of the router, probes, scans).
pub const UNMATCHED: &str = "unmatched";

/// The route label: the pattern of the matched route as registered (for example
/// `/api/v1/admin/users/{id}`), never the path as sent; [`UNMATCHED`] without one.
pub fn route(pattern: Option<String>) -> String {
    match pattern {
        Some(p) if !p.is_empty() => p,
        _ => UNMATCHED.to_owned(),
    }
}

/// The method label: the standard methods by name, any extension method as `other`.
pub fn method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// `outcome` of a successful login.
pub const SUCCESS: &str = "success";
/// `outcome` of a refused login.
pub const FAILURE: &str = "failure";
/// `reason` of a successful login.
pub const NO_REASON: &str = "none";
/// `reason` of a login the handler refused before the use case (malformed email, empty password).
pub const INVALID_REQUEST: &str = "invalid_request";

/// Every `reason` of a failed login: the series are created at start with 0, so a dashboard
/// sees them before the first failure, and nothing outside this list is ever used.
pub const LOGIN_FAILURE_REASONS: [&str; 12] = [
    INVALID_REQUEST,
    "invalid_credentials",
    "account_deleted",
    "account_suspended",
    "account_deactivated",
    "email_not_verified",
    "too_many_attempts",
    "mfa_required",
    "rate_limited",
    "busy",
    "unavailable",
    "error",
];

/// The `factor` label of second steps.
pub const MFA_FACTORS: [&str; 3] = ["totp", "recovery_code", "webauthn"];

/// Every `outcome` of a second step, created at 0.
pub const MFA_OUTCOMES: [&str; 9] = [
    SUCCESS,
    "invalid_code",
    "invalid_credential",
    "challenge_burned",
    "too_many_attempts",
    "unknown_challenge",
    "account_blocked",
    "rate_limited",
    "error",
];

/// The `outcome` of a second step.
pub fn mfa(result: &Result<LoginOutcome, MfaVerifyError>) -> &'static str {
    match result {
        Ok(_) => SUCCESS,
        Err(MfaVerifyError::InvalidCode) => "invalid_code",
        Err(MfaVerifyError::InvalidCredential { .. }) => "invalid_credential",
        Err(MfaVerifyError::ChallengeBurned) => "challenge_burned",
        Err(MfaVerifyError::TooManyAttempts { .. }) => "too_many_attempts",
        Err(MfaVerifyError::UnknownChallenge) => "unknown_challenge",
        Err(MfaVerifyError::Blocked(_)) => "account_blocked",
        Err(MfaVerifyError::RateLimited { .. }) => "rate_limited",
        Err(_) => "error",
    }
}

/// `(outcome, reason)` of a login use-case result. Refused accounts use the reasons of the
/// audit log (`account_suspended`, ...).
pub fn login(result: &Result<LoginOutcome, LoginError>) -> (&'static str, &'static str) {
    let reason = match result {
        Ok(_) => return (SUCCESS, NO_REASON),
        Err(LoginError::InvalidCredentials) => "invalid_credentials",
        Err(LoginError::Blocked(block)) => block.audit_reason(),
        Err(LoginError::TooManyAttempts { .. }) => "too_many_attempts",
        Err(LoginError::MfaRequired(_)) => "mfa_required",
        Err(LoginError::RateLimited { .. }) => "rate_limited",
        Err(LoginError::Infra(e)) => infra(e),
        // A newer outcome of the (non-exhaustive) error enum.
        Err(_) => "error",
    };
    (FAILURE, reason)
}

/// The `reason` of a sign-in that failed on a dependency.
fn infra(e: &InfraError) -> &'static str {
    match e {
        InfraError::Busy { .. } => "busy",
        InfraError::Unavailable(_) => "unavailable",
        _ => "error",
    }
}

/// Every `reason` of a failed passkey sign-in, created at 0 like [`LOGIN_FAILURE_REASONS`].
pub const PASSKEY_LOGIN_FAILURE_REASONS: [&str; 11] = [
    INVALID_REQUEST,
    "invalid_credential",
    "account_deleted",
    "account_suspended",
    "account_deactivated",
    "email_not_verified",
    "too_many_attempts",
    "rate_limited",
    "busy",
    "unavailable",
    "error",
];

/// `(outcome, reason)` of a passkey sign-in's result, with the reasons of password logins.
pub fn passkey_login(result: &Result<LoginOutcome, PasskeySignInError>) -> (&'static str, &'static str) {
    let reason = match result {
        Ok(_) => return (SUCCESS, NO_REASON),
        Err(PasskeySignInError::InvalidCredential) => "invalid_credential",
        Err(PasskeySignInError::Blocked(block)) => block.audit_reason(),
        Err(PasskeySignInError::TooManyAttempts { .. }) => "too_many_attempts",
        Err(PasskeySignInError::RateLimited { .. }) => "rate_limited",
        Err(PasskeySignInError::Infra(e)) => infra(e),
        Err(_) => "error",
    };
    (FAILURE, reason)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use portcullis_domain::model::AccountBlock;

    use super::*;

    #[test]
    fn routes_are_patterns_or_unmatched() {
        assert_eq!(route(Some("/api/v1/admin/users/{id}".to_owned())), "/api/v1/admin/users/{id}");
        assert_eq!(route(None), UNMATCHED);
        assert_eq!(route(Some(String::new())), UNMATCHED);
    }

    #[test]
    fn extension_methods_share_one_label() {
        assert_eq!(method(&Method::GET), "GET");
        assert_eq!(method(&Method::DELETE), "DELETE");
        for token in ["PROPFIND", "X-9f0c2b1e-4d6a", "get"] {
            assert_eq!(method(&Method::from_bytes(token.as_bytes()).unwrap()), "other", "{token}");
        }
    }

    #[test]
    fn every_login_failure_has_a_listed_reason() {
        let wait = Duration::from_secs(1);
        let failures = [
            LoginError::InvalidCredentials,
            LoginError::Blocked(AccountBlock::Deleted),
            LoginError::Blocked(AccountBlock::Suspended),
            LoginError::Blocked(AccountBlock::Deactivated),
            LoginError::Blocked(AccountBlock::NotVerified),
            LoginError::TooManyAttempts { retry_after: wait },
            LoginError::RateLimited { retry_after: wait },
            LoginError::Infra(InfraError::Busy { retry_after: wait }),
            LoginError::Infra(InfraError::Unavailable("down".into())),
            LoginError::Infra(InfraError::Unexpected("bug".into())),
            LoginError::MfaRequired(portcullis_domain::MfaChallenge {
                mfa_token: "t".into(),
                factors: vec![],
                expires_in: wait,
                webauthn_options: None,
            }),
        ];
        let mut seen = Vec::new();
        for e in failures {
            let (outcome, reason) = login(&Err(e));
            assert_eq!(outcome, FAILURE);
            assert!(LOGIN_FAILURE_REASONS.contains(&reason), "{reason} is not listed");
            seen.push(reason);
        }
        seen.push(INVALID_REQUEST);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), LOGIN_FAILURE_REASONS.len(), "every listed reason is reachable");
        assert!(seen.contains(&"account_suspended") && seen.contains(&"busy"));
    }

    #[test]
    fn every_passkey_login_reason_is_listed_and_reachable() {
        let wait = Duration::from_secs(1);
        let failures = [
            PasskeySignInError::InvalidCredential,
            PasskeySignInError::Blocked(AccountBlock::Deleted),
            PasskeySignInError::Blocked(AccountBlock::Suspended),
            PasskeySignInError::Blocked(AccountBlock::Deactivated),
            PasskeySignInError::Blocked(AccountBlock::NotVerified),
            PasskeySignInError::TooManyAttempts { retry_after: wait },
            PasskeySignInError::RateLimited { retry_after: wait },
            PasskeySignInError::Infra(InfraError::Busy { retry_after: wait }),
            PasskeySignInError::Infra(InfraError::Unavailable("down".into())),
            PasskeySignInError::Infra(InfraError::Unexpected("bug".into())),
        ];
        let mut seen = vec![INVALID_REQUEST];
        for e in failures {
            let (outcome, reason) = passkey_login(&Err(e));
            assert_eq!(outcome, FAILURE);
            assert!(PASSKEY_LOGIN_FAILURE_REASONS.contains(&reason), "{reason} is not listed");
            seen.push(reason);
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), PASSKEY_LOGIN_FAILURE_REASONS.len(), "every listed reason is reachable");
    }

    #[test]
    fn every_second_step_outcome_is_listed() {
        let wait = Duration::from_secs(1);
        for e in [
            MfaVerifyError::InvalidCode,
            MfaVerifyError::InvalidCredential { webauthn_options: None },
            MfaVerifyError::ChallengeBurned,
            MfaVerifyError::TooManyAttempts { retry_after: wait },
            MfaVerifyError::UnknownChallenge,
            MfaVerifyError::Blocked(AccountBlock::Suspended),
            MfaVerifyError::RateLimited { retry_after: wait },
            MfaVerifyError::Infra(InfraError::Unavailable("down".into())),
        ] {
            let outcome = mfa(&Err(e));
            assert!(MFA_OUTCOMES.contains(&outcome), "{outcome} is not listed");
        }
    }
}
