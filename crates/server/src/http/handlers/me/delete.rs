//! `DELETE /api/v1/users/me`

use actix_web::{HttpResponse, web};

use super::deactivate::confirming_password;
use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{ConfirmPasswordBody, StatusMessage};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Soft-deletes the caller's account (`deleted_at` set; the record is kept) after checking
/// the password, and signs every session out. Login then answers 403 `ACCOUNT_DELETED`.
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "account", request_body = ConfirmPasswordBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = StatusMessage),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `password` missing or empty"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED (no valid access token) or INVALID_CREDENTIALS (wrong password)"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED (the login failure limit of the address), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn delete_me(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<ConfirmPasswordBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    // Read only now: a bad body must not answer 400/415 before the token is checked.
    let ApiJson(body) = body?;
    let password = confirming_password(&body)?;
    to_completion(async move { service.delete_account(&principal, password, &ctx.0).await }).await??;
    Ok(HttpResponse::Ok()
        .json(StatusMessage { status: "success", message: "Account deleted. Every session was signed out." }))
}
