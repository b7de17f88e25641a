//! `POST /api/v1/auth/resend-verification`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::Email;

use crate::http::auth::Ctx;
use crate::http::dto::{ResendBody, StatusMessage};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::uniform_timing::{ENUMERATION_FLOOR, no_sooner_than};
use crate::wiring::Service;

/// Mails a new code to an unverified account; answers the same for any address, and takes
/// as long: see [`crate::http::uniform_timing`].
#[utoipa::path(post, path = "/api/v1/auth/resend-verification", tag = "auth", request_body = ResendBody,
    description = "Mails a new verification code to an unverified account with this address. The answer is the same for any address, and comes no sooner than 100 ms after the request, so its timing does not tell either.",
    responses(
        (status = 200, body = StatusMessage),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED (1 per 60 s and 5 per hour per address)"),
    ))]
pub async fn resend_verification(
    service: web::Data<Service>,
    ctx: Ctx,
    ApiJson(body): ApiJson<ResendBody>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    no_sooner_than(ENUMERATION_FLOOR, service.resend_verification(&email, &ctx.0)).await?;
    Ok(HttpResponse::Ok().json(StatusMessage {
        status: "success",
        message: "If the address belongs to an unverified account, a new code has been sent.",
    }))
}
