//! Security headers on every response: what a browser must not do with an API response
//! (sniff it, frame it, cache it, send the page address on), set once here rather than by
//! each handler. A handler that sets one of these headers itself keeps its own value (the
//! `/docs` viewer has its own Content-Security-Policy).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::HttpOptions;

/// The Content-Security-Policy of every response that sets none itself: JSON and problem
/// documents load nothing and may not be framed.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Headers added to every response that does not already carry them.
const DEFAULTS: [(HeaderName, &str); 6] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CONTENT_SECURITY_POLICY, API_CSP),
    (header::REFERRER_POLICY, "no-referrer"),
    // Auth responses carry tokens and personal data: no shared or browser cache keeps them.
    (header::CACHE_CONTROL, "no-store"),
    (header::CROSS_ORIGIN_RESOURCE_POLICY, "same-origin"),
];

/// Adds the `DEFAULTS` headers to the response of `req`, and `Strict-Transport-Security` when the
/// service is published over HTTPS ([`HttpOptions::hsts`]).
pub async fn add(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let hsts = req.app_data::<web::Data<HttpOptions>>().is_some_and(|o| o.hsts);
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    for (name, value) in DEFAULTS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    Ok(res)
}
