//! `DELETE /api/v1/admin/users/{id}` and `DELETE /api/v1/admin/users/{id}?purge=true`

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::model::Permission;

use super::{authorize, target};
use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{AdminUserResponse, DeleteUserResponse, PurgedUser, PurgedUserResponse};
use crate::http::problem::ApiError;
use crate::http::query;
use crate::wiring::Service;

/// `purge`: `true` or `false` (the default); other parameters are ignored.
fn purge_requested(raw: &str) -> Result<bool, ApiError> {
    let mut purge = false;
    for (key, value) in query::pairs(raw)? {
        if key == "purge" {
            purge = match value.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(ApiError::field("purge", "must be true or false")),
            };
        }
    }
    Ok(purge)
}

/// Soft-deletes an account (`users:write`): `deleted_at` is set, every session is revoked
/// at once and sign-in answers 403 `ACCOUNT_DELETED`. Deleting a deleted account changes
/// nothing. Audited as `admin.user.deleted` with `actor_id`. The account is kept for
/// `accounts.deleted_retention_days` (restorable meanwhile), then erased by the purge job.
///
/// With `?purge=true` the account (deleted or not) is erased at once, as the purge job
/// would: its row goes (the address is free for a new registration), with its sessions,
/// codes, notifications, factors and queued mail; its audit entries stay, without IP, user
/// agent and location. The answer is `{"success": true, "data": {"id", "purged_at"}}`;
/// an erased account is unknown afterwards (404). Audited as `admin.user.purged`.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "User id"),
        ("purge" = Option<bool>, Query, description = "true: erase the account's personal data now instead of at the end of its retention"),
    ),
    responses(
        (status = 200, body = DeleteUserResponse, description = "The soft-deleted account; with purge=true, the erased account's id and time"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: the caller's own account (field id), or purge neither true nor false"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks users:write"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: unknown, malformed or already erased id"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn delete_user(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let purge = purge_requested(request.query_string())?;
    let actor = authorize(&caller, Permission::UsersWrite)?;
    let id = target(&id);
    if purge {
        let purged_at = service.admin_purge_user(&actor, id, &ctx.0).await?;
        let data = PurgedUser { id: id.to_string(), purged_at: purged_at.to_rfc3339() };
        return Ok(HttpResponse::Ok().json(DeleteUserResponse::Purged(PurgedUserResponse { success: true, data })));
    }
    let user = service.admin_delete_user(&actor, id, &ctx.0).await?;
    Ok(HttpResponse::Ok().json(DeleteUserResponse::Deleted(AdminUserResponse::new(&user))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_is_true_or_false() {
        assert!(!purge_requested("").unwrap());
        assert!(purge_requested("purge=true").unwrap());
        assert!(!purge_requested("purge=false&x=1").unwrap());
        for bad in ["purge=yes", "purge=1", "purge=", "purge=TRUE"] {
            assert!(purge_requested(bad).is_err(), "{bad}");
        }
    }
}
