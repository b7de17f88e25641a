//! Problem+json answers for what the router itself refuses: unknown paths and methods.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::http::problem::ApiError;

/// 404 `NOT_FOUND`.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such resource."))
}

/// 405 for a known path with another method, with `Allow: allow`. The contract has no code
/// for it; `METHOD_NOT_ALLOWED` follows the pattern of the others.
pub async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut res =
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "This method is not allowed here.")
            .error_response();
    res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}
