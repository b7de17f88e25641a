//! `DELETE /api/v1/admin/users/{id}/mfa`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::Permission;

use super::{authorize, target};
use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::MfaResetResponse;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Removes every second factor of a user who lost them (`users:write`).
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/mfa", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    description = "Removes every second factor, pending enrolment and recovery code of the account, and revokes all of its sessions, so its password alone signs in again. Audited as `admin.user.mfa_reset` with `actor_id`; the user is mailed. An administrator cannot reset their own factors here (400 `VALIDATION_ERROR` on `id`): they remove them one by one under `/users/me/mfa`, from a session that signed in with one.",
    responses(
        (status = 200, body = MfaResetResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks users:write"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: unknown or malformed id"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: the caller's own account"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn reset_user_mfa(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::UsersWrite)?;
    let user = target(&id);
    let removed = service.admin_reset_mfa(&actor, user, &ctx.0).await?;
    Ok(HttpResponse::Ok().json(MfaResetResponse { user_id: user.to_string(), factors_removed: removed }))
}
