//! `/api/v1/auth/email-change/revert`: the link the old address gets when the account moves
//! to another one. As with the "Not you?" link, a `GET` only shows a page whose button
//! `POST`s the token back (mail scanners fetch links on their own); API clients `POST` JSON.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::RevertEmailChangeError;

use crate::http::auth::Ctx;
use crate::http::dto::{StatusMessage, opaque_token};
use crate::http::link_page::{self, document, escape};
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::http::token_input::TokenInput;
use crate::wiring::Service;

/// The page behind the link: what the button does, and the button. `token` is only echoed
/// into the form, escaped.
fn confirm_form(product: &str, token: &str) -> String {
    let body = format!(
        "<p>The email address of your account was changed, and the email about it brought you here.</p>\n\
<p>If that was not you, move the account back to this address. Every session of the account \
will be signed out. Then reset your password: whoever changed the address knows it.</p>\n\
<form method=\"post\" action=\"revert\">\
<input type=\"hidden\" name=\"token\" value=\"{}\">\
<button type=\"submit\">Undo the change</button></form>\n\
<p>If it was you, close this page. Nothing has changed.</p>",
        escape(token)
    );
    document(product, "Undo the address change?", &body)
}

fn done(product: &str) -> String {
    let body = "<p>Your account uses its previous address again, and every session was signed out.</p>\n\
<p>Next, request a password reset code (it comes to this address) and choose a new password.</p>";
    document(product, "Address change undone", body)
}

fn failed(product: &str) -> String {
    let body = "<p>This link is invalid, already used or expired (it works once, for 7 days). \
Nothing was changed.</p>";
    document(product, "Link not valid", body)
}

/// The page the revert link opens. Opening it changes nothing and does not look the token up.
#[utoipa::path(get, path = "/api/v1/auth/email-change/revert", tag = "auth",
    params(("token" = String, Query, description = "The token of the mail's link, at most 512 characters")),
    responses(
        (status = 200, body = String, content_type = "text/html", description = "A self-contained page (no scripts, nothing loaded from elsewhere) with a form posting the token to this path"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `token` missing, empty or over 512 characters"),
    ))]
pub async fn show_revert_form(service: web::Data<Service>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let token = link_page::query_token(&req)?;
    Ok(link_page::html(confirm_form(&service.policy().product_name, &token)))
}

/// Undoes an address change with the old address's single-use link.
#[utoipa::path(post, path = "/api/v1/auth/email-change/revert", tag = "auth",
    request_body(content(
        (crate::http::dto::EmailRevertBody = "application/json"),
        (crate::http::dto::EmailRevertBody = "application/x-www-form-urlencoded"),
    )),
    description = "The action of the link the old address gets when the account moves to another one: moves the account back to that address (whatever it moved to since), signs every session out, ends the links of later changes and every unused code of the account, removes the second factors added since the change was asked for, and mails the restored address. Audited as `user.email.change_reverted`. The link works once, for 7 days. A form submission (the button of the `GET` page) gets a small HTML page, with status 400 when the link did nothing.",
    responses(
        (status = 200, description = "Reverted", content(
            (StatusMessage = "application/json"),
            (String = "text/html"),
        )),
        (status = 400, description = "VALIDATION_ERROR (`token` missing, empty or over 512 characters) or INVALID_CODE (an unknown, used or expired link)", content(
            (crate::http::dto::Problem = "application/problem+json"),
            (String = "text/html"),
        )),
        (status = 415, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNSUPPORTED_MEDIA_TYPE: neither JSON nor a form"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED (per client IP), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn revert_email_change(
    service: web::Data<Service>,
    ctx: Ctx,
    input: TokenInput,
) -> Result<HttpResponse, ApiError> {
    let token = opaque_token("token", &input.token)?.to_owned();
    let product = service.policy().product_name.clone();
    let result = to_completion(async move { service.revert_email_change(&token, &ctx.0).await }).await?;
    match (result, input.form) {
        (Ok(()), true) => Ok(link_page::html(done(&product))),
        (Ok(()), false) => Ok(HttpResponse::Ok().json(StatusMessage {
            status: "success",
            message: "The address change was undone and every session was signed out.",
        })),
        (Err(RevertEmailChangeError::InvalidToken), true) => {
            Ok(link_page::html_with_status(StatusCode::BAD_REQUEST, failed(&product)))
        }
        (Err(e), _) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_escaped_and_the_form_posts_back_here() {
        let page = confirm_form("Portcullis", "\"><script>alert(1)</script>");
        assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""), "{page}");
        assert!(page.contains("<form method=\"post\" action=\"revert\">"), "{page}");
        for page in [confirm_form("P", "abc"), done("P"), failed("P")] {
            for external in ["http:", "https:", "src=", "href=", "<script", "url("] {
                assert!(!page.contains(external), "{external} in {page}");
            }
        }
    }
}
