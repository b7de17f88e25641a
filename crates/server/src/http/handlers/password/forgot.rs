//! `POST /api/v1/auth/forgot-password`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::Email;

use crate::http::auth::Ctx;
use crate::http::dto::{ForgotPasswordBody, StatusMessage};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::uniform_timing::{ENUMERATION_FLOOR, no_sooner_than};
use crate::wiring::Service;

/// Mails a six-digit password-reset code to the account with this address, if there is one
/// (and it is not deleted). The answer is the same for every address, and takes as long:
/// see [`crate::http::uniform_timing`].
#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = "auth", request_body = ForgotPasswordBody,
    description = "Mails a six-digit password-reset code to the account with this address, if there is one and it is not deleted. The answer is the same for every address, and comes no sooner than 100 ms after the request, so its timing does not tell either.",
    responses(
        (status = 200, body = StatusMessage, description = "Always, whether or not the address has an account"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: not a valid address"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED (per client IP), with Retry-After. Past 1 mail a minute or 5 an hour for one address, further requests answer 200 and send nothing"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn forgot_password(
    service: web::Data<Service>,
    ctx: Ctx,
    ApiJson(body): ApiJson<ForgotPasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    no_sooner_than(ENUMERATION_FLOOR, service.forgot_password(&email, &ctx.0)).await?;
    Ok(HttpResponse::Ok().json(StatusMessage {
        status: "success",
        message: "If the address belongs to an account, a password reset code has been sent.",
    }))
}
