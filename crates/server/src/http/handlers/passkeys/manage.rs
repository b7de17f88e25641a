//! `POST /api/v1/users/me/passkeys/options`, `POST|GET /api/v1/users/me/passkeys`,
//! `DELETE /api/v1/users/me/passkeys/{id}`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::{FactorId, FactorName, Password};
use uuid::Uuid;

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{
    ConfirmPasswordBody, PasskeyListResponse, PasskeyOptionsBody, PasskeyView, RegisterPasskeyBody,
    RegisterPasskeyResponse, options_json,
};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::to_completion::to_completion;
use crate::wiring::Service;

/// The name of a passkey registered without one.
const DEFAULT_NAME: &str = "Passkey";

fn password(raw: &str) -> Result<Password, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::field("password", "is required"));
    }
    Ok(Password::new(raw))
}

/// Creation options for a new passkey of the caller.
#[utoipa::path(post, path = "/api/v1/users/me/passkeys/options", tag = "passkeys", request_body = PasskeyOptionsBody,
    security(("bearer" = [])),
    description = "Creation options (`PublicKeyCredentialCreationOptionsJSON`) for `navigator.credentials.create`: resident key preferred, user verification preferred, the caller's existing passkeys excluded, no attestation. The challenge is stored server-side, single use, for 5 minutes, and valid on every instance. The password is checked as by change-password (wrong ones count towards the login lockout).",
    responses(
        (status = 200, body = Object, description = "PublicKeyCredentialCreationOptionsJSON"),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `password` missing"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED or INVALID_CREDENTIALS (wrong password)"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the account has a second factor and this session signed in without it"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn registration_options(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<PasskeyOptionsBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    let password = password(&body.password)?;
    let options =
        to_completion(async move { service.passkey_registration_options(&principal, password, &ctx.0).await })
            .await??;
    Ok(HttpResponse::Ok().json(options_json(options)))
}

/// Stores the passkey a registration response proves.
#[utoipa::path(post, path = "/api/v1/users/me/passkeys", tag = "passkeys", request_body = RegisterPasskeyBody,
    security(("bearer" = [])),
    description = "Checks the `RegistrationResponseJSON` against its ceremony (origin among `webauthn.origins`, RP ID, challenge, user presence, and user verification when it was done) and stores the passkey as a second factor of type `webauthn`. The account's first factor also returns ten recovery codes (shown once) and signs every other session out. Audited `mfa.factor.enrolled`; a notice is mailed. A refused response is audited `mfa.passkey.refused` with its reason.",
    responses(
        (status = 201, body = RegisterPasskeyResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR (`credential` missing or not an object, `name` blank or over 64 characters), or INVALID_CREDENTIAL: a wrong origin or RP ID, a used, expired or foreign challenge, a bad signature, or a credential registered already"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the account has a second factor and this session signed in without it"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn register_passkey(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<RegisterPasskeyBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    if !body.credential.is_object() {
        return Err(ApiError::field("credential", "must be a RegistrationResponseJSON object"));
    }
    let name =
        FactorName::parse(body.name.as_deref().unwrap_or(DEFAULT_NAME)).map_err(|e| ApiError::field("name", e))?;
    let registered =
        to_completion(async move { service.register_passkey(&principal, name, &body.credential, &ctx.0).await })
            .await??;
    let summary = portcullis_domain::PasskeySummary {
        factor: registered.factor,
        backed_up: registered.passkey.backed_up,
        disabled: false,
    };
    Ok(HttpResponse::Created().json(RegisterPasskeyResponse {
        passkey: PasskeyView::from(&summary),
        recovery_codes: registered.recovery_codes.map(|codes| codes.iter().map(|c| c.display().to_string()).collect()),
    }))
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/api/v1/users/me/passkeys", tag = "passkeys",
    security(("bearer" = [])),
    responses(
        (status = 200, body = PasskeyListResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the account has a second factor and this session signed in without it"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn list_passkeys(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let passkeys = to_completion(async move { service.own_passkeys(&principal).await }).await??;
    Ok(HttpResponse::Ok().json(PasskeyListResponse { passkeys: passkeys.iter().map(PasskeyView::from).collect() }))
}

/// Removes one of the caller's passkeys; the answer is the passkey removed.
#[utoipa::path(delete, path = "/api/v1/users/me/passkeys/{id}", tag = "passkeys", request_body = ConfirmPasswordBody,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id")),
    description = "Removes a passkey, as `DELETE /users/me/mfa/{id}` removes a factor: removing the account's last factor turns the second step off and deletes the recovery codes. Audited `mfa.factor.removed`; a notice is mailed. The password is checked as by change-password.",
    responses(
        (status = 200, body = PasskeyView),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR: `password` missing"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED or INVALID_CREDENTIALS (wrong password)"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: this session signed in without the account's second factor"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: no passkey of the caller has this id"),
        (status = 429, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "LOGIN_ATTEMPTS_EXCEEDED, with Retry-After"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn remove_passkey(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
    body: Result<ApiJson<ConfirmPasswordBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body?;
    let password = password(&body.password)?;
    // A malformed id is answered as an unknown one (404).
    let factor_id = id.parse().unwrap_or_else(|_| FactorId::from_uuid(Uuid::nil()));
    let removed = to_completion(async move {
        let passkeys = service.own_passkeys(&principal).await?;
        let summary = passkeys.into_iter().find(|p| p.factor.id == factor_id);
        let factor = service.remove_passkey(&principal, factor_id, password, &ctx.0).await?;
        Ok::<_, portcullis_domain::MfaManageError>(portcullis_domain::PasskeySummary {
            backed_up: summary.as_ref().is_some_and(|s| s.backed_up),
            disabled: summary.is_some_and(|s| s.disabled),
            factor,
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(PasskeyView::from(&removed)))
}
