//! `POST /api/v1/admin/users/{id}/status`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::Permission;

use super::{authorize, target};
use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{AdminUserResponse, SetStatusBody};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Sets an account's status (`users:write`). Suspending or deactivating revokes every
/// session of the account at once: its access tokens are refused from the next request on,
/// on every instance. Audited as `admin.user.activated`, `admin.user.suspended` or
/// `admin.user.deactivated` with `actor_id`, `previous_status`, `status` and `reason` in the
/// metadata.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/status", tag = "admin", request_body = SetStatusBody,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = AdminUserResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: unknown status, reason over 500 characters, or the caller's own account (field id)"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks users:write"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: unknown or malformed id"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn set_user_status(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
    body: Result<ApiJson<SetStatusBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::UsersWrite)?;
    let ApiJson(body) = body?;
    let reason = body.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    let user = service.admin_set_status(&actor, target(&id), body.status.into(), reason, &ctx.0).await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse::new(&user)))
}
