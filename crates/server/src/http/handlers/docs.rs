//! `GET /api/v1/openapi.json` (OpenAPI 3.1, generated from the handlers) and `GET /docs`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_SECURITY_POLICY;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::http::dto;
use crate::http::handlers;
use crate::http::problem::ApiError;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "Authentication and authorization API. Errors are RFC 9457 problem details (application/problem+json) with a stable `code`; 429 responses carry Retry-After. Request bodies over 16 KiB get 413 on every route, including those that take no body (a declared `Content-Length` is refused unread; a chunked body is read up to the limit); non-JSON bodies 415 (the one exception: `POST /auth/sessions/revoke-from-alert` also takes the HTML form of its confirmation page). A JSON body is one object and nothing after it but whitespace (RFC 8259 §2), valid UTF-8 throughout: trailing data or an invalid byte is 400 `VALIDATION_ERROR`, field `body`, as is malformed JSON. A request body not received whole within `server.request_timeout_secs` (10 s) gets 408 `REQUEST_TIMEOUT` and its connection closed. A request head the HTTP/1 layer cannot parse (control bytes in a header, a bad request line), over about 128 KiB or too slow is answered by that layer before the application runs: a bare 400, 431 or 408 without a problem body (see SECURITY.md). Every response carries `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and a Content-Security-Policy; CORS headers only for the origins in `server.cors_allowed_origins`. Outside this document: `GET /docs` (this viewer) and, with `webauthn.demo_page = true`, `GET /passkeys/demo`, an HTML page that tries passkeys out against this API in the browser (404 otherwise)."),
    paths(
        handlers::register::register,
        handlers::verify_email::verify_email,
        handlers::resend_verification::resend_verification,
        handlers::login::login,
        handlers::mfa::verify::verify_mfa,
        handlers::mfa::overview::mfa_overview,
        handlers::mfa::enrol::begin_totp,
        handlers::mfa::confirm::confirm_totp,
        handlers::mfa::remove::remove_factor,
        handlers::mfa::recovery_codes::regenerate_recovery_codes,
        handlers::admin::reset_mfa::reset_user_mfa,
        handlers::passkeys::manage::registration_options,
        handlers::passkeys::manage::register_passkey,
        handlers::passkeys::manage::list_passkeys,
        handlers::passkeys::manage::remove_passkey,
        handlers::passkeys::sign_in::sign_in_options,
        handlers::passkeys::sign_in::passkey_login,
        handlers::sign_in_log::sign_in_log,
        handlers::login_history::login_history,
        handlers::logout::logout,
        handlers::sessions::list::list_sessions,
        handlers::sessions::revoke::revoke_session,
        handlers::security_events::security_events,
        handlers::me::show::show_me,
        handlers::me::export::export_me,
        handlers::me::update::update_me,
        handlers::refresh::refresh,
        handlers::alert_revoke::show::show_revoke_form,
        handlers::alert_revoke::post::revoke_from_alert,
        handlers::password::forgot::forgot_password,
        handlers::login_code::request_sign_in_code,
        handlers::me::email::change_email,
        handlers::me::email::confirm_email_change,
        handlers::email_revert::show_revert_form,
        handlers::email_revert::revert_email_change,
        handlers::login_code::login_with_code,
        handlers::password::reset::reset_password,
        handlers::password::change::change_password,
        handlers::me::deactivate::deactivate_me,
        handlers::me::delete::delete_me,
        handlers::notifications::list::list_notifications,
        handlers::notifications::read::mark_notification_read,
        handlers::notifications::read_all::mark_all_notifications_read,
        handlers::admin::list_users::list_users,
        handlers::admin::show_user::show_user,
        handlers::admin::set_status::set_user_status,
        handlers::admin::delete_user::delete_user,
        handlers::admin::restore_user::restore_user,
        handlers::admin::set_roles::set_user_roles,
        handlers::admin::audit_log::audit_log,
        handlers::admin::webhooks::create_webhook,
        handlers::admin::webhooks::list_webhooks,
        handlers::admin::webhooks::show_webhook,
        handlers::admin::webhooks::update_webhook,
        handlers::admin::webhooks::delete_webhook,
        handlers::admin::webhooks::rotate_secret,
        handlers::admin::webhooks::list_deliveries,
        handlers::admin::webhooks::retry_delivery,
        handlers::admin::webhooks::test_webhook,
        handlers::health::live,
        handlers::health::ready,
        crate::metrics::scrape::metrics,
    ),
    components(schemas(dto::Problem, dto::ProblemField)),
    modifiers(&BearerAuth, &BodyErrors, &EnrolmentGate),
    tags((name = "auth", description = "Registration, verification, login and the sign-in log"), (name = "account", description = "The caller's own account"), (name = "notifications", description = "The caller's in-app notifications"), (name = "mfa", description = "The caller's second factors (TOTP and recovery codes). Each change confirms the password (wrong ones count towards the login lockout); once the account has an active factor, only a session that signed in with one (aal 2) may call these, else 403 FORBIDDEN. With mfa.require_for_roles, a holder of such a role without an active factor may call only these, /users/me and POST /auth/logout (403 MFA_ENROLLMENT_REQUIRED elsewhere)."), (name = "passkeys", description = "The caller's passkeys (WebAuthn, contract section 9): second factors of type webauthn under the rules of the mfa tag (password confirmed, aal 2 once the account has a factor). Options and credentials are the WebAuthn JSON encodings; refused responses are 400 INVALID_CREDENTIAL, the reason audited."), (name = "admin", description = "Administration: accounts and the whole audit log. Each route needs a permission (users:read, users:write, audit:read, or webhooks:manage for the webhooks tag) granted by a role; the built-in admin role grants all of them. Without it: 403 FORBIDDEN. Every change is audited against the account with the acting administrator's id as actor_id in the metadata. Administrators cannot suspend, deactivate, delete or demote themselves (400 VALIDATION_ERROR, field id)."), (name = "webhooks", description = "Webhook endpoints (contract section 10, permission webhooks:manage, held by admin). Every audit action is an event type; an endpoint subscribes to exact types (auth.login.failure), prefixes (user.*) or everything (*). Each event is queued in the transaction of its audit entry and delivered at least once by a worker on every instance, signed as Standard Webhooks says (headers webhook-id, webhook-timestamp, webhook-signature: v1, + base64 HMAC-SHA256 of id.timestamp.body; two signatures for 24 h after a rotation). Body: {id, type, timestamp, data: {user_id, audit_id, ip_address, user_agent, device, location, metadata}} (a webhook.test event: data {webhook_id, message}). Any non-2xx, timeout or connection error is retried after about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (at least what Retry-After asks, at most 10 h), then the delivery is failed and kept; a 410 fails it and turns the endpoint off. Targets must be https (unless webhooks.allow_http) and resolve to public addresses (unless in webhooks.allowed_private_cidrs), checked at registration and at every try after DNS; redirects are not followed; answer bodies are read up to 64 KiB. Changes are audited as admin.webhook.created, .updated, .deleted, .secret_rotated, .tested and .delivery_retried (URLs as their origin only: receivers keep tokens in paths and queries)."), (name = "operations", description = "Health and metrics"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("PASETO v4.local".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Documents the answers given before a handler runs: on every operation 408 (a chunked body
/// too slow) and 413 (over 16 KiB, see `body_limit`); on those that take a body, 415 (not
/// JSON) as well.
struct BodyErrors;

impl utoipa::Modify for BodyErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let answers = [
            ("408", "REQUEST_TIMEOUT: the body did not arrive within server.request_timeout_secs", false),
            ("413", "PAYLOAD_TOO_LARGE: the body exceeds 16 KiB (on every route)", false),
            ("415", "UNSUPPORTED_MEDIA_TYPE: the body is not JSON", true),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let takes_body = operation.request_body.is_some();
                for (status, description, _) in answers.into_iter().filter(|(_, _, body_only)| takes_body || !body_only)
                {
                    let problem = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
                    let response =
                        ResponseBuilder::new().description(description).content("application/problem+json", problem);
                    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| response.build().into());
                }
            }
        }
    }
}

/// Documents the gate of `mfa.require_for_roles` (see `http::auth`): every bearer operation
/// a session that must enrol a second factor may not call can answer 403
/// `MFA_ENROLLMENT_REQUIRED`, added to the operation's 403 when it has one.
struct EnrolmentGate;

impl utoipa::Modify for EnrolmentGate {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        const GATE: &str = "MFA_ENROLLMENT_REQUIRED: the caller holds a role of mfa.require_for_roles and has no \
                            active second factor yet (only /users/me, /users/me/mfa... and logout are open)";
        for (path, item) in openapi.paths.paths.iter_mut() {
            if crate::http::auth::open_before_enrolment(path) {
                continue;
            }
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let bearer = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                if !bearer {
                    continue;
                }
                match operation.responses.responses.get_mut("403") {
                    Some(RefOr::T(response)) => response.description = format!("{}; or {GATE}", response.description),
                    Some(RefOr::Ref(_)) => {}
                    None => {
                        let problem = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
                        let response =
                            ResponseBuilder::new().description(GATE).content("application/problem+json", problem);
                        operation.responses.responses.insert("403".to_owned(), response.build().into());
                    }
                }
            }
        }
    }
}

/// The OpenAPI document.
pub async fn openapi_json() -> Result<HttpResponse, ApiError> {
    let json = ApiDoc::openapi().to_pretty_json().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("application/json").body(json))
}

/// The viewer's script: Scalar's standalone bundle, pinned to one release, whose bytes the
/// browser checks against [`VIEWER_INTEGRITY`] before running it.
pub const VIEWER_SCRIPT: &str = "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.72.1/dist/browser/standalone.js";

/// Subresource Integrity of [`VIEWER_SCRIPT`] (sha384 of `dist/browser/standalone.js` in the npm
/// package `@scalar/api-reference@1.72.1`, which jsDelivr serves unchanged).
pub const VIEWER_INTEGRITY: &str = "sha384-U11tb2XnKvmwt8RlTvnwUnYgrN+ur4Xyh9htLhjajWNR/Oyl5AX5DEz00qRmlrmK";

/// The Content-Security-Policy of `/docs`: that one script and nothing else runs; the page
/// talks to this server only (the document, and "try it" requests); Scalar's inline styles
/// and its fonts are allowed; nothing may frame it.
pub const VIEWER_CSP: &str = "default-src 'none'; \
    script-src https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.72.1/dist/browser/standalone.js; \
    style-src 'unsafe-inline'; font-src https://fonts.scalar.com; img-src 'self' data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// An interactive viewer of the document (Scalar, loaded by the browser from jsDelivr).
pub async fn viewer() -> HttpResponse {
    HttpResponse::build(StatusCode::OK)
        .content_type("text/html; charset=utf-8")
        .insert_header((CONTENT_SECURITY_POLICY, VIEWER_CSP))
        .body(format!(
            r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Portcullis API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><script id="api-reference" data-url="/api/v1/openapi.json"></script>
<script src="{VIEWER_SCRIPT}" integrity="{VIEWER_INTEGRITY}" crossorigin="anonymous"></script>
<noscript>The raw document is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</noscript>
</body></html>"#
        ))
}
