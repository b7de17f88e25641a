//! `GET /api/v1/auth/login-history`

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::HistoryQuery as DomainHistoryQuery;
use portcullis_domain::model::HistoryFilter;

use crate::http::auth::Authenticated;
use crate::http::dto::{HistoryEntry, HistoryPage, HistoryResponse};
use crate::http::problem::ApiError;
use crate::http::query;
use crate::wiring::Service;

/// Parsed query of the history endpoint.
#[derive(Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    /// 1..=100
    pub limit: u32,
    /// ≥ 0
    pub offset: u64,
    /// Which outcomes.
    pub filter: HistoryFilter,
}

/// Parses `limit`, `offset` and `filter`, refusing out-of-range or non-numeric values.
///
/// # Errors
/// `VALIDATION_ERROR` naming the parameter.
pub fn parse_query(query: &str) -> Result<HistoryQuery, ApiError> {
    let pairs = query::pairs(query)?;
    let mut q = HistoryQuery { limit: 50, offset: 0, filter: HistoryFilter::All };
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => q.limit = query::limit(&value)?,
            "offset" => q.offset = query::offset(&value)?,
            "filter" => {
                q.filter = match value.as_str() {
                    "" | "all" | "null" => HistoryFilter::All,
                    "success" => HistoryFilter::Success,
                    "failure" => HistoryFilter::Failure,
                    _ => return Err(ApiError::field("filter", "must be success, failure or all")),
                };
            }
            _ => {}
        }
    }
    Ok(q)
}

/// The caller's own login successes and failures, newest first.
#[utoipa::path(get, path = "/api/v1/auth/login-history", tag = "auth",
    security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "1..100, default 50"),
        ("offset" = Option<u64>, Query, description = "≥ 0, default 0"),
        ("filter" = Option<String>, Query, description = "success, failure, or all/empty/null for both"),
    ),
    responses(
        (status = 200, body = HistoryResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 500, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "HISTORY_FETCH_FAILED"),
    ))]
pub async fn login_history(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = parse_query(req.query_string())?;
    let page = service
        .login_history(principal.user.id, DomainHistoryQuery { filter: q.filter, limit: q.limit, offset: q.offset })
        .await
        .map_err(|e| ApiError::internal(e).with_code("HISTORY_FETCH_FAILED"))?;
    Ok(HttpResponse::Ok().json(HistoryResponse {
        success: true,
        data: HistoryPage {
            history: page.items.iter().map(HistoryEntry::from).collect(),
            total_count: page.total_count,
            limit: q.limit,
            offset: q.offset,
        },
        message: "Login history retrieved successfully",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_filters() {
        assert_eq!(parse_query("").unwrap(), HistoryQuery { limit: 50, offset: 0, filter: HistoryFilter::All });
        assert_eq!(parse_query("filter=null").unwrap().filter, HistoryFilter::All);
        assert_eq!(parse_query("filter=").unwrap().filter, HistoryFilter::All);
        assert_eq!(parse_query("filter=failure&limit=100&offset=7").unwrap().limit, 100);
    }

    #[test]
    fn rejects_out_of_range_and_garbage() {
        for q in ["limit=0", "limit=101", "limit=abc", "offset=-1", "offset=x", "filter=maybe", "limit=1.5"] {
            assert_eq!(parse_query(q).unwrap_err().code(), "VALIDATION_ERROR", "{q}");
        }
    }
}
