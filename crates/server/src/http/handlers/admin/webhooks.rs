//! Section 10, webhook administration (`webhooks:manage`): endpoints, secrets, deliveries.

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::model::{DeliveryId, DeliveryStatus, Permission, WebhookId};
use portcullis_domain::ports::Clock;
use portcullis_domain::{NewWebhook, WebhookPatch};
use portcullis_webhook_http::HttpWebhookTransport;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::authorize;
use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{
    CreateWebhookBody, CreatedWebhookResponse, DeliveryListResponse, DeliveryView, PatchWebhookBody,
    RotatedSecretResponse, WebhookListResponse, WebhookView,
};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::http::query;
use crate::wiring::Service;

/// Default page size of the deliveries.
pub const DEFAULT_LIMIT: u32 = 20;

/// The endpoint id of a path; a malformed one is the nil UUID, which no endpoint has, so it
/// is answered like an unknown id (404 with the permission, 403 without).
fn webhook_id(id: &str) -> WebhookId {
    id.parse().unwrap_or_else(|_| WebhookId::from_uuid(Uuid::nil()))
}

fn now() -> portcullis_domain::model::Timestamp {
    portcullis_domain::ports::SystemClock.now()
}

/// Subscribes an endpoint; the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/admin/webhooks", tag = "webhooks", request_body = CreateWebhookBody,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedWebhookResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR naming url (malformed, http without webhooks.allow_http, a host that does not resolve or resolves to a private, loopback or link-local address), events (empty, more than 50, malformed or unknown type) or description"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn create_webhook(
    service: web::Data<Service>,
    transport: web::Data<HttpWebhookTransport>,
    caller: Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<CreateWebhookBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let ApiJson(body) = body?;
    let input = NewWebhook { url: body.url, events: body.events, description: body.description };
    let (endpoint, secret) = service.admin_create_webhook(&actor, transport.get_ref(), input, &ctx.0).await?;
    Ok(HttpResponse::Created().json(CreatedWebhookResponse::new(&endpoint, &secret, now())))
}

/// Every endpoint, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/webhooks", tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, body = WebhookListResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn list_webhooks(service: web::Data<Service>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let now = now();
    let webhooks = service.admin_webhooks(&actor).await?.iter().map(|e| WebhookView::new(e, now)).collect();
    Ok(HttpResponse::Ok().json(WebhookListResponse { webhooks }))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = WebhookView),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn show_webhook(
    service: web::Data<Service>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let endpoint = service.admin_webhook(&actor, webhook_id(&id)).await?;
    Ok(HttpResponse::Ok().json(WebhookView::new(&endpoint, now())))
}

/// Changes an endpoint's url, events, description or `enabled`.
#[utoipa::path(patch, path = "/api/v1/admin/webhooks/{id}", tag = "webhooks", request_body = PatchWebhookBody,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = WebhookView),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR naming the field, as for creation"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn update_webhook(
    service: web::Data<Service>,
    transport: web::Data<HttpWebhookTransport>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
    body: Result<ApiJson<PatchWebhookBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let ApiJson(body) = body?;
    let patch =
        WebhookPatch { url: body.url, events: body.events, description: body.description, enabled: body.enabled };
    let endpoint = service.admin_update_webhook(&actor, transport.get_ref(), webhook_id(&id), patch, &ctx.0).await?;
    Ok(HttpResponse::Ok().json(WebhookView::new(&endpoint, now())))
}

/// Removes an endpoint and its deliveries; answers with the endpoint as it was.
#[utoipa::path(delete, path = "/api/v1/admin/webhooks/{id}", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = WebhookView),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn delete_webhook(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let endpoint = service.admin_delete_webhook(&actor, webhook_id(&id), &ctx.0).await?;
    Ok(HttpResponse::Ok().json(WebhookView::new(&endpoint, now())))
}

/// A new secret, shown once; the previous one keeps signing too for 24 hours.
#[utoipa::path(post, path = "/api/v1/admin/webhooks/{id}/rotate-secret", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = RotatedSecretResponse),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn rotate_secret(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let id = webhook_id(&id);
    let (secret, until) = service.admin_rotate_webhook_secret(&actor, id, &ctx.0).await?;
    Ok(HttpResponse::Ok().json(RotatedSecretResponse {
        id: id.to_string(),
        secret: secret.encoded().expose_secret().to_owned(),
        previous_secret_expires_at: until.to_rfc3339(),
    }))
}

/// Parses `status` (`pending`, `delivered`, `failed`), `limit` (1..100, default 20) and
/// `offset`; other parameters are ignored.
///
/// # Errors
/// `VALIDATION_ERROR` naming the parameter.
pub fn parse_deliveries_query(raw: &str) -> Result<(Option<DeliveryStatus>, u32, u64), ApiError> {
    let (mut status, mut limit, mut offset) = (None, DEFAULT_LIMIT, 0);
    for (key, value) in query::pairs(raw)? {
        match key.as_str() {
            "limit" => limit = query::limit(&value)?,
            "offset" => offset = query::offset(&value)?,
            "status" if value.is_empty() => status = None,
            "status" => {
                status = Some(
                    DeliveryStatus::parse(&value)
                        .ok_or_else(|| ApiError::field("status", "must be pending, delivered or failed"))?,
                );
            }
            _ => {}
        }
    }
    Ok((status, limit, offset))
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}/deliveries", tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Webhook id"),
        ("status" = Option<String>, Query, description = "pending, delivered or failed; absent: all"),
        ("limit" = Option<u32>, Query, description = "1..100, default 20"),
        ("offset" = Option<u64>, Query, description = "≥ 0, default 0"),
    ),
    responses(
        (status = 200, body = DeliveryListResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR naming the parameter"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn list_deliveries(
    service: web::Data<Service>,
    caller: Authenticated,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let (status, limit, offset) = parse_deliveries_query(req.query_string())?;
    let page = service.admin_webhook_deliveries(&actor, webhook_id(&id), status, limit, offset).await?;
    Ok(HttpResponse::Ok().json(DeliveryListResponse::new(&page, limit, offset)))
}

/// Sends a delivery again as soon as a worker takes it (usually within a second; after the
/// try in flight, if there is one), with the same `webhook-id`; 202 with the delivery,
/// pending. Its tries go on counting: one that used all of them gets one more. Audited as
/// `admin.webhook.delivery_retried`. While the endpoint is off, the delivery waits.
#[utoipa::path(post, path = "/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id"), ("delivery_id" = i64, Path, description = "Delivery id")),
    responses(
        (status = 202, body = DeliveryView),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND: no such endpoint, or no such delivery of it"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn retry_delivery(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let (id, delivery) = path.into_inner();
    // A malformed delivery id is answered like an unknown one.
    let delivery = delivery.parse::<DeliveryId>().unwrap_or(DeliveryId(-1));
    let queued = service.admin_retry_delivery(&actor, webhook_id(&id), delivery, &ctx.0).await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::from(&queued)))
}

/// Queues a `webhook.test` event for the endpoint (sent even while it is off); 202 with the
/// delivery, pending. Audited as `admin.webhook.tested`.
#[utoipa::path(post, path = "/api/v1/admin/webhooks/{id}/test", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 202, body = DeliveryView),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 403, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "FORBIDDEN: the caller lacks webhooks:manage"),
        (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn test_webhook(
    service: web::Data<Service>,
    caller: Authenticated,
    ctx: Ctx,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&caller, Permission::WebhooksManage)?;
    let queued = service.admin_test_webhook(&actor, webhook_id(&id), &ctx.0).await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::from(&queued)))
}
