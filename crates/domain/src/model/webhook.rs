//! Webhooks (contract §10): endpoints subscribed to audit events, their deliveries, and the
//! rules for targets, retries and the Standard Webhooks signature.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::{AuditAction, AuditEntry, SealedSecret, Timestamp, WebhookId};

/// The event type of the test event `POST /admin/webhooks/{id}/test` sends.
pub const TEST_EVENT: &str = "webhook.test";
/// Longest target URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2000;
/// Longest description kept, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 500;
/// Most subscriptions per endpoint.
pub const MAX_PATTERNS: usize = 50;
/// Tries of one delivery: the first and one per entry of [`RETRY_SCHEDULE`].
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32 + 1;
/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// Wait before each retry (the contract's "about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h"):
/// entry `n` follows failed try `n + 1`. After the last, the delivery is marked failed.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// When to try a delivery again after its `attempts`-th failed try (counting that one), or
/// `None` to give it up. A `Retry-After` the receiver sent is honoured: never earlier than it
/// asks, but never later than the longest step of the schedule, so a receiver cannot park a
/// delivery for ever.
pub fn retry_delay(attempts: u32, retry_after: Option<Duration>) -> Option<Duration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let scheduled = *RETRY_SCHEDULE.get(index)?;
    let longest = RETRY_SCHEDULE[RETRY_SCHEDULE.len() - 1];
    Some(retry_after.map_or(scheduled, |asked| scheduled.max(asked.min(longest))))
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date (RFC 9110
/// IMF-fixdate), relative to `now`. `None` for anything else; a date in the past is zero.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format).ok()?.assume_utc();
    let at = Timestamp::from_datetime(at);
    Some(if at > now { now.until(at) } else { Duration::ZERO })
}

/// A delivery's id (store-assigned, increasing).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct DeliveryId(pub i64);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for DeliveryId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

/// Why a subscription pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// Not an event name (`a.b.c`, lowercase letters, digits and `_`) or a prefix (`a.*`, `*`).
    #[error("not an event type or a prefix such as `user.*`")]
    Malformed,
    /// A well-formed exact name no event has (a typo would otherwise never match).
    #[error("no event has this type")]
    UnknownEvent,
}

/// What an endpoint subscribes to: one event type by its exact name
/// (`auth.login.failure`), every type under a prefix (`user.*`), or everything (`*`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct EventPattern(String);

impl EventPattern {
    /// Checks `text`: an exact name must be an event some action emits (or `webhook.test`).
    ///
    /// # Errors
    /// [`PatternError`] for anything else.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let segment_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if text == "*" {
            return Ok(Self(text.to_owned()));
        }
        if text.len() > 100 {
            return Err(PatternError::Malformed);
        }
        if let Some(prefix) = text.strip_suffix(".*") {
            return if prefix.split('.').all(segment_ok) {
                Ok(Self(text.to_owned()))
            } else {
                Err(PatternError::Malformed)
            };
        }
        if !text.split('.').all(segment_ok) {
            return Err(PatternError::Malformed);
        }
        if text == TEST_EVENT || AuditAction::parse(text).is_some() {
            Ok(Self(text.to_owned()))
        } else {
            Err(PatternError::UnknownEvent)
        }
    }

    /// A pattern as stored: the syntax checks only, so a subscription to an event type a
    /// later release no longer emits still reads back (and matches nothing).
    ///
    /// # Errors
    /// [`PatternError::Malformed`].
    pub fn from_stored(text: &str) -> Result<Self, PatternError> {
        match Self::parse(text) {
            Err(PatternError::UnknownEvent) => Ok(Self(text.to_owned())),
            other => other,
        }
    }

    /// As given, e.g. `user.*`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix a wildcard pattern stands for (`user.` for `user.*`, empty for `*`), or
    /// `None` for an exact name. Stores match on this: `event.starts_with(prefix)`.
    pub fn prefix(&self) -> Option<&str> {
        if self.0 == "*" { Some("") } else { self.0.strip_suffix('*') }
    }

    /// Whether an event of type `event_type` is delivered to this subscription.
    pub fn matches(&self, event_type: &str) -> bool {
        match self.prefix() {
            Some(prefix) => event_type.starts_with(prefix),
            None => self.0 == event_type,
        }
    }
}

/// Why a target URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetRefusal {
    /// Not an absolute `http(s)` URL with a host, or longer than [`MAX_URL_LEN`], or carrying
    /// credentials or a fragment.
    #[error("not an absolute http(s) URL with a host, without credentials or fragment")]
    Malformed,
    /// `http` while `webhooks.allow_http` is off.
    #[error("https is required (webhooks.allow_http is off)")]
    InsecureScheme,
    /// The host is, or resolves to, a private, loopback, link-local or otherwise
    /// non-public address not listed in `webhooks.allowed_private_cidrs`.
    #[error("the target address {0} is not public")]
    PrivateAddress(IpAddr),
    /// The host name does not resolve.
    #[error("the host name does not resolve")]
    Unresolvable,
}

/// An endpoint's target: an absolute `http` or `https` URL with a host. `Debug` shows only
/// [`WebhookUrl::redacted`]: receivers often put their own token in the path or query.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.redacted())
    }
}

impl WebhookUrl {
    /// Parses and checks the form (not the scheme policy or the addresses: see
    /// [`TargetPolicy`]).
    ///
    /// # Errors
    /// [`TargetRefusal::Malformed`].
    pub fn parse(text: &str) -> Result<Self, TargetRefusal> {
        if text.len() > MAX_URL_LEN {
            return Err(TargetRefusal::Malformed);
        }
        let url = Self::from_stored(text)?;
        // Checked again on the normalised form, which percent-encoding may make longer: the
        // stored URL must parse back.
        if url.as_str().len() > MAX_URL_LEN {
            return Err(TargetRefusal::Malformed);
        }
        Ok(url)
    }

    /// A URL as stored: the form checks without the length limit, so a row written under
    /// an older limit still reads back.
    ///
    /// # Errors
    /// [`TargetRefusal::Malformed`].
    pub fn from_stored(text: &str) -> Result<Self, TargetRefusal> {
        let url = url::Url::parse(text).map_err(|_| TargetRefusal::Malformed)?;
        let scheme_ok = matches!(url.scheme(), "http" | "https");
        // Credentials in the URL would be shown by every read of the endpoint.
        let clean = url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
        if !scheme_ok || !clean || url.host().is_none() {
            return Err(TargetRefusal::Malformed);
        }
        Ok(Self(url))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `true` for `https`.
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// The host as written (a name, or an address without brackets).
    pub fn host(&self) -> &str {
        self.0.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']')).unwrap_or_default()
    }

    /// The host when it is an IP address literal.
    pub fn ip_literal(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        }
    }

    /// The port, explicit or the scheme's.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    /// The URL's origin, with `/…` for any path or query: what audit entries, logs and
    /// `Debug` show. Receivers put their own credential in the path (Slack's
    /// `/services/T/B/<secret>`, Discord's `/api/webhooks/<id>/<token>`) or the query, and
    /// audit entries go out as events to other endpoints.
    pub fn redacted(&self) -> String {
        let origin = self.0.origin().ascii_serialization();
        let rest = self.0.path() != "/" || self.0.query().is_some();
        if rest { format!("{origin}/…") } else { origin }
    }

    /// Path and query, for the request line.
    pub fn path_and_query(&self) -> String {
        match self.0.query() {
            Some(q) => format!("{}?{q}", self.0.path()),
            None => self.0.path().to_owned(),
        }
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where deliveries may go (`webhooks.allow_http`, `webhooks.allowed_private_cidrs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Accept `http` targets (development; never for real receivers).
    pub allow_http: bool,
    /// Non-public ranges deliveries may reach anyway (a receiver on the private network).
    pub allowed_private: Vec<ipnet::IpNet>,
}

impl TargetPolicy {
    /// Checks a URL's scheme and, for an address literal, the address.
    ///
    /// # Errors
    /// [`TargetRefusal::InsecureScheme`] or [`TargetRefusal::PrivateAddress`].
    pub fn check_url(&self, url: &WebhookUrl) -> Result<(), TargetRefusal> {
        if !url.is_https() && !self.allow_http {
            return Err(TargetRefusal::InsecureScheme);
        }
        match url.ip_literal() {
            Some(ip) => self.check_ip(ip),
            None => Ok(()),
        }
    }

    /// Checks one address a target resolved to: public, or inside an allowed range.
    ///
    /// # Errors
    /// [`TargetRefusal::PrivateAddress`].
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), TargetRefusal> {
        let ip = canonical(ip);
        if is_public(ip) || self.allowed_private.iter().any(|net| net.contains(&ip)) {
            Ok(())
        } else {
            Err(TargetRefusal::PrivateAddress(ip))
        }
    }
}

/// An IPv4 address in IPv6 clothing (`::ffff:a.b.c.d`, or the deprecated `::a.b.c.d`) is
/// judged as the IPv4 address it reaches.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                    IpAddr::V4(std::net::Ipv4Addr::from(v6.to_bits() as u32))
                } else {
                    ip
                }
            }
        },
        IpAddr::V4(_) => ip,
    }
}

/// Public unicast: not loopback, private, link-local, shared (CGNAT), unspecified,
/// broadcast, multicast, documentation, benchmarking or reserved, and for IPv6 not unique
/// local, link-local, site-local, NAT64-to-private or 6to4/Teredo (which tunnel to
/// addresses this check cannot see).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x2001 && s[1] == 0)
                || s[0] == 0x2002
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

/// A signing secret: 32 random bytes, shown once as `whsec_` + base64.
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl WebhookSecret {
    /// Wraps the raw bytes.
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The raw key the signatures use.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The form shown to the operator once: `whsec_` + standard base64.
    pub fn encoded(&self) -> SecretString {
        SecretString::from(format!("whsec_{}", STANDARD.encode(&*self.0)))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// A subscribed endpoint. Its secrets are sealed by the [`crate::ports::SecretCipher`].
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookEndpoint {
    /// Id.
    pub id: WebhookId,
    /// Target.
    pub url: WebhookUrl,
    /// Subscriptions, at least one.
    pub events: Vec<EventPattern>,
    /// The operator's note.
    pub description: String,
    /// Off: no deliveries are queued or sent.
    pub enabled: bool,
    /// Why the service turned it off (`gone`: the receiver answered 410), if it did.
    pub disabled_reason: Option<String>,
    /// The signing secret.
    pub secret: SealedSecret,
    /// The secret before the last rotation, signing too until `previous_secret_until`.
    pub previous_secret: Option<SealedSecret>,
    /// End of the rotation's overlap.
    pub previous_secret_until: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl WebhookEndpoint {
    /// Whether events of `event_type` go to this endpoint.
    pub fn subscribes_to(&self, event_type: &str) -> bool {
        self.events.iter().any(|p| p.matches(event_type))
    }

    /// The sealed secrets that sign at `now`: the current one, and the previous one during
    /// a rotation's overlap.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&SealedSecret> {
        let mut out = vec![&self.secret];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && now < until
        {
            out.push(previous);
        }
        out
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its next try.
    Pending,
    /// A try was answered with a 2xx.
    Delivered,
    /// Given up: every try failed, or the receiver answered 410. Kept; an admin can retry.
    Failed,
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// From the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed].into_iter().find(|v| v.as_str() == s)
    }
}

/// One event queued for one endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookDelivery {
    /// Id.
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The audit entry it reports; `None` for a test event.
    pub audit_id: Option<i64>,
    /// Event type (the audit action's name, or `webhook.test`).
    pub event_type: String,
    /// State.
    pub status: DeliveryStatus,
    /// Tries made.
    pub attempts: u32,
    /// The HTTP status of the last answered try.
    pub last_status_code: Option<u16>,
    /// What went wrong in the last failed try (`timeout`, `connection refused`, `status 500`...).
    pub last_error: Option<String>,
    /// When the next try is due (pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// Queued.
    pub created_at: Timestamp,
    /// Answered with a 2xx.
    pub delivered_at: Option<Timestamp>,
}

impl WebhookDelivery {
    /// The event's id: the payload's `id` and the `webhook-id` header, the same on every try
    /// and on every endpoint the event goes to, so receivers can drop duplicates.
    pub fn event_id(&self) -> String {
        match self.audit_id {
            Some(audit) => format!("evt_{audit}"),
            None => format!("evt_test_{}", self.id),
        }
    }
}

/// A claim on a delivery: its id and the end of the lease, which only this claim wrote.
/// Recording a try names it, so a try that outlived its lease cannot overwrite what a
/// later claim's try recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryLease {
    /// The delivery.
    pub id: DeliveryId,
    /// The end of the lease, as stored.
    pub until: Timestamp,
}

/// A claimed delivery with what a try needs.
#[derive(Clone, Debug, PartialEq)]
pub struct DueDelivery {
    /// The claim.
    pub lease: DeliveryLease,
    /// The delivery, leased to the claimer.
    pub delivery: WebhookDelivery,
    /// Its endpoint.
    pub endpoint: WebhookEndpoint,
    /// The audit entry it reports (`None` for a test event, or an entry since removed).
    pub entry: Option<AuditEntry>,
}

/// The JSON body of a delivery: `{"id", "type", "timestamp", "data": {...}}`. Built from the
/// stored audit entry, so every try carries the same bytes; the audit log never holds a
/// password, code, token or secret, so neither does this.
pub fn event_payload(delivery: &WebhookDelivery, entry: Option<&AuditEntry>) -> Vec<u8> {
    use serde_json::{Value, json};
    let data = match entry {
        Some(e) => json!({
            "user_id": e.user_id.map(|u| u.to_string()),
            "audit_id": e.id,
            "ip_address": e.ip_address.map(|ip| ip.to_string()),
            "user_agent": e.user_agent,
            "device": {
                "browser": e.device.browser,
                "browser_version": e.device.browser_version,
                "os": e.device.os,
                "os_version": e.device.os_version,
                "device_type": e.device.device_type,
            },
            "location": e.location.as_ref().map(|l| json!({
                "country_code": l.country_code,
                "country": l.country,
                "region": l.region,
                "city": l.city,
                "latitude": l.latitude,
                "longitude": l.longitude,
                "timezone": l.timezone,
            })),
            "metadata": Value::Object(e.metadata.clone()),
        }),
        None => json!({
            "webhook_id": delivery.webhook_id.to_string(),
            "message": "A test event sent from the admin API.",
        }),
    };
    let at = entry.map_or(delivery.created_at, |e| e.created_at);
    let body = json!({
        "id": delivery.event_id(),
        "type": delivery.event_type,
        "timestamp": at.to_rfc3339(),
        "data": data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The `webhook-signature` header value: `v1,` + base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}` keyed with each secret's raw bytes, space-separated (two during
/// a rotation), as the Standard Webhooks specification says.
pub fn sign(event_id: &str, timestamp_secs: i64, body: &[u8], secrets: &[&[u8]]) -> String {
    secrets
        .iter()
        .map(|key| {
            let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(event_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp_secs.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
