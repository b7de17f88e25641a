//! `DELETE /api/v1/auth/sessions/{id}`

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use portcullis_domain::SessionError;
use portcullis_domain::model::SessionId;

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::SuccessFlag;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// The one answer for an unknown, malformed, revoked or another user's id, so ids cannot be
/// probed.
fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such session.")
}

/// Revokes one of the caller's live sessions, the current one included (its token is then
/// refused from the next request on).
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, body = SuccessFlag),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: no live session of the caller has this id (unknown, malformed, already revoked or another user's)"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn revoke_session(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: SessionId = id.parse().map_err(|_| not_found())?;
    match service.revoke_session(&principal, id, &ctx.0).await {
        Ok(()) => Ok(HttpResponse::Ok().json(SuccessFlag { success: true })),
        Err(SessionError::NotFound) => Err(not_found()),
        Err(SessionError::Infra(e)) => Err(e.into()),
        Err(other) => Err(ApiError::unmapped(other)),
    }
}
