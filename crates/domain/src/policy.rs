//! The tunable rules of the use cases, with the contract's defaults.

use std::time::Duration;

use crate::model::{PasswordPolicy, Role};
use crate::ports::RateRule;

/// Every number the use cases enforce. [`Policy::default`] is the contract's.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Rules for new passwords.
    pub password: PasswordPolicy,
    /// Failed logins allowed per address within [`Self::login_failure_window`].
    pub login_failures_per_account: u32,
    /// Sliding window for failed logins.
    pub login_failure_window: Duration,
    /// How long a password attempt may hold its reservation of a failure slot before it
    /// counts as a failure (its checker died mid-check); see `RateLimiter::reserve_attempt`.
    pub login_attempt_hold: Duration,
    /// How long a password attempt waits for parallel attempts on the same address to end
    /// when only their reservations fill the limit; past it, 503 with `Retry-After`.
    pub login_attempt_patience: Duration,
    /// Unauthenticated `/auth/*` calls per client IP per minute.
    pub requests_per_ip_per_minute: u32,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Session (refresh-token) lifetime without "remember me".
    pub session_ttl: Duration,
    /// Session lifetime with "remember me".
    pub remember_me_session_ttl: Duration,
    /// How long a just-replaced refresh token still gets the pair it was exchanged for
    /// (parallel tabs refreshing at once); presented later, it revokes the session.
    pub refresh_grace: Duration,
    /// How long the "Not you?" link of a new-sign-in alert works.
    pub alert_token_ttl: Duration,
    /// One-time code lifetime.
    pub code_ttl: Duration,
    /// Tries per code.
    pub code_max_attempts: u32,
    /// Wrong codes per account per day, across resends.
    pub code_failures_per_day: u32,
    /// Verification mails per address: at most one per this interval...
    pub resend_interval: Duration,
    /// ... and at most this many per hour.
    pub resends_per_hour: u32,
    /// `POST /auth/log` calls per user per hour.
    pub sign_in_reports_per_hour: u32,
    /// Public base URL for links in mail, without a trailing slash.
    pub public_url: String,
    /// Product name shown in mail.
    pub product_name: String,
    /// How long rate-limit events are kept: longer than the longest window (a day).
    pub rate_event_retention: Duration,
    /// How long an ended (expired or revoked) session, and the spent refresh tokens that
    /// detect its reuse, are kept: longer than a "Not you?" link works (7 days by default),
    /// so the link of a session that already ended still signs nothing in and still mails a
    /// reset code.
    pub ended_session_retention: Duration,
    /// How long the `mfa_token` of a sign-in waiting for its second factor works.
    pub mfa_challenge_ttl: Duration,
    /// Wrong codes one `mfa_token` takes before it is burned.
    pub mfa_code_max_attempts: u32,
    /// Wrong second-factor codes allowed per account within [`Self::mfa_failure_window`],
    /// counted apart from wrong passwords.
    pub mfa_failures_per_account: u32,
    /// Sliding window for wrong second-factor codes.
    pub mfa_failure_window: Duration,
    /// How long a TOTP factor waits for the code that confirms it.
    pub totp_enrolment_ttl: Duration,
    /// Roles whose holders must enrol a second factor before doing anything else
    /// ([`crate::Portcullis::must_enrol_second_factor`]); none by default.
    pub mfa_required_roles: Vec<Role>,
    /// Where webhook deliveries may go (`webhooks.allow_http`, `webhooks.allowed_private_cidrs`).
    pub webhook_targets: crate::model::TargetPolicy,
    /// How long one webhook try may take, connecting, sending and reading the answer.
    pub webhook_timeout: Duration,
    /// How long delivered webhook deliveries stay listed before the housekeeping round
    /// deletes them (failed ones stay until their endpoint is removed).
    pub webhook_delivered_retention: Duration,
    /// How long a soft-deleted account is kept (restorable by an administrator) before the
    /// purge job erases it (`accounts.deleted_retention_days`).
    pub deleted_retention: Duration,
    /// Breached-password screening of new passwords (`passwords.breach_check`); `None`
    /// looks nothing up.
    pub breach: Option<BreachPolicy>,
}

/// What the domain does with a breach source's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreachPolicy {
    /// A new password seen this often or more is refused (`passwords.breach_min_count`).
    pub min_count: u64,
    /// Whether a lookup that fails or times out lets the password through
    /// (`passwords.breach_fail_open`); otherwise the request answers 503.
    pub fail_open: bool,
}

impl Default for BreachPolicy {
    /// Refuse any password seen once; fail open, so an outage of the source never blocks
    /// sign-ups and resets (the password still has to pass the length and context rules).
    fn default() -> Self {
        Self { min_count: 1, fail_open: true }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            password: PasswordPolicy::default(),
            login_failures_per_account: 5,
            login_failure_window: Duration::from_secs(30 * 60),
            login_attempt_hold: Duration::from_secs(60),
            login_attempt_patience: Duration::from_secs(10),
            requests_per_ip_per_minute: 60,
            access_ttl: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(24 * 3600),
            remember_me_session_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            alert_token_ttl: Duration::from_secs(7 * 24 * 3600),
            code_ttl: Duration::from_secs(15 * 60),
            code_max_attempts: 5,
            code_failures_per_day: 20,
            resend_interval: Duration::from_secs(60),
            resends_per_hour: 5,
            sign_in_reports_per_hour: 20,
            public_url: "http://127.0.0.1:8080".to_owned(),
            product_name: "Portcullis".to_owned(),
            rate_event_retention: Duration::from_secs(25 * 3600),
            ended_session_retention: Duration::from_secs(30 * 24 * 3600),
            mfa_challenge_ttl: Duration::from_secs(5 * 60),
            mfa_code_max_attempts: 5,
            mfa_failures_per_account: 10,
            mfa_failure_window: Duration::from_secs(30 * 60),
            totp_enrolment_ttl: Duration::from_secs(10 * 60),
            mfa_required_roles: Vec::new(),
            webhook_targets: crate::model::TargetPolicy::default(),
            webhook_timeout: Duration::from_secs(10),
            webhook_delivered_retention: Duration::from_secs(30 * 24 * 3600),
            deleted_retention: Duration::from_secs(30 * 24 * 3600),
            breach: None,
        }
    }
}

impl Policy {
    /// The per-IP rule for unauthenticated calls.
    pub fn ip_rules(&self) -> Vec<RateRule> {
        vec![RateRule { window: Duration::from_secs(60), max: self.requests_per_ip_per_minute }]
    }
    /// The per-address failed-login rule.
    pub fn login_rules(&self) -> Vec<RateRule> {
        vec![RateRule { window: self.login_failure_window, max: self.login_failures_per_account }]
    }
    /// The per-account wrong-code rule.
    pub fn code_failure_rules(&self) -> Vec<RateRule> {
        vec![RateRule { window: Duration::from_secs(24 * 3600), max: self.code_failures_per_day }]
    }
    /// The per-address verification-mail rules.
    pub fn resend_rules(&self) -> Vec<RateRule> {
        vec![
            RateRule { window: self.resend_interval, max: 1 },
            RateRule { window: Duration::from_secs(3600), max: self.resends_per_hour },
        ]
    }
    /// The per-account wrong second-factor code rule.
    pub fn mfa_rules(&self) -> Vec<RateRule> {
        vec![RateRule { window: self.mfa_failure_window, max: self.mfa_failures_per_account }]
    }
    /// The per-user sign-in report rule.
    pub fn sign_in_report_rules(&self) -> Vec<RateRule> {
        vec![RateRule { window: Duration::from_secs(3600), max: self.sign_in_reports_per_hour }]
    }
}
