//! `POST /api/v1/auth/logout`

use actix_web::{HttpResponse, web};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::SuccessFlag;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Revokes the current session; its access token is refused from the next request on.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SuccessFlag),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
    ))]
pub async fn logout(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
) -> Result<HttpResponse, ApiError> {
    service.logout(&principal, &ctx.0).await?;
    Ok(HttpResponse::Ok().json(SuccessFlag { success: true }))
}
