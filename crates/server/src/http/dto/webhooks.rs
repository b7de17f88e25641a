//! Webhook administration bodies and answers (contract section 10). Like the section 8
//! management endpoints, they answer with the object itself (no `data` wrapper).

use portcullis_domain::model::{EventPattern, Page, Timestamp, WebhookDelivery, WebhookEndpoint, WebhookSecret};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /admin/webhooks`
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWebhookBody {
    /// Target: `https` (or `http` with `webhooks.allow_http`), a host that resolves to public
    /// addresses (or to `webhooks.allowed_private_cidrs`).
    pub url: String,
    /// Event types (`auth.login.failure`), prefixes (`user.*`) or `*`; 1 to 50.
    pub events: Vec<String>,
    /// A note for operators, at most 500 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// `PATCH /admin/webhooks/{id}`: absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchWebhookBody {
    /// New target.
    #[serde(default)]
    pub url: Option<String>,
    /// New subscriptions (replace the old ones).
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// Turn deliveries on or off. Turning on clears `disabled_reason`.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// An endpoint. The secret is never shown again after creation or rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// Id (UUIDv7).
    pub id: String,
    /// Target.
    pub url: String,
    /// Subscriptions, sorted.
    pub events: Vec<String>,
    /// The operator's note.
    pub description: String,
    /// Whether events are queued and sent.
    pub enabled: bool,
    /// Why the service turned it off: `gone` (the receiver answered 410); cleared when it is
    /// turned on again.
    pub disabled_reason: Option<String>,
    /// While a rotation's previous secret still signs (a second signature), until when.
    pub previous_secret_expires_at: Option<String>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl WebhookView {
    /// The view of `e` at `now`.
    pub fn new(e: &WebhookEndpoint, now: Timestamp) -> Self {
        let mut events: Vec<String> = e.events.iter().map(EventPattern::as_str).map(str::to_owned).collect();
        events.sort();
        Self {
            id: e.id.to_string(),
            url: e.url.as_str().to_owned(),
            events,
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            previous_secret_expires_at: e
                .previous_secret_until
                .filter(|until| *until > now && e.previous_secret.is_some())
                .map(Timestamp::to_rfc3339),
            created_at: e.created_at.to_rfc3339(),
            updated_at: e.updated_at.to_rfc3339(),
        }
    }
}

/// `201` of `POST /admin/webhooks`: the endpoint and its secret, shown this once.
// No `Debug`: it carries the secret.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhookResponse {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` + base64 of 32 random bytes: the Standard Webhooks signing secret.
    pub secret: String,
}

impl CreatedWebhookResponse {
    /// The answer for `e` and its new `secret`.
    pub fn new(e: &WebhookEndpoint, secret: &WebhookSecret, now: Timestamp) -> Self {
        Self { webhook: WebhookView::new(e, now), secret: secret.encoded().expose_secret().to_owned() }
    }
}

/// `200` of `GET /admin/webhooks`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookListResponse {
    /// Every endpoint, oldest first.
    pub webhooks: Vec<WebhookView>,
}

/// `200` of `POST /admin/webhooks/{id}/rotate-secret`.
// No `Debug`: it carries the secret.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecretResponse {
    /// The endpoint.
    pub id: String,
    /// The new secret, shown this once.
    pub secret: String,
    /// Until when the previous secret signs too.
    pub previous_secret_expires_at: String,
}

/// One delivery of an event to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Id (for the retry path).
    pub id: i64,
    /// The event's id: the payload's `id` and the `webhook-id` header, the same on every try.
    pub event_id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Tries made.
    pub attempts: u32,
    /// The HTTP status of the last answered try.
    pub last_response_code: Option<u16>,
    /// What went wrong in the last failed try.
    pub last_error: Option<String>,
    /// When the next try is due (pending only).
    pub next_attempt_at: Option<String>,
    /// Queued.
    pub created_at: String,
    /// Answered with a 2xx.
    pub delivered_at: Option<String>,
}

impl From<&WebhookDelivery> for DeliveryView {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            id: d.id.0,
            event_id: d.event_id(),
            event_type: d.event_type.clone(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            last_response_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at.map(Timestamp::to_rfc3339),
            created_at: d.created_at.to_rfc3339(),
            delivered_at: d.delivered_at.map(Timestamp::to_rfc3339),
        }
    }
}

/// `200` of `GET /admin/webhooks/{id}/deliveries`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryListResponse {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Matching deliveries across all pages.
    pub total_count: u64,
    /// Page size used.
    pub limit: u32,
    /// Deliveries skipped.
    pub offset: u64,
}

impl DeliveryListResponse {
    /// The answer for `page`.
    pub fn new(page: &Page<WebhookDelivery>, limit: u32, offset: u64) -> Self {
        Self {
            deliveries: page.items.iter().map(DeliveryView::from).collect(),
            total_count: page.total_count,
            limit,
            offset,
        }
    }
}
