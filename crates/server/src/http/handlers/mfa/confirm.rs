//! `POST /api/v1/users/me/mfa/totp/{id}/confirm`

use actix_web::{HttpResponse, web};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{ConfirmTotpBody, ConfirmTotpResponse, FactorView};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Activates a pending TOTP factor with a code from the authenticator.
#[utoipa::path(post, path = "/api/v1/users/me/mfa/totp/{id}/confirm", tag = "mfa", request_body = ConfirmTotpBody,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The pending factor's id")),
    description = "Activates the factor. From now on a password alone no longer signs this user in. The account's first active factor also returns its 10 recovery codes, shown this once. Audited `mfa.factor.enrolled`, a notice is mailed, and every other session of the user is revoked; the calling session stays at the level it signed in with (sign in again with the new factor for aal 2). The confirming code never signs in. An enrolment takes 5 codes; a sixth try cancels it.",
    responses(
        (status = 200, body = ConfirmTotpResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR (`code` missing), INVALID_CODE (not this authenticator's current code), CODE_EXPIRED (the enrolment is over 10 minutes old: start again) or CODE_ATTEMPTS_EXCEEDED (a sixth try: the enrolment is cancelled, start again)"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the account has a second factor and this session signed in without it"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: no pending factor of the caller has this id"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn confirm_totp(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
    body: Result<ApiJson<ConfirmTotpBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    if body.code.trim().is_empty() {
        return Err(ApiError::field("code", "is required"));
    }
    let factor_id = super::factor_id(&id);
    let (factor, codes) =
        to_completion(async move { service.confirm_totp_enrolment(&principal, factor_id, &body.code, &ctx.0).await })
            .await??;
    Ok(HttpResponse::Ok().json(ConfirmTotpResponse {
        factor: FactorView::from(&factor),
        recovery_codes: codes.map(|codes| codes.iter().map(|c| c.display().to_string()).collect()),
    }))
}
