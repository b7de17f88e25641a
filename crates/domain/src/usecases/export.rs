//! `GET /users/me/export`: everything stored about the caller, as one document.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{
    AuditAction, AuditEntry, AuditQuery, EmailChange, Factor, Notification, Passkey, RequestContext, Session,
    StoredRecoveryCode, Timestamp, User,
};
use crate::ports::{
    AuditRepository, CodeRepository, FactorRepository, NotificationRepository, Ports, RateRule, SessionRepository,
    StoreError, UnitOfWork, UserRepository,
};
use crate::service::{Limit, Portcullis};
use crate::usecases::authenticate::Principal;
use crate::usecases::common::metadata;

/// Rows read per page while collecting the audit entries and notifications.
const PAGE: u32 = 500;

/// Exports one account may take per hour: each reads its whole history, so a stolen token
/// (or a script) must not be able to make the server do that without bound.
pub const EXPORTS_PER_HOUR: u32 = 10;

/// Everything stored about one account, as the store holds it. The server writes it out
/// field by field, leaving out what is secret (the password hash, sealed seeds, token and
/// code digests); an embedder doing the same must leave those out too. Its `Debug` shows
/// counts only.
#[derive(Clone)]
pub struct AccountExport {
    /// When the export was read.
    pub exported_at: Timestamp,
    /// The account.
    pub user: User,
    /// Every session, live and ended (until purged), newest first.
    pub sessions: Vec<Session>,
    /// Second factors, pending enrolments included, oldest first.
    pub factors: Vec<Factor>,
    /// The passkeys among them, oldest first.
    pub passkeys: Vec<Passkey>,
    /// Recovery codes (as digests), used ones included.
    pub recovery_codes: Vec<StoredRecoveryCode>,
    /// In-app notifications, newest first.
    pub notifications: Vec<Notification>,
    /// Changes of the account's address, newest first.
    pub email_changes: Vec<EmailChange>,
    /// Audit entries about the account, newest first, this export's own excluded.
    pub audit_entries: Vec<AuditEntry>,
}

impl std::fmt::Debug for AccountExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountExport")
            .field("exported_at", &self.exported_at)
            .field("user_id", &self.user.id)
            .field("sessions", &self.sessions.len())
            .field("factors", &self.factors.len())
            .field("passkeys", &self.passkeys.len())
            .field("recovery_codes", &self.recovery_codes.len())
            .field("notifications", &self.notifications.len())
            .field("email_changes", &self.email_changes.len())
            .field("audit_entries", &self.audit_entries.len())
            .finish()
    }
}

/// Why an export was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A password-only session of an account with an active second factor: the export
    /// holds the whole history, so it takes the session level that managing factors takes.
    #[error("a second factor is required")]
    SecondFactorRequired,
    /// More than [`EXPORTS_PER_HOUR`] exports of this account in an hour.
    #[error("too many exports")]
    RateLimited {
        /// Wait before retrying.
        retry_after: std::time::Duration,
    },
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for ExportError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Everything stored about the caller, and a `user.data.exported` audit entry.
    ///
    /// The parts are read one after another, not in one snapshot: something written while
    /// the export runs (a sign-in on another device) may be in one part and not another.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_testing::fixtures::request;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// kit.seed_verified("laura@example.com").await;
    /// let (_, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// let export = auth.export_account(&me, &request("192.0.2.1")).await.unwrap();
    /// assert_eq!(export.user.email.as_str(), "laura@example.com");
    /// assert_eq!(export.sessions.len(), 1);
    /// assert_eq!(export.audit_entries[0].action.as_str(), "auth.login.success");
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`ExportError::SecondFactorRequired`] for a password-only session of an account with
    /// a factor; [`ExportError::Infra`] when the store fails.
    pub async fn export_account(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<AccountExport, ExportError> {
        let now = self.now();
        let id = principal.user.id;
        let factors = self.store.factors(id).await?;
        if principal.lacks_second_factor(&factors) {
            return Err(ExportError::SecondFactorRequired);
        }
        let rules = vec![RateRule { window: Duration::from_secs(3600), max: EXPORTS_PER_HOUR }];
        if let Limit::Limited(retry_after) = self.limit(format!("export:{id}"), rules, now).await? {
            return Err(ExportError::RateLimited { retry_after });
        }
        // The account as stored now, not as the token's request loaded it.
        let user = self.store.user_by_id(id).await?.unwrap_or_else(|| principal.user.clone());
        let sessions = self.store.all_sessions(id).await?;
        let passkeys = self.store.passkeys(id).await?;
        let recovery_codes = self.store.recovery_codes(id).await?;
        let notifications = self.all_notifications(principal).await?;
        let email_changes = self.store.email_changes(id).await?;
        let audit_entries = self.all_audit_entries(principal).await?;
        self.store.commit(vec![self.audit(id, AuditAction::DataExported, ctx, metadata([]), now)]).await?;
        Ok(AccountExport {
            exported_at: now,
            user,
            sessions,
            factors,
            passkeys,
            recovery_codes,
            notifications,
            email_changes,
            audit_entries,
        })
    }

    async fn all_notifications(&self, principal: &Principal) -> Result<Vec<Notification>, StoreError> {
        let mut all: Vec<Notification> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut offset = 0;
        loop {
            let page = self.store.notifications_page(principal.user.id, false, PAGE, offset).await?;
            let read = page.items.len();
            offset += read as u64;
            // Entries written meanwhile shift the pages: one already read may come again.
            all.extend(page.items.into_iter().filter(|n| seen.insert(n.id)));
            if read < PAGE as usize {
                return Ok(all);
            }
        }
    }

    async fn all_audit_entries(&self, principal: &Principal) -> Result<Vec<AuditEntry>, StoreError> {
        let mut all: Vec<AuditEntry> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut offset = 0;
        loop {
            let query = AuditQuery {
                user_id: Some(principal.user.id),
                action: None,
                from: None,
                to: None,
                limit: PAGE,
                offset,
            };
            let page = self.store.search_audit(query).await?;
            let read = page.items.len();
            offset += read as u64;
            all.extend(page.items.into_iter().filter(|e| seen.insert(e.id)));
            if read < PAGE as usize {
                return Ok(all);
            }
        }
    }
}
