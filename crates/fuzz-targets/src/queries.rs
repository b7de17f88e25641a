//! Query strings of the list endpoints.

use portcullis_server::http::handlers::admin::{audit_log, list_users, webhooks};
use portcullis_server::http::handlers::login_history;
use portcullis_server::http::query::MAX_LIMIT;

/// Parses the input as the query of the login history, the admin user list, a webhook's
/// deliveries and the admin audit log. Properties: no panic; refusals are 400 `VALIDATION_ERROR`; what is accepted
/// pages within the limits and, for the audit log, never ends before it starts.
pub fn query_strings(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let pages = [
        login_history::parse_query(&text).map(|q| (q.limit, q.offset)),
        list_users::parse_query(&text).map(|q| (q.limit, q.offset)),
        webhooks::parse_deliveries_query(&text).map(|(_, limit, offset)| (limit, offset)),
        audit_log::parse_query(&text).map(|q| {
            if let (Some(from), Some(to)) = (q.from, q.to) {
                assert!(from <= to, "a window ending before it starts was accepted");
            }
            (q.limit, q.offset)
        }),
    ];
    for page in pages {
        match page {
            Ok((limit, offset)) => {
                assert!((1..=MAX_LIMIT).contains(&limit), "limit {limit}");
                assert!(i64::try_from(offset).is_ok(), "offset {offset}");
            }
            Err(e) => assert_eq!(e.code(), "VALIDATION_ERROR", "{e}"),
        }
    }
}
