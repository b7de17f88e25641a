//! `POST /api/v1/notifications/{id}/read`

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use portcullis_domain::NotificationError;
use portcullis_domain::model::NotificationId;

use crate::http::auth::Authenticated;
use crate::http::dto::SuccessFlag;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// The one answer for an unknown, malformed or another user's id, so ids cannot be probed.
fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such notification.")
}

/// Marks one of the caller's notifications read. Marking it again keeps the first read time.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Notification id")),
    responses(
        (status = 200, body = SuccessFlag),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: no notification of the caller has this id (unknown, malformed or another user's)"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn mark_notification_read(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: NotificationId = id.parse().map_err(|_| not_found())?;
    match service.mark_notification_read(&principal, id).await {
        Ok(()) => Ok(HttpResponse::Ok().json(SuccessFlag { success: true })),
        Err(NotificationError::NotFound) => Err(not_found()),
        Err(NotificationError::Infra(e)) => Err(e.into()),
        Err(other) => Err(ApiError::unmapped(other)),
    }
}
