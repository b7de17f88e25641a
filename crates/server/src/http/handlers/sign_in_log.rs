//! `POST /api/v1/auth/log`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::MAX_FINGERPRINT_LEN;
use portcullis_domain::{ReportedEvent, SignInEventError};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{ReportedEventKind, SignInLogBody, SuccessFlag};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Records a sign-in or sign-up the client performed by a path the server did not see.
#[utoipa::path(post, path = "/api/v1/auth/log", tag = "auth", request_body = SignInLogBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = SuccessFlag, description = "`success: false` when storing failed internally"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED (20 per hour per user)"),
    ))]
pub async fn sign_in_log(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<SignInLogBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    // Read only now: a bad body must not answer 400/415 before the token is checked.
    let ApiJson(body) = body?;
    let fingerprint = body.fingerprint.filter(|f| !f.is_empty());
    if fingerprint.as_ref().is_some_and(|f| f.chars().count() > MAX_FINGERPRINT_LEN) {
        return Err(ApiError::field("fingerprint", format!("must be at most {MAX_FINGERPRINT_LEN} characters")));
    }
    // Control characters have no place in a fingerprint, and PostgreSQL refuses NUL in text.
    if fingerprint.as_ref().is_some_and(|f| f.chars().any(char::is_control)) {
        return Err(ApiError::field("fingerprint", "must not contain control characters"));
    }
    let event = match body.event {
        ReportedEventKind::Login => ReportedEvent::Login,
        ReportedEventKind::Signup => ReportedEvent::Signup,
    };
    let success = match service.record_sign_in_event(&principal, event, fingerprint, &ctx.0).await {
        Ok(()) => true,
        Err(SignInEventError::NotRecorded(e)) => {
            tracing::error!(error = %crate::wiring::error_chain(&e), "storing a client-reported sign-in event failed");
            false
        }
        Err(e) => return Err(e.into()),
    };
    Ok(HttpResponse::Ok().json(SuccessFlag { success }))
}
