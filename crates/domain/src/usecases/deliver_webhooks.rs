//! Webhook delivery: claim due deliveries, sign them (Standard Webhooks) and send each try.
//!
//! Deliveries are queued by the store in the commit of their audit entry, so a request that
//! causes an event only writes a row; this is the only place a receiver is contacted, in
//! the background, so a receiver that hangs or fails never slows or fails that request.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{DueDelivery, MAX_ATTEMPTS, Timestamp, event_payload, parse_retry_after, retry_delay, sign};

/// Deliveries of one endpoint handed out per claim, and leased at once across instances:
/// one receiver that hangs holds at most this many of a worker's slots.
pub const PER_ENDPOINT_IN_FLIGHT: u32 = 8;
use crate::ports::{Ports, TryOutcome, WebhookRequest, WebhookResponse, WebhookStore, WebhookTransport};
use crate::service::Portcullis;

/// How a finished try went, for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryResult {
    /// Answered with a 2xx.
    Delivered,
    /// Failed; another try is scheduled.
    Retried,
    /// Failed for the last time: kept as failed.
    Failed,
    /// Answered 410: failed, and the endpoint was turned off.
    Gone,
}

impl TryResult {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retried => "retried",
            Self::Failed => "failed",
            Self::Gone => "gone",
        }
    }
}

/// What a round of [`Portcullis::deliver_webhooks`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookRound {
    /// Tries answered with a 2xx.
    pub delivered: u32,
    /// Tries that failed and were rescheduled.
    pub retried: u32,
    /// Deliveries given up (including 410s).
    pub failed: u32,
    /// Endpoints turned off by a 410.
    pub gone: u32,
}

impl WebhookRound {
    fn count(&mut self, result: TryResult) {
        match result {
            TryResult::Delivered => self.delivered += 1,
            TryResult::Retried => self.retried += 1,
            TryResult::Failed => self.failed += 1,
            TryResult::Gone => {
                self.failed += 1;
                self.gone += 1;
            }
        }
    }
}

/// How long a claimed delivery stays with its claimer: the try's timeout plus a margin for
/// the store round trips around it. Another instance takes it again only after this, so a
/// worker that died mid-try delays the delivery, never loses it.
pub fn webhook_lease(timeout: Duration) -> Duration {
    timeout.saturating_mul(2).saturating_add(Duration::from_secs(30))
}

impl<P: Ports> Portcullis<P>
where
    P::Store: WebhookStore,
{
    /// Leases up to `limit` due deliveries (see [`webhook_lease`]). Each is then sent with
    /// [`Self::attempt_delivery`]; the server runs those as concurrent tasks, so one hung
    /// receiver does not hold the others.
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn claim_webhook_deliveries(&self, limit: u32) -> Result<Vec<DueDelivery>, InfraError> {
        let lease = webhook_lease(self.policy.webhook_timeout);
        Ok(self.store.claim_deliveries(self.now(), lease, limit, PER_ENDPOINT_IN_FLIGHT).await?)
    }

    /// One try of a claimed delivery: signs the payload with the endpoint's secrets, sends it
    /// through `transport`, and records the outcome. Retries follow the contract's schedule
    /// ([`crate::model::RETRY_SCHEDULE`]), waiting at least what a `Retry-After` asks; the
    /// [`MAX_ATTEMPTS`]-th failure, or a 410, gives the delivery up (kept, retryable by an
    /// admin), and a 410 also turns the endpoint off.
    ///
    /// # Errors
    /// [`InfraError`] when the outcome cannot be recorded: the lease then runs out and the
    /// delivery is tried again (at least once, never lost).
    pub async fn attempt_delivery(
        &self,
        transport: &impl WebhookTransport,
        due: DueDelivery,
    ) -> Result<TryResult, InfraError> {
        let DueDelivery { lease, delivery, endpoint, entry } = due;
        let now = self.now();
        if delivery.audit_id.is_some() && entry.is_none() {
            // Its audit entry is gone: nothing true can be sent for it.
            let outcome = TryOutcome::GiveUp {
                status: None,
                error: "the event's audit entry no longer exists".to_owned(),
                disable_endpoint: false,
            };
            self.store.record_try(&lease, outcome, now).await?;
            return Ok(TryResult::Failed);
        }
        let event_id = delivery.event_id();
        let body = event_payload(&delivery, entry.as_ref());
        let response = match self.signing_keys(&endpoint, now) {
            Ok(keys) => {
                let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
                let timestamp = now.unix_millis().div_euclid(1000);
                let signature = sign(&event_id, timestamp, &body, &keys);
                let request = WebhookRequest {
                    url: endpoint.url.clone(),
                    headers: vec![
                        ("webhook-id", event_id),
                        ("webhook-timestamp", timestamp.to_string()),
                        ("webhook-signature", signature),
                        ("content-type", "application/json".to_owned()),
                    ],
                    body,
                    timeout: self.policy.webhook_timeout,
                };
                transport.send(request).await
            }
            // A secret that does not open (the key file changed) is retried like a receiver
            // that is down: the operator can restore the key without losing events.
            Err(e) => WebhookResponse::Failed(e.to_string()),
        };
        let at = self.now();
        let attempts = delivery.attempts.saturating_add(1);
        let (outcome, result) = outcome_of(response, attempts, at);
        // `false`: the lease ran out during the try and another claim owns the delivery now;
        // what that claim records stands.
        self.store.record_try(&lease, outcome, at).await?;
        Ok(result)
    }

    /// Deletes deliveries delivered longer ago than the policy's `webhook_delivered_retention`
    /// (and those of removed endpoints); failed ones stay for the admin API. The
    /// housekeeping round calls it; safe on several instances at once.
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn purge_webhook_deliveries(&self) -> Result<u64, InfraError> {
        let before = self.now().minus(self.policy.webhook_delivered_retention);
        Ok(self.store.purge_deliveries(before).await?)
    }

    /// Pending and failed deliveries, and the age of the oldest pending one, for metrics.
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn webhook_backlog(&self) -> Result<crate::ports::DeliveryBacklog, InfraError> {
        Ok(self.store.delivery_backlog().await?)
    }

    /// Claims up to `limit` due deliveries and tries them all concurrently: one step for
    /// embedders and tests that drive delivery themselves.
    ///
    /// ```
    /// use portcullis_domain::Policy;
    /// use portcullis_testing::fakes::FakeWebhookTransport;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (service, _) = portcullis_testing::test_service(Policy::default());
    /// let round = service.deliver_webhooks(&FakeWebhookTransport::accepting(), 50).await.unwrap();
    /// assert_eq!(round.delivered, 0, "no endpoint subscribed yet");
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn deliver_webhooks(
        &self,
        transport: &impl WebhookTransport,
        limit: u32,
    ) -> Result<WebhookRound, InfraError> {
        let due = self.claim_webhook_deliveries(limit).await?;
        let results =
            futures_util::future::join_all(due.into_iter().map(|d| self.attempt_delivery(transport, d))).await;
        let mut round = WebhookRound::default();
        for result in results {
            round.count(result?);
        }
        Ok(round)
    }
}

/// What `response` means for a delivery on its `attempts`-th try, finished at `at`.
fn outcome_of(response: WebhookResponse, attempts: u32, at: Timestamp) -> (TryOutcome, TryResult) {
    let (status, error, retry_after) = match response {
        WebhookResponse::Answered { status, .. } if (200..300).contains(&status) => {
            return (TryOutcome::Delivered { status }, TryResult::Delivered);
        }
        WebhookResponse::Answered { status: 410, .. } => {
            let error = "410 Gone: the receiver asked for no more deliveries".to_owned();
            return (TryOutcome::GiveUp { status: Some(410), error, disable_endpoint: true }, TryResult::Gone);
        }
        WebhookResponse::Answered { status, retry_after } => {
            let wait = retry_after.as_deref().and_then(|v| parse_retry_after(v, at));
            (Some(status), format!("answered {status}"), wait)
        }
        WebhookResponse::TimedOut => (None, "timed out".to_owned(), None),
        WebhookResponse::Refused(reason) => (None, format!("refused: {reason}"), None),
        WebhookResponse::Failed(reason) => (None, reason, None),
    };
    match retry_delay(attempts, retry_after).filter(|_| attempts < MAX_ATTEMPTS) {
        Some(wait) => (TryOutcome::Retry { status, error, next_attempt_at: at.plus(wait) }, TryResult::Retried),
        None => (TryOutcome::GiveUp { status, error, disable_endpoint: false }, TryResult::Failed),
    }
}

#[cfg(test)]
mod tests;
