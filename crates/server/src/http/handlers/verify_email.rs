//! `POST /api/v1/auth/verify-email`

use actix_web::{HttpResponse, web};
use portcullis_domain::FieldError;
use portcullis_domain::model::{Email, OneTimeCode};

use crate::http::auth::Ctx;
use crate::http::dto::{StatusMessage, VerifyEmailBody};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Verifies the address with the mailed six-digit code (single use).
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = VerifyEmailBody,
    responses(
        (status = 200, body = StatusMessage),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR, INVALID_CODE, CODE_EXPIRED or CODE_ATTEMPTS_EXCEEDED"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED"),
    ))]
pub async fn verify_email(
    service: web::Data<Service>,
    ctx: Ctx,
    ApiJson(body): ApiJson<VerifyEmailBody>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| FieldError::new("email", e));
    let code = OneTimeCode::parse(&body.code).map_err(|e| FieldError::new("code", e));
    let (email, code) = match (email, code) {
        (Ok(email), Ok(code)) => (email, code),
        (email, code) => return Err(ApiError::validation(email.err().into_iter().chain(code.err()).collect())),
    };
    to_completion(async move { service.verify_email(&email, &code, &ctx.0).await }).await??;
    Ok(HttpResponse::Ok().json(StatusMessage { status: "success", message: "Email verified successfully." }))
}
