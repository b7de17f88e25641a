//! `POST /api/v1/auth/reset-password`

use actix_web::{HttpResponse, web};
use portcullis_domain::FieldError;
use portcullis_domain::model::{Email, NewPassword, OneTimeCode};

use crate::http::auth::Ctx;
use crate::http::dto::{ResetPasswordBody, StatusMessage};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Sets a new password with the mailed reset code (single use), signs every session of the
/// account out and mails a notice.
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "auth", request_body = ResetPasswordBody,
    responses(
        (status = 200, body = StatusMessage),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR (a code that is not six digits, or a `new_password` the policy refuses or known breaches list), INVALID_CODE (also for an unknown address), CODE_EXPIRED or CODE_ATTEMPTS_EXCEEDED"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED (per client IP), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn reset_password(
    service: web::Data<Service>,
    ctx: Ctx,
    ApiJson(body): ApiJson<ResetPasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| FieldError::new("email", e));
    let code = OneTimeCode::parse(&body.code).map_err(|e| FieldError::new("code", e));
    let password = NewPassword::parse(&body.new_password, email.as_ref().ok(), service.policy().password)
        .map_err(|e| FieldError::new("new_password", e));
    let (email, code, password) = match (email, code, password) {
        (Ok(email), Ok(code), Ok(password)) => (email, code, password),
        (email, code, password) => {
            let errors = email.err().into_iter().chain(code.err()).chain(password.err()).collect();
            return Err(ApiError::validation(errors));
        }
    };
    to_completion(async move { service.reset_password(&email, &code, &password, &ctx.0).await }).await??;
    Ok(HttpResponse::Ok().json(StatusMessage {
        status: "success",
        message: "Password reset successfully. Every session was signed out; sign in with the new password.",
    }))
}
