//! `POST /api/v1/users/me/deactivate`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::Password;

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{ConfirmPasswordBody, StatusMessage};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// The confirming password, which must not be empty.
///
/// # Errors
/// `VALIDATION_ERROR` naming `password`.
pub fn confirming_password(body: &ConfirmPasswordBody) -> Result<Password, ApiError> {
    if body.password.is_empty() {
        return Err(ApiError::field("password", "is required"));
    }
    Ok(Password::new(&body.password))
}

/// Deactivates the caller's account after checking the password, and signs every session
/// out, this one included. Login then answers 403 `ACCOUNT_DEACTIVATED`.
#[utoipa::path(post, path = "/api/v1/users/me/deactivate", tag = "account", request_body = ConfirmPasswordBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = StatusMessage),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `password` missing or empty"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED (no valid access token) or INVALID_CREDENTIALS (wrong password)"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED (the login failure limit of the address), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn deactivate_me(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<ConfirmPasswordBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    // Read only now: a bad body must not answer 400/415 before the token is checked.
    let ApiJson(body) = body?;
    let password = confirming_password(&body)?;
    to_completion(async move { service.deactivate_account(&principal, password, &ctx.0).await }).await??;
    Ok(HttpResponse::Ok()
        .json(StatusMessage { status: "success", message: "Account deactivated. Every session was signed out." }))
}
