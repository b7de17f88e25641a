//! `GET /api/v1/admin/users/{id}`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::Permission;

use super::{authorize, target};
use crate::http::auth::Authenticated;
use crate::http::dto::AdminUserResponse;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// One account, deleted or not (`users:read`).
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = AdminUserResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks users:read"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: unknown or malformed id"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn show_user(
    service: web::Data<Service>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::UsersRead)?;
    let user = service.admin_user(&actor, target(&id)).await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse::new(&user)))
}
