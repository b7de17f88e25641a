//! `POST /api/v1/auth/refresh`

use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpResponse, web};

use crate::http::auth::Ctx;
use crate::http::dto::{RefreshBody, RefreshResponse, opaque_token, whole_seconds};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Exchanges a refresh token for a new access and refresh token; the one sent is spent.
/// Sent again within `tokens.refresh_grace_secs` (10 s by default) it gets the same new pair
/// (parallel tabs); later, it signs the whole session out (`auth.token.reuse_detected`, the
/// user is notified in the app and by mail) and gets 401.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses(
        (status = 200, body = RefreshResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `refresh_token` missing, empty or over 512 characters"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED: unknown, expired, revoked or reused token, or an account that may not sign in"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED (per client IP), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn refresh(
    service: web::Data<Service>,
    ctx: Ctx,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let token = opaque_token("refresh_token", &body.refresh_token)?;
    let pair = service.refresh(token, &ctx.0).await?;
    let expires_in = whole_seconds(pair.expires_in(service.now()));
    Ok(HttpResponse::Ok()
        // Tokens must not sit in caches (RFC 6749, section 5.1).
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(RefreshResponse {
            status: "success",
            message: "Token refreshed successfully.",
            access_token: pair.access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: pair.refresh_token,
        }))
}
