//! Webhook rows: `webhook_endpoints`, `webhook_subscriptions` and `webhook_deliveries`.

use diesel::prelude::*;
use portcullis_domain::model::{
    DeliveryId, DeliveryStatus, EventPattern, SealedSecret, WebhookDelivery, WebhookEndpoint, WebhookUrl,
};

use super::count_from_db;
use crate::error::DbError;
use crate::schema::{webhook_deliveries, webhook_endpoints, webhook_subscriptions};
use crate::sql_types::{DbTime, DbUuid};

/// A `webhook_endpoints` row.
#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct EndpointRow {
    pub(crate) id: DbUuid,
    url: String,
    description: String,
    enabled: bool,
    disabled_reason: Option<String>,
    secret: Vec<u8>,
    previous_secret: Option<Vec<u8>>,
    previous_secret_until: Option<DbTime>,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<&WebhookEndpoint> for EndpointRow {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id.into(),
            url: e.url.as_str().to_owned(),
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            secret: e.secret.0.clone(),
            previous_secret: e.previous_secret.as_ref().map(|s| s.0.clone()),
            previous_secret_until: e.previous_secret_until.map(DbTime),
            created_at: DbTime(e.created_at),
            updated_at: DbTime(e.updated_at),
        }
    }
}

impl EndpointRow {
    /// The endpoint, with its subscriptions (`pattern`s, in any order).
    pub(crate) fn into_endpoint(self, patterns: Vec<String>) -> Result<WebhookEndpoint, DbError> {
        let url = WebhookUrl::parse(&self.url).map_err(|e| DbError::corrupt(format!("webhook url: {e}")))?;
        let mut events = patterns
            .iter()
            .map(|p| EventPattern::parse(p).map_err(|e| DbError::corrupt(format!("webhook pattern {p}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(WebhookEndpoint {
            id: self.id.into(),
            url,
            events,
            description: self.description,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            secret: SealedSecret(self.secret),
            previous_secret: self.previous_secret.map(SealedSecret),
            previous_secret_until: self.previous_secret_until.map(Into::into),
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
        })
    }
}

/// A `webhook_subscriptions` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_subscriptions, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct SubscriptionRow {
    pub(crate) webhook_id: DbUuid,
    pub(crate) pattern: String,
    prefix: Option<String>,
}

impl SubscriptionRow {
    /// The row of `pattern` for endpoint `webhook_id`; `prefix` is what the trigger matches on.
    pub(crate) fn new(webhook_id: DbUuid, pattern: &EventPattern) -> Self {
        Self { webhook_id, pattern: pattern.as_str().to_owned(), prefix: pattern.prefix().map(str::to_owned) }
    }
}

/// A `webhook_deliveries` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct DeliveryRow {
    pub(crate) id: i64,
    pub(crate) webhook_id: DbUuid,
    pub(crate) audit_id: Option<i64>,
    event_type: String,
    status: String,
    attempts: i32,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: Option<DbTime>,
    created_at: DbTime,
    delivered_at: Option<DbTime>,
}

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = DbError;
    fn try_from(r: DeliveryRow) -> Result<Self, DbError> {
        Ok(WebhookDelivery {
            id: DeliveryId(r.id),
            webhook_id: r.webhook_id.into(),
            audit_id: r.audit_id,
            event_type: r.event_type,
            status: DeliveryStatus::parse(&r.status)
                .ok_or_else(|| DbError::corrupt(format!("delivery status {}", r.status)))?,
            attempts: count_from_db(r.attempts, "delivery attempts")?,
            last_status_code: r
                .last_status_code
                .map(|c| u16::try_from(c).map_err(|_| DbError::corrupt(format!("status code {c}"))))
                .transpose()?,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at.map(Into::into),
            created_at: r.created_at.into(),
            delivered_at: r.delivered_at.map(Into::into),
        })
    }
}

/// A status code as stored.
pub(crate) fn status_to_db(status: Option<u16>) -> Option<i32> {
    status.map(i32::from)
}
