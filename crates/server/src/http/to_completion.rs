//! Use cases that must reach their end even when the client goes away.

use std::future::Future;

use crate::http::problem::ApiError;

/// Runs `work` in a task of its own and waits for it.
///
/// A handler's future is dropped when a graceful shutdown runs out of time and, depending on
/// the actix-http release, when its client disconnects (actix/actix-web#1313, #3748; 3.20
/// keeps polling it). The use cases that reserve a counted attempt before they check a secret
/// (login, re-authentication with the password, redeeming a code) would then stop half-way:
/// the reservation stays, so a right password counts as a failure, and five dropped
/// connections lock the account. In a task of its own the use case ends as it would have had
/// the client waited, so hanging up changes nothing, whatever the HTTP layer does.
pub(crate) async fn to_completion<T: 'static>(work: impl Future<Output = T> + 'static) -> Result<T, ApiError> {
    actix_web::rt::spawn(work).await.map_err(ApiError::internal)
}
