//! `POST /api/v1/users/me/mfa/totp`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::FactorName;

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{TotpEnrolBody, TotpEnrolResponse};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// The name of a factor enrolled without one.
const DEFAULT_NAME: &str = "Authenticator app";

/// Starts a TOTP enrolment: a pending factor and its secret, shown once.
#[utoipa::path(post, path = "/api/v1/users/me/mfa/totp", tag = "mfa", request_body = TotpEnrolBody,
    security(("bearer" = [])),
    description = "A pending TOTP factor (RFC 6238: SHA-1, 6 digits, 30 s): a fresh 160-bit secret, stored encrypted, shown this once as base32 and as an `otpauth://` URI for a QR code. It does nothing until `POST /users/me/mfa/totp/{id}/confirm` within 10 minutes. The password is checked as by change-password (wrong ones count towards the login lockout).",
    responses(
        (status = 201, body = TotpEnrolResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `password` missing, or a `name` that is blank, over 64 characters or holds control characters"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED or INVALID_CREDENTIALS (wrong password)"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the account has a second factor and this session signed in without it"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn begin_totp(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<TotpEnrolBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    let password = super::password(&body.password)?;
    let name =
        FactorName::parse(body.name.as_deref().unwrap_or(DEFAULT_NAME)).map_err(|e| ApiError::field("name", e))?;
    let enrolment =
        to_completion(async move { service.begin_totp_enrolment(&principal, password, name, &ctx.0).await }).await??;
    Ok(HttpResponse::Created().json(TotpEnrolResponse {
        id: enrolment.factor_id.to_string(),
        secret: enrolment.secret.to_base32(),
        otpauth_uri: enrolment.otpauth_uri.clone(),
        expires_in: enrolment.expires_in.as_secs(),
    }))
}
