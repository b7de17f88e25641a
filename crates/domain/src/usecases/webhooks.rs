//! Webhook administration (contract §10): subscribe endpoints, change, rotate, remove them,
//! read and retry their deliveries. Every method checks `webhooks:manage` first; every
//! change of an endpoint is audited (`admin.webhook.*`) in the transaction that makes it.

use zeroize::Zeroizing;

use crate::error::{FieldError, InfraError};
use crate::model::{
    AuditAction, DeliveryId, DeliveryStatus, EventPattern, MAX_DESCRIPTION_LEN, MAX_PATTERNS, NewAuditEntry, Page,
    PatternError, Permission, ROTATION_OVERLAP, RequestContext, SealedSecret, Timestamp, WebhookDelivery,
    WebhookEndpoint, WebhookId, WebhookSecret, WebhookUrl,
};
use crate::ports::{EndpointChanges, Ports, RandomSource, SecretCipher, WebhookStore, WebhookTransport};
use crate::service::Portcullis;
use crate::usecases::admin::{Actor, AdminError};
use crate::usecases::common::metadata;

/// Bytes of a signing secret.
const SECRET_BYTES: usize = 32;
/// Most deliveries per page.
pub const MAX_DELIVERIES_LIMIT: u32 = 100;

/// What `POST /admin/webhooks` asks for, unchecked.
#[derive(Clone, Debug, Default)]
pub struct NewWebhook {
    /// Target URL.
    pub url: String,
    /// Event types and prefixes (`user.*`).
    pub events: Vec<String>,
    /// The operator's note.
    pub description: Option<String>,
}

/// What `PATCH /admin/webhooks/{id}` asks for, unchecked; `None` fields stay.
#[derive(Clone, Debug, Default)]
pub struct WebhookPatch {
    /// New target.
    pub url: Option<String>,
    /// New subscriptions.
    pub events: Option<Vec<String>>,
    /// New description.
    pub description: Option<String>,
    /// On or off.
    pub enabled: Option<bool>,
}

/// The context string a secret is sealed under: a sealed secret moved to another endpoint's
/// row does not open.
fn seal_context(id: WebhookId) -> String {
    format!("webhook:{id}")
}

impl<P: Ports> Portcullis<P>
where
    P::Store: WebhookStore,
{
    /// Subscribes an endpoint; returns it with its secret, which is never shown again.
    ///
    /// The URL must be `https` (unless `webhooks.allow_http`), and its host must resolve
    /// only to public addresses or allowed private ranges: `transport` resolves it now, as it
    /// will again at every delivery.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::Invalid`] naming `url`, `events` or
    /// `description`, [`AdminError::Infra`].
    pub async fn admin_create_webhook(
        &self,
        actor: &Actor,
        transport: &impl WebhookTransport,
        input: NewWebhook,
        ctx: &RequestContext,
    ) -> Result<(WebhookEndpoint, WebhookSecret), AdminError> {
        actor.require(Permission::WebhooksManage)?;
        let mut errors = Vec::new();
        let url = self.checked_url(transport, &input.url, &mut errors).await;
        let events = checked_events(&input.events, &mut errors);
        let description = checked_description(input.description.as_deref().unwrap_or_default(), &mut errors);
        let (Some(url), Some(events), Some(description)) = (url, events, description) else {
            return Err(AdminError::Invalid(errors));
        };
        let now = self.now();
        let id = WebhookId::new_v7();
        let (secret, sealed) = self.new_secret(id)?;
        let endpoint = WebhookEndpoint {
            id,
            url,
            events,
            description,
            enabled: true,
            disabled_reason: None,
            secret: sealed,
            previous_secret: None,
            previous_secret_until: None,
            created_at: now,
            updated_at: now,
        };
        let meta = metadata([
            ("actor_id", actor.audit_id()),
            ("webhook_id", id.to_string().into()),
            ("url", endpoint.url.redacted().into()),
            ("events", endpoint.events.iter().map(EventPattern::as_str).collect::<Vec<_>>().into()),
        ]);
        let audit = self.webhook_audit(actor, AuditAction::AdminWebhookCreated, ctx, meta, now);
        self.store.insert_endpoint(endpoint.clone(), audit).await?;
        Ok((endpoint, secret))
    }

    /// Every endpoint, oldest first (secrets stay sealed; no read shows them).
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::Infra`].
    pub async fn admin_webhooks(&self, actor: &Actor) -> Result<Vec<WebhookEndpoint>, AdminError> {
        actor.require(Permission::WebhooksManage)?;
        Ok(self.store.endpoints().await?)
    }

    /// One endpoint.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NoSuchWebhook`], [`AdminError::Infra`].
    pub async fn admin_webhook(&self, actor: &Actor, id: WebhookId) -> Result<WebhookEndpoint, AdminError> {
        actor.require(Permission::WebhooksManage)?;
        self.store.endpoint(id).await?.ok_or(AdminError::NoSuchWebhook)
    }

    /// Changes an endpoint. Turning it on again clears the reason the service turned it off
    /// (a 410); events that happened while it was off were not queued for it.
    ///
    /// # Errors
    /// As [`Self::admin_create_webhook`], and [`AdminError::NoSuchWebhook`].
    pub async fn admin_update_webhook(
        &self,
        actor: &Actor,
        transport: &impl WebhookTransport,
        id: WebhookId,
        patch: WebhookPatch,
        ctx: &RequestContext,
    ) -> Result<WebhookEndpoint, AdminError> {
        actor.require(Permission::WebhooksManage)?;
        let mut errors = Vec::new();
        let mut changes = EndpointChanges { enabled: patch.enabled, ..EndpointChanges::default() };
        if let Some(url) = &patch.url {
            changes.url = self.checked_url(transport, url, &mut errors).await;
        }
        if let Some(events) = &patch.events {
            changes.events = checked_events(events, &mut errors);
        }
        if let Some(description) = &patch.description {
            changes.description = checked_description(description, &mut errors);
        }
        if !errors.is_empty() {
            return Err(AdminError::Invalid(errors));
        }
        let now = self.now();
        let mut changed: Vec<serde_json::Value> = Vec::new();
        for (name, set) in [
            ("url", changes.url.is_some()),
            ("events", changes.events.is_some()),
            ("description", changes.description.is_some()),
            ("enabled", changes.enabled.is_some()),
        ] {
            if set {
                changed.push(name.into());
            }
        }
        let mut meta = metadata([
            ("actor_id", actor.audit_id()),
            ("webhook_id", id.to_string().into()),
            ("changed", changed.into()),
        ]);
        if let Some(url) = &changes.url {
            meta.insert("url".into(), url.redacted().into());
        }
        if let Some(enabled) = changes.enabled {
            meta.insert("enabled".into(), enabled.into());
        }
        let audit = self.webhook_audit(actor, AuditAction::AdminWebhookUpdated, ctx, meta, now);
        self.store.update_endpoint(id, changes, now, audit).await?.ok_or(AdminError::NoSuchWebhook)
    }

    /// Removes an endpoint with its deliveries, pending and kept; returns it as it was.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NoSuchWebhook`], [`AdminError::Infra`].
    pub async fn admin_delete_webhook(
        &self,
        actor: &Actor,
        id: WebhookId,
        ctx: &RequestContext,
    ) -> Result<WebhookEndpoint, AdminError> {
        actor.require(Permission::WebhooksManage)?;
        let endpoint = self.store.endpoint(id).await?.ok_or(AdminError::NoSuchWebhook)?;
        let now = self.now();
        let meta = metadata([("actor_id", actor.audit_id()), ("webhook_id", id.to_string().into())]);
        let audit = self.webhook_audit(actor, AuditAction::AdminWebhookDeleted, ctx, meta, now);
        if self.store.delete_endpoint(id, audit).await? { Ok(endpoint) } else { Err(AdminError::NoSuchWebhook) }
    }

    /// A new signing secret, returned once. The one it replaces keeps signing too (a second
    /// signature in `webhook-signature`) for 24 hours, so receivers can switch without
    /// losing a delivery; a second rotation within them ends the first one's overlap.
    ///
    /// Returns the new secret and the end of the old one's overlap.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NoSuchWebhook`], [`AdminError::Infra`].
    pub async fn admin_rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: WebhookId,
        ctx: &RequestContext,
    ) -> Result<(WebhookSecret, Timestamp), AdminError> {
        actor.require(Permission::WebhooksManage)?;
        let now = self.now();
        let (secret, sealed) = self.new_secret(id)?;
        let until = now.plus(ROTATION_OVERLAP);
        let meta = metadata([
            ("actor_id", actor.audit_id()),
            ("webhook_id", id.to_string().into()),
            ("previous_secret_until", until.to_rfc3339().into()),
        ]);
        let audit = self.webhook_audit(actor, AuditAction::AdminWebhookSecretRotated, ctx, meta, now);
        if self.store.rotate_secret(id, sealed, until, now, audit).await? {
            Ok((secret, until))
        } else {
            Err(AdminError::NoSuchWebhook)
        }
    }

    /// A page of an endpoint's deliveries, newest first; `limit` is clamped to `1..=100`.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NoSuchWebhook`], [`AdminError::Infra`].
    pub async fn admin_webhook_deliveries(
        &self,
        actor: &Actor,
        id: WebhookId,
        status: Option<DeliveryStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<WebhookDelivery>, AdminError> {
        actor.require(Permission::WebhooksManage)?;
        if self.store.endpoint(id).await?.is_none() {
            return Err(AdminError::NoSuchWebhook);
        }
        Ok(self.store.deliveries(id, status, limit.clamp(1, MAX_DELIVERIES_LIMIT), offset).await?)
    }

    /// Sends a delivery again as soon as a worker takes it (failed, delivered or pending
    /// alike), with the same `webhook-id`; audited as `admin.webhook.delivery_retried`. Its
    /// tries go on counting from where they were: a delivery that used all of them gets one
    /// more, one failed early (a 410) the rest of the schedule. A try in flight is not
    /// doubled: the delivery is taken again once that try ends. While the endpoint is off
    /// (a 410, or an admin), the delivery waits, pending, until it is turned on.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NoSuchWebhook`] (for the delivery too),
    /// [`AdminError::Infra`].
    pub async fn admin_retry_delivery(
        &self,
        actor: &Actor,
        id: WebhookId,
        delivery: DeliveryId,
        ctx: &RequestContext,
    ) -> Result<WebhookDelivery, AdminError> {
        actor.require(Permission::WebhooksManage)?;
        let now = self.now();
        let meta = metadata([
            ("actor_id", actor.audit_id()),
            ("webhook_id", id.to_string().into()),
            ("delivery_id", delivery.0.into()),
        ]);
        let audit = self.webhook_audit(actor, AuditAction::AdminWebhookDeliveryRetried, ctx, meta, now);
        self.store.retry_delivery(id, delivery, now, audit).await?.ok_or(AdminError::NoSuchWebhook)
    }

    /// Queues a `webhook.test` event for the endpoint, sent even while it is off; audited as
    /// `admin.webhook.tested`.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NoSuchWebhook`], [`AdminError::Infra`].
    pub async fn admin_test_webhook(
        &self,
        actor: &Actor,
        id: WebhookId,
        ctx: &RequestContext,
    ) -> Result<WebhookDelivery, AdminError> {
        actor.require(Permission::WebhooksManage)?;
        let now = self.now();
        let meta = metadata([("actor_id", actor.audit_id()), ("webhook_id", id.to_string().into())]);
        let audit = self.webhook_audit(actor, AuditAction::AdminWebhookTested, ctx, meta, now);
        self.store.enqueue_test(id, now, audit).await?.ok_or(AdminError::NoSuchWebhook)
    }

    async fn checked_url(
        &self,
        transport: &impl WebhookTransport,
        text: &str,
        errors: &mut Vec<FieldError>,
    ) -> Option<WebhookUrl> {
        let checked = match WebhookUrl::parse(text.trim()) {
            Ok(url) => match self.policy.webhook_targets.check_url(&url) {
                Ok(()) => transport.vet(&url).await.map(|_| url),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        checked.map_err(|e| errors.push(FieldError::new("url", e))).ok()
    }

    fn new_secret(&self, id: WebhookId) -> Result<(WebhookSecret, SealedSecret), InfraError> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        self.random.fill_bytes(&mut bytes);
        let sealed = self
            .cipher
            .seal(&seal_context(id), &bytes)
            .map_err(|e| InfraError::Unexpected(format!("sealing a webhook secret: {e}").into()))?;
        Ok((WebhookSecret::from_bytes(bytes), sealed))
    }

    /// An `admin.webhook.*` entry: about the acting administrator's account (none for the
    /// operator's command line), the endpoint in the metadata.
    fn webhook_audit(
        &self,
        actor: &Actor,
        action: AuditAction,
        ctx: &RequestContext,
        metadata: serde_json::Map<String, serde_json::Value>,
        now: Timestamp,
    ) -> NewAuditEntry {
        let user_id = match actor {
            Actor::User { id, .. } => Some(*id),
            Actor::Operator => None,
        };
        self.audit_entry(user_id, action, ctx, metadata, now)
    }

    /// Opens an endpoint's secrets that sign at `now`.
    pub(crate) fn signing_keys(
        &self,
        endpoint: &WebhookEndpoint,
        now: Timestamp,
    ) -> Result<Vec<Zeroizing<Vec<u8>>>, InfraError> {
        endpoint
            .signing_secrets(now)
            .into_iter()
            .map(|sealed| {
                self.cipher.open(&seal_context(endpoint.id), sealed).map_err(|e| {
                    InfraError::Unexpected(format!("the secret of webhook {} does not open: {e}", endpoint.id).into())
                })
            })
            .collect()
    }
}

fn checked_events(events: &[String], errors: &mut Vec<FieldError>) -> Option<Vec<EventPattern>> {
    if events.is_empty() || events.len() > MAX_PATTERNS {
        errors.push(FieldError::new("events", format!("between 1 and {MAX_PATTERNS} event types or prefixes")));
        return None;
    }
    let before = errors.len();
    let mut out: Vec<EventPattern> = Vec::with_capacity(events.len());
    for (i, text) in events.iter().enumerate() {
        match EventPattern::parse(text) {
            Ok(p) if !out.contains(&p) => out.push(p),
            Ok(_) => {}
            Err(PatternError::UnknownEvent) => {
                errors.push(FieldError::new(format!("events.{i}"), "no event has this type"));
            }
            Err(e) => errors.push(FieldError::new(format!("events.{i}"), e)),
        }
    }
    (errors.len() == before).then_some(out)
}

fn checked_description(text: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION_LEN || text.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "description",
            format!("at most {MAX_DESCRIPTION_LEN} characters, no control characters"),
        ));
        return None;
    }
    Some(text.to_owned())
}
