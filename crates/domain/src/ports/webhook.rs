//! Webhook ports: the endpoint and delivery store, and the transport that sends a try.
//!
//! Deliveries are queued by the store itself whenever an audit entry is appended (in the
//! commit that appends it, see [`WebhookStore`]), so every use case emits events without
//! knowing about webhooks, and a rollback sends nothing.

use std::net::IpAddr;
use std::time::Duration;

use super::StoreError;
pub use crate::model::TargetRefusal;
use crate::model::{
    DeliveryId, DeliveryLease, DeliveryStatus, DueDelivery, NewAuditEntry, Page, Timestamp, WebhookDelivery,
    WebhookEndpoint, WebhookId, WebhookUrl,
};

/// A change to an endpoint (`PATCH`); `None` fields stay.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointChanges {
    /// New target.
    pub url: Option<WebhookUrl>,
    /// New subscriptions (replacing the old).
    pub events: Option<Vec<crate::model::EventPattern>>,
    /// New description.
    pub description: Option<String>,
    /// Turn on or off; turning on clears `disabled_reason`.
    pub enabled: Option<bool>,
}

/// What a finished try did to its delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum TryOutcome {
    /// Answered with a 2xx.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Failed; try again at `next_attempt_at`.
    Retry {
        /// The status, when the receiver answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// When.
        next_attempt_at: Timestamp,
    },
    /// Failed for the last time (or 410): the delivery is kept as failed.
    GiveUp {
        /// The status, when the receiver answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// `true` when the receiver answered 410 Gone: the endpoint is disabled too.
        disable_endpoint: bool,
    },
}

/// Counts for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryBacklog {
    /// Pending deliveries of enabled endpoints.
    pub pending: u64,
    /// When the oldest of them was queued.
    pub oldest_pending_since: Option<Timestamp>,
    /// Failed deliveries kept.
    pub failed: u64,
}

/// Endpoints and their deliveries.
///
/// # Contract
/// Appending an audit entry ([`super::Change::AppendAudit`]) MUST queue, in the same
/// commit, one pending delivery due at the entry's time for every enabled endpoint with a
/// subscription matching the entry's action ([`crate::model::EventPattern::matches`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait WebhookStore: Send + Sync + 'static {
    /// Stores a new endpoint and appends `audit`, in one transaction (as for every write
    /// below that takes an `audit` entry: written only when the change is).
    async fn insert_endpoint(&self, endpoint: WebhookEndpoint, audit: NewAuditEntry) -> Result<(), StoreError>;
    /// One endpoint.
    async fn endpoint(&self, id: WebhookId) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// Every endpoint, oldest first.
    async fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError>;
    /// Applies `changes` (subscriptions replaced in the same transaction); the endpoint after
    /// them, `None` when there is no such endpoint.
    async fn update_endpoint(
        &self,
        id: WebhookId,
        changes: EndpointChanges,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// Replaces the secret, keeping the old one as `previous_secret` until `previous_until`.
    /// `false` when there is no such endpoint.
    async fn rotate_secret(
        &self,
        id: WebhookId,
        secret: crate::model::SealedSecret,
        previous_until: Timestamp,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool, StoreError>;
    /// Removes an endpoint and its deliveries; `false` when there was none.
    async fn delete_endpoint(&self, id: WebhookId, audit: NewAuditEntry) -> Result<bool, StoreError>;

    /// Queues a `webhook.test` delivery to one endpoint (enabled or not), due at `at`, and
    /// appends `audit`.
    async fn enqueue_test(
        &self,
        id: WebhookId,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookDelivery>, StoreError>;
    /// A page of an endpoint's deliveries, newest first, optionally of one status.
    async fn deliveries(
        &self,
        id: WebhookId,
        status: Option<DeliveryStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<WebhookDelivery>, StoreError>;
    /// Makes a delivery of endpoint `id` pending and due at `at` (whatever its status) and
    /// appends `audit`; `None` when the endpoint has no such delivery. A lease in force
    /// stays: a try in flight is not sent a second time alongside.
    async fn retry_delivery(
        &self,
        id: WebhookId,
        delivery: DeliveryId,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookDelivery>, StoreError>;

    /// Leases up to `limit` due pending deliveries of enabled endpoints (and test events of
    /// any endpoint) for `lease`: a leased delivery is not handed out again until the lease
    /// ends, so instances never send one delivery at once. At most `per_endpoint` of one
    /// endpoint are handed out per claim, and none of an endpoint that already has
    /// `per_endpoint` leased, so one slow receiver cannot take every slot.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u32,
        per_endpoint: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records a finished try (counted in `attempts`) and ends the lease, if `lease` is still
    /// the delivery's: a try that outlived its lease (the delivery was claimed again since)
    /// changes nothing, and `false` says so.
    async fn record_try(&self, lease: &DeliveryLease, outcome: TryOutcome, at: Timestamp) -> Result<bool, StoreError>;
    /// Deletes deliveries delivered before `before`, and those whose endpoint is gone;
    /// failed ones are kept. Returns how many.
    async fn purge_deliveries(&self, before: Timestamp) -> Result<u64, StoreError>;
    /// Queue depth and failures, for the metrics.
    async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError>;
}

/// One signed request to send. `Debug` shows the target's redacted form and the header
/// names only.
#[derive(Clone)]
pub struct WebhookRequest {
    /// The target.
    pub url: WebhookUrl,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` and `content-type`.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// For connecting, sending and reading the answer, all together.
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRequest")
            .field("url", &self.url)
            .field("headers", &self.headers.iter().map(|(name, _)| *name).collect::<Vec<_>>())
            .field("body_bytes", &self.body.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How a try ended, as the transport saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookResponse {
    /// The receiver answered with `status` (any; redirects are answers, never followed).
    Answered {
        /// The status code.
        status: u16,
        /// The raw `Retry-After` header, if sent.
        retry_after: Option<String>,
    },
    /// Not sent: the target is not allowed (scheme, or an address it resolved to).
    Refused(TargetRefusal),
    /// No complete answer within the timeout.
    TimedOut,
    /// Could not connect, TLS failed, or the answer was not HTTP.
    Failed(String),
}

/// Sends deliveries, enforcing the [`crate::model::TargetPolicy`] on every address it
/// connects to (after DNS resolution, at every try), following no redirect and reading at
/// most a small bound of any answer body.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait WebhookTransport: Send + Sync + 'static {
    /// Resolves the target's host and checks the scheme and every address, as a try would:
    /// what registration and changes of the URL check.
    async fn vet(&self, url: &WebhookUrl) -> Result<Vec<IpAddr>, TargetRefusal>;
    /// Sends one try.
    async fn send(&self, request: WebhookRequest) -> WebhookResponse;
}
