//! `POST /api/v1/users/me/email` and `POST /api/v1/users/me/email/confirm`: moving the
//! caller's account to another address.

use actix_web::{HttpResponse, web};
use portcullis_domain::FieldError;
use portcullis_domain::model::{Email, OneTimeCode, Password};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{ChangeEmailBody, ConfirmEmailChangeBody, EmailChangedResponse, StatusMessage};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Starts moving the caller's account to `new_email`: a code to that address, a notice to the
/// current one.
#[utoipa::path(post, path = "/api/v1/users/me/email", tag = "account", request_body = ChangeEmailBody,
    security(("bearer" = [])),
    description = "Checks the password (a wrong one is counted towards the login lockout of the current address), then mails a six-digit code to `new_email` (the code rules of registration: 15 minutes, 5 tries; a new request replaces the previous one) and a notice naming the new address to the current one. The answer is the same whether or not `new_email` is taken: a taken address gets a \"someone tried to use your address\" mail instead of the code (and so does nobody, for a deleted account's address or an address kept for another account's revert link). A pending change reserves nothing: whoever confirms an address first gets it. Audited as `user.email.change_requested` (no address in the entry). On an account with an active second factor, only a session that used it may do this (403 `FORBIDDEN` otherwise). At most 1 request a minute and 5 an hour per account.",
    responses(
        (status = 200, body = StatusMessage, description = "Whether or not the new address is taken"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `password` missing or empty, `new_email` not an address or the current one"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED (no valid access token) or INVALID_CREDENTIALS (wrong password)"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: an account with a second factor, from a session that did not use it"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED (the login failure limit of the address) or RATE_LIMIT_EXCEEDED (the request limit of the account), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn change_email(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<ChangeEmailBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    // Read only now: a bad body must not answer 400/415 before the token is checked.
    let ApiJson(body) = body?;
    let password = (!body.password.is_empty()).then(|| Password::new(&body.password));
    let new_email = Email::parse(&body.new_email).map_err(|e| FieldError::new("new_email", e));
    let (password, new_email) = match (password, new_email) {
        (Some(password), Ok(new_email)) => (password, new_email),
        (password, new_email) => {
            let missing = password.is_none().then(|| FieldError::new("password", "is required"));
            return Err(ApiError::validation(missing.into_iter().chain(new_email.err()).collect()));
        }
    };
    to_completion(async move { service.request_email_change(&principal, password, &new_email, &ctx.0).await })
        .await??;
    Ok(HttpResponse::Ok().json(StatusMessage {
        status: "success",
        message: "A confirmation code has been sent to the new address. The address changes once it is entered.",
    }))
}

/// Switches the caller's address with the code mailed to the new one.
#[utoipa::path(post, path = "/api/v1/users/me/email/confirm", tag = "account", request_body = ConfirmEmailChangeBody,
    security(("bearer" = [])),
    description = "Switches the account to the address of the pending change whose code this is, and answers the address. Audited as `user.email.changed`. Both addresses are mailed; the old one with a single-use link (`GET`/`POST /auth/email-change/revert`) that moves the account back and signs every session out, for 7 days, during which that old address stays reserved for it. Sessions are kept. If the address was taken since the request (or is kept for another account's revert link), 400 `INVALID_CODE`. Wrong codes count per code (5) and per account (20 a day), as for verification codes.",
    responses(
        (status = 200, body = EmailChangedResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR (not six digits), INVALID_CODE (wrong or used code, no pending change, or the address taken meanwhile), CODE_EXPIRED or CODE_ATTEMPTS_EXCEEDED"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn confirm_email_change(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<ConfirmEmailChangeBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    let code = OneTimeCode::parse(&body.code).map_err(|e| ApiError::field("code", e))?;
    let email = to_completion(async move { service.confirm_email_change(&principal, &code, &ctx.0).await }).await??;
    Ok(HttpResponse::Ok().json(EmailChangedResponse {
        status: "success",
        message: "Email address changed.",
        email: email.as_str().to_owned(),
    }))
}
