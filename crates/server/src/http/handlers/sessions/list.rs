//! `GET /api/v1/auth/sessions`

use actix_web::{HttpResponse, web};

use crate::http::auth::Authenticated;
use crate::http::dto::{SessionList, SessionView, SessionsResponse};
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// The caller's live sessions, newest first; `current` marks the one of the token used.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SessionsResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn list_sessions(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = service.sessions(&principal).await?;
    let sessions = sessions.iter().map(|s| SessionView::new(s, principal.session_id)).collect();
    Ok(HttpResponse::Ok().json(SessionsResponse { success: true, data: SessionList { sessions } }))
}
