//! Extractors for who is calling: the bearer principal and the request context.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::{LocalBoxFuture, Ready, ready};
use portcullis_domain::Principal;
use portcullis_domain::model::RequestContext;

use super::client_ip::ClientIp;
use super::problem::ApiError;
use crate::wiring::Service;

/// The authenticated caller: a valid access token of a live session of a usable account.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive, blanks
/// trimmed); `None` for any other scheme or an empty token.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    bearer_token(value).map(str::to_owned)
}

/// Whether a session that must enrol a second factor (`mfa.require_for_roles`) may still
/// call `path`: `/users/me` and the second-factor endpoints under it (passkeys are second
/// factors too), as the contract says,
/// and logout, which only ends the session (the contract is silent on it; refusing it would
/// keep such a user from signing out).
pub fn open_before_enrolment(path: &str) -> bool {
    if path == "/api/v1/auth/logout" {
        return true;
    }
    let Some(rest) = path.strip_prefix("/api/v1/users/me") else { return false };
    rest.is_empty()
        || rest == "/"
        || rest == "/mfa"
        || rest.starts_with("/mfa/")
        || rest == "/passkeys"
        || rest.starts_with("/passkeys/")
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let path = req.path().to_owned();
        let service = req.app_data::<web::Data<Service>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(service)) = (token, service) else {
                return Err(ApiError::unauthorized());
            };
            let principal = service.authenticate(&token).await?;
            if !open_before_enrolment(&path) && service.must_enrol_second_factor(&principal).await? {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::FORBIDDEN,
                    "MFA_ENROLLMENT_REQUIRED",
                    "Your role requires a second factor: set one up under /users/me/mfa first.",
                ));
            }
            Ok(Authenticated(principal))
        })
    }
}

/// Client IP and user agent, for audit enrichment and per-IP limits.
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ip = match ClientIp::from_request(req, payload).into_inner() {
            Ok(ip) => ip.0,
            Err(e) => return ready(Err(e)),
        };
        let ua = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        ready(Ok(Ctx(RequestContext::new(ip, ua))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_account_and_its_second_factors_are_open_before_enrolment() {
        for open in [
            "/api/v1/users/me",
            "/api/v1/users/me/mfa",
            "/api/v1/users/me/mfa/totp",
            "/api/v1/users/me/mfa/{id}",
            "/api/v1/users/me/passkeys",
            "/api/v1/users/me/passkeys/options",
            "/api/v1/auth/logout",
        ] {
            assert!(open_before_enrolment(open), "{open}");
        }
        for closed in [
            "/api/v1/users/me/deactivate",
            "/api/v1/users/meta",
            "/api/v1/users/me/mfaa",
            "/api/v1/users/me/passkeysx",
            "/api/v1/auth/sessions",
            "/api/v1/admin/users",
        ] {
            assert!(!open_before_enrolment(closed), "{closed}");
        }
    }
}
