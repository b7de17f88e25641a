//! `GET /api/v1/users/me`

use actix_web::HttpResponse;

use crate::http::auth::Authenticated;
use crate::http::dto::{MeResponse, UserView};
use crate::http::problem::ApiError;

/// The caller's account, as in the login response, located where the current session
/// signed in.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
    ))]
pub async fn show_me(Authenticated(principal): Authenticated) -> Result<HttpResponse, ApiError> {
    let user = UserView::new(&principal.user, principal.location.as_ref());
    Ok(HttpResponse::Ok().json(MeResponse { success: true, data: user }))
}
