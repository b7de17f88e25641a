//! [`FakeWebhookTransport`]: a webhook receiver in memory that answers on cue and records
//! every request, applying the domain's [`TargetPolicy`] the way the real transport does.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use portcullis_domain::model::{TargetPolicy, WebhookUrl};
use portcullis_domain::ports::{TargetRefusal, WebhookRequest, WebhookResponse, WebhookTransport};

#[derive(Debug, Default)]
struct Record {
    script: VecDeque<WebhookResponse>,
    resolve: Vec<(String, Vec<IpAddr>)>,
    policy: TargetPolicy,
    sent: Vec<WebhookRequest>,
}

/// A [`WebhookTransport`] that plays a script of responses (then answers 204) and keeps
/// every request it was given. Host names resolve through [`Self::resolve`] (unknown names
/// resolve to [`Self::DEFAULT_ADDRESS`], a public address); the [`TargetPolicy`] given with
/// [`Self::with_policy`] is enforced at `vet` and at every `send`, as the real transport
/// does after DNS. Clones share the record.
#[derive(Clone, Debug, Default)]
pub struct FakeWebhookTransport {
    record: Arc<Mutex<Record>>,
}

impl FakeWebhookTransport {
    /// Where a name not given to [`Self::resolve`] resolves: a public address (example.com's
    /// long-time one). Not a documentation range such as `203.0.113.0/24`, which the
    /// [`TargetPolicy`] refuses like any other non-public range.
    pub const DEFAULT_ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(93, 184, 216, 34));

    /// Answers every request with 204.
    pub fn accepting() -> Self {
        Self::default()
    }

    /// Enforces `policy` (default: https only, public addresses only).
    pub fn with_policy(self, policy: TargetPolicy) -> Self {
        self.lock().policy = policy;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `host` resolve to `addresses` (none: it does not resolve).
    pub fn resolve(&self, host: &str, addresses: &[IpAddr]) {
        let mut record = self.lock();
        record.resolve.retain(|(h, _)| h != host);
        record.resolve.push((host.to_owned(), addresses.to_vec()));
    }

    /// Queues responses for the next sends, in order.
    pub fn script(&self, responses: impl IntoIterator<Item = WebhookResponse>) {
        self.lock().script.extend(responses);
    }

    /// Every request sent (refused ones are not), in order.
    pub fn sent(&self) -> Vec<WebhookRequest> {
        self.lock().sent.clone()
    }

    fn check(&self, url: &WebhookUrl) -> Result<Vec<IpAddr>, TargetRefusal> {
        let record = self.lock();
        record.policy.check_url(url)?;
        let addresses = match url.ip_literal() {
            Some(ip) => vec![ip],
            None => record
                .resolve
                .iter()
                .find(|(h, _)| h == url.host())
                .map_or_else(|| vec![Self::DEFAULT_ADDRESS], |(_, a)| a.clone()),
        };
        if addresses.is_empty() {
            return Err(TargetRefusal::Unresolvable);
        }
        for ip in &addresses {
            record.policy.check_ip(*ip)?;
        }
        Ok(addresses)
    }
}

impl WebhookTransport for FakeWebhookTransport {
    async fn vet(&self, url: &WebhookUrl) -> Result<Vec<IpAddr>, TargetRefusal> {
        self.check(url)
    }

    async fn send(&self, request: WebhookRequest) -> WebhookResponse {
        if let Err(refusal) = self.check(&request.url) {
            return WebhookResponse::Refused(refusal);
        }
        let mut record = self.lock();
        record.sent.push(request);
        record.script.pop_front().unwrap_or(WebhookResponse::Answered { status: 204, retry_after: None })
    }
}
