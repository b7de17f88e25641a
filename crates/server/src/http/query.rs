//! Query-string parsing shared by the list endpoints: the pairs, and the `limit` and
//! `offset` rules every page follows.

use super::problem::ApiError;

/// Largest page any list endpoint serves.
pub const MAX_LIMIT: u32 = 100;

/// The `key=value` pairs of a query string.
///
/// # Errors
/// `VALIDATION_ERROR` (field `query`) when it is not a valid query string.
pub fn pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(query).map_err(|_| ApiError::field("query", "is not a valid query string"))
}

/// `limit`: an integer from 1 to [`MAX_LIMIT`].
///
/// # Errors
/// `VALIDATION_ERROR` naming `limit`.
pub fn limit(value: &str) -> Result<u32, ApiError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| ApiError::field("limit", format!("must be an integer from 1 to {MAX_LIMIT}")))
}

/// `offset`: a non-negative integer the stores can take (they use signed 64-bit offsets).
///
/// # Errors
/// `VALIDATION_ERROR` naming `offset`.
pub fn offset(value: &str) -> Result<u64, ApiError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(|| ApiError::field("offset", "must be a non-negative integer"))
}
