//! `POST /api/v1/auth/login/code` and `POST /api/v1/auth/login/code/verify`: sign-in by a
//! mailed code instead of the password.

use actix_web::{HttpResponse, web};
use portcullis_domain::model::{Email, OneTimeCode};
use portcullis_domain::{CodeLoginRequest, FieldError};

use crate::http::auth::Ctx;
use crate::http::dto::{CodeLoginBody, LoginResponse, SignInCodeBody, StatusMessage};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::http::uniform_timing::{ENUMERATION_FLOOR, no_sooner_than};
use crate::metrics::Metrics;
use crate::wiring::Service;

/// Mails a six-digit sign-in code to the account with this address, if there is one (and it
/// is not deleted). The answer is the same for every address.
#[utoipa::path(post, path = "/api/v1/auth/login/code", tag = "auth", request_body = SignInCodeBody,
    description = "Mails a six-digit sign-in code (the code rules of registration: 15 minutes, 5 tries, a new one replaces the old) to the account with this address, if there is one and it is not deleted, and audits it as `auth.login.code_requested`. The answer is the same for every address: no enumeration, and no sooner than 100 ms after the request, so its timing does not tell either.",
    responses(
        (status = 200, body = StatusMessage, description = "Always, whether or not the address has an account"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: not a valid address"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED (per client IP), with Retry-After. Past 1 mail a minute or 5 an hour for one address, further requests answer 200 and send nothing"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn request_sign_in_code(
    service: web::Data<Service>,
    ctx: Ctx,
    ApiJson(body): ApiJson<SignInCodeBody>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    let work = to_completion(async move { service.request_sign_in_code(&email, &ctx.0).await });
    no_sooner_than(ENUMERATION_FLOOR, work).await??;
    Ok(HttpResponse::Ok().json(StatusMessage {
        status: "success",
        message: "If the address belongs to an account, a sign-in code has been sent.",
    }))
}

/// Signs in with the mailed code: the answers of `POST /auth/login`.
#[utoipa::path(post, path = "/api/v1/auth/login/code/verify", tag = "auth", request_body = CodeLoginBody,
    description = "Signs in with the code `POST /auth/login/code` mailed, without the password, and answers like `POST /auth/login`: the same per-IP limit, the same failed-attempt counter for the address (a wrong code is a failed attempt: five wrong codes or passwords in 30 minutes lock both ways of signing in; a wrong, used, expired or burned code and an unknown address answer alike; and at most 20 wrong codes a day per address, after which codes get 429 `LOGIN_ATTEMPTS_EXCEEDED` while the password still works), the same account-state checks after a right code, and on an account with an active second factor 403 `MFA_REQUIRED`: the mailed code is spent and the factor finishes the sign-in through `POST /auth/mfa/verify` (the session's `amr` is then `[\"email\", <factor>]`). A session begun this way has `amr` `[\"email\"]` at aal 1. Every answer comes no sooner than 100 ms after the request, so a wrong code for an account (checked and audited) and one for an unknown address take the same time. Audited as `auth.login.success` / `auth.login.failure` with `\"method\": \"email_code\"` (failure reason `invalid_code` for a wrong code), with the new-sign-in alert. The code works once: of parallel requests with it, one signs in. Counted in `portcullis_code_logins_total` by outcome and reason.",
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR (not an address, or not six digits)"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "INVALID_CREDENTIALS"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "ACCOUNT_DELETED, ACCOUNT_SUSPENDED, ACCOUNT_DEACTIVATED or ACCOUNT_NOT_VERIFIED; or MFA_REQUIRED with the members of `POST /auth/login`'s"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "RATE_LIMIT_EXCEEDED or LOGIN_ATTEMPTS_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE (with Retry-After when parallel attempts on the address are saturated)"),
    ))]
pub async fn login_with_code(
    service: web::Data<Service>,
    metrics: Option<web::Data<Metrics>>,
    ctx: Ctx,
    ApiJson(body): ApiJson<CodeLoginBody>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| FieldError::new("email", e));
    let code = OneTimeCode::parse(&body.code).map_err(|e| FieldError::new("code", e));
    let (email, code) = match (email, code) {
        (Ok(email), Ok(code)) => (email, code),
        (email, code) => {
            if let Some(m) = &metrics {
                m.observe_invalid_code_login();
            }
            return Err(ApiError::validation(email.err().into_iter().chain(code.err()).collect()));
        }
    };
    let req = CodeLoginRequest { email, code, remember_me: body.remember_me.unwrap_or(false) };
    let work = to_completion(async move { service.login_with_code(req, &ctx.0).await });
    let result = no_sooner_than(ENUMERATION_FLOOR, work).await?;
    if let Some(m) = &metrics {
        m.observe_code_login(&result);
    }
    Ok(HttpResponse::Ok().json(LoginResponse::signed_in(result?)))
}
