//! The HTTP adapter: routes, extractors, problem+json errors, DTOs and the OpenAPI document.

pub mod auth;
pub mod body_limit;
pub mod client_ip;
pub mod dto;
pub mod handlers;
pub mod json_body;
pub mod link_page;
pub mod problem;
pub mod query;
pub mod request_log;
pub mod security_headers;
mod to_completion;
pub mod token_input;
pub mod uniform_timing;

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, Resource, web};

use self::client_ip::TrustedProxies;
use self::handlers::{
    docs, fallback, health, login, login_history, logout, me, mfa, notifications, register, resend_verification,
    security_events, sessions, sign_in_log, verify_email,
};
use crate::config::ServerSettings;
use crate::metrics::{self, Metrics};
use crate::wiring::Service;

/// What the HTTP layer takes from `[server]` besides the routes' state.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Send `Strict-Transport-Security` (the service is published over https).
    pub hsts: bool,
    /// Origins allowed to call cross-origin; empty: CORS off.
    pub cors_allowed_origins: Vec<String>,
    /// Longest time a client may take to send a request body.
    pub body_timeout: Duration,
    /// Serve the passkey demo page at `/passkeys/demo` (`webauthn.demo_page`).
    pub passkey_demo: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self::from_settings(&ServerSettings::default())
    }
}

impl HttpOptions {
    /// The options `server` describes.
    pub fn from_settings(server: &ServerSettings) -> Self {
        Self {
            hsts: server.public_url.starts_with("https://"),
            cors_allowed_origins: server.cors_allowed_origins.clone(),
            body_timeout: Duration::from_secs(server.request_timeout_secs.max(1)),
            passkey_demo: false,
        }
    }

    /// CORS for the configured origins: the API's methods, the bearer and content-type
    /// headers, no cookies or other credentials, preflights cached for ten minutes.
    fn cors(&self) -> actix_cors::Cors {
        let cors = self.cors_allowed_origins.iter().fold(actix_cors::Cors::default(), |c, o| c.allowed_origin(o));
        cors.allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
            .allowed_headers([
                actix_web::http::header::AUTHORIZATION,
                actix_web::http::header::CONTENT_TYPE,
                actix_web::http::header::ACCEPT,
            ])
            .expose_headers([actix_web::http::header::RETRY_AFTER])
            .max_age(600)
    }
}

/// A resource whose other methods get a problem+json 405 with `Allow: allow` (RFC 9110
/// requires it); `allow` lists the methods its routes take.
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || fallback::method_not_allowed(allow)))
}

/// Registers every route on `cfg`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(resource("/auth/register", "POST").route(web::post().to(register::register)))
            .service(resource("/auth/verify-email", "POST").route(web::post().to(verify_email::verify_email)))
            .service(
                resource("/auth/resend-verification", "POST")
                    .route(web::post().to(resend_verification::resend_verification)),
            )
            .service(resource("/auth/login", "POST").route(web::post().to(login::login)))
            .service(
                resource("/auth/login/code", "POST").route(web::post().to(handlers::login_code::request_sign_in_code)),
            )
            .service(
                resource("/auth/login/code/verify", "POST")
                    .route(web::post().to(handlers::login_code::login_with_code)),
            )
            .service(resource("/auth/mfa/verify", "POST").route(web::post().to(mfa::verify::verify_mfa)))
            .service(
                resource("/auth/passkey/options", "POST")
                    .route(web::post().to(handlers::passkeys::sign_in::sign_in_options)),
            )
            .service(
                resource("/auth/passkey/login", "POST")
                    .route(web::post().to(handlers::passkeys::sign_in::passkey_login)),
            )
            .service(resource("/auth/log", "POST").route(web::post().to(sign_in_log::sign_in_log)))
            .service(resource("/auth/logout", "POST").route(web::post().to(logout::logout)))
            .service(resource("/auth/login-history", "GET").route(web::get().to(login_history::login_history)))
            .service(resource("/auth/sessions", "GET").route(web::get().to(sessions::list::list_sessions)))
            // Before `/auth/sessions/{id}`, which would otherwise claim this path.
            .service(
                resource("/auth/sessions/revoke-from-alert", "GET, POST")
                    .route(web::get().to(handlers::alert_revoke::show::show_revoke_form))
                    .route(web::post().to(handlers::alert_revoke::post::revoke_from_alert)),
            )
            .service(resource("/auth/refresh", "POST").route(web::post().to(handlers::refresh::refresh)))
            .service(
                resource("/auth/forgot-password", "POST")
                    .route(web::post().to(handlers::password::forgot::forgot_password)),
            )
            .service(
                resource("/auth/reset-password", "POST")
                    .route(web::post().to(handlers::password::reset::reset_password)),
            )
            .service(
                resource("/auth/change-password", "POST")
                    .route(web::post().to(handlers::password::change::change_password)),
            )
            .service(resource("/users/me/deactivate", "POST").route(web::post().to(me::deactivate::deactivate_me)))
            .service(
                resource("/auth/sessions/{id}", "DELETE").route(web::delete().to(sessions::revoke::revoke_session)),
            )
            .service(resource("/auth/security-events", "GET").route(web::get().to(security_events::security_events)))
            .service(
                resource("/users/me", "GET, PATCH, DELETE")
                    .route(web::get().to(me::show::show_me))
                    .route(web::patch().to(me::update::update_me))
                    .route(web::delete().to(me::delete::delete_me)),
            )
            .service(resource("/users/me/export", "GET").route(web::get().to(me::export::export_me)))
            .service(resource("/users/me/email", "POST").route(web::post().to(me::email::change_email)))
            .service(resource("/users/me/email/confirm", "POST").route(web::post().to(me::email::confirm_email_change)))
            .service(
                resource("/auth/email-change/revert", "GET, POST")
                    .route(web::get().to(handlers::email_revert::show_revert_form))
                    .route(web::post().to(handlers::email_revert::revert_email_change)),
            )
            .service(resource("/users/me/mfa", "GET").route(web::get().to(mfa::overview::mfa_overview)))
            .service(resource("/users/me/mfa/totp", "POST").route(web::post().to(mfa::enrol::begin_totp)))
            .service(
                resource("/users/me/mfa/totp/{id}/confirm", "POST").route(web::post().to(mfa::confirm::confirm_totp)),
            )
            .service(
                resource("/users/me/mfa/recovery-codes", "POST")
                    .route(web::post().to(mfa::recovery_codes::regenerate_recovery_codes)),
            )
            .service(resource("/users/me/mfa/{id}", "DELETE").route(web::delete().to(mfa::remove::remove_factor)))
            .service(
                resource("/users/me/passkeys/options", "POST")
                    .route(web::post().to(handlers::passkeys::manage::registration_options)),
            )
            .service(
                resource("/users/me/passkeys", "GET, POST")
                    .route(web::get().to(handlers::passkeys::manage::list_passkeys))
                    .route(web::post().to(handlers::passkeys::manage::register_passkey)),
            )
            .service(
                resource("/users/me/passkeys/{id}", "DELETE")
                    .route(web::delete().to(handlers::passkeys::manage::remove_passkey)),
            )
            .service(resource("/notifications", "GET").route(web::get().to(notifications::list::list_notifications)))
            .service(
                resource("/notifications/read-all", "POST")
                    .route(web::post().to(notifications::read_all::mark_all_notifications_read)),
            )
            .service(
                resource("/notifications/{id}/read", "POST")
                    .route(web::post().to(notifications::read::mark_notification_read)),
            )
            .configure(handlers::admin::routes)
            .service(resource("/openapi.json", "GET").route(web::get().to(docs::openapi_json))),
    )
    .service(resource("/docs", "GET").route(web::get().to(docs::viewer)))
    .service(resource("/passkeys/demo", "GET").route(web::get().to(handlers::passkeys::demo::demo_page)))
    .service(resource("/health/live", "GET").route(web::get().to(health::live)))
    .service(resource("/health/ready", "GET").route(web::get().to(health::ready)))
    .service(resource("/metrics", "GET").route(web::get().to(metrics::scrape::metrics)));
}

/// The whole application: shared state, routes, request logging, request metrics (when
/// `metrics` is given), problem+json fallbacks, CORS (when origins are configured) and the
/// security headers of every response.
pub fn app(
    service: web::Data<Service>,
    trusted: web::Data<TrustedProxies>,
    metrics: Option<web::Data<Metrics>>,
    options: web::Data<HttpOptions>,
    webhooks: web::Data<portcullis_webhook_http::HttpWebhookTransport>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = Condition::new(!options.cors_allowed_origins.is_empty(), options.cors());
    let app = App::new().app_data(service).app_data(trusted).app_data(options).app_data(webhooks);
    let app = match metrics {
        Some(metrics) => app.app_data(metrics),
        None => app,
    };
    app.configure(routes)
        .default_service(web::to(fallback::not_found))
        // Every route, the body-less ones and unknown paths too: nothing acts on (or reads
        // past) a body over 16 KiB.
        .wrap(from_fn(body_limit::limit))
        // Inside the request log, so its span covers the metrics too.
        .wrap(from_fn(metrics::middleware::track_requests))
        // Preflights are answered here, logged but not counted as routes.
        .wrap(cors)
        .wrap(from_fn(request_log::request_log))
        // Outermost, so every response gets them, the logger's and CORS's own included.
        .wrap(from_fn(security_headers::add))
}
