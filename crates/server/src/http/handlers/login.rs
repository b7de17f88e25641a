//! `POST /api/v1/auth/login`

use actix_web::{HttpResponse, web};
use portcullis_domain::LoginRequest;
use portcullis_domain::model::{Email, Password};

use crate::http::auth::Ctx;
use crate::http::dto::{LoginBody, LoginResponse};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::metrics::Metrics;
use crate::wiring::Service;

/// Signs in with email and password. Each attempt that reaches this handler is counted in
/// `portcullis_logins_total` by outcome and reason.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody,
    description = "Signs in with email and password. Lockout: after `limits.login_failures_per_account` (5) failed attempts for the address within a sliding `limits.login_failure_window_secs` (30 minutes), 429 `LOGIN_ATTEMPTS_EXCEEDED` with `Retry-After`, without checking the password; unknown addresses lock alike. Only failures count: parallel logins with the right password all succeed (an attempt in flight holds its slot until its password is checked, and further attempts wait for it; past 10 s of waiting, 503 with `Retry-After`). A successful login, a password reset and an email verification clear the address's failures. A right password refused for the account's state (403) is not a failure and clears nothing.",
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "INVALID_CREDENTIALS"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "ACCOUNT_DELETED, ACCOUNT_SUSPENDED, ACCOUNT_DEACTIVATED or ACCOUNT_NOT_VERIFIED; or MFA_REQUIRED for an account with an active second factor (the password was right): the problem then has the members `mfa_token` (opaque, single use, for `POST /auth/mfa/verify`), `factors` (`totp`, `webauthn`, `recovery_code`: those the account can finish with), `expires_in` (300 seconds) and, for an account with a usable passkey, `webauthn_options` (request options bound to that token), and no session exists yet"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED or LOGIN_ATTEMPTS_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE (with Retry-After when hashing or parallel attempts on the address are saturated)"),
    ))]
pub async fn login(
    service: web::Data<Service>,
    metrics: Option<web::Data<Metrics>>,
    ctx: Ctx,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let invalid = |e: ApiError| {
        if let Some(m) = &metrics {
            m.observe_invalid_login();
        }
        e
    };
    let email = Email::parse(&body.email).map_err(|e| invalid(ApiError::field("email", e)))?;
    if body.password.is_empty() {
        return Err(invalid(ApiError::field("password", "is required")));
    }
    let req =
        LoginRequest { email, password: Password::new(&body.password), remember_me: body.remember_me.unwrap_or(false) };
    let result = to_completion(async move { service.login(req, &ctx.0).await }).await?;
    if let Some(m) = &metrics {
        m.observe_login(&result);
    }
    Ok(HttpResponse::Ok().json(LoginResponse::signed_in(result?)))
}
