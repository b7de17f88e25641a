//! `POST /api/v1/auth/passkey/options`, `POST /api/v1/auth/passkey/login`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::Email;

use crate::http::auth::Ctx;
use crate::http::dto::{LoginResponse, PasskeyLoginBody, PasskeySignInOptionsBody, options_json};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::metrics::Metrics;
use crate::wiring::Service;

/// Request options for a sign-in with a passkey.
#[utoipa::path(post, path = "/api/v1/auth/passkey/options", tag = "auth", request_body = PasskeySignInOptionsBody,
    description = "Request options (`PublicKeyCredentialRequestOptionsJSON`) for `navigator.credentials.get`, user verification preferred. They never list credentials, so every address, known or not, gets the same answer: the authenticator offers the user its discoverable credentials for this site. With `email`, only a passkey of that address's account can answer them. The challenge is stored server-side, single use, for 5 minutes, valid on every instance. The body is a JSON object; `{}` asks for a discoverable credential.",
    responses(
        (status = 200, body = Object, description = "PublicKeyCredentialRequestOptionsJSON"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: no JSON object, or `email` is not an address"),
        (status = 415, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNSUPPORTED_MEDIA_TYPE: the body is not sent as application/json"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn sign_in_options(
    service: web::Data<Service>,
    ctx: Ctx,
    body: Result<ApiJson<PasskeySignInOptionsBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    let email = match body.email {
        Some(raw) => Some(Email::parse(&raw).map_err(|e| ApiError::field("email", e))?),
        None => None,
    };
    let options = to_completion(async move { service.passkey_sign_in_options(email.as_ref(), &ctx.0).await }).await??;
    Ok(HttpResponse::Ok().json(options_json(options)))
}

/// Signs in with a passkey and no password.
#[utoipa::path(post, path = "/api/v1/auth/passkey/login", tag = "auth", request_body = PasskeyLoginBody,
    description = "Checks the `AuthenticationResponseJSON` against its ceremony (origin, RP ID, challenge, signature, user verification where the passkey verified its user at registration, a signature counter that went up) and signs in: the login response of `POST /auth/login`. The session is at aal 2 when the authenticator verified the user, else aal 1; `amr` is `[\"hwk\"]` for a device-bound key, `[\"swk\"]` for a synced one. The same per-IP limit, account lockout (every refused response to a live ceremony counts as a failed attempt on the passkey's account; one whose ceremony is used or expired, such as the second copy of a double submit, is audited and not counted), account-state checks, audit entry (method `passkey`) and new-sign-in alert as a password login. A counter that went backwards disables the passkey (audited `mfa.passkey.disabled`) and mails its owner. Counted in `portcullis_passkey_logins_total` by outcome and reason.",
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR (`credential` missing or not an object), or INVALID_CREDENTIAL: an unknown or disabled passkey, another account's, a used or expired challenge, a wrong origin or RP ID, a bad signature, missing user verification, or a counter that went backwards"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "ACCOUNT_DELETED, ACCOUNT_SUSPENDED, ACCOUNT_DEACTIVATED or ACCOUNT_NOT_VERIFIED"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED or LOGIN_ATTEMPTS_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn passkey_login(
    service: web::Data<Service>,
    metrics: Option<web::Data<Metrics>>,
    ctx: Ctx,
    ApiJson(body): ApiJson<PasskeyLoginBody>,
) -> Result<HttpResponse, ApiError> {
    if !body.credential.is_object() {
        if let Some(m) = &metrics {
            m.observe_invalid_passkey_login();
        }
        return Err(ApiError::field("credential", "must be an AuthenticationResponseJSON object"));
    }
    let remember_me = body.remember_me.unwrap_or(false);
    let result =
        to_completion(async move { service.passkey_sign_in(&body.credential, remember_me, &ctx.0).await }).await?;
    if let Some(m) = &metrics {
        m.observe_passkey_login(&result);
    }
    Ok(HttpResponse::Ok().json(LoginResponse::signed_in(result?)))
}
