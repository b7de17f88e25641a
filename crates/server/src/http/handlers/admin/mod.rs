//! Section 5, administration: accounts and the whole audit log, one handler per file; and
//! section 10, the webhook endpoints (one module).
//!
//! Handlers only parse and answer: every use case checks the caller's permission itself
//! (through [`Actor::user`]), so a route cannot be added without it.

pub mod audit_log;
pub mod delete_user;
pub mod list_users;
pub mod reset_mfa;
pub mod restore_user;
pub mod set_roles;
pub mod set_status;
pub mod show_user;
pub mod webhooks;

use actix_web::web;
use portcullis_domain::model::{Permission, UserId};
use portcullis_domain::{Actor, AdminError};
use uuid::Uuid;

use crate::http::auth::Authenticated;
use crate::http::problem::ApiError;
use crate::http::resource;

/// Registers the admin routes (inside the `/api/v1` scope).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/admin/users", "GET").route(web::get().to(list_users::list_users)))
        .service(
            resource("/admin/users/{id}", "GET, DELETE")
                .route(web::get().to(show_user::show_user))
                .route(web::delete().to(delete_user::delete_user)),
        )
        .service(resource("/admin/users/{id}/status", "POST").route(web::post().to(set_status::set_user_status)))
        .service(resource("/admin/users/{id}/restore", "POST").route(web::post().to(restore_user::restore_user)))
        .service(resource("/admin/users/{id}/roles", "PUT").route(web::put().to(set_roles::set_user_roles)))
        .service(resource("/admin/users/{id}/mfa", "DELETE").route(web::delete().to(reset_mfa::reset_user_mfa)))
        .service(resource("/admin/audit-log", "GET").route(web::get().to(audit_log::audit_log)))
        .service(
            resource("/admin/webhooks", "GET, POST")
                .route(web::get().to(webhooks::list_webhooks))
                .route(web::post().to(webhooks::create_webhook)),
        )
        .service(
            resource("/admin/webhooks/{id}", "GET, PATCH, DELETE")
                .route(web::get().to(webhooks::show_webhook))
                .route(web::patch().to(webhooks::update_webhook))
                .route(web::delete().to(webhooks::delete_webhook)),
        )
        .service(resource("/admin/webhooks/{id}/rotate-secret", "POST").route(web::post().to(webhooks::rotate_secret)))
        .service(resource("/admin/webhooks/{id}/deliveries", "GET").route(web::get().to(webhooks::list_deliveries)))
        .service(
            resource("/admin/webhooks/{id}/deliveries/{delivery_id}/retry", "POST")
                .route(web::post().to(webhooks::retry_delivery)),
        )
        .service(resource("/admin/webhooks/{id}/test", "POST").route(web::post().to(webhooks::test_webhook)));
}

/// The acting administrator (whoever holds the token, with the roles stored now), when
/// they hold `permission`. The use case checks it again; checking here first makes a caller
/// without the permission get 403 before any complaint about the query or the body, so a
/// plain user learns nothing about an admin route (handlers take their body as a `Result`
/// and read it after this).
fn authorize(caller: &Authenticated, permission: Permission) -> Result<Actor, ApiError> {
    let actor = Actor::user(&caller.0);
    if actor.may(permission) { Ok(actor) } else { Err(AdminError::Forbidden.into()) }
}

/// The account id of a path. A malformed id becomes the nil UUID, which no account has (ids
/// are UUIDv7), so the use case answers it exactly as an unknown id: 403 `FORBIDDEN` without
/// the permission, 404 `NOT_FOUND` with it. No permission logic lives in the handlers.
fn target(id: &str) -> UserId {
    id.parse().unwrap_or_else(|_| UserId::from_uuid(Uuid::nil()))
}
