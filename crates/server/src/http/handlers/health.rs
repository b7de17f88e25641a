//! `GET /health/live` and `GET /health/ready`.

use crate::http::problem::ApiError;
use crate::wiring::Service;
use actix_web::{HttpResponse, web};

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "operations", responses((status = 200, description = "Alive")))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The store answers; 503 `SERVICE_UNAVAILABLE` otherwise.
#[utoipa::path(get, path = "/health/ready", tag = "operations", responses(
    (status = 200, description = "Ready"),
    (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
))]
pub async fn ready(service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    // Any failure to answer means "do not send traffic here", whatever its cause.
    service.check_store().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok"})))
}
