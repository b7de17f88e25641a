//! `POST /api/v1/admin/users/{id}/restore`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::Permission;

use super::{authorize, target};
use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::AdminUserResponse;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Restores a soft-deleted account (`users:write`): `deleted_at` is cleared, the status is
/// left as it was, and revoked sessions stay revoked. Restoring an account that is not
/// deleted changes nothing. Audited as `admin.user.restored` with `actor_id`.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/restore", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = AdminUserResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks users:write"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: unknown or malformed id"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn restore_user(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::UsersWrite)?;
    let user = service.admin_restore_user(&actor, target(&id), &ctx.0).await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse::new(&user)))
}
