//! A Portcullis store written from scratch: every store port of `portcullis_domain::ports` on
//! `HashMap`s and `BTreeMap`s behind one mutex, as an embedder with their own persistence would
//! start. It is proven by the published contract suite (`tests/contract.rs`, one line), the
//! same suite the SQLite, PostgreSQL and in-memory stores pass.
//!
//! Two design points every store must get right, and how this one does:
//! - **All or nothing.** A commit applies its changes to a copy of the tables and publishes the
//!   copy only when every change succeeded, so a failed guard or constraint leaves nothing
//!   behind (a SQL store gets this from its transaction).
//! - **Atomic counters.** Rate limits, reservations and code tries are checked and counted in
//!   one critical section, so racing callers cannot both take the last slot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portcullis_domain::model::{
    AuditAction, AuditEntry, AuditQuery, CodeId, CodePurpose, CredentialId, Email, EmailChange, EmailChangeId, Factor,
    FactorId, MailId, NewAuditEntry, Notification, NotificationId, NotificationPage, OutgoingMail, Page, Passkey,
    RefreshHit, SecretDigest, Session, SessionId, StoredCeremony, StoredCode, StoredRecoveryCode, Timestamp, User,
    UserId, UserQuery, UserStatusFilter,
};
use portcullis_domain::ports::{
    AttemptDecision, AuditRepository, Change, CodeRepository, Committed, FactorRepository, MailOutbox,
    NotificationRepository, PasswordAttempts, Permit, RateDecision, RateLimiter, RateRule, SessionRepository,
    StoreError, StoreHealth, UnitOfWork, UserRepository,
};

/// A spent refresh token: which session it belonged to and the pair it was exchanged for.
#[derive(Clone)]
struct Spent {
    session_id: SessionId,
    spent_at: Timestamp,
    successor: String,
}

/// A queued message and its delivery state.
#[derive(Clone)]
struct Queued {
    mail: OutgoingMail,
    leased_until: Option<Timestamp>,
    failed_at: Option<Timestamp>,
}

/// A counted rate event, or a reservation while `pending_until` is in the future.
#[derive(Clone)]
struct RateEvent {
    key: String,
    at: Timestamp,
    pending_until: Option<Timestamp>,
}

impl RateEvent {
    fn pending_at(&self, now: Timestamp) -> bool {
        self.pending_until.is_some_and(|until| until > now)
    }
}

#[derive(Clone, Default)]
struct Tables {
    users: HashMap<UserId, User>,
    codes: HashMap<CodeId, StoredCode>,
    sessions: HashMap<SessionId, Session>,
    /// By the refresh token's digest.
    spent: HashMap<Vec<u8>, Spent>,
    /// By id, which increases with every append.
    audit: BTreeMap<i64, AuditEntry>,
    notifications: HashMap<NotificationId, Notification>,
    mail: HashMap<MailId, Queued>,
    /// By permit number.
    rate: BTreeMap<i64, RateEvent>,
    last_audit_id: i64,
    last_permit: i64,
    factors: HashMap<FactorId, Factor>,
    /// Each user's recovery codes.
    recovery: HashMap<UserId, Vec<StoredRecoveryCode>>,
    /// By factor.
    passkeys: HashMap<FactorId, Passkey>,
    /// Started WebAuthn ceremonies, by their challenge's digest.
    ceremonies: HashMap<Vec<u8>, StoredCeremony>,
    email_changes: HashMap<EmailChangeId, EmailChange>,
}

/// Every store port on maps behind one lock. Clones share the data.
#[derive(Clone, Default)]
pub struct MapStore {
    tables: Arc<Mutex<Tables>>,
}

impl std::fmt::Debug for MapStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MapStore")
    }
}

impl MapStore {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-applied commit (commits swap a
        // finished copy in), so the data is still consistent.
        self.tables.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a SQL store reports for a broken key.
fn constraint(what: &str) -> StoreError {
    StoreError::Other(format!("constraint violated: {what}").into())
}

/// `limit` items of `sorted` from `offset`, and how many there are in all.
fn page<T: Clone>(sorted: Vec<&T>, limit: u32, offset: u64) -> Page<T> {
    let total_count = sorted.len() as u64;
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let take = usize::try_from(limit).unwrap_or(usize::MAX);
    Page { items: sorted.into_iter().skip(skip).take(take).cloned().collect(), total_count }
}

impl Tables {
    fn require_user(&self, id: UserId, what: &str) -> Result<(), StoreError> {
        if self.users.contains_key(&id) { Ok(()) } else { Err(constraint(what)) }
    }

    /// Applies one change; the caller discards the whole copy on error.
    fn apply(&mut self, change: Change) -> Result<Option<i64>, StoreError> {
        match change {
            Change::InsertUser(user) => {
                if self.users.values().any(|u| u.email == user.email) {
                    return Err(StoreError::DuplicateEmail);
                }
                if self.users.insert(user.id, user).is_some() {
                    return Err(constraint("users primary key"));
                }
            }
            Change::ReplaceCode(code) => {
                self.require_user(code.user_id, "codes.user_id")?;
                self.codes
                    .retain(|_, c| c.user_id != code.user_id || c.purpose != code.purpose || c.consumed_at.is_some());
                if self.codes.insert(code.id, code).is_some() {
                    return Err(constraint("codes primary key"));
                }
            }
            Change::ConsumeCode { id, at } => match self.codes.get_mut(&id) {
                Some(code) if code.consumed_at.is_none() => code.consumed_at = Some(at),
                _ => return Err(StoreError::Conflict),
            },
            Change::DiscardCodes { user_id, at } => {
                for code in self.codes.values_mut().filter(|c| c.user_id == user_id && c.consumed_at.is_none()) {
                    code.consumed_at = Some(at);
                }
            }
            Change::MarkEmailVerified { user_id, at } => {
                self.edit_user(user_id, at, |u| u.email_verified_at = Some(at))
            }
            Change::InsertSession(session) => {
                self.require_user(session.user_id, "sessions.user_id")?;
                if self.sessions.insert(session.id, session).is_some() {
                    return Err(constraint("sessions primary key"));
                }
            }
            Change::SetAlertToken { session_id, digest, expires_at } => {
                if let Some(s) = self.sessions.get_mut(&session_id) {
                    (s.alert_token_hash, s.alert_expires_at) = (Some(digest), Some(expires_at));
                }
            }
            Change::ConsumeAlertToken { session_id, digest } => match self.sessions.get_mut(&session_id) {
                Some(s) if s.alert_token_hash.as_ref().is_some_and(|d| d.as_bytes() == digest.as_bytes()) => {
                    (s.alert_token_hash, s.alert_expires_at) = (None, None);
                }
                _ => return Err(StoreError::Conflict),
            },
            Change::RotateRefreshToken { session_id, current, next, successor, at } => {
                match self.sessions.get_mut(&session_id) {
                    Some(s) if s.revoked_at.is_none() && s.refresh_token_hash.as_bytes() == current.as_bytes() => {
                        s.refresh_token_hash = next;
                    }
                    _ => return Err(StoreError::Conflict),
                }
                let spent = Spent { session_id, spent_at: at, successor };
                if self.spent.insert(current.as_bytes().to_vec(), spent).is_some() {
                    return Err(constraint("spent refresh tokens primary key"));
                }
            }
            Change::RevokeSession { session_id, at } => {
                if let Some(s) = self.sessions.get_mut(&session_id) {
                    s.revoked_at.get_or_insert(at);
                }
            }
            Change::TouchSession { session_id, at } => {
                if let Some(s) = self.sessions.get_mut(&session_id) {
                    s.last_seen_at = s.last_seen_at.max(at);
                }
            }
            Change::RevokeUserSessions { user_id, except, at } => {
                for s in self.sessions.values_mut() {
                    if s.user_id == user_id && s.revoked_at.is_none() && Some(s.id) != except {
                        s.revoked_at = Some(at);
                    }
                }
            }
            Change::SetPassword { user_id, hash, at } => self.edit_user(user_id, at, |u| u.password_hash = hash),
            Change::RehashPassword { user_id, previous, hash, at } => {
                if self.users.get(&user_id).is_some_and(|u| u.password_hash == previous) {
                    self.edit_user(user_id, at, |u| u.password_hash = hash);
                }
            }
            Change::SetStatus { user_id, status, at } => self.edit_user(user_id, at, |u| u.status = status),
            Change::SetDeleted { user_id, deleted_at, at } => {
                self.edit_user(user_id, at, |u| u.deleted_at = deleted_at)
            }
            Change::DeleteUser { user_id, deleted_at } => {
                if self.users.get(&user_id).is_none_or(|u| u.deleted_at != Some(deleted_at)) {
                    return Err(StoreError::Conflict);
                }
                self.users.remove(&user_id);
            }
            Change::RestoreUser { user_id, deleted_at, at } => {
                if self.users.get(&user_id).is_none_or(|u| u.deleted_at != Some(deleted_at)) {
                    return Err(StoreError::Conflict);
                }
                self.edit_user(user_id, at, |u| u.deleted_at = None);
            }
            Change::EraseAccountData { user_id, email } => {
                let sessions: Vec<SessionId> =
                    self.sessions.values().filter(|s| s.user_id == user_id).map(|s| s.id).collect();
                self.spent.retain(|_, spent| !sessions.contains(&spent.session_id));
                self.sessions.retain(|_, s| s.user_id != user_id);
                self.codes.retain(|_, c| c.user_id != user_id);
                self.notifications.retain(|_, n| n.user_id != user_id);
                self.passkeys.retain(|_, p| p.user_id != user_id);
                self.recovery.remove(&user_id);
                self.factors.retain(|_, f| f.user_id != user_id);
                self.ceremonies.retain(|_, c| c.user_id != Some(user_id));
                self.email_changes.retain(|_, c| c.user_id != user_id);
                if let Some(email) = email {
                    self.mail.retain(|_, q| q.mail.to != email);
                }
                for entry in self.audit.values_mut().filter(|e| e.user_id == Some(user_id)) {
                    entry.ip_address = None;
                    entry.user_agent = None;
                    entry.device = Default::default();
                    entry.location = None;
                    entry.fingerprint = None;
                    entry.metadata.remove("name");
                    entry.metadata.remove("fingerprint");
                }
            }
            Change::ChangeEmail { user_id, from, to, at } => {
                // What a unique index on the address says: another account has it.
                if self.users.values().any(|u| u.id != user_id && u.email == to) {
                    return Err(StoreError::Conflict);
                }
                match self.users.get_mut(&user_id) {
                    Some(u) if u.email == from && u.deleted_at.is_none() => {
                        (u.email, u.email_verified_at, u.updated_at) = (to, Some(at), at);
                    }
                    _ => return Err(StoreError::Conflict),
                }
            }
            Change::StartEmailChange(change) => {
                self.require_user(change.user_id, "email_changes.user_id")?;
                self.email_changes.retain(|_, c| c.user_id != change.user_id || c.confirmed_at.is_some());
                if self.email_changes.insert(change.id, change).is_some() {
                    return Err(constraint("email_changes primary key"));
                }
            }
            Change::ConfirmEmailChange { id, revert_digest, revert_expires_at, at } => {
                match self.email_changes.get_mut(&id) {
                    Some(c) if c.confirmed_at.is_none() => {
                        (c.confirmed_at, c.revert_digest, c.revert_expires_at) =
                            (Some(at), Some(revert_digest), Some(revert_expires_at));
                    }
                    _ => return Err(StoreError::Conflict),
                }
            }
            Change::RevertEmailChange { id, user_id, at } => {
                let reverted = match self.email_changes.get_mut(&id) {
                    Some(c) if c.user_id == user_id && c.revertible(at) => {
                        c.reverted_at = Some(at);
                        (c.confirmed_at, c.id)
                    }
                    _ => return Err(StoreError::Conflict),
                };
                // The links of the account's changes confirmed after it, in (confirmed_at, id)
                // order, end now; its pending changes go.
                for c in self.email_changes.values_mut() {
                    if c.user_id == user_id
                        && c.reverted_at.is_none()
                        && c.confirmed_at.is_some()
                        && (c.confirmed_at, c.id) > reverted
                        && c.revert_expires_at.is_some_and(|end| end > at)
                    {
                        c.revert_expires_at = Some(at);
                    }
                }
                self.email_changes.retain(|_, c| c.user_id != user_id || c.confirmed_at.is_some());
            }
            Change::SetRoles { user_id, roles, at } => self.edit_user(user_id, at, |u| u.roles = roles),
            Change::UpdateProfile { user_id, name, profile_picture, at } => self.edit_user(user_id, at, |u| {
                if let Some(name) = name {
                    u.name = name;
                }
                if let Some(picture) = profile_picture {
                    u.profile_picture = picture;
                }
            }),
            Change::AppendAudit(entry) => {
                self.last_audit_id += 1;
                let id = self.last_audit_id;
                self.audit.insert(id, audit_row(id, entry));
                return Ok(Some(id));
            }
            Change::InsertNotification(n) => {
                self.require_user(n.user_id, "notifications.user_id")?;
                if self.notifications.insert(n.id, n).is_some() {
                    return Err(constraint("notifications primary key"));
                }
            }
            Change::EnqueueMail(mail) => {
                let queued = Queued { mail, leased_until: None, failed_at: None };
                if self.mail.insert(queued.mail.id, queued).is_some() {
                    return Err(constraint("mail primary key"));
                }
            }
            Change::ClearFailures { key, at } => {
                self.rate.retain(|_, e| e.key != key || e.at > at || e.pending_at(at));
            }
            Change::ReleasePermit(permit) => {
                self.rate.remove(&permit.0);
            }
            Change::InsertCode(code) => {
                self.require_user(code.user_id, "codes.user_id")?;
                if self.codes.insert(code.id, code).is_some() {
                    return Err(constraint("codes primary key"));
                }
            }
            Change::InsertFactor(factor) => {
                self.require_user(factor.user_id, "factors.user_id")?;
                if self.factors.insert(factor.id, factor).is_some() {
                    return Err(constraint("factors primary key"));
                }
            }
            // The three guarded writes of second factors: each checks and writes under the one
            // lock a commit holds, so of racing requests exactly one gets through.
            Change::ConfirmFactor { factor_id, step, at } => match self.factors.get_mut(&factor_id) {
                Some(f) if f.confirmed_at.is_none() => (f.confirmed_at, f.last_used_step) = (Some(at), Some(step)),
                _ => return Err(StoreError::Conflict),
            },
            Change::ActivateFactor { factor_id, at } => match self.factors.get_mut(&factor_id) {
                Some(f) if f.confirmed_at.is_none() => f.confirmed_at = Some(at),
                _ => return Err(StoreError::Conflict),
            },
            Change::UseTotpStep { factor_id, step, at } => match self.factors.get_mut(&factor_id) {
                Some(f) if f.is_active() && f.last_used_step.is_none_or(|last| last < step) => {
                    (f.last_used_step, f.last_used_at) = (Some(step), Some(at));
                }
                _ => return Err(StoreError::Conflict),
            },
            Change::SpendRecoveryCode { user_id, digest, at } => {
                let codes = self.recovery.get_mut(&user_id).map(Vec::as_mut_slice).unwrap_or_default();
                match codes.iter_mut().find(|c| c.used_at.is_none() && c.digest == digest) {
                    Some(code) => code.used_at = Some(at),
                    None => return Err(StoreError::Conflict),
                }
            }
            Change::DeleteFactor { user_id, factor_id } => {
                if self.factors.get(&factor_id).is_some_and(|f| f.user_id == user_id) {
                    self.factors.remove(&factor_id);
                    self.passkeys.remove(&factor_id);
                }
                if !self.factors.values().any(|f| f.user_id == user_id && f.is_active()) {
                    self.recovery.remove(&user_id);
                }
            }
            Change::DeleteUserFactors { user_id } => {
                self.factors.retain(|_, f| f.user_id != user_id);
                self.passkeys.retain(|_, p| p.user_id != user_id);
                self.recovery.remove(&user_id);
            }
            Change::ReplaceRecoveryCodes { user_id, digests, at: _ } => {
                self.require_user(user_id, "recovery_codes.user_id")?;
                let codes = digests.into_iter().map(|digest| StoredRecoveryCode { digest, used_at: None }).collect();
                self.recovery.insert(user_id, codes);
            }
            Change::ExpectNoSecondFactor { user_id } => {
                if self.factors.values().any(|f| f.user_id == user_id && f.is_active()) {
                    return Err(StoreError::Conflict);
                }
            }
            Change::InsertCeremony(ceremony) => {
                if self.ceremonies.insert(ceremony.digest.as_bytes().to_vec(), ceremony).is_some() {
                    return Err(constraint("ceremonies primary key"));
                }
            }
            Change::InsertPasskey(passkey) => {
                if !self.factors.contains_key(&passkey.factor_id) {
                    return Err(constraint("passkeys.factor_id"));
                }
                // The credential id is unique: of two accounts registering one, one commits.
                if self.passkeys.values().any(|p| p.credential_id == passkey.credential_id) {
                    return Err(StoreError::Conflict);
                }
                self.passkeys.insert(passkey.factor_id, passkey);
            }
            Change::UsePasskey { factor_id, seen_count, sign_count, credential, backed_up, at } => {
                match self.passkeys.get_mut(&factor_id) {
                    Some(p) if p.disabled_at.is_none() && p.sign_count == seen_count => {
                        (p.sign_count, p.credential, p.backed_up) = (sign_count, credential, backed_up);
                    }
                    _ => return Err(StoreError::Conflict),
                }
                if let Some(factor) = self.factors.get_mut(&factor_id) {
                    factor.last_used_at = Some(at);
                }
            }
            Change::DisablePasskey { factor_id, at } => {
                if let Some(passkey) = self.passkeys.get_mut(&factor_id) {
                    passkey.disabled_at.get_or_insert(at);
                }
            }
        }
        Ok(None)
    }

    /// Changes a user and stamps `updated_at`; a no-op for an absent user, like an UPDATE.
    fn edit_user(&mut self, id: UserId, at: Timestamp, edit: impl FnOnce(&mut User)) {
        if let Some(user) = self.users.get_mut(&id) {
            edit(user);
            user.updated_at = at;
        }
    }

    /// Events of `key` within `rule`'s window at `now` that `keep` selects, oldest first.
    fn window(&self, key: &str, rule: RateRule, now: Timestamp, keep: impl Fn(&RateEvent) -> bool) -> Vec<Timestamp> {
        let start = now.minus(rule.window);
        let mut times: Vec<Timestamp> =
            self.rate.values().filter(|e| e.key == key && e.at > start && keep(e)).map(|e| e.at).collect();
        times.sort();
        times
    }

    /// How long until every rule has room for one more of the events `keep` selects, or
    /// `None` when all have room now.
    fn wait(
        &self,
        key: &str,
        rules: &[RateRule],
        now: Timestamp,
        keep: impl Fn(&RateEvent) -> bool,
    ) -> Option<Duration> {
        rules
            .iter()
            .filter_map(|&rule| {
                let times = self.window(key, rule, now, &keep);
                let max = usize::try_from(rule.max).unwrap_or(usize::MAX);
                if times.len() < max {
                    return None;
                }
                let Some(&leaving) = times.len().checked_sub(max).and_then(|i| times.get(i)) else {
                    return Some(rule.window.max(Duration::from_secs(1)));
                };
                Some(now.until(leaving.plus(rule.window)).max(Duration::from_secs(1)))
            })
            .max()
    }

    fn count(&mut self, key: &str, at: Timestamp, pending_until: Option<Timestamp>) -> Permit {
        self.last_permit += 1;
        self.rate.insert(self.last_permit, RateEvent { key: key.to_owned(), at, pending_until });
        Permit(self.last_permit)
    }
}

/// The stored form of an appended entry.
fn audit_row(id: i64, entry: NewAuditEntry) -> AuditEntry {
    AuditEntry {
        id,
        user_id: entry.user_id,
        action: entry.action.as_str().to_owned(),
        ip_address: Some(entry.enrichment.ip_address),
        user_agent: entry.enrichment.user_agent,
        device: entry.enrichment.device,
        location: entry.enrichment.location,
        fingerprint: entry.fingerprint,
        metadata: entry.metadata,
        created_at: entry.created_at,
    }
}

impl UnitOfWork for MapStore {
    async fn commit(&self, changes: Vec<Change>) -> Result<Committed, StoreError> {
        let mut tables = self.lock();
        let mut draft = tables.clone();
        let mut done = Committed::default();
        for (index, change) in changes.into_iter().enumerate() {
            if let Some(id) = draft.apply(change)? {
                done.record_audit_id(index, id);
            }
        }
        *tables = draft;
        Ok(done)
    }
}

impl UserRepository for MapStore {
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.values().find(|u| &u.email == email).cloned())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn search_users(&self, query: UserQuery) -> Result<Page<User>, StoreError> {
        let needle = query.text.as_deref().map(str::to_lowercase);
        let tables = self.lock();
        let mut found: Vec<&User> = tables
            .users
            .values()
            .filter(|u| {
                needle
                    .as_deref()
                    .is_none_or(|t| u.email.as_str().contains(t) || u.name.as_str().to_lowercase().contains(t))
            })
            .filter(|u| match query.status {
                None => true,
                Some(UserStatusFilter::Deleted) => u.deleted_at.is_some(),
                Some(UserStatusFilter::Status(status)) => u.deleted_at.is_none() && u.status == status,
            })
            .collect();
        found.sort_by_key(|u| (u.created_at, u.id));
        Ok(page(found, query.limit, query.offset))
    }

    async fn deleted_before(&self, before: Timestamp, limit: u32) -> Result<Vec<User>, StoreError> {
        let tables = self.lock();
        let mut found: Vec<User> =
            tables.users.values().filter(|u| u.deleted_at.is_some_and(|at| at < before)).cloned().collect();
        found.sort_by_key(|u| (u.deleted_at, u.id));
        found.truncate(limit as usize);
        Ok(found)
    }
}

impl CodeRepository for MapStore {
    async fn active_code(&self, user_id: UserId, purpose: CodePurpose) -> Result<Option<StoredCode>, StoreError> {
        let tables = self.lock();
        let open =
            tables.codes.values().filter(|c| c.user_id == user_id && c.purpose == purpose && c.consumed_at.is_none());
        Ok(open.max_by_key(|c| (c.created_at, c.id)).cloned())
    }

    async fn count_code_attempt(&self, id: CodeId, max_attempts: u32) -> Result<Option<u32>, StoreError> {
        let mut tables = self.lock();
        Ok(tables.codes.get_mut(&id).filter(|c| c.consumed_at.is_none() && c.attempts < max_attempts).map(|c| {
            c.attempts += 1;
            c.attempts
        }))
    }

    async fn email_changes(&self, user_id: UserId) -> Result<Vec<EmailChange>, StoreError> {
        let tables = self.lock();
        let mut changes: Vec<EmailChange> =
            tables.email_changes.values().filter(|c| c.user_id == user_id).cloned().collect();
        changes.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
        Ok(changes)
    }

    async fn email_change_by_revert(&self, digest: SecretDigest) -> Result<Option<EmailChange>, StoreError> {
        Ok(self.lock().email_changes.values().find(|c| c.revert_digest.as_ref() == Some(&digest)).cloned())
    }

    async fn email_reserved_for_revert(&self, email: &Email, now: Timestamp) -> Result<bool, StoreError> {
        Ok(self.lock().email_changes.values().any(|c| &c.old_email == email && c.revertible(now)))
    }
}

impl SessionRepository for MapStore {
    async fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError> {
        let tables = self.lock();
        let Some(session) = tables.sessions.get(&id) else { return Ok(None) };
        Ok(tables.users.get(&session.user_id).map(|u| (session.clone(), u.clone())))
    }

    async fn live_sessions(&self, user_id: UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let tables = self.lock();
        let mut live: Vec<Session> =
            tables.sessions.values().filter(|s| s.user_id == user_id && s.is_live(now)).cloned().collect();
        live.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        Ok(live)
    }

    async fn all_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        let tables = self.lock();
        let mut all: Vec<Session> = tables.sessions.values().filter(|s| s.user_id == user_id).cloned().collect();
        all.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        Ok(all)
    }

    async fn session_by_refresh(
        &self,
        digest: SecretDigest,
    ) -> Result<Option<(Session, User, RefreshHit)>, StoreError> {
        let tables = self.lock();
        let current = tables.sessions.values().find(|s| s.refresh_token_hash.as_bytes() == digest.as_bytes());
        let (session, hit) = match (current, tables.spent.get(digest.as_bytes())) {
            (Some(session), _) => (session, RefreshHit::Current),
            (None, Some(spent)) => {
                let Some(session) = tables.sessions.get(&spent.session_id) else { return Ok(None) };
                (session, RefreshHit::Spent { spent_at: spent.spent_at, successor: spent.successor.clone() })
            }
            (None, None) => return Ok(None),
        };
        Ok(tables.users.get(&session.user_id).map(|u| (session.clone(), u.clone(), hit)))
    }

    async fn session_by_alert(&self, digest: SecretDigest) -> Result<Option<(Session, User)>, StoreError> {
        let tables = self.lock();
        let found = tables
            .sessions
            .values()
            .find(|s| s.alert_token_hash.as_ref().is_some_and(|d| d.as_bytes() == digest.as_bytes()));
        Ok(found.and_then(|s| tables.users.get(&s.user_id).map(|u| (s.clone(), u.clone()))))
    }

    async fn purge_ended_sessions(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tables = self.lock();
        let before_count = tables.sessions.len();
        tables.sessions.retain(|_, s| s.expires_at >= before && s.revoked_at.is_none_or(|r| r >= before));
        let Tables { sessions, spent, .. } = &mut *tables;
        spent.retain(|_, r| sessions.contains_key(&r.session_id));
        Ok((before_count - tables.sessions.len()) as u64)
    }
}

impl AuditRepository for MapStore {
    async fn audit_page(
        &self,
        user_id: UserId,
        actions: Vec<AuditAction>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let tables = self.lock();
        let mut found: Vec<&AuditEntry> = tables
            .audit
            .values()
            .filter(|e| e.user_id == Some(user_id) && actions.iter().any(|a| a.as_str() == e.action))
            .collect();
        found.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        Ok(page(found, limit, offset))
    }

    async fn search_audit(&self, query: AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        let tables = self.lock();
        let mut found: Vec<&AuditEntry> = tables
            .audit
            .values()
            .filter(|e| query.user_id.is_none_or(|u| e.user_id == Some(u)))
            .filter(|e| query.action.is_none_or(|a| e.action == a.as_str()))
            .filter(|e| {
                query.from.is_none_or(|from| e.created_at >= from) && query.to.is_none_or(|to| e.created_at < to)
            })
            .collect();
        found.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        Ok(page(found, query.limit, query.offset))
    }
}

impl NotificationRepository for MapStore {
    async fn notifications_page(
        &self,
        user_id: UserId,
        unread_only: bool,
        limit: u32,
        offset: u64,
    ) -> Result<NotificationPage, StoreError> {
        let tables = self.lock();
        let own: Vec<&Notification> = tables.notifications.values().filter(|n| n.user_id == user_id).collect();
        let unread_count = own.iter().filter(|n| n.read_at.is_none()).count() as u64;
        let mut shown: Vec<&Notification> = own.into_iter().filter(|n| !unread_only || n.read_at.is_none()).collect();
        shown.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        let Page { items, total_count } = page(shown, limit, offset);
        Ok(NotificationPage { items, total_count, unread_count })
    }

    async fn mark_notification_read(
        &self,
        user_id: UserId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        match tables.notifications.get_mut(&id).filter(|n| n.user_id == user_id) {
            Some(n) => {
                n.read_at.get_or_insert(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn mark_all_notifications_read(&self, user_id: UserId, at: Timestamp) -> Result<u64, StoreError> {
        let mut tables = self.lock();
        let mut changed = 0;
        for n in tables.notifications.values_mut().filter(|n| n.user_id == user_id && n.read_at.is_none()) {
            n.read_at = Some(at);
            changed += 1;
        }
        Ok(changed)
    }
}

impl RateLimiter for MapStore {
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError> {
        let mut tables = self.lock();
        Ok(match tables.wait(key, &rules, now, |_| true) {
            Some(retry_after) => RateDecision::Limited { retry_after },
            None => RateDecision::Allowed(tables.count(key, now, None)),
        })
    }

    async fn release(&self, permit: Permit) -> Result<(), StoreError> {
        self.lock().rate.remove(&permit.0);
        Ok(())
    }

    /// Waits on tokio's timer between tries (a few milliseconds: the attempts it waits for
    /// take one password hash), never holding the lock while asleep.
    async fn reserve_attempt(
        &self,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
        hold: Duration,
        patience: Duration,
    ) -> Result<AttemptDecision, StoreError> {
        let started = Instant::now();
        // Zero until the first wait, so the first try is at exactly the caller's `now`.
        let mut waited = Duration::ZERO;
        loop {
            let at = now.plus(waited);
            let decision = {
                let mut tables = self.lock();
                if let Some(retry_after) = tables.wait(key, &rules, at, |e| !e.pending_at(at)) {
                    AttemptDecision::Limited { retry_after }
                } else if tables.wait(key, &rules, at, |_| true).is_some() {
                    AttemptDecision::Busy
                } else {
                    AttemptDecision::Reserved(tables.count(key, at, Some(at.plus(hold))))
                }
            };
            if decision != AttemptDecision::Busy || waited >= patience {
                return Ok(decision);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            waited = started.elapsed();
        }
    }

    async fn confirm_failure(&self, permit: Permit, at: Timestamp) -> Result<(), StoreError> {
        if let Some(event) = self.lock().rate.get_mut(&permit.0) {
            (event.at, event.pending_until) = (at, None);
        }
        Ok(())
    }

    async fn purge_rate_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tables = self.lock();
        let count = tables.rate.len();
        tables.rate.retain(|_, e| e.at >= before);
        Ok((count - tables.rate.len()) as u64)
    }
}

impl MailOutbox for MapStore {
    async fn claim_mail(&self, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<OutgoingMail>, StoreError> {
        let mut tables = self.lock();
        let mut due: Vec<(Timestamp, Timestamp, MailId)> = tables
            .mail
            .values()
            .filter(|q| {
                q.failed_at.is_none() && q.mail.next_attempt_at <= now && q.leased_until.is_none_or(|end| end <= now)
            })
            .map(|q| (q.mail.next_attempt_at, q.mail.created_at, q.mail.id))
            .collect();
        due.sort();
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut claimed = Vec::with_capacity(due.len());
        for (_, _, id) in due {
            if let Some(q) = tables.mail.get_mut(&id) {
                q.leased_until = Some(now.plus(lease));
                claimed.push(q.mail.clone());
            }
        }
        Ok(claimed)
    }

    async fn mail_sent(&self, id: MailId) -> Result<(), StoreError> {
        self.lock().mail.remove(&id);
        Ok(())
    }

    async fn mail_failed(&self, id: MailId, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        if let Some(q) = self.lock().mail.get_mut(&id) {
            q.mail.attempts += 1;
            q.mail.next_attempt_at = next_attempt_at;
            q.leased_until = None;
        }
        Ok(())
    }

    async fn mail_abandoned(&self, id: MailId, at: Timestamp) -> Result<(), StoreError> {
        if let Some(q) = self.lock().mail.get_mut(&id).filter(|q| q.failed_at.is_none()) {
            q.mail.attempts += 1;
            q.leased_until = None;
            q.failed_at = Some(at);
        }
        Ok(())
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        Ok(self.lock().mail.values().filter(|q| q.failed_at.is_none()).count() as u64)
    }

    async fn outbox_failed_count(&self) -> Result<u64, StoreError> {
        Ok(self.lock().mail.values().filter(|q| q.failed_at.is_some()).count() as u64)
    }
}

/// A store with nothing to gain from answering both at once takes the provided two calls.
impl PasswordAttempts for MapStore {}

impl FactorRepository for MapStore {
    async fn factors(&self, user_id: UserId) -> Result<Vec<Factor>, StoreError> {
        let tables = self.lock();
        let mut factors: Vec<Factor> = tables.factors.values().filter(|f| f.user_id == user_id).cloned().collect();
        factors.sort_by_key(|f| (f.created_at, f.id));
        Ok(factors)
    }

    async fn recovery_codes(&self, user_id: UserId) -> Result<Vec<StoredRecoveryCode>, StoreError> {
        Ok(self.lock().recovery.get(&user_id).cloned().unwrap_or_default())
    }

    async fn mfa_challenge(&self, digest: SecretDigest) -> Result<Option<StoredCode>, StoreError> {
        let tables = self.lock();
        Ok(tables.codes.values().find(|c| c.purpose == CodePurpose::MfaChallenge && c.digest == digest).cloned())
    }

    async fn purge_pending_factors(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tables = self.lock();
        let count = tables.factors.len();
        tables.factors.retain(|_, f| f.is_active() || f.created_at >= before);
        Ok((count - tables.factors.len()) as u64)
    }

    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, StoreError> {
        let tables = self.lock();
        let mut passkeys: Vec<Passkey> = tables.passkeys.values().filter(|p| p.user_id == user_id).cloned().collect();
        passkeys.sort_by_key(|p| (tables.factors.get(&p.factor_id).map(|f| f.created_at), p.factor_id));
        Ok(passkeys)
    }

    async fn passkey(&self, credential_id: CredentialId) -> Result<Option<Passkey>, StoreError> {
        Ok(self.lock().passkeys.values().find(|p| p.credential_id == credential_id).cloned())
    }

    async fn take_ceremony(&self, digest: SecretDigest, now: Timestamp) -> Result<Option<StoredCeremony>, StoreError> {
        // Removed under the lock: one taker gets it.
        Ok(self.lock().ceremonies.remove(digest.as_bytes()).filter(|c| c.expires_at > now))
    }

    async fn purge_expired_ceremonies(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tables = self.lock();
        let count = tables.ceremonies.len();
        tables.ceremonies.retain(|_, c| c.expires_at >= before);
        Ok((count - tables.ceremonies.len()) as u64)
    }
}

impl StoreHealth for MapStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
