//! The body of `GET /users/me/export`: everything stored about the caller, secrets left out.
//! Each field's doc comment is the documentation of the export (OpenAPI schema
//! `AccountExportDocument`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::AccountExport;
use portcullis_domain::model::{EmailChange, Factor, Passkey, Session, SessionId, StoredRecoveryCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::{HistoryEntry, NotificationView, SessionView, UserView};

/// Version of this document's layout; a change that removes or renames a field bumps it.
pub const EXPORT_FORMAT: u32 = 1;

/// `200` of `GET /users/me/export`. Left out, because they are secrets or useless without
/// the server's keys: the password hash, TOTP seeds (stored sealed), recovery-code, one-time
/// code and token digests, passkeys' public-key records, and mail waiting in the outbox
/// (which may carry a code). One-time codes and second-step challenges expire within
/// minutes and are not listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountExportDocument {
    /// Layout version of this document (1).
    pub format_version: u32,
    /// When the export was read (RFC 3339, ms, UTC).
    pub exported_at: String,
    /// The account as stored: as in `GET /users/me`, with the location of the session that
    /// asked for the export.
    pub profile: UserView,
    /// Every stored session, live and ended (ended ones are deleted 30 days after they
    /// end), newest first.
    pub sessions: Vec<ExportedSession>,
    /// Second factors, pending TOTP enrolments included, oldest first; no secrets.
    pub factors: Vec<ExportedFactor>,
    /// The passkeys among the factors: the facts the server keeps besides the public key.
    pub passkeys: Vec<ExportedPasskey>,
    /// Recovery codes: how many there are and when each used one was used (the codes are
    /// stored only as keyed hashes).
    pub recovery_codes: ExportedRecoveryCodes,
    /// In-app notifications, newest first.
    pub notifications: Vec<NotificationView>,
    /// Changes of the account's address (`POST /users/me/email`), pending, confirmed and
    /// reverted, newest first; the revert link's token is left out.
    pub email_changes: Vec<ExportedEmailChange>,
    /// Audit entries about the account (sign-ins, failures, changes, administrators'
    /// actions on it), newest first; this export's own `user.data.exported` entry is
    /// written after the read, so it shows in the next one.
    pub audit_entries: Vec<HistoryEntry>,
}

/// A session, as `GET /auth/sessions` shows it, plus how it ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedSession {
    /// As in the sessions list.
    #[serde(flatten)]
    pub session: SessionView,
    /// The user agent sent at sign-in.
    pub user_agent: Option<String>,
    /// Whether "remember me" was asked for (a longer lifetime).
    pub remember_me: bool,
    /// When it was signed out or revoked; null otherwise.
    pub revoked_at: Option<String>,
}

/// A second factor, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedFactor {
    /// Id (UUIDv7).
    pub id: String,
    /// `totp` or `webauthn`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The user's label.
    pub name: String,
    /// `active`, or `pending` for a TOTP enrolment never confirmed (deleted after 10 minutes).
    pub status: &'static str,
    /// When it was enrolled (RFC 3339, ms, UTC).
    pub created_at: String,
    /// When a code confirmed it; null while pending.
    pub confirmed_at: Option<String>,
    /// When it last signed the user in.
    pub last_used_at: Option<String>,
}

/// A passkey's stored facts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedPasskey {
    /// Its factor's id.
    pub factor_id: String,
    /// The authenticator's credential id (base64url): public, sent to browsers at sign-in.
    pub credential_id: String,
    /// The last signature counter accepted (0 for authenticators that keep none).
    pub sign_count: u32,
    /// The user was verified (PIN, biometrics) when it was registered.
    pub user_verified: bool,
    /// Synced between devices, as of its last use.
    pub backed_up: bool,
    /// When it was disabled for a counter that went backwards; null otherwise.
    pub disabled_at: Option<String>,
}

/// A change of the account's address.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedEmailChange {
    /// The address when the change was asked for.
    pub old_email: String,
    /// The address asked for.
    pub new_email: String,
    /// When it was asked for (RFC 3339, ms, UTC).
    pub requested_at: String,
    /// When the code switched the address; null while pending (or never).
    pub confirmed_at: Option<String>,
    /// Until when the old address's link could undo it; null while pending.
    pub revert_link_expires_at: Option<String>,
    /// When that link undid it; null otherwise.
    pub reverted_at: Option<String>,
}

impl From<&EmailChange> for ExportedEmailChange {
    fn from(c: &EmailChange) -> Self {
        Self {
            old_email: c.old_email.as_str().to_owned(),
            new_email: c.new_email.as_str().to_owned(),
            requested_at: c.created_at.to_rfc3339(),
            confirmed_at: c.confirmed_at.map(|t| t.to_rfc3339()),
            revert_link_expires_at: c.revert_expires_at.map(|t| t.to_rfc3339()),
            reverted_at: c.reverted_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// Recovery codes, counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedRecoveryCodes {
    /// Codes of the current set.
    pub total: usize,
    /// Codes not used yet.
    pub remaining: usize,
    /// When each used code was used, oldest first.
    pub used_at: Vec<String>,
}

impl AccountExportDocument {
    /// The document of `export`, read by the session `current`.
    pub fn new(
        export: &AccountExport,
        current: SessionId,
        location: Option<&portcullis_domain::model::Location>,
    ) -> Self {
        Self {
            format_version: EXPORT_FORMAT,
            exported_at: export.exported_at.to_rfc3339(),
            profile: UserView::new(&export.user, location),
            sessions: export.sessions.iter().map(|s| ExportedSession::new(s, current)).collect(),
            factors: export.factors.iter().map(ExportedFactor::from).collect(),
            passkeys: export.passkeys.iter().map(ExportedPasskey::from).collect(),
            recovery_codes: ExportedRecoveryCodes::new(&export.recovery_codes),
            notifications: export.notifications.iter().map(NotificationView::from).collect(),
            email_changes: export.email_changes.iter().map(ExportedEmailChange::from).collect(),
            audit_entries: export.audit_entries.iter().map(HistoryEntry::from).collect(),
        }
    }
}

impl ExportedSession {
    fn new(s: &Session, current: SessionId) -> Self {
        Self {
            session: SessionView::new(s, current),
            user_agent: s.user_agent.clone(),
            remember_me: s.remember_me,
            revoked_at: s.revoked_at.map(|t| t.to_rfc3339()),
        }
    }
}

impl From<&Factor> for ExportedFactor {
    fn from(f: &Factor) -> Self {
        Self {
            id: f.id.to_string(),
            kind: f.kind.as_str(),
            name: f.name.as_str().to_owned(),
            status: if f.is_active() { "active" } else { "pending" },
            created_at: f.created_at.to_rfc3339(),
            confirmed_at: f.confirmed_at.map(|t| t.to_rfc3339()),
            last_used_at: f.last_used_at.map(|t| t.to_rfc3339()),
        }
    }
}

impl From<&Passkey> for ExportedPasskey {
    fn from(p: &Passkey) -> Self {
        Self {
            factor_id: p.factor_id.to_string(),
            credential_id: URL_SAFE_NO_PAD.encode(p.credential_id.as_bytes()),
            sign_count: p.sign_count,
            user_verified: p.user_verified,
            backed_up: p.backed_up,
            disabled_at: p.disabled_at.map(|t| t.to_rfc3339()),
        }
    }
}

impl ExportedRecoveryCodes {
    fn new(codes: &[StoredRecoveryCode]) -> Self {
        let mut used: Vec<_> = codes.iter().filter_map(|c| c.used_at).collect();
        used.sort();
        Self {
            total: codes.len(),
            remaining: codes.len() - used.len(),
            used_at: used.iter().map(|t| t.to_rfc3339()).collect(),
        }
    }
}
