//! Webhook endpoints and their delivery queue, with leases like the mail outbox's.

use std::time::Duration;

use portcullis_domain::model::{
    AuditEntry, DeliveryId, DeliveryLease, DeliveryStatus, DueDelivery, NewAuditEntry, Page, SealedSecret, TEST_EVENT,
    Timestamp, WebhookDelivery, WebhookEndpoint, WebhookId,
};
use portcullis_domain::ports::{Change, DeliveryBacklog, EndpointChanges, StoreError, TryOutcome, WebhookStore};

use super::{InMemoryStore, State};

/// A delivery and the end of its current lease.
#[derive(Clone, Debug)]
pub(crate) struct QueuedDelivery {
    pub(crate) delivery: WebhookDelivery,
    pub(crate) leased_until: Option<Timestamp>,
}

impl State {
    /// The store's half of appending an audit entry: one pending delivery per enabled
    /// endpoint subscribed to its action, in the same (all-or-nothing) commit.
    pub(crate) fn queue_webhooks(&mut self, entry: &AuditEntry) {
        let targets: Vec<WebhookId> =
            self.webhooks.iter().filter(|e| e.enabled && e.subscribes_to(&entry.action)).map(|e| e.id).collect();
        for webhook_id in targets {
            self.push_delivery(webhook_id, Some(entry.id), &entry.action, entry.created_at);
        }
    }

    fn push_delivery(&mut self, webhook_id: WebhookId, audit_id: Option<i64>, event: &str, at: Timestamp) -> usize {
        self.next_delivery_id += 1;
        self.deliveries.push(QueuedDelivery {
            delivery: WebhookDelivery {
                id: DeliveryId(self.next_delivery_id),
                webhook_id,
                audit_id,
                event_type: event.to_owned(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                last_status_code: None,
                last_error: None,
                next_attempt_at: Some(at),
                created_at: at,
                delivered_at: None,
            },
            leased_until: None,
        });
        self.deliveries.len() - 1
    }

    /// Appends `audit` the way a commit does (with its own fan-out).
    fn append(&mut self, audit: NewAuditEntry) -> Result<(), StoreError> {
        self.apply(Change::AppendAudit(audit)).map(|_| ())
    }
}

impl InMemoryStore {
    /// Every delivery, oldest first.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.lock().deliveries.iter().map(|q| q.delivery.clone()).collect()
    }
}

impl WebhookStore for InMemoryStore {
    async fn insert_endpoint(&self, endpoint: WebhookEndpoint, audit: NewAuditEntry) -> Result<(), StoreError> {
        self.enter_commit().await?;
        let mut state = self.lock();
        if state.webhooks.iter().any(|e| e.id == endpoint.id) {
            return Err(StoreError::Conflict);
        }
        state.webhooks.push(endpoint);
        state.append(audit)
    }

    async fn endpoint(&self, id: WebhookId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.enter().await?;
        Ok(self.lock().webhooks.iter().find(|e| e.id == id).cloned())
    }

    async fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.enter().await?;
        let mut all = self.lock().webhooks.clone();
        all.sort_by_key(|e| (e.created_at, e.id));
        Ok(all)
    }

    async fn update_endpoint(
        &self,
        id: WebhookId,
        changes: EndpointChanges,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.enter_commit().await?;
        let mut state = self.lock();
        let Some(endpoint) = state.webhooks.iter_mut().find(|e| e.id == id) else { return Ok(None) };
        if let Some(url) = changes.url {
            endpoint.url = url;
        }
        if let Some(events) = changes.events {
            endpoint.events = events;
        }
        if let Some(description) = changes.description {
            endpoint.description = description;
        }
        if let Some(enabled) = changes.enabled {
            endpoint.enabled = enabled;
            if enabled {
                endpoint.disabled_reason = None;
            }
        }
        endpoint.updated_at = at;
        let updated = endpoint.clone();
        state.append(audit)?;
        Ok(Some(updated))
    }

    async fn rotate_secret(
        &self,
        id: WebhookId,
        secret: SealedSecret,
        previous_until: Timestamp,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool, StoreError> {
        self.enter_commit().await?;
        let mut state = self.lock();
        let Some(endpoint) = state.webhooks.iter_mut().find(|e| e.id == id) else { return Ok(false) };
        endpoint.previous_secret = Some(std::mem::replace(&mut endpoint.secret, secret));
        endpoint.previous_secret_until = Some(previous_until);
        endpoint.updated_at = at;
        state.append(audit)?;
        Ok(true)
    }

    async fn delete_endpoint(&self, id: WebhookId, audit: NewAuditEntry) -> Result<bool, StoreError> {
        self.enter_commit().await?;
        let mut state = self.lock();
        let before = state.webhooks.len();
        state.webhooks.retain(|e| e.id != id);
        if state.webhooks.len() == before {
            return Ok(false);
        }
        state.deliveries.retain(|q| q.delivery.webhook_id != id);
        state.append(audit)?;
        Ok(true)
    }

    async fn enqueue_test(
        &self,
        id: WebhookId,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        self.enter_commit().await?;
        let mut state = self.lock();
        if !state.webhooks.iter().any(|e| e.id == id) {
            return Ok(None);
        }
        let index = state.push_delivery(id, None, TEST_EVENT, at);
        let queued = state.deliveries[index].delivery.clone();
        state.append(audit)?;
        Ok(Some(queued))
    }

    async fn deliveries(
        &self,
        id: WebhookId,
        status: Option<DeliveryStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let mut all: Vec<WebhookDelivery> = state
            .deliveries
            .iter()
            .map(|q| &q.delivery)
            .filter(|d| d.webhook_id == id && status.is_none_or(|s| d.status == s))
            .cloned()
            .collect();
        all.sort_by_key(|d| std::cmp::Reverse(d.id));
        let total_count = all.len() as u64;
        let items = all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        Ok(Page { items, total_count })
    }

    async fn retry_delivery(
        &self,
        id: WebhookId,
        delivery: DeliveryId,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        self.enter_commit().await?;
        let mut state = self.lock();
        let Some(q) = state.deliveries.iter_mut().find(|q| q.delivery.id == delivery && q.delivery.webhook_id == id)
        else {
            return Ok(None);
        };
        // The lease stays: a try in flight is not doubled.
        q.delivery.status = DeliveryStatus::Pending;
        q.delivery.next_attempt_at = Some(at);
        let retried = q.delivery.clone();
        state.append(audit)?;
        Ok(Some(retried))
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u32,
        per_endpoint: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let per_endpoint = usize::try_from(per_endpoint).unwrap_or(usize::MAX);
        let mut leased: std::collections::HashMap<WebhookId, usize> = std::collections::HashMap::new();
        for q in &state.deliveries {
            if q.delivery.status == DeliveryStatus::Pending && q.leased_until.is_some_and(|end| end > now) {
                *leased.entry(q.delivery.webhook_id).or_default() += 1;
            }
        }
        let mut due: Vec<usize> = (0..state.deliveries.len())
            .filter(|&i| {
                let q = &state.deliveries[i];
                let d = &q.delivery;
                let endpoint_on =
                    state.webhooks.iter().any(|e| e.id == d.webhook_id && (e.enabled || d.audit_id.is_none()));
                endpoint_on
                    && d.status == DeliveryStatus::Pending
                    && d.next_attempt_at.is_some_and(|t| t <= now)
                    && q.leased_until.is_none_or(|end| end <= now)
            })
            .collect();
        due.sort_by_key(|&i| (state.deliveries[i].delivery.next_attempt_at, state.deliveries[i].delivery.id));
        // The first `limit`, as the SQL stores select them; then no endpoint gets more than
        // `per_endpoint` leases in force.
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut taken = leased;
        due.retain(|&i| {
            let webhook = state.deliveries[i].delivery.webhook_id;
            let n = taken.entry(webhook).or_default();
            *n += 1;
            *n <= per_endpoint
        });
        let until = now.plus(lease);
        let mut out = Vec::with_capacity(due.len());
        for i in due {
            state.deliveries[i].leased_until = Some(until);
            let delivery = state.deliveries[i].delivery.clone();
            let Some(endpoint) = state.webhooks.iter().find(|e| e.id == delivery.webhook_id).cloned() else { continue };
            let entry = delivery.audit_id.and_then(|a| state.audit.iter().find(|e| e.id == a).cloned());
            out.push(DueDelivery { lease: DeliveryLease { id: delivery.id, until }, delivery, endpoint, entry });
        }
        Ok(out)
    }

    async fn record_try(&self, lease: &DeliveryLease, outcome: TryOutcome, at: Timestamp) -> Result<bool, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let Some(index) =
            state.deliveries.iter().position(|q| q.delivery.id == lease.id && q.leased_until == Some(lease.until))
        else {
            return Ok(false);
        };
        let q = &mut state.deliveries[index];
        q.leased_until = None;
        let d = &mut q.delivery;
        d.attempts += 1;
        let mut disable = None;
        match outcome {
            TryOutcome::Delivered { status } => {
                d.status = DeliveryStatus::Delivered;
                d.last_status_code = Some(status);
                d.last_error = None;
                d.next_attempt_at = None;
                d.delivered_at = Some(at);
            }
            TryOutcome::Retry { status, error, next_attempt_at } => {
                d.last_status_code = status.or(d.last_status_code);
                d.last_error = Some(error);
                d.next_attempt_at = Some(next_attempt_at);
            }
            TryOutcome::GiveUp { status, error, disable_endpoint } => {
                d.status = DeliveryStatus::Failed;
                d.last_status_code = status.or(d.last_status_code);
                d.last_error = Some(error);
                d.next_attempt_at = None;
                if disable_endpoint {
                    disable = Some(d.webhook_id);
                }
            }
        }
        if let Some(webhook) = disable
            && let Some(e) = state.webhooks.iter_mut().find(|e| e.id == webhook)
        {
            e.enabled = false;
            e.disabled_reason = Some("gone".to_owned());
            e.updated_at = at;
        }
        Ok(true)
    }

    async fn purge_deliveries(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let endpoints: Vec<WebhookId> = state.webhooks.iter().map(|e| e.id).collect();
        let count = state.deliveries.len();
        state.deliveries.retain(|q| {
            let d = &q.delivery;
            let old_delivered = d.status == DeliveryStatus::Delivered && d.delivered_at.is_some_and(|t| t < before);
            endpoints.contains(&d.webhook_id) && !old_delivered
        });
        Ok((count - state.deliveries.len()) as u64)
    }

    async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let enabled = |d: &WebhookDelivery| state.webhooks.iter().any(|e| e.id == d.webhook_id && e.enabled);
        let pending: Vec<&WebhookDelivery> = state
            .deliveries
            .iter()
            .map(|q| &q.delivery)
            .filter(|d| d.status == DeliveryStatus::Pending && enabled(d))
            .collect();
        Ok(DeliveryBacklog {
            pending: pending.len() as u64,
            oldest_pending_since: pending.iter().map(|d| d.created_at).min(),
            failed: state.deliveries.iter().filter(|q| q.delivery.status == DeliveryStatus::Failed).count() as u64,
        })
    }
}
