//! The security audit log and the request facts every entry is enriched with.

use std::net::IpAddr;

use super::{Timestamp, UserId};

/// Longest user agent kept, in characters.
pub const MAX_USER_AGENT_LEN: usize = 512;
/// Longest client fingerprint accepted.
pub const MAX_FINGERPRINT_LEN: usize = 256;

/// Audit actions the use cases write. Stored and served as their dotted names.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// A successful sign-in (password or client-reported).
    LoginSuccess,
    /// A refused sign-in on an existing account.
    LoginFailure,
    /// A client-reported sign-up.
    Signup,
    /// An email address was verified.
    EmailVerified,
    /// An account was created through `POST /auth/register`.
    Registered,
    /// A session was ended by its user.
    Logout,
    /// One of the user's sessions was revoked from the session list.
    SessionRevoked,
    /// The user changed their profile (name, picture).
    ProfileUpdated,
    /// A spent refresh token was presented after the grace window: the session was revoked.
    TokenReuseDetected,
    /// A password-reset code was requested for an existing account.
    PasswordResetRequested,
    /// A sign-in code was mailed to an existing account (`POST /auth/login/code`).
    LoginCodeRequested,
    /// The user asked to move the account to another address (a code went there).
    EmailChangeRequested,
    /// The code moved the account to the new address.
    EmailChanged,
    /// The old address's link moved the account back, and signed every session out.
    EmailChangeReverted,
    /// The password was set with a reset code; every session was revoked.
    PasswordReset,
    /// The user changed their password; their other sessions were revoked.
    PasswordChanged,
    /// The user deactivated their own account.
    AccountDeactivated,
    /// The user deleted (soft) their own account.
    AccountDeleted,
    /// An administrator (or the CLI) created an account.
    AdminUserCreated,
    /// An administrator set an account's status to active.
    AdminUserActivated,
    /// An administrator suspended an account.
    AdminUserSuspended,
    /// An administrator deactivated an account.
    AdminUserDeactivated,
    /// An administrator soft-deleted an account.
    AdminUserDeleted,
    /// An administrator restored a soft-deleted account.
    AdminUserRestored,
    /// An administrator changed an account's roles.
    AdminRolesChanged,
    /// The user activated a second factor.
    MfaFactorEnrolled,
    /// The user removed a second factor.
    MfaFactorRemoved,
    /// The user replaced their recovery codes.
    MfaRecoveryCodesRegenerated,
    /// An administrator removed every second factor of an account.
    AdminUserMfaReset,
    /// A passkey registration was refused (wrong origin, challenge, signature...).
    MfaPasskeyRefused,
    /// A passkey's signature counter went backwards: it was disabled as possibly cloned.
    MfaPasskeyDisabled,
    /// An administrator subscribed a webhook endpoint.
    AdminWebhookCreated,
    /// An administrator changed a webhook endpoint.
    AdminWebhookUpdated,
    /// An administrator removed a webhook endpoint.
    AdminWebhookDeleted,
    /// An administrator rotated a webhook endpoint's signing secret.
    AdminWebhookSecretRotated,
    /// An administrator sent a test event to a webhook endpoint.
    AdminWebhookTested,
    /// An administrator sent a webhook delivery again.
    AdminWebhookDeliveryRetried,
    /// The account's holder downloaded everything stored about them (`GET /users/me/export`).
    DataExported,
    /// A deleted account's personal data was erased at the end of its retention period.
    AccountPurged,
    /// An administrator erased an account's personal data at once
    /// (`DELETE /admin/users/{id}?purge=true`).
    AdminUserPurged,
}

impl AuditAction {
    /// The dotted name, e.g. `auth.login.success`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSuccess => "auth.login.success",
            Self::LoginFailure => "auth.login.failure",
            Self::Signup => "auth.signup",
            Self::EmailVerified => "auth.email.verified",
            Self::Registered => "auth.user.registered",
            Self::Logout => "auth.logout",
            Self::SessionRevoked => "auth.session.revoked",
            Self::ProfileUpdated => "user.profile.updated",
            Self::TokenReuseDetected => "auth.token.reuse_detected",
            Self::PasswordResetRequested => "auth.password.reset_requested",
            Self::LoginCodeRequested => "auth.login.code_requested",
            Self::EmailChangeRequested => "user.email.change_requested",
            Self::EmailChanged => "user.email.changed",
            Self::EmailChangeReverted => "user.email.change_reverted",
            Self::PasswordReset => "auth.password.reset",
            Self::PasswordChanged => "auth.password.changed",
            Self::AccountDeactivated => "user.account.deactivated",
            Self::AccountDeleted => "user.account.deleted",
            Self::AdminUserCreated => "admin.user.created",
            Self::AdminUserActivated => "admin.user.activated",
            Self::AdminUserSuspended => "admin.user.suspended",
            Self::AdminUserDeactivated => "admin.user.deactivated",
            Self::AdminUserDeleted => "admin.user.deleted",
            Self::AdminUserRestored => "admin.user.restored",
            Self::AdminRolesChanged => "admin.user.roles_changed",
            Self::MfaFactorEnrolled => "mfa.factor.enrolled",
            Self::MfaFactorRemoved => "mfa.factor.removed",
            Self::MfaRecoveryCodesRegenerated => "mfa.recovery_codes.regenerated",
            Self::AdminUserMfaReset => "admin.user.mfa_reset",
            Self::MfaPasskeyRefused => "mfa.passkey.refused",
            Self::MfaPasskeyDisabled => "mfa.passkey.disabled",
            Self::AdminWebhookCreated => "admin.webhook.created",
            Self::AdminWebhookUpdated => "admin.webhook.updated",
            Self::AdminWebhookDeleted => "admin.webhook.deleted",
            Self::AdminWebhookSecretRotated => "admin.webhook.secret_rotated",
            Self::AdminWebhookTested => "admin.webhook.tested",
            Self::AdminWebhookDeliveryRetried => "admin.webhook.delivery_retried",
            Self::DataExported => "user.data.exported",
            Self::AccountPurged => "user.account.purged",
            Self::AdminUserPurged => "admin.user.purged",
        }
    }

    /// Every action, for queries over the whole log of a user.
    pub const ALL: [AuditAction; 40] = [
        Self::LoginSuccess,
        Self::LoginFailure,
        Self::Signup,
        Self::EmailVerified,
        Self::Registered,
        Self::Logout,
        Self::SessionRevoked,
        Self::ProfileUpdated,
        Self::TokenReuseDetected,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::AccountDeactivated,
        Self::AccountDeleted,
        Self::AdminUserCreated,
        Self::AdminUserActivated,
        Self::AdminUserSuspended,
        Self::AdminUserDeactivated,
        Self::AdminUserDeleted,
        Self::AdminUserRestored,
        Self::AdminRolesChanged,
        Self::MfaFactorEnrolled,
        Self::MfaFactorRemoved,
        Self::MfaRecoveryCodesRegenerated,
        Self::AdminUserMfaReset,
        Self::MfaPasskeyRefused,
        Self::MfaPasskeyDisabled,
        Self::AdminWebhookCreated,
        Self::AdminWebhookUpdated,
        Self::AdminWebhookDeleted,
        Self::AdminWebhookSecretRotated,
        Self::AdminWebhookTested,
        Self::AdminWebhookDeliveryRetried,
        Self::DataExported,
        Self::AccountPurged,
        Self::AdminUserPurged,
        Self::LoginCodeRequested,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::EmailChangeReverted,
    ];

    /// The action with this dotted name, `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// What a user agent string says about the client. Unknown parts are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Device {
    /// Browser or client family, e.g. `Chrome`.
    pub browser: Option<String>,
    /// Its version, e.g. `120.0.6099`.
    pub browser_version: Option<String>,
    /// Operating system, e.g. `Mac OS X`.
    pub os: Option<String>,
    /// Its version.
    pub os_version: Option<String>,
    /// `desktop`, `mobile`, `tablet`, `bot` or `other`.
    pub device_type: Option<String>,
}

/// Where an IP address is, as far as the GeoIP database knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Location {
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    /// Country name in English.
    pub country: Option<String>,
    /// First subdivision.
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

/// The facts about a request that audit entries and sessions record.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestContext {
    /// Client IP (already resolved through trusted proxies).
    pub ip: IpAddr,
    /// Raw user agent, if sent.
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// A context for `ip` with an optional user agent, truncated to [`MAX_USER_AGENT_LEN`].
    pub fn new(ip: IpAddr, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_LEN).collect::<String>())
            .filter(|ua| !ua.is_empty());
        Self { ip, user_agent }
    }
}

/// The enrichment every audit entry carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Enrichment {
    /// Client IP.
    pub ip_address: IpAddr,
    /// User agent (≤ 512 chars).
    pub user_agent: Option<String>,
    /// Parsed device.
    pub device: Device,
    /// Geolocation, `None` when unknown.
    pub location: Option<Location>,
}

/// An audit entry about to be written.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEntry {
    /// Whose account it concerns.
    pub user_id: Option<UserId>,
    /// What happened.
    pub action: AuditAction,
    /// Where and with what.
    pub enrichment: Enrichment,
    /// Client fingerprint, where given.
    pub fingerprint: Option<String>,
    /// Action-specific facts. Never secrets.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// When.
    pub created_at: Timestamp,
}

/// A stored audit entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Store-assigned, increasing id.
    pub id: i64,
    /// Whose account it concerns.
    pub user_id: Option<UserId>,
    /// Dotted action name.
    pub action: String,
    /// Client IP.
    pub ip_address: Option<IpAddr>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Parsed device.
    pub device: Device,
    /// Location.
    pub location: Option<Location>,
    /// Client fingerprint.
    pub fingerprint: Option<String>,
    /// Action-specific facts.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// When.
    pub created_at: Timestamp,
}

/// Which login outcomes a history query returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum HistoryFilter {
    /// Successes and failures.
    #[default]
    All,
    /// `auth.login.success` only.
    Success,
    /// `auth.login.failure` only.
    Failure,
}

impl HistoryFilter {
    /// The actions this filter admits.
    pub fn actions(self) -> &'static [AuditAction] {
        match self {
            Self::All => &[AuditAction::LoginSuccess, AuditAction::LoginFailure],
            Self::Success => &[AuditAction::LoginSuccess],
            Self::Failure => &[AuditAction::LoginFailure],
        }
    }
}

/// A search over the whole audit log (administrators). `None` fields do not filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    /// Entries about this account.
    pub user_id: Option<UserId>,
    /// Entries with this action.
    pub action: Option<AuditAction>,
    /// Entries created at or after this time.
    pub from: Option<Timestamp>,
    /// Entries created before this time.
    pub to: Option<Timestamp>,
    /// Page size.
    pub limit: u32,
    /// Entries to skip.
    pub offset: u64,
}

/// One page of a list, with the total across all pages.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items, in the query's order.
    pub items: Vec<T>,
    /// Items across all pages.
    pub total_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_is_truncated_and_cleaned() {
        let ua = "x".repeat(600);
        let ctx = RequestContext::new("127.0.0.1".parse().unwrap(), Some(&ua));
        assert_eq!(ctx.user_agent.unwrap().chars().count(), MAX_USER_AGENT_LEN);
        let ctx = RequestContext::new("127.0.0.1".parse().unwrap(), Some("a\nb"));
        assert_eq!(ctx.user_agent.as_deref(), Some("ab"));
        let ctx = RequestContext::new("127.0.0.1".parse().unwrap(), Some(""));
        assert_eq!(ctx.user_agent, None);
    }

    #[test]
    fn filters_select_actions() {
        assert_eq!(HistoryFilter::Success.actions(), &[AuditAction::LoginSuccess]);
        assert_eq!(HistoryFilter::All.actions().len(), 2);
    }

    #[test]
    fn every_action_parses_back_from_its_name() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("auth.login"), None);
        assert_eq!(AuditAction::parse("AUTH.LOGOUT"), None);
    }
}
