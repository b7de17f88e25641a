#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod error;
pub mod mail_templates;
pub mod model;
mod policy;
pub mod ports;
pub mod redact;
mod service;
mod usecases;

/// The mail outbox's retry schedule: how often and how long [`Portcullis::deliver_mail`]
/// retries a message before it keeps it marked failed.
pub mod outbox {
    pub use crate::usecases::deliver_mail::{MAX_MAIL_ATTEMPTS, backoff, total_retry_window};
}

pub use error::{FieldError, InfraError};
pub use policy::{BreachPolicy, Policy};
pub use service::{Deps, Portcullis};
pub use usecases::admin::{Actor, AdminError, NewAccount};
pub use usecases::alert_revoke::AlertRevokeError;
pub use usecases::authenticate::{AuthError, Principal};
pub use usecases::codes::RedeemCodeError;
pub use usecases::deliver_mail::DeliveryReport;
pub use usecases::deliver_webhooks::{TryResult, WebhookRound, webhook_lease};
pub use usecases::email_change::{ConfirmEmailChangeError, EMAIL_REVERT_TTL, EmailChangeError, RevertEmailChangeError};
pub use usecases::export::{AccountExport, EXPORTS_PER_HOUR, ExportError};
pub use usecases::login::{LoginError, LoginOutcome, LoginRequest};
pub use usecases::login_code::{CodeLoginRequest, SignInCodeRequestError};
pub use usecases::login_history::HistoryQuery;
pub use usecases::mfa_factors::{MfaManageError, MfaOverview, TotpEnrolment};
pub use usecases::mfa_sign_in::{MfaChallenge, MfaVerifyError, MfaVerifyRequest, SecondFactor};
pub use usecases::notifications::{NotificationError, NotificationQuery};
pub use usecases::operations::OutboxStatus;
pub use usecases::passkey_factors::{PASSKEY_CEREMONY_TTL, PasskeySummary, RegisteredPasskeyFactor};
pub use usecases::passkey_sign_in::PasskeySignInError;
pub use usecases::password::{ChangePasswordError, ForgotPasswordError, ResetPasswordError};
pub use usecases::profile::{PictureError, ProfileUpdate, parse_picture_url};
pub use usecases::reauth::ReauthError;
pub use usecases::refresh::{RefreshError, TokenPair};
pub use usecases::register::{RegisterError, RegisterUser};
pub use usecases::resend::ResendError;
pub use usecases::retention::PurgeReport;
pub use usecases::security_events::SecurityEventQuery;
pub use usecases::sessions::SessionError;
pub use usecases::sign_in_event::{ReportedEvent, SignInEventError};
pub use usecases::verify_email::VerifyEmailError;
pub use usecases::webhooks::{NewWebhook, WebhookPatch};
