//! `GET /api/v1/notifications`

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::NotificationQuery;

use crate::http::auth::Authenticated;
use crate::http::dto::{NotificationsPage, NotificationsResponse};
use crate::http::problem::ApiError;
use crate::http::query;
use crate::wiring::Service;

/// Parses `limit` (1..=100, default 20), `offset` (≥ 0) and `unread_only` (`true`, `false`,
/// `1`, `0`; default false), refusing anything else; other parameters are ignored.
///
/// # Errors
/// `VALIDATION_ERROR` naming the parameter.
pub fn parse_query(query: &str) -> Result<NotificationQuery, ApiError> {
    let pairs = query::pairs(query)?;
    let mut q = NotificationQuery::default();
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => q.limit = query::limit(&value)?,
            "offset" => q.offset = query::offset(&value)?,
            "unread_only" => {
                q.unread_only = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(ApiError::field("unread_only", "must be true, false, 1 or 0")),
                };
            }
            _ => {}
        }
    }
    Ok(q)
}

/// The caller's own notifications, newest first, with the count the filter selects and the
/// count unread.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "1..100, default 20"),
        ("offset" = Option<u64>, Query, description = "≥ 0, default 0"),
        ("unread_only" = Option<bool>, Query, description = "true/false/1/0, default false: only unread notifications"),
    ),
    responses(
        (status = 200, body = NotificationsResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn list_notifications(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = parse_query(req.query_string())?;
    let page = service.notifications(&principal, q).await?;
    Ok(HttpResponse::Ok()
        .json(NotificationsResponse { success: true, data: NotificationsPage::new(&page, q.limit, q.offset) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values() {
        assert_eq!(parse_query("").unwrap(), NotificationQuery { limit: 20, offset: 0, unread_only: false });
        let q = parse_query("limit=100&offset=7&unread_only=1&other=x").unwrap();
        assert_eq!(q, NotificationQuery { limit: 100, offset: 7, unread_only: true });
        assert!(parse_query("unread_only=true").unwrap().unread_only);
        assert!(!parse_query("unread_only=0").unwrap().unread_only);
    }

    #[test]
    fn rejects_out_of_range_and_garbage_naming_the_parameter() {
        for (q, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=abc", "limit"),
            ("offset=-1", "offset"),
            ("offset=9223372036854775808", "offset"),
            ("unread_only=yes", "unread_only"),
            ("unread_only=", "unread_only"),
        ] {
            let err = parse_query(q).unwrap_err();
            assert_eq!(err.code(), "VALIDATION_ERROR", "{q}");
            assert!(format!("{:?}", err).contains(field), "{q}: {err:?}");
        }
    }
}
