//! Problem+json answers for what the router itself refuses: unknown paths and methods.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::http::problem::ApiError;

/// 404 `NOT_FOUND`.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such resource."))
}

/// 405 for a known path with another method. The contract has no code for it;
/// `METHOD_NOT_ALLOWED` follows the pattern of the others.
pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "This method is not allowed here."))
}
