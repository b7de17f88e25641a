//! `PUT /api/v1/admin/users/{id}/roles`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::{Permission, Role, Roles};

use super::{authorize, target};
use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{AdminUserResponse, SetRolesBody};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Parses role names; every account keeps `user`, so it may be left out.
///
/// # Errors
/// `VALIDATION_ERROR` (field `roles`) for a name that is not a role.
pub fn parse_roles(names: &[String]) -> Result<Roles, ApiError> {
    let roles = names
        .iter()
        .map(|name| Role::parse(name).ok_or_else(|| ApiError::field("roles", "must contain only admin and user")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Roles::new(roles))
}

/// Replaces an account's roles (`users:write`); the change applies to the account's very
/// next request. An administrator cannot remove their own `admin` role. Audited as
/// `admin.user.roles_changed` with `actor_id`, `previous_roles` and `roles`.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/roles", tag = "admin", request_body = SetRolesBody,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = AdminUserResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: an unknown role (field roles), or the caller removing their own admin role (field id)"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks users:write"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: unknown or malformed id"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn set_user_roles(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
    body: Result<ApiJson<SetRolesBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::UsersWrite)?;
    let ApiJson(body) = body?;
    let roles = parse_roles(&body.roles)?;
    let user = service.admin_set_roles(&actor, target(&id), roles, &ctx.0).await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse::new(&user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn user_is_always_kept() {
        assert_eq!(parse_roles(&names(&["admin"])).unwrap().names(), ["admin", "user"]);
        assert_eq!(parse_roles(&names(&[])).unwrap().names(), ["user"]);
        assert_eq!(parse_roles(&names(&["user", "user"])).unwrap().names(), ["user"]);
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in [&["root"][..], &["admin", "Admin"], &[""]] {
            let err = parse_roles(&names(bad)).unwrap_err();
            assert_eq!(err.code(), "VALIDATION_ERROR", "{bad:?}");
            assert!(format!("{err:?}").contains("field: \"roles\""), "{err:?}");
        }
    }
}
