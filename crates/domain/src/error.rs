//! Failures shared by every use case: the infrastructure ones the caller cannot fix.

use std::time::Duration;

use crate::ports::{BoxError, HashError, StoreError, TokenError};

/// An infrastructure failure. HTTP maps `Unavailable` and `Busy` to 503, the rest to 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InfraError {
    /// The store is unreachable or timed out.
    #[error("a dependency is unavailable")]
    Unavailable(#[source] BoxError),
    /// Password hashing is saturated.
    #[error("the server is busy")]
    Busy {
        /// Suggested wait.
        retry_after: Duration,
    },
    /// A bug or an unexpected state.
    #[error("unexpected failure")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for InfraError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(source) => Self::Unavailable(source),
            other => Self::Unexpected(Box::new(other)),
        }
    }
}

impl From<HashError> for InfraError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy { retry_after } => Self::Busy { retry_after },
            other => Self::Unexpected(Box::new(other)),
        }
    }
}

impl From<TokenError> for InfraError {
    fn from(e: TokenError) -> Self {
        Self::Unexpected(Box::new(e))
    }
}

/// A field that failed validation, for the `errors` list of a 400.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The request field (a dotted path for nested fields).
    pub field: String,
    /// What is wrong with it. Never echoes secrets.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl ToString) -> Self {
        Self { field: field.into(), message: message.to_string() }
    }
}
