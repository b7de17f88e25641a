//! `GET /api/v1/users/me/export`

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::AccountExportDocument;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// Everything stored about the caller as one JSON document (the answer is the document
/// itself, offered as a download named `portcullis-export-<user id>.json`): profile, sessions,
/// second factors and passkeys without secrets, recovery-code counts, notifications and audit
/// entries. Each field is described in the `AccountExportDocument` schema. Audited as
/// `user.data.exported`.
#[utoipa::path(get, path = "/api/v1/users/me/export", tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, body = AccountExportDocument),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the account has a second factor and this session signed in without it (aal 1)"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED: more than 10 exports of the account in an hour, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn export_me(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
) -> Result<HttpResponse, ApiError> {
    let (current, location) = (principal.session_id, principal.location.clone());
    let export = to_completion(async move { service.export_account(&principal, &ctx.0).await }).await??;
    let document = AccountExportDocument::new(&export, current, location.as_ref());
    Ok(HttpResponse::Ok()
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!("portcullis-export-{}.json", export.user.id))],
        })
        .json(document))
}
