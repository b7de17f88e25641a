//! Deleted accounts: kept for [`crate::Policy::deleted_retention`], restorable by an
//! administrator meanwhile, then erased by the purge job; or erased at once by an
//! administrator. Erasing deletes the account's row (freeing its address) and everything
//! hanging off it, and keeps its audit entries under the same id without the IP address,
//! user agent, device, location and fingerprint ([`Change::EraseAccountData`]).

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::error::InfraError;
use crate::model::{AuditAction, AuditQuery, RequestContext, Timestamp, User, UserId};
use crate::ports::{AuditRepository, Change, Ports, StoreError, UnitOfWork, UserRepository};
use crate::service::{Portcullis, clear_login_failures};
use crate::usecases::admin::{Actor, AdminError};
use crate::usecases::common::metadata;

/// Accounts read per round of the purge job.
const PURGE_BATCH: u32 = 100;

/// How far back the job looks for accounts it (or an administrator) erased, to scrub audit
/// entries written after the erasure by requests that had read the account before it: a
/// login in flight holds its read for the length of a password hash, so an hour of rounds
/// every ten minutes scrubs each such entry several times over.
const RESCRUB_WINDOW: Duration = Duration::from_secs(3600);

/// What a round of the purge job did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Accounts erased.
    pub erased: u64,
    /// Accounts whose erasure failed for another reason than a lost race (a row the store
    /// cannot read back, say); they are tried again next round, and the others go on.
    pub failed: u64,
}

/// Tries of an administrator's purge that lost a race (an account restored or deleted
/// again between the read and the commit) before giving up with a 503.
const PURGE_TRIES: usize = 3;

impl<P: Ports> Portcullis<P> {
    /// The purge job: erases every account deleted more than
    /// [`crate::Policy::deleted_retention`] ago, each in its own commit with a
    /// `user.account.purged` audit entry, then scrubs again the audit entries of accounts
    /// erased within the last hour ([`Change::EraseAccountData`] explains why). Safe on every
    /// instance at once and idempotent: an account is erased only while its `deleted_at` is
    /// the one read ([`Change::DeleteUser`]), so of two instances one erases it and the
    /// other's commit changes nothing, and an account restored meanwhile is kept. One
    /// account that cannot be erased does not hold the others back.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use portcullis_domain::{Actor, Policy};
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let laura = kit.seed_verified("laura@example.com").await;
    /// let ctx = portcullis_testing::fixtures::request("192.0.2.1");
    /// auth.admin_delete_user(&Actor::Operator, laura.id, &ctx).await.unwrap();
    /// assert_eq!(auth.purge_deleted_accounts().await.unwrap().erased, 0, "still restorable");
    /// kit.clock.advance(Duration::from_secs(30 * 24 * 3600 + 1));
    /// assert_eq!(auth.purge_deleted_accounts().await.unwrap().erased, 1);
    /// assert!(kit.store.users().is_empty(), "the address is free again");
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store is unavailable.
    pub async fn purge_deleted_accounts(&self) -> Result<PurgeReport, InfraError> {
        let now = self.now();
        let before = now.minus(self.policy.deleted_retention);
        // The job has no client: its entry's address is a placeholder, erased with the rest.
        let ctx = RequestContext::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), None);
        let mut report = PurgeReport::default();
        loop {
            let batch = self.store.deleted_before(before, PURGE_BATCH).await?;
            let full = batch.len() == PURGE_BATCH as usize;
            let mut erased = 0;
            for user in batch {
                let Some(deleted_at) = user.deleted_at else { continue };
                let meta = metadata([("by", json!("retention")), ("deleted_at", json!(deleted_at.to_rfc3339()))]);
                let entry = self.audit(user.id, AuditAction::AccountPurged, &ctx, meta, now);
                match self.erase(&user, deleted_at, vec![entry], now).await {
                    Ok(true) => erased += 1,
                    Ok(false) => {}
                    Err(InfraError::Unavailable(e)) => return Err(InfraError::Unavailable(e)),
                    Err(_) => report.failed += 1,
                }
            }
            report.erased += erased;
            // A full batch that erased nothing (lost to another instance, which is erasing
            // them, or failing) ends the round rather than reading the same batch again.
            if !full || erased == 0 {
                break;
            }
        }
        self.rescrub_recent_erasures(now).await?;
        Ok(report)
    }

    /// Scrubs again the audit entries of the accounts erased within [`RESCRUB_WINDOW`].
    async fn rescrub_recent_erasures(&self, now: Timestamp) -> Result<(), InfraError> {
        let mut ids = BTreeSet::new();
        for action in [AuditAction::AccountPurged, AuditAction::AdminUserPurged] {
            let mut offset = 0;
            loop {
                let query = AuditQuery {
                    user_id: None,
                    action: Some(action),
                    from: Some(now.minus(RESCRUB_WINDOW)),
                    to: None,
                    limit: PURGE_BATCH,
                    offset,
                };
                let page = self.store.search_audit(query).await?;
                offset += page.items.len() as u64;
                ids.extend(page.items.iter().filter_map(|e| e.user_id));
                if page.items.len() < PURGE_BATCH as usize {
                    break;
                }
            }
        }
        for user_id in ids {
            self.store.commit(vec![Change::EraseAccountData { user_id, email: None }]).await?;
        }
        Ok(())
    }

    /// Erases an account at once (`users:write`), deleted or not: its sessions end, its
    /// address is free, and its audit entries stay without IP, user agent and location.
    /// Audited as `admin.user.purged` (an entry itself erased like the others, so it keeps
    /// the acting administrator's id, not their address). Returns when it was erased.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use portcullis_domain::{Actor, AdminError, Policy};
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let laura = kit.seed_verified("laura@example.com").await;
    /// let ctx = portcullis_testing::fixtures::request("192.0.2.1");
    /// auth.admin_purge_user(&Actor::Operator, laura.id, &ctx).await.unwrap();
    /// let again = auth.admin_purge_user(&Actor::Operator, laura.id, &ctx).await;
    /// assert!(matches!(again, Err(AdminError::NotFound)), "nothing left to purge");
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`AdminError::Forbidden`] without `users:write`, [`AdminError::SelfTarget`] for the
    /// caller's own account, [`AdminError::NotFound`] for an unknown (or already erased) id.
    pub async fn admin_purge_user(
        &self,
        actor: &Actor,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<Timestamp, AdminError> {
        actor.require(crate::model::Permission::UsersWrite)?;
        for _ in 0..PURGE_TRIES {
            let user = self.admin_target(actor, id).await?;
            let now = self.now();
            let mut changes = Vec::new();
            let deleted_at = match user.deleted_at {
                Some(at) => at,
                None => {
                    changes.push(Change::SetDeleted { user_id: id, deleted_at: Some(now), at: now });
                    now
                }
            };
            let meta = metadata([("actor_id", actor.audit_id()), ("was_deleted", json!(user.deleted_at.is_some()))]);
            changes.push(self.audit(id, AuditAction::AdminUserPurged, ctx, meta, now));
            if self.erase(&user, deleted_at, changes, now).await? {
                return Ok(now);
            }
        }
        Err(InfraError::Busy { retry_after: std::time::Duration::from_secs(1) }.into())
    }

    /// Commits `changes`, then the erasure of `user`'s data, the lifted lockout of its
    /// address (a new account there starts afresh) and the deletion of its row (guarded by
    /// `deleted_at`); `false` when the guard failed (restored, deleted again or already
    /// erased since it was read), with nothing written.
    async fn erase(
        &self,
        user: &User,
        deleted_at: Timestamp,
        mut changes: Vec<Change>,
        now: Timestamp,
    ) -> Result<bool, InfraError> {
        // The rows hanging off the account first: an embedder's user table may refer to
        // them without cascading deletes.
        changes.push(Change::EraseAccountData { user_id: user.id, email: Some(user.email.clone()) });
        changes.push(clear_login_failures(&user.email, now));
        changes.push(Change::DeleteUser { user_id: user.id, deleted_at });
        match self.store.commit(changes).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
