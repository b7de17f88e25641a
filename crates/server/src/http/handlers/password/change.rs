//! `POST /api/v1/auth/change-password`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::{NewPassword, Password};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{ChangePasswordBody, StatusMessage};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Changes the caller's password after checking the current one (wrong ones count towards
/// the login lockout), signs every other session out and mails a notice. The calling
/// session keeps working.
#[utoipa::path(post, path = "/api/v1/auth/change-password", tag = "auth", request_body = ChangePasswordBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = StatusMessage),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `current_password` missing or empty, or a `new_password` the policy refuses or known breaches list (`passwords.breach_check`)"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED (no valid access token) or INVALID_CREDENTIALS (wrong current password)"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED (the login failure limit of the address), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn change_password(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<ChangePasswordBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    // Read only now: a bad body must not answer 400/415 before the token is checked.
    let ApiJson(body) = body?;
    if body.current_password.is_empty() {
        return Err(ApiError::field("current_password", "is required"));
    }
    let new_password = NewPassword::parse(&body.new_password, Some(&principal.user.email), service.policy().password)
        .map_err(|e| ApiError::field("new_password", e))?;
    let current = Password::new(&body.current_password);
    to_completion(async move { service.change_password(&principal, current, &new_password, &ctx.0).await }).await??;
    Ok(HttpResponse::Ok().json(StatusMessage {
        status: "success",
        message: "Password changed successfully. Every other session was signed out.",
    }))
}
