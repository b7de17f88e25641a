//! `POST /api/v1/auth/register`

use actix_web::{HttpResponse, web};
use portcullis_domain::RegisterUser;

use crate::http::auth::Ctx;
use crate::http::dto::{EmailData, RegisterBody, RegisterResponse};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Registers an account; the same answer whether or not the address is taken.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterBody,
    responses(
        (status = 201, body = RegisterResponse, description = "Accepted; a code was mailed if appropriate"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR (also a `password` found in known breaches when `passwords.breach_check` is on)"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED"),
    ))]
pub async fn register(
    service: web::Data<Service>,
    ctx: Ctx,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let req = RegisterUser::parse(&body.name, &body.email, &body.password, service.policy().password)
        .map_err(ApiError::validation)?;
    let email = service.register(req, &ctx.0).await?;
    Ok(HttpResponse::Created().json(RegisterResponse {
        status: "success",
        message: "Registration received. Check your email for a verification code.",
        data: EmailData { email: email.to_string() },
    }))
}
