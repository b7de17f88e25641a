//! `GET /api/v1/admin/users`

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::model::{Permission, UserQuery, UserStatusFilter};

use super::authorize;
use crate::http::auth::Authenticated;
use crate::http::dto::{AdminUsersPage, AdminUsersResponse};
use crate::http::problem::ApiError;
use crate::http::query;
use crate::wiring::Service;

/// Default page size, as for notifications.
pub const DEFAULT_LIMIT: u32 = 20;

/// Longest search text: no longer one can match an address (254 characters) or a name.
pub const MAX_QUERY_LEN: usize = 254;

/// Parses `query` (trimmed; empty means no text filter), `status` (`active`, `suspended`,
/// `deactivated` or `deleted`) and `limit`/`offset` by the shared paging rules (default 20).
/// Other parameters are ignored.
///
/// # Errors
/// `VALIDATION_ERROR` naming the parameter.
pub fn parse_query(raw: &str) -> Result<UserQuery, ApiError> {
    let mut q = UserQuery { text: None, status: None, limit: DEFAULT_LIMIT, offset: 0 };
    for (key, value) in query::pairs(raw)? {
        match key.as_str() {
            "limit" => q.limit = query::limit(&value)?,
            "offset" => q.offset = query::offset(&value)?,
            "query" => {
                let text = value.trim();
                if text.chars().count() > MAX_QUERY_LEN {
                    return Err(ApiError::field("query", format!("must be at most {MAX_QUERY_LEN} characters")));
                }
                q.text = (!text.is_empty()).then(|| text.to_owned());
            }
            "status" => {
                q.status =
                    Some(UserStatusFilter::parse(&value).ok_or_else(|| {
                        ApiError::field("status", "must be active, suspended, deactivated or deleted")
                    })?);
            }
            _ => {}
        }
    }
    Ok(q)
}

/// Accounts matching a search, oldest first (`users:read`).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    security(("bearer" = [])),
    params(
        ("query" = Option<String>, Query, description = "case-insensitive substring of the email or the name (at most 254 characters; empty: every account)"),
        ("status" = Option<String>, Query, description = "active, suspended or deactivated (accounts not deleted in that state), or deleted (soft-deleted accounts, whatever their state); absent: all accounts"),
        ("limit" = Option<u32>, Query, description = "1..100, default 20"),
        ("offset" = Option<u64>, Query, description = "≥ 0, default 0"),
    ),
    responses(
        (status = 200, body = AdminUsersResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR naming the parameter"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks users:read"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn list_users(
    service: web::Data<Service>,
    caller: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::UsersRead)?;
    let q = parse_query(req.query_string())?;
    let (limit, offset) = (q.limit, q.offset);
    let page = service.admin_users(&actor, q).await?;
    Ok(HttpResponse::Ok().json(AdminUsersResponse { success: true, data: AdminUsersPage::new(&page, limit, offset) }))
}

#[cfg(test)]
mod tests {
    use portcullis_domain::model::AccountStatus;

    use super::*;

    #[test]
    fn defaults_and_values() {
        assert_eq!(parse_query("").unwrap(), UserQuery { text: None, status: None, limit: 20, offset: 0 });
        let q = parse_query("query=%20Ann%40x%20&status=suspended&limit=100&offset=7&other=1").unwrap();
        assert_eq!(
            q,
            UserQuery {
                text: Some("Ann@x".to_owned()),
                status: Some(UserStatusFilter::Status(AccountStatus::Suspended)),
                limit: 100,
                offset: 7,
            }
        );
        assert_eq!(parse_query("status=deleted").unwrap().status, Some(UserStatusFilter::Deleted));
        assert_eq!(parse_query("query=").unwrap().text, None);
    }

    #[test]
    fn rejects_bad_values_naming_the_parameter() {
        let long = format!("query={}", "a".repeat(MAX_QUERY_LEN + 1));
        for (q, field) in [
            ("status=banned", "status"),
            ("status=", "status"),
            ("status=Active", "status"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("offset=-1", "offset"),
            (long.as_str(), "query"),
        ] {
            let err = parse_query(q).unwrap_err();
            assert_eq!(err.code(), "VALIDATION_ERROR", "{q}");
            assert!(format!("{err:?}").contains(&format!("field: \"{field}\"")), "{q}: {err:?}");
        }
    }
}
