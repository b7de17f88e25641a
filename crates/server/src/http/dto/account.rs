//! Bodies of the account endpoints: sessions, `/users/me`, security events.

use portcullis_domain::model::{Session, SessionId};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{DeviceView, HistoryEntry, LocationView, UserView};

/// One live session of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id (UUIDv7).
    pub id: String,
    /// Device parsed from the user agent at sign-in.
    pub device: DeviceView,
    /// Location at sign-in, null when unknown.
    pub location: Option<LocationView>,
    /// Client IP at sign-in.
    pub ip_address: Option<String>,
    /// Sign-in time (RFC 3339, ms, UTC).
    pub created_at: String,
    /// Last use of one of its tokens (updated at most once a minute).
    pub last_seen_at: String,
    /// When it ends.
    pub expires_at: String,
    /// Whether it is the session of the token used for this request.
    pub current: bool,
    /// Authenticator assurance level: 1 for a password alone, 2 after a second factor.
    pub aal: u8,
    /// How the holder signed in, in order (`["pwd"]`, `["pwd", "otp"]`, `["pwd", "recovery_code"]`).
    pub amr: Vec<&'static str>,
}

impl SessionView {
    /// The view of `s`; `current` is the caller's own session id.
    pub fn new(s: &Session, current: SessionId) -> Self {
        Self {
            id: s.id.to_string(),
            device: DeviceView::from(&s.device),
            location: s.location.as_ref().map(LocationView::from),
            ip_address: s.ip_address.map(|ip| ip.to_string()),
            created_at: s.created_at.to_rfc3339(),
            last_seen_at: s.last_seen_at.to_rfc3339(),
            expires_at: s.expires_at.to_rfc3339(),
            current: s.id == current,
            aal: s.aal.as_u8(),
            amr: s.amr.iter().map(|m| m.as_str()).collect(),
        }
    }
}

/// The `data` of `GET /auth/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Live sessions, newest first.
    pub sessions: Vec<SessionView>,
}

/// `200` of `GET /auth/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsResponse {
    /// Always true.
    pub success: bool,
    /// The sessions.
    pub data: SessionList,
}

/// `200` of `GET` and `PATCH /users/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// Always true.
    pub success: bool,
    /// The account, with the current session's location.
    pub data: UserView,
}

/// `PATCH /users/me`: absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateProfileBody {
    /// A new display name, 1 to 100 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// A new http(s) avatar URL of at most 2048 characters; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub profile_picture: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`, via `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The `data` of a security-events answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityEventsPage {
    /// Entries, newest first.
    pub events: Vec<HistoryEntry>,
    /// Matching entries across all pages.
    pub total_count: u64,
    /// Page size used.
    pub limit: u32,
    /// Offset used.
    pub offset: u64,
}

/// `200` of `GET /auth/security-events`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityEventsResponse {
    /// Always true.
    pub success: bool,
    /// The page.
    pub data: SecurityEventsPage,
    /// Human-readable.
    pub message: &'static str,
}
