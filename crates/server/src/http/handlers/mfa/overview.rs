//! `GET /api/v1/users/me/mfa`

use actix_web::{HttpResponse, web};

use crate::http::auth::Authenticated;
use crate::http::dto::{FactorView, MfaOverviewResponse};
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// The caller's active second factors and how many recovery codes are left.
#[utoipa::path(get, path = "/api/v1/users/me/mfa", tag = "mfa", security(("bearer" = [])),
    responses(
        (status = 200, body = MfaOverviewResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the account has a second factor and this session signed in without it (aal 1)"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn mfa_overview(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let overview = to_completion(async move { service.mfa_overview(&principal).await }).await??;
    Ok(HttpResponse::Ok().json(MfaOverviewResponse {
        factors: overview.factors.iter().map(|f| FactorView::listed(f, &overview.disabled)).collect(),
        recovery_codes_remaining: overview.recovery_codes_remaining,
    }))
}
