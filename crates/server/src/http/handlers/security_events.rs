//! `GET /api/v1/auth/security-events`

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::SecurityEventQuery;
use portcullis_domain::model::AuditAction;

use crate::http::auth::Authenticated;
use crate::http::dto::{HistoryEntry, SecurityEventsPage, SecurityEventsResponse};
use crate::http::problem::ApiError;
use crate::http::query;
use crate::wiring::Service;

/// Parsed query of the security-events endpoint.
#[derive(Debug, PartialEq, Eq)]
pub struct EventsQuery {
    /// 1..=100
    pub limit: u32,
    /// ≥ 0
    pub offset: u64,
    /// Only this action, when given.
    pub action: Option<AuditAction>,
}

/// Parses `limit` and `offset` by the shared paging rules, and `action` as an exact dotted name.
///
/// # Errors
/// `VALIDATION_ERROR` naming the parameter.
pub fn parse_query(query: &str) -> Result<EventsQuery, ApiError> {
    let mut q = EventsQuery { limit: 50, offset: 0, action: None };
    for (key, value) in query::pairs(query)? {
        match key.as_str() {
            "limit" => q.limit = query::limit(&value)?,
            "offset" => q.offset = query::offset(&value)?,
            "action" => {
                q.action =
                    Some(AuditAction::parse(&value).ok_or_else(|| ApiError::field("action", "is not a known action"))?);
            }
            _ => {}
        }
    }
    Ok(q)
}

/// Every audit entry of the caller (or those of one action), newest first.
#[utoipa::path(get, path = "/api/v1/auth/security-events", tag = "auth",
    security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "1..100, default 50"),
        ("offset" = Option<u64>, Query, description = "≥ 0, default 0"),
        ("action" = Option<String>, Query, description = "an exact dotted action name, e.g. auth.login.failure"),
    ),
    responses(
        (status = 200, body = SecurityEventsResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn security_events(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = parse_query(req.query_string())?;
    let query = SecurityEventQuery { action: q.action, limit: q.limit, offset: q.offset };
    let page = service.security_events(principal.user.id, query).await?;
    Ok(HttpResponse::Ok().json(SecurityEventsResponse {
        success: true,
        data: SecurityEventsPage {
            events: page.items.iter().map(HistoryEntry::from).collect(),
            total_count: page.total_count,
            limit: q.limit,
            offset: q.offset,
        },
        message: "Security events retrieved successfully",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_action() {
        assert_eq!(parse_query("").unwrap(), EventsQuery { limit: 50, offset: 0, action: None });
        let q = parse_query("action=auth.login.failure&limit=100&offset=7").unwrap();
        assert_eq!(q, EventsQuery { limit: 100, offset: 7, action: Some(AuditAction::LoginFailure) });
    }

    #[test]
    fn rejects_out_of_range_garbage_and_unknown_actions() {
        for q in ["limit=0", "limit=101", "limit=abc", "offset=-1", "action=auth.nope", "action=", "limit=1.5"] {
            assert_eq!(parse_query(q).unwrap_err().code(), "VALIDATION_ERROR", "{q}");
        }
    }
}
