//! `GET /api/v1/auth/sessions/revoke-from-alert?token=...`

use actix_web::{HttpRequest, HttpResponse, web};

use super::page;
use crate::http::link_page;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// The page the "Not you?" link of a new-sign-in mail opens: it explains, and its button
/// `POST`s the token. Opening it changes nothing (mail scanners prefetch links), and it does
/// not even look the token up, so it reveals nothing either.
#[utoipa::path(get, path = "/api/v1/auth/sessions/revoke-from-alert", tag = "auth",
    params(("token" = String, Query, description = "The token of the mail's link, at most 512 characters")),
    responses(
        (status = 200, body = String, content_type = "text/html", description = "A self-contained page (no scripts, nothing loaded from elsewhere) with a form posting the token to this path"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `token` missing, empty or over 512 characters"),
    ))]
pub async fn show_revoke_form(service: web::Data<Service>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let token = link_page::query_token(&req)?;
    Ok(link_page::html(page::confirm_form(&service.policy().product_name, &token)))
}
