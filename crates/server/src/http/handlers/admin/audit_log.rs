//! `GET /api/v1/admin/audit-log`

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::model::{AuditAction, AuditQuery, Permission, Timestamp};

use super::authorize;
use crate::http::auth::Authenticated;
use crate::http::dto::{AuditEntryView, AuditLogPage, AuditLogResponse};
use crate::http::problem::ApiError;
use crate::http::query;
use crate::wiring::Service;

/// Default page size, as for the login history and security events.
pub const DEFAULT_LIMIT: u32 = 50;

/// An RFC 3339 instant. A `+` offset sent unencoded arrives as a space (form encoding), so
/// a space is read back as `+` rather than refusing `...T10:00:00+02:00` written by hand.
fn instant(field: &str, value: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(value)
        .or_else(|e| if value.contains(' ') { Timestamp::parse_rfc3339(&value.replace(' ', "+")) } else { Err(e) })
        .map_err(|_| ApiError::field(field, "must be an RFC 3339 date-time, e.g. 2026-03-08T04:46:25.344Z"))
}

/// Parses `user_id`, `action` (an exact dotted name), `from` (inclusive) and `to`
/// (exclusive, not before `from`), and `limit`/`offset` by the shared paging rules (default
/// 50). Other parameters are ignored.
///
/// # Errors
/// `VALIDATION_ERROR` naming the parameter.
pub fn parse_query(raw: &str) -> Result<AuditQuery, ApiError> {
    let mut q = AuditQuery { user_id: None, action: None, from: None, to: None, limit: DEFAULT_LIMIT, offset: 0 };
    for (key, value) in query::pairs(raw)? {
        match key.as_str() {
            "limit" => q.limit = query::limit(&value)?,
            "offset" => q.offset = query::offset(&value)?,
            "user_id" => {
                q.user_id = Some(value.parse().map_err(|_| ApiError::field("user_id", "must be a user id"))?);
            }
            "action" => {
                q.action =
                    Some(AuditAction::parse(&value).ok_or_else(|| ApiError::field("action", "is not a known action"))?);
            }
            "from" => q.from = Some(instant("from", &value)?),
            "to" => q.to = Some(instant("to", &value)?),
            _ => {}
        }
    }
    if let (Some(from), Some(to)) = (q.from, q.to)
        && to < from
    {
        return Err(ApiError::field("to", "must not be before from"));
    }
    Ok(q)
}

/// The whole audit log, newest first (ties broken by id, descending), optionally narrowed
/// to one account, one action and a time window (`audit:read`).
#[utoipa::path(get, path = "/api/v1/admin/audit-log", tag = "admin",
    security(("bearer" = [])),
    params(
        ("user_id" = Option<String>, Query, description = "only entries about this account"),
        ("action" = Option<String>, Query, description = "an exact dotted action name, e.g. admin.user.suspended"),
        ("from" = Option<String>, Query, description = "RFC 3339; entries created at or after it (inclusive)"),
        ("to" = Option<String>, Query, description = "RFC 3339; entries created before it (exclusive); not before from"),
        ("limit" = Option<u32>, Query, description = "1..100, default 50"),
        ("offset" = Option<u64>, Query, description = "≥ 0, default 0"),
    ),
    responses(
        (status = 200, body = AuditLogResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR naming the parameter"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks audit:read"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn audit_log(
    service: web::Data<Service>,
    caller: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::AuditRead)?;
    let q = parse_query(req.query_string())?;
    let (limit, offset) = (q.limit, q.offset);
    let page = service.admin_audit_log(&actor, q).await?;
    Ok(HttpResponse::Ok().json(AuditLogResponse {
        success: true,
        data: AuditLogPage {
            entries: page.items.iter().map(AuditEntryView::from).collect(),
            total_count: page.total_count,
            limit,
            offset,
        },
    }))
}

#[cfg(test)]
mod tests {
    use portcullis_domain::model::UserId;

    use super::*;

    #[test]
    fn defaults_and_values() {
        let none = AuditQuery { user_id: None, action: None, from: None, to: None, limit: 50, offset: 0 };
        assert_eq!(parse_query("").unwrap(), none);
        let id = UserId::new_v7();
        let q = parse_query(&format!(
            "user_id={id}&action=admin.user.suspended&from=2026-03-08T04:46:25.344Z&to=2026-03-08T07:46:25%2B02:00&limit=5&offset=3"
        ))
        .unwrap();
        assert_eq!(q.user_id, Some(id));
        assert_eq!(q.action, Some(AuditAction::AdminUserSuspended));
        assert_eq!(q.from, Some(Timestamp::parse_rfc3339("2026-03-08T04:46:25.344Z").unwrap()));
        assert_eq!(q.to, Some(Timestamp::parse_rfc3339("2026-03-08T05:46:25Z").unwrap()));
        assert_eq!((q.limit, q.offset), (5, 3));
        // An unencoded `+` arrives as a space and is read back.
        let unencoded = parse_query("from=2026-03-08T07:46:25+02:00").unwrap();
        assert_eq!((unencoded.from, unencoded.to), (q.to, None));
        // An empty window is allowed (it selects nothing).
        assert!(parse_query("from=2026-03-08T04:46:25Z&to=2026-03-08T04:46:25Z").is_ok());
    }

    #[test]
    fn rejects_bad_values_naming_the_parameter() {
        for (q, field) in [
            ("user_id=42", "user_id"),
            ("user_id=", "user_id"),
            ("action=admin.user.nope", "action"),
            ("action=", "action"),
            ("from=yesterday", "from"),
            ("from=2026-03-08", "from"),
            ("to=2026-13-01T00:00:00Z", "to"),
            ("from=2026-03-08T04:00:00Z&to=2026-03-08T03:00:00Z", "to"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("offset=x", "offset"),
        ] {
            let err = parse_query(q).unwrap_err();
            assert_eq!(err.code(), "VALIDATION_ERROR", "{q}");
            assert!(format!("{err:?}").contains(&format!("field: \"{field}\"")), "{q}: {err:?}");
        }
    }
}
