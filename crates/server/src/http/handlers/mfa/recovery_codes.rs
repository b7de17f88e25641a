//! `POST /api/v1/users/me/mfa/recovery-codes`

use actix_web::{HttpResponse, web};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{ConfirmPasswordBody, RecoveryCodesResponse};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Ten new recovery codes; the old ones stop working.
#[utoipa::path(post, path = "/api/v1/users/me/mfa/recovery-codes", tag = "mfa", request_body = ConfirmPasswordBody,
    security(("bearer" = [])),
    description = "Ten new single-use recovery codes (60 random bits each, `xxxx-xxxx-xxxx` in Crockford base32), shown this once and stored only as keyed hashes; every previous code stops working. Audited `mfa.recovery_codes.regenerated`; a notice is mailed. The password is checked as by change-password.",
    responses(
        (status = 201, body = RecoveryCodesResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `password` missing"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED or INVALID_CREDENTIALS (wrong password)"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: this session signed in without the account's second factor"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: the account has no active second factor"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn regenerate_recovery_codes(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<ConfirmPasswordBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    let password = super::password(&body.password)?;
    let codes =
        to_completion(async move { service.regenerate_recovery_codes(&principal, password, &ctx.0).await }).await??;
    Ok(HttpResponse::Created()
        .json(RecoveryCodesResponse { recovery_codes: codes.iter().map(|c| c.display().to_string()).collect() }))
}
