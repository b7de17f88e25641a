//! `POST /api/v1/notifications/read-all`

use actix_web::{HttpResponse, web};

use crate::http::auth::Authenticated;
use crate::http::dto::SuccessFlag;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Marks every unread notification of the caller read; earlier read times stay.
#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SuccessFlag),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn mark_all_notifications_read(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    service.mark_all_notifications_read(&principal).await?;
    Ok(HttpResponse::Ok().json(SuccessFlag { success: true }))
}
