//! HTTP bodies. Domain types carry no serde derives; conversion happens here, at the edge.

use portcullis_domain::model::{AuditEntry, Device, Location, Timestamp, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod account;
mod admin;
mod credentials;
mod export;
mod mfa;
mod notifications;
mod passkeys;
mod webhooks;
pub use account::{
    MeResponse, SecurityEventsPage, SecurityEventsResponse, SessionList, SessionView, SessionsResponse,
    UpdateProfileBody,
};
pub use admin::{
    AdminStatus, AdminUserResponse, AdminUsersPage, AdminUsersResponse, AuditEntryView, AuditLogPage, AuditLogResponse,
    DeleteUserResponse, PurgedUser, PurgedUserResponse, SetRolesBody, SetStatusBody,
};
pub use credentials::{
    AlertRevokeBody, ChangeEmailBody, ChangePasswordBody, CodeLoginBody, ConfirmEmailChangeBody, ConfirmPasswordBody,
    EmailChangedResponse, EmailRevertBody, ForgotPasswordBody, MAX_TOKEN_CHARS, RefreshBody, RefreshResponse,
    ResetPasswordBody, SignInCodeBody, opaque_token, whole_seconds,
};
pub use export::{
    AccountExportDocument, EXPORT_FORMAT, ExportedEmailChange, ExportedFactor, ExportedPasskey, ExportedRecoveryCodes,
    ExportedSession,
};
pub use mfa::{
    ConfirmTotpBody, ConfirmTotpResponse, FactorView, MfaOverviewResponse, MfaResetResponse, MfaVerifyBody,
    RecoveryCodesResponse, TotpEnrolBody, TotpEnrolResponse,
};
pub use notifications::{NotificationView, NotificationsPage, NotificationsResponse};
pub use passkeys::{
    PasskeyListResponse, PasskeyLoginBody, PasskeyOptionsBody, PasskeySignInOptionsBody, PasskeyView,
    RegisterPasskeyBody, RegisterPasskeyResponse, options_json,
};
pub use webhooks::{
    CreateWebhookBody, CreatedWebhookResponse, DeliveryListResponse, DeliveryView, PatchWebhookBody,
    RotatedSecretResponse, WebhookListResponse, WebhookView,
};

/// `POST /auth/register`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    /// 1 to 100 characters.
    pub name: String,
    /// A valid address of at most 254 characters.
    pub email: String,
    /// 15 to 128 characters by default, not common, not the email.
    pub password: String,
}

/// `{"email": ...}` inside a register answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailData {
    /// The normalised address.
    pub email: String,
}

/// `201` of `POST /auth/register`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// Always `success`.
    pub status: &'static str,
    /// Human-readable.
    pub message: &'static str,
    /// The address.
    pub data: EmailData,
}

/// `POST /auth/verify-email`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailBody {
    /// The address.
    pub email: String,
    /// Six digits.
    pub code: String,
}

/// `POST /auth/resend-verification`
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResendBody {
    /// The address.
    pub email: String,
}

/// `{"status": "success", "message": ...}`
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusMessage {
    /// Always `success`.
    pub status: &'static str,
    /// Human-readable.
    pub message: &'static str,
}

/// `POST /auth/login`
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    /// The address.
    pub email: String,
    /// The password.
    pub password: String,
    /// Keep the session for 30 days instead of one.
    #[serde(default)]
    pub remember_me: Option<bool>,
}

/// Geolocation of an IP address.
#[derive(Debug, Serialize, ToSchema)]
pub struct LocationView {
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    /// Country name.
    pub country: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// IANA time zone.
    pub timezone: Option<String>,
}

impl From<&Location> for LocationView {
    fn from(l: &Location) -> Self {
        Self {
            country_code: l.country_code.clone(),
            country: l.country.clone(),
            region: l.region.clone(),
            city: l.city.clone(),
            latitude: l.latitude,
            longitude: l.longitude,
            timezone: l.timezone.clone(),
        }
    }
}

/// Device parsed from the user agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Browser family.
    pub browser: Option<String>,
    /// Browser version.
    pub browser_version: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// OS version.
    pub os_version: Option<String>,
    /// `desktop`, `mobile`, `tablet`, `bot` or `other`.
    pub device_type: Option<String>,
}

impl From<&Device> for DeviceView {
    fn from(d: &Device) -> Self {
        Self {
            browser: d.browser.clone(),
            browser_version: d.browser_version.clone(),
            os: d.os.clone(),
            os_version: d.os_version.clone(),
            device_type: d.device_type.clone(),
        }
    }
}

/// The user object of the login response.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Opaque id (UUIDv7).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Normalised email.
    pub email: String,
    /// Avatar URL.
    pub profile_picture: Option<String>,
    /// `active`, `suspended` or `deactivated`.
    pub account_status: &'static str,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// When it was verified (RFC 3339, ms, UTC).
    pub email_verified_at: Option<String>,
    /// This login's location (for `/users/me`, the current session's), null when unknown.
    pub last_login_geolocation: Option<LocationView>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Soft-deletion time.
    pub deleted_at: Option<String>,
    /// Role names, e.g. `["admin", "user"]`; every account has `user`.
    pub roles: Vec<&'static str>,
}

fn ts(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

impl UserView {
    /// The view of `user` with this login's location.
    pub fn new(user: &User, location: Option<&Location>) -> Self {
        Self {
            id: user.id.to_string(),
            name: user.name.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            profile_picture: user.profile_picture.clone(),
            account_status: user.status.as_str(),
            email_verified: user.email_verified(),
            email_verified_at: ts(user.email_verified_at),
            last_login_geolocation: location.map(LocationView::from),
            created_at: user.created_at.to_rfc3339(),
            updated_at: user.updated_at.to_rfc3339(),
            deleted_at: ts(user.deleted_at),
            roles: user.roles.names(),
        }
    }
}

/// `200` of `POST /auth/login`.
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Always `success`.
    pub status: &'static str,
    /// Human-readable.
    pub message: &'static str,
    /// PASETO v4.local access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// Refresh token.
    pub refresh_token: String,
    /// The account.
    pub data: UserView,
}

impl LoginResponse {
    /// The answer of a finished sign-in (by password, or by password and second factor).
    pub fn signed_in(outcome: portcullis_domain::LoginOutcome) -> Self {
        Self {
            status: "success",
            message: "User authenticated successfully.",
            data: UserView::new(&outcome.user, outcome.location.as_ref()),
            access_token: outcome.access_token,
            token_type: "Bearer",
            expires_in: outcome.expires_in.as_secs(),
            refresh_token: outcome.refresh_token,
        }
    }
}

/// What a client reports to `POST /auth/log`.
#[derive(Debug, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum ReportedEventKind {
    /// A sign-in.
    Login,
    /// A sign-up.
    Signup,
}

/// `POST /auth/log`
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignInLogBody {
    /// `login` or `signup`.
    pub event: ReportedEventKind,
    /// Client fingerprint, at most 256 characters.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// `{"success": bool}`
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessFlag {
    /// Whether the entry was stored.
    pub success: bool,
}

/// One login-history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Audit entry id.
    pub id: i64,
    /// `auth.login.success` or `auth.login.failure`.
    pub action: String,
    /// Client IP.
    pub ip_address: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// When (RFC 3339, ms, UTC).
    pub created_at: String,
    /// Action-specific facts.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Parsed device.
    pub device: DeviceView,
    /// Location, null when unknown.
    pub location: Option<LocationView>,
    /// Client fingerprint, where given.
    pub fingerprint: Option<String>,
}

impl From<&AuditEntry> for HistoryEntry {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id,
            action: e.action.clone(),
            ip_address: e.ip_address.map(|ip| ip.to_string()),
            user_agent: e.user_agent.clone(),
            created_at: e.created_at.to_rfc3339(),
            metadata: serde_json::Value::Object(e.metadata.clone()),
            device: DeviceView::from(&e.device),
            location: e.location.as_ref().map(LocationView::from),
            fingerprint: e.fingerprint.clone(),
        }
    }
}

/// The `data` of a login-history answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// Entries, newest first.
    pub history: Vec<HistoryEntry>,
    /// Matching entries across all pages.
    pub total_count: u64,
    /// Page size used.
    pub limit: u32,
    /// Offset used.
    pub offset: u64,
}

/// `200` of `GET /auth/login-history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// Always true.
    pub success: bool,
    /// The page.
    pub data: HistoryPage,
    /// Human-readable.
    pub message: &'static str,
}

/// An RFC 9457 problem (documentation only; built by `ApiError`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Problem type URI.
    #[serde(rename = "type")]
    pub kind: String,
    /// HTTP reason phrase.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Human-readable explanation.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// Field errors of a `VALIDATION_ERROR`.
    pub errors: Option<Vec<ProblemField>>,
    /// `MFA_REQUIRED` only: the opaque, single-use token that `POST /auth/mfa/verify` takes
    /// with a code (5 minutes, 5 wrong codes).
    pub mfa_token: Option<String>,
    /// `MFA_REQUIRED` only: the factors this account can finish with (`totp`, `webauthn`,
    /// `recovery_code`).
    pub factors: Option<Vec<String>>,
    /// `MFA_REQUIRED` only: seconds the `mfa_token` works.
    pub expires_in: Option<u64>,
    /// `MFA_REQUIRED` of an account with a usable passkey, and `INVALID_CREDENTIAL` of
    /// `POST /auth/mfa/verify` while its `mfa_token` has tries left: request options
    /// (`PublicKeyCredentialRequestOptionsJSON`) whose challenge works once, with that
    /// `mfa_token` only.
    #[schema(value_type = Option<Object>)]
    pub webauthn_options: Option<serde_json::Value>,
}

/// One field error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// Field name.
    pub field: String,
    /// What is wrong.
    pub message: String,
}
