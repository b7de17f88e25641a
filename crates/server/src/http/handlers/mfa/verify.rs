//! `POST /api/v1/auth/mfa/verify`

use actix_web::{HttpResponse, web};
use portcullis_domain::{MfaVerifyRequest, SecondFactor};

use crate::http::auth::Ctx;
use crate::http::dto::{LoginResponse, MfaVerifyBody, opaque_token};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::metrics::Metrics;
use crate::wiring::Service;

/// Longest code accepted: a recovery code typed with spaces is 14 characters; the cap keeps
/// arbitrary input away from the parser and the keyed hash.
const MAX_CODE_CHARS: usize = 64;

/// Finishes a sign-in that answered `MFA_REQUIRED`, with a TOTP code, a recovery code or a
/// passkey.
#[utoipa::path(post, path = "/api/v1/auth/mfa/verify", tag = "auth", request_body = MfaVerifyBody,
    description = "Finishes a sign-in whose first step (`POST /auth/login`, or `POST /auth/login/code/verify` with `amr` `[\"email\", …]` below) answered 403 `MFA_REQUIRED`. The answer is exactly the login's, for a session at `aal` 2 (`amr` `[\"pwd\", \"otp\"]` or `[\"pwd\", \"recovery_code\"]`), audited as `auth.login.success` with `\"mfa\"` in its metadata, with the new-sign-in alert. A TOTP code is accepted for the current 30-second step or one either side, and only for a step later than the last one the factor accepted: a code works once, the code that confirmed the enrolment never signs in, and of parallel requests with one code exactly one succeeds. A recovery code works once; its use is mailed with how many remain. With `\"factor\": \"webauthn\"`, `credential` is the `AuthenticationResponseJSON` answering the problem's `webauthn_options` (their challenge works with this `mfa_token` only, once); `amr` is then `[\"pwd\", \"hwk\"]` or `[\"pwd\", \"swk\"]` and the audit metadata says `\"mfa\": \"webauthn\"`; a refused response is 400 `INVALID_CREDENTIAL`, counts like a wrong code, and carries fresh `webauthn_options` for the same `mfa_token` while it has tries left and the account is not locked (a ceremony a response answered cannot be answered again). Limits: 5 wrong codes burn the `mfa_token` (`CODE_ATTEMPTS_EXCEEDED`); 10 wrong codes per account within 30 minutes, counted on every instance and apart from wrong passwords, answer 429 `MFA_ATTEMPTS_EXCEEDED` (the owner is mailed that their password, or the code mailed to them, was right but the second step failed, with advice to change the password or secure the mailbox).",
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR (a field missing, `factor` not `totp`, `recovery_code` or `webauthn`), INVALID_CREDENTIAL (a refused passkey response), INVALID_CODE (wrong or used code; audited as `auth.login.failure` with reason `invalid_mfa_code`) or CODE_ATTEMPTS_EXCEEDED (the token took 5 wrong codes: sign in again)"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED: the `mfa_token` is unknown, malformed, used or expired"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "ACCOUNT_SUSPENDED, ACCOUNT_DEACTIVATED or ACCOUNT_DELETED since the password step"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "MFA_ATTEMPTS_EXCEEDED (the account's wrong codes) or RATE_LIMIT_EXCEEDED (the per-IP limit of unauthenticated calls), with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn verify_mfa(
    service: web::Data<Service>,
    metrics: Option<web::Data<Metrics>>,
    ctx: Ctx,
    ApiJson(body): ApiJson<MfaVerifyBody>,
) -> Result<HttpResponse, ApiError> {
    let mfa_token = opaque_token("mfa_token", &body.mfa_token)?.to_owned();
    let factor = SecondFactor::parse(body.factor.trim())
        .ok_or_else(|| ApiError::field("factor", "must be \"totp\", \"recovery_code\" or \"webauthn\""))?;
    let (code, credential) = if factor == SecondFactor::Webauthn {
        match body.credential {
            Some(credential) if credential.is_object() => (String::new(), Some(credential)),
            _ => return Err(ApiError::field("credential", "an AuthenticationResponseJSON object is required")),
        }
    } else {
        let code = body.code.as_deref().unwrap_or("").trim();
        if code.is_empty() {
            return Err(ApiError::field("code", "is required"));
        }
        if code.chars().count() > MAX_CODE_CHARS {
            return Err(ApiError::field("code", format!("must be at most {MAX_CODE_CHARS} characters")));
        }
        (code.to_owned(), None)
    };
    let req = MfaVerifyRequest { mfa_token, factor, code, credential };
    let result = to_completion(async move { service.verify_mfa(req, &ctx.0).await }).await?;
    if let Some(m) = &metrics {
        m.observe_mfa(factor, &result);
    }
    Ok(HttpResponse::Ok().json(LoginResponse::signed_in(result?)))
}
