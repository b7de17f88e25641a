//! `DELETE /api/v1/users/me/mfa/{id}`

use actix_web::{HttpResponse, web};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{ConfirmPasswordBody, FactorView};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Removes one of the caller's second factors; the answer is the factor removed.
#[utoipa::path(delete, path = "/api/v1/users/me/mfa/{id}", tag = "mfa", request_body = ConfirmPasswordBody,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The factor's id")),
    description = "Removes a factor (active or pending). Removing the last active one turns the second step off and deletes the recovery codes. Audited `mfa.factor.removed`; a notice is mailed for an active factor. The password is checked as by change-password.",
    responses(
        (status = 200, body = FactorView),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `password` missing"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED or INVALID_CREDENTIALS (wrong password)"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: this session signed in without the account's second factor"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: no factor of the caller has this id"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn remove_factor(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
    body: Result<ApiJson<ConfirmPasswordBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    let password = super::password(&body.password)?;
    let factor_id = super::factor_id(&id);
    let removed =
        to_completion(async move { service.remove_factor(&principal, factor_id, password, &ctx.0).await }).await??;
    Ok(HttpResponse::Ok().json(FactorView::from(&removed)))
}
