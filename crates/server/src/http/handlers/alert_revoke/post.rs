//! `POST /api/v1/auth/sessions/revoke-from-alert`

use actix_web::{HttpResponse, web};

use super::page;
use crate::http::auth::Ctx;
use crate::http::dto::{StatusMessage, opaque_token};
use crate::http::link_page;
use crate::http::problem::ApiError;
use crate::http::token_input::TokenInput;
use crate::wiring::Service;

/// Uses up the single-use token of a new-sign-in alert ("Not you?"): signs that session out
/// and mails the owner a password-reset code. The answer is the same for a valid, used,
/// expired or unknown token. A form submission (the button of the `GET` page) gets a small
/// HTML page; a JSON one, JSON.
#[utoipa::path(post, path = "/api/v1/auth/sessions/revoke-from-alert", tag = "auth",
    request_body(content(
        (crate::http::dto::AlertRevokeBody = "application/json"),
        (crate::http::dto::AlertRevokeBody = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Done, or nothing to do (used, expired or unknown token): one answer", content(
            (StatusMessage = "application/json"),
            (String = "text/html"),
        )),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `token` missing, empty or over 512 characters"),
        (status = 415, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNSUPPORTED_MEDIA_TYPE: neither JSON nor a form"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED (per client IP), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn revoke_from_alert(
    service: web::Data<Service>,
    ctx: Ctx,
    input: TokenInput,
) -> Result<HttpResponse, ApiError> {
    let token = opaque_token("token", &input.token)?;
    service.revoke_from_alert(token, &ctx.0).await?;
    if input.form {
        return Ok(link_page::html(page::done(&service.policy().product_name)));
    }
    Ok(HttpResponse::Ok().json(StatusMessage {
        status: "success",
        message: "If the token was valid, that session has been signed out and a password reset code has been sent.",
    }))
}
