//! Persistence ports. One capability per trait; [`Store`] bundles them for wiring.
//!
//! Multi-row writes go through [`UnitOfWork::commit`]: the use case lists the [`Change`]s and
//! the store applies all of them in one transaction or none, so a login can never leave a
//! session without its audit entry or an audit entry without its queued alert mail.

use std::time::Duration;

use crate::model::{
    AccountStatus, AuditAction, AuditEntry, AuditQuery, CodeId, CodePurpose, CredentialId, Email, EmailChange,
    EmailChangeId, Factor, FactorId, MailId, NewAuditEntry, Notification, NotificationId, NotificationPage,
    OutgoingMail, Page, Passkey, PasskeyCredential, PasswordHash, RefreshHit, Roles, SecretDigest, Session, SessionId,
    StoredCeremony, StoredCode, StoredRecoveryCode, Timestamp, TotpStep, User, UserId, UserName, UserQuery,
};

/// Boxed cause of an infrastructure error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store can report. Driver errors are translated at the adapter boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An [`Change::InsertUser`] hit an existing normalised email.
    #[error("email address already registered")]
    DuplicateEmail,
    /// A guarded write ([`Change::ConsumeCode`]) found the row already changed.
    #[error("the record was changed concurrently")]
    Conflict,
    /// The store cannot be reached or timed out: retry later.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else.
    #[error("store failure")]
    Other(#[source] BoxError),
}

/// One write of a [`UnitOfWork::commit`].
#[derive(Clone, Debug)]
pub enum Change {
    /// Insert a user. MUST fail the whole commit with [`StoreError::DuplicateEmail`] when the
    /// normalised email exists (including soft-deleted accounts).
    InsertUser(User),
    /// Insert a code, deleting every unconsumed code of the same user and purpose first.
    ReplaceCode(StoredCode),
    /// Insert a code and keep the others: a second-factor challenge, of which a user may hold
    /// several (two devices signing in at once).
    InsertCode(StoredCode),
    /// Mark a code used. MUST fail the commit with [`StoreError::Conflict`] when it is
    /// already consumed or absent, so a code works once even under concurrent requests.
    ConsumeCode {
        /// The code.
        id: CodeId,
        /// When.
        at: Timestamp,
    },
    /// Set `email_verified_at` (and `updated_at`) of a user.
    MarkEmailVerified {
        /// The user.
        user_id: UserId,
        /// When.
        at: Timestamp,
    },
    /// Insert a session.
    InsertSession(Session),
    /// Replace the digest of a session's "Not you?" alert token.
    SetAlertToken {
        /// The session.
        session_id: SessionId,
        /// Digest of the new token.
        digest: SecretDigest,
        /// When the token stops working.
        expires_at: Timestamp,
    },
    /// Use up a session's alert token: clear it. Guarded: MUST fail the commit with
    /// [`StoreError::Conflict`] unless the session's alert digest is still `digest`.
    ConsumeAlertToken {
        /// The session.
        session_id: SessionId,
        /// Digest of the token being used.
        digest: SecretDigest,
    },
    /// Exchange a live session's refresh token: set `refresh_token_hash` to `next` and
    /// remember `current` as spent (with `successor` and `at`) for reuse detection. Guarded:
    /// MUST fail the commit with [`StoreError::Conflict`] unless the session is unrevoked and
    /// its digest is still `current`, so of racing refreshes exactly one rotates.
    RotateRefreshToken {
        /// The session.
        session_id: SessionId,
        /// Digest of the token presented.
        current: SecretDigest,
        /// Digest of its replacement.
        next: SecretDigest,
        /// The new pair, sealed (see [`RefreshHit::Spent`]).
        successor: String,
        /// When.
        at: Timestamp,
    },
    /// Set `revoked_at` of a live session (a no-op for one already revoked or absent).
    RevokeSession {
        /// The session.
        session_id: SessionId,
        /// When.
        at: Timestamp,
    },
    /// Move a session's `last_seen_at` forward to `at`. Guarded: a no-op when it is already
    /// at or past `at` (or the session is absent), so a late, slower request never moves it back.
    TouchSession {
        /// The session.
        session_id: SessionId,
        /// When its token was used.
        at: Timestamp,
    },
    /// Set `revoked_at` of every live session of a user, except `except` (a no-op for none).
    RevokeUserSessions {
        /// The user.
        user_id: UserId,
        /// A session to keep (the caller's own, on a password change).
        except: Option<SessionId>,
        /// When.
        at: Timestamp,
    },
    /// Replace a user's password hash (and `updated_at`).
    SetPassword {
        /// The user.
        user_id: UserId,
        /// The new hash.
        hash: PasswordHash,
        /// When.
        at: Timestamp,
    },
    /// Replace a user's password hash with an equivalent one made with the current
    /// parameters (and `updated_at`), only while the stored hash is still `previous`: a
    /// password changed meanwhile stays changed. Never a conflict; a no-op otherwise.
    RehashPassword {
        /// The user.
        user_id: UserId,
        /// The hash the login verified against.
        previous: PasswordHash,
        /// The new hash of the same password.
        hash: PasswordHash,
        /// When.
        at: Timestamp,
    },
    /// Set a user's status (and `updated_at`).
    SetStatus {
        /// The user.
        user_id: UserId,
        /// The new status.
        status: AccountStatus,
        /// When.
        at: Timestamp,
    },
    /// Soft-delete (`Some`) or restore (`None`) a user: set `deleted_at` (and `updated_at`).
    SetDeleted {
        /// The user.
        user_id: UserId,
        /// The new `deleted_at`.
        deleted_at: Option<Timestamp>,
        /// When.
        at: Timestamp,
    },
    /// Delete a soft-deleted account's row for good, which frees its address. Guarded:
    /// MUST fail the commit with [`StoreError::Conflict`] unless the row exists with exactly
    /// this `deleted_at`, so an account restored (or deleted again) since it was read is
    /// kept, and of two racing purges one commits. Goes with [`Change::EraseAccountData`].
    DeleteUser {
        /// The account.
        user_id: UserId,
        /// Its `deleted_at` as read.
        deleted_at: Timestamp,
    },
    /// Erase what the store keeps about an account besides its row (the retention policy of
    /// deleted accounts): its codes, sessions and spent refresh tokens, notifications,
    /// second factors, passkeys, recovery codes and ceremonies, address changes, and mail
    /// queued to `email`;
    /// and in its audit entries (kept, under the same `user_id`) the IP address, user agent,
    /// device, location and fingerprint, and the metadata members `name` (a factor's label,
    /// in `mfa.*` entries) and `fingerprint` (in entries that had a fingerprint). Applies to
    /// entries appended earlier in the same commit too. Idempotent: run again (with `email`
    /// `None`, the address being gone) it scrubs entries written after the first run by
    /// requests that had read the account before it was erased.
    EraseAccountData {
        /// The account.
        user_id: UserId,
        /// Its address, for the queued mail; `None` to leave the outbox alone.
        email: Option<Email>,
    },
    /// Move an account to another address: set `email` to `to`, and `email_verified_at` and
    /// `updated_at` to `at` (a mailed code or link proved `to`). Guarded: MUST fail the
    /// commit with [`StoreError::Conflict`] unless the row exists, is not deleted and has
    /// exactly the address `from` (so of two changes racing on one account one commits),
    /// and also when another account (deleted or not) has `to` (so of two accounts racing
    /// to one address exactly one commits, on every instance: the unique index decides).
    ChangeEmail {
        /// The account.
        user_id: UserId,
        /// Its address as read.
        from: Email,
        /// The new address.
        to: Email,
        /// When.
        at: Timestamp,
    },
    /// Record a requested address change (pending), deleting the account's other pending
    /// (unconfirmed) changes first: the newest request is the one its code confirms.
    StartEmailChange(EmailChange),
    /// Mark a pending address change confirmed, with its revert link. Guarded: MUST fail the
    /// commit with [`StoreError::Conflict`] unless the change exists and is unconfirmed.
    /// Goes with the [`Change::ChangeEmail`] that switches the address.
    ConfirmEmailChange {
        /// The change.
        id: EmailChangeId,
        /// Keyed digest of the revert link's token.
        revert_digest: SecretDigest,
        /// When the link stops working.
        revert_expires_at: Timestamp,
        /// When.
        at: Timestamp,
    },
    /// Mark a confirmed address change reverted (`reverted_at`). Guarded: MUST fail the
    /// commit with [`StoreError::Conflict`] unless the change exists, belongs to `user_id`,
    /// is confirmed, not reverted, and its link still works at `at` (`revert_expires_at`
    /// after `at`), so the link works once, and a link another reversal ended a moment ago
    /// cannot commit. Also, for the same account, MUST end the revert
    /// links of changes confirmed after this one (`revert_expires_at` = `at`: whoever made
    /// them cannot undo the reversal with their own link) and delete pending changes. Goes
    /// with the [`Change::ChangeEmail`] back to the old address.
    RevertEmailChange {
        /// The change.
        id: EmailChangeId,
        /// Its account.
        user_id: UserId,
        /// When.
        at: Timestamp,
    },
    /// Mark every unconsumed code of the user consumed at `at`, whatever its purpose
    /// (second-step challenges included): codes mailed to an address the account no longer
    /// has must not sign in to it or reset its password. Not guarded.
    DiscardCodes {
        /// The user.
        user_id: UserId,
        /// When.
        at: Timestamp,
    },
    /// Restore a soft-deleted account: clear `deleted_at` (and set `updated_at`). Guarded:
    /// MUST fail the commit with [`StoreError::Conflict`] unless the row exists with exactly
    /// this `deleted_at`, so a restore that read the account before a purge erased it fails
    /// rather than answer for an account that is gone.
    RestoreUser {
        /// The account.
        user_id: UserId,
        /// Its `deleted_at` as read.
        deleted_at: Timestamp,
        /// When.
        at: Timestamp,
    },
    /// Replace a user's roles (and `updated_at`).
    SetRoles {
        /// The user.
        user_id: UserId,
        /// The new roles.
        roles: Roles,
        /// When.
        at: Timestamp,
    },
    /// Change a user's profile: only the given fields, plus `updated_at` (a no-op for an
    /// absent user).
    UpdateProfile {
        /// The user.
        user_id: UserId,
        /// The new display name, if it changes.
        name: Option<UserName>,
        /// The new avatar URL if it changes: `Some(None)` clears it.
        profile_picture: Option<Option<String>>,
        /// When.
        at: Timestamp,
    },
    /// Append an audit entry; the store numbers it, and [`Committed::audit_id`] tells the
    /// number by the index of this change.
    AppendAudit(NewAuditEntry),
    /// Insert an in-app notification.
    InsertNotification(Notification),
    /// Queue a mail for the delivery worker.
    EnqueueMail(OutgoingMail),
    /// Forget the counted failures of a rate key (see [`RateLimiter::reserve_attempt`]):
    /// proof of control of the account (a successful login, a password reset, a verified
    /// address) lifts its lockout. Only events at or before `at` that count at `at` go:
    /// failures from `at` on, and reservations still pending at `at` (their attempts are still
    /// being checked, and count from when they fail), stay.
    ClearFailures {
        /// The rate key, e.g. `login:laura@example.com`.
        key: String,
        /// When.
        at: Timestamp,
    },
    /// Un-count a permitted event or drop a reservation, as [`RateLimiter::release`] does,
    /// but as part of the commit: a login whose password was right gives its reservation
    /// back in the transaction that starts its session, rather than in a round trip of its
    /// own. A no-op for an unknown permit.
    ReleasePermit(Permit),
    /// Insert a pending second factor.
    InsertFactor(Factor),
    /// Activate a pending factor and record the TOTP step of the code that confirmed it, so
    /// that code never signs in. Guarded: MUST fail the commit with [`StoreError::Conflict`]
    /// unless the factor exists and is still pending.
    ConfirmFactor {
        /// The factor.
        factor_id: FactorId,
        /// The step the confirming code matched.
        step: TotpStep,
        /// When.
        at: Timestamp,
    },
    /// Activate a pending factor that needs no code: a passkey, whose registration ceremony
    /// proved the key. Guarded like [`Change::ConfirmFactor`]: MUST fail the commit with
    /// [`StoreError::Conflict`] unless the factor exists and is still pending. A passkey's
    /// factor row is inserted pending in a commit of its own first, so that its activation,
    /// like a TOTP confirmation, is ordered with a concurrent [`Change::ExpectNoSecondFactor`]
    /// and [`Change::DeleteFactor`] of the user (they lock the user's existing factor rows).
    ActivateFactor {
        /// The factor.
        factor_id: FactorId,
        /// When.
        at: Timestamp,
    },
    /// Record a sign-in with an active factor: set its last step to `step` and its
    /// `last_used_at` to `at`. Guarded (the replay rule of RFC 6238 §5.2): MUST fail the
    /// commit with [`StoreError::Conflict`] unless the factor exists, is active, and its last
    /// step is below `step`, so of racing uses of one code exactly one commits.
    UseTotpStep {
        /// The factor.
        factor_id: FactorId,
        /// The step the code matched.
        step: TotpStep,
        /// When.
        at: Timestamp,
    },
    /// Delete one factor of `user_id` (a no-op when absent); when the user is left with no
    /// active factor, delete their recovery codes too. MUST decide "no active factor left"
    /// after any concurrent deletion of the user's other factors has committed, so two
    /// factors removed at once never leave recovery codes behind.
    DeleteFactor {
        /// The owner.
        user_id: UserId,
        /// The factor.
        factor_id: FactorId,
    },
    /// Delete every factor (pending ones included) and every recovery code of a user.
    DeleteUserFactors {
        /// The user.
        user_id: UserId,
    },
    /// Replace all of a user's recovery codes (used ones included) by fresh ones.
    ReplaceRecoveryCodes {
        /// The user.
        user_id: UserId,
        /// Keyed digests of the new codes.
        digests: Vec<SecretDigest>,
        /// When they were made.
        at: Timestamp,
    },
    /// Use up a recovery code: set its `used_at`. Guarded: MUST fail the commit with
    /// [`StoreError::Conflict`] unless `user_id` holds an unused code with this digest, so a
    /// code works once however many requests race for it.
    SpendRecoveryCode {
        /// The user.
        user_id: UserId,
        /// Keyed digest of the code.
        digest: SecretDigest,
        /// When.
        at: Timestamp,
    },
    /// Check, inside the commit, that `user_id` has no active second factor: a password-only
    /// sign-in carries it, so a factor activated between its read and its commit still
    /// stops it. Guarded: MUST fail the commit with [`StoreError::Conflict`] when the user has
    /// an active factor, and MUST be ordered with a concurrent [`Change::ConfirmFactor`] of
    /// the user: either this check sees the factor active, or the confirmation's commit
    /// (and its [`Change::RevokeUserSessions`]) sees this commit. Changes no data.
    ExpectNoSecondFactor {
        /// The user.
        user_id: UserId,
    },
    /// Keep a started WebAuthn ceremony until its response comes (or it expires).
    InsertCeremony(StoredCeremony),
    /// Insert the credential of a `webauthn` factor inserted earlier in the same commit.
    /// Guarded: MUST fail the commit with [`StoreError::Conflict`] when any account already
    /// has a passkey with this credential id.
    InsertPasskey(Passkey),
    /// Record a sign-in with a passkey: its new counter, credential record and backup
    /// state, and the factor's `last_used_at`. Guarded: MUST fail the commit with
    /// [`StoreError::Conflict`] unless the passkey is enabled and its counter is still
    /// `seen_count`, so of racing assertions that moved one counter on, one commits (an
    /// authenticator without a counter stays at 0, and then each passes: each response is
    /// single use by its ceremony, not by this guard).
    UsePasskey {
        /// The factor.
        factor_id: FactorId,
        /// The counter the assertion was checked against.
        seen_count: u32,
        /// The counter it reported.
        sign_count: u32,
        /// The engine's updated record.
        credential: PasskeyCredential,
        /// Synced, as the assertion reported.
        backed_up: bool,
        /// When.
        at: Timestamp,
    },
    /// Disable a passkey whose counter went backwards (a no-op when already disabled).
    DisablePasskey {
        /// The factor.
        factor_id: FactorId,
        /// When.
        at: Timestamp,
    },
}

/// What a [`UnitOfWork::commit`] produced, looked up by the change that produced it, so a
/// caller never depends on how many changes of a kind came before.
///
/// ```
/// use portcullis_domain::ports::Committed;
/// let mut done = Committed::default();
/// done.record_audit_id(2, 41);
/// assert_eq!(done.audit_id(2), Some(41));
/// assert_eq!(done.audit_id(0), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// `(index of the change, id)` of each appended audit entry.
    audit_ids: Vec<(usize, i64)>,
}

impl Committed {
    /// The id the store gave the entry that `changes[change]` ([`Change::AppendAudit`])
    /// appended; `None` when that change appended none.
    pub fn audit_id(&self, change: usize) -> Option<i64> {
        self.audit_ids.iter().find(|(index, _)| *index == change).map(|(_, id)| *id)
    }

    /// For stores: records that `changes[change]` appended the entry numbered `id`.
    pub fn record_audit_id(&mut self, change: usize, id: i64) {
        self.audit_ids.push((change, id));
    }
}

/// Writes several changes atomically.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait UnitOfWork: Send + Sync + 'static {
    /// Applies every change in order in one transaction, or none of them.
    ///
    /// # Errors
    /// MUST return [`StoreError::DuplicateEmail`] / [`StoreError::Conflict`] as documented on
    /// [`Change`], with nothing applied.
    async fn commit(&self, changes: Vec<Change>) -> Result<Committed, StoreError>;
}

/// Reads users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait UserRepository: Send + Sync + 'static {
    /// The account with this normalised email, soft-deleted ones included.
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// The account with this id, soft-deleted ones included.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// A page of accounts matching `query`, oldest first (`created_at`, ties by id), with
    /// the total count of matches.
    ///
    /// # Errors
    /// MUST match `query.text` as a case-insensitive substring of the email or the name, with
    /// `%`, `_` and `\` taken literally. [`crate::model::UserStatusFilter::Status`] selects
    /// accounts that are not deleted.
    async fn search_users(&self, query: UserQuery) -> Result<Page<User>, StoreError>;
    /// Up to `limit` accounts soft-deleted before `before`, longest deleted first (ties by
    /// id): the purge job's candidates.
    async fn deleted_before(&self, before: Timestamp, limit: u32) -> Result<Vec<User>, StoreError>;
}

/// Reads and counts tries on one-time codes, and reads address changes (whose first step is
/// such a code).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait CodeRepository: Send + Sync + 'static {
    /// The newest unconsumed code of this user and purpose, expired or not.
    async fn active_code(&self, user_id: UserId, purpose: CodePurpose) -> Result<Option<StoredCode>, StoreError>;
    /// Atomically counts one try: increments `attempts` if the code is unconsumed and has
    /// fewer than `max_attempts`, and returns the new count.
    ///
    /// # Errors
    /// MUST return `Ok(None)`, changing nothing, when the code is consumed, absent or out of tries,
    /// even when many callers race (at most `max_attempts` calls ever get `Some`).
    async fn count_code_attempt(&self, id: CodeId, max_attempts: u32) -> Result<Option<u32>, StoreError>;
    /// Every address change of the account, pending, confirmed and reverted, newest first
    /// (`created_at` descending, ties by id descending). [`Change::StartEmailChange`] keeps
    /// at most one pending, so the first unconfirmed one is the pending change.
    async fn email_changes(&self, user_id: UserId) -> Result<Vec<EmailChange>, StoreError>;
    /// The confirmed address change whose revert link's token has this digest (reverted,
    /// expired or not).
    async fn email_change_by_revert(&self, digest: SecretDigest) -> Result<Option<EmailChange>, StoreError>;
    /// Whether `email` is the old address of a change whose revert link works at `now`
    /// ([`EmailChange::revertible`]): such an address is kept for its owner's reversal.
    async fn email_reserved_for_revert(&self, email: &Email, now: Timestamp) -> Result<bool, StoreError>;
}

/// Reads sessions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait SessionRepository: Send + Sync + 'static {
    /// The session and its owner, in one lookup (this runs on every authenticated request).
    async fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError>;
    /// The user's live sessions (not revoked, `expires_at` after `now`), newest first
    /// (`created_at` descending, ties by id descending).
    async fn live_sessions(&self, user_id: UserId, now: Timestamp) -> Result<Vec<Session>, StoreError>;
    /// Every stored session of the user, live and ended (until the housekeeping round
    /// purges them), newest first (`created_at` descending, ties by id descending): the
    /// data export's list.
    async fn all_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError>;
    /// The session (revoked or not) whose current or spent refresh token has this digest,
    /// its owner, and which of the two the digest is.
    async fn session_by_refresh(&self, digest: SecretDigest)
    -> Result<Option<(Session, User, RefreshHit)>, StoreError>;
    /// The session (revoked or not) whose alert token has this digest, and its owner.
    async fn session_by_alert(&self, digest: SecretDigest) -> Result<Option<(Session, User)>, StoreError>;
    /// Deletes sessions that ended (expired or were revoked) before `before`, with their
    /// spent refresh tokens (housekeeping); returns how many sessions went.
    ///
    /// # Errors
    /// MUST keep every session that is live or ended at or after `before`.
    async fn purge_ended_sessions(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// Reads the audit log.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait AuditRepository: Send + Sync + 'static {
    /// A user's entries whose action is one of `actions`, newest first, ties broken by id
    /// descending, with the total count of matching entries.
    async fn audit_page(
        &self,
        user_id: UserId,
        actions: Vec<AuditAction>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError>;
    /// Entries of the whole log matching `query` (`from` inclusive, `to` exclusive), newest
    /// first, ties broken by id descending, with the total count of matches.
    async fn search_audit(&self, query: AuditQuery) -> Result<Page<AuditEntry>, StoreError>;
}

/// Reads and marks a user's in-app notifications.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait NotificationRepository: Send + Sync + 'static {
    /// A page of `user_id`'s notifications, newest first, ties broken by id descending; only
    /// unread ones when `unread_only`.
    ///
    /// # Errors
    /// MUST count in `total_count` every notification the filter selects (across all pages)
    /// and in `unread_count` every unread notification of the user, whatever the filter, both
    /// from the same snapshot as the items.
    async fn notifications_page(
        &self,
        user_id: UserId,
        unread_only: bool,
        limit: u32,
        offset: u64,
    ) -> Result<NotificationPage, StoreError>;
    /// Sets `read_at` of one of `user_id`'s notifications.
    ///
    /// # Errors
    /// MUST return `Ok(false)`, changing nothing, when the id does not exist or belongs to
    /// another user (the two are indistinguishable to the caller). MUST keep the first
    /// `read_at` of a notification already read, and still return `Ok(true)`.
    async fn mark_notification_read(
        &self,
        user_id: UserId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Sets `read_at` of every unread notification of `user_id`; returns how many changed.
    ///
    /// # Errors
    /// MUST touch no other user's notifications and no `read_at` already set.
    async fn mark_all_notifications_read(&self, user_id: UserId, at: Timestamp) -> Result<u64, StoreError>;
}

/// Reads second factors, recovery codes and second-factor challenges.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait FactorRepository: Send + Sync + 'static {
    /// A user's factors, pending ones included, oldest first (`created_at`, ties by id).
    async fn factors(&self, user_id: UserId) -> Result<Vec<Factor>, StoreError>;
    /// A user's recovery codes, used ones included, in no particular order.
    async fn recovery_codes(&self, user_id: UserId) -> Result<Vec<StoredRecoveryCode>, StoreError>;
    /// The [`CodePurpose::MfaChallenge`] code with this digest, consumed or expired or not.
    async fn mfa_challenge(&self, digest: SecretDigest) -> Result<Option<StoredCode>, StoreError>;
    /// Deletes pending factors created before `before` (housekeeping); returns how many went.
    ///
    /// # Errors
    /// MUST keep every active factor, and pending ones created at or after `before`.
    async fn purge_pending_factors(&self, before: Timestamp) -> Result<u64, StoreError>;
    /// A user's passkeys, disabled ones included, oldest first.
    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, StoreError>;
    /// The passkey with this credential id, whoever owns it.
    async fn passkey(&self, credential_id: CredentialId) -> Result<Option<Passkey>, StoreError>;
    /// Removes the ceremony with this digest and returns it, unless it expired by `now`.
    ///
    /// # Errors
    /// MUST hand a ceremony out at most once, however many callers race for it on however
    /// many instances; an expired one is removed and never returned.
    async fn take_ceremony(&self, digest: SecretDigest, now: Timestamp) -> Result<Option<StoredCeremony>, StoreError>;
    /// Deletes ceremonies that expired before `before` (housekeeping); returns how many went.
    async fn purge_expired_ceremonies(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// A sliding-window limit: at most `max` events within `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateRule {
    /// Window length.
    pub window: Duration,
    /// Events allowed inside one window.
    pub max: u32,
}

/// Proof that an event was counted; [`RateLimiter::release`] un-counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permit(pub i64);

/// The answer of [`RateLimiter::acquire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    /// Counted; the permit can be released if the event turns out not to count.
    Allowed(Permit),
    /// Over a limit; nothing was counted.
    Limited {
        /// Time until the oldest event in the full window leaves it (at least one second);
        /// with several full rules, the longest of their waits. An event exactly one window
        /// old is outside the window.
        retry_after: Duration,
    },
}

/// The answer of [`RateLimiter::reserve_attempt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptDecision {
    /// Room was reserved for one attempt whose outcome is not known yet. Resolve it with
    /// [`RateLimiter::release`] (it did not fail) or [`RateLimiter::confirm_failure`].
    Reserved(Permit),
    /// Counted failures fill a window; nothing was reserved.
    Limited {
        /// Time until the failure that takes the count back under the maximum leaves the
        /// window (at least one second); with several full rules, the longest wait.
        retry_after: Duration,
    },
    /// The room left is held by attempts still being checked: whether there is room depends
    /// on how they end. Nothing was reserved; ask again shortly.
    Busy,
}

/// Sliding-window counters kept in the store, so they survive restarts and are shared by
/// every instance.
///
/// Two kinds of key share it. Plain keys ([`RateLimiter::acquire`]) count every event at
/// once. Attempt keys ([`RateLimiter::reserve_attempt`]) count failures only: an attempt
/// holds a *reservation* while it is checked, and only one that then fails counts, so N
/// parallel right passwords are never refused as "too many failures" while N parallel wrong
/// ones still run at most `max` checks.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one event for `key` at `now` if every rule still has room.
    ///
    /// # Errors
    /// MUST be atomic per key: of N concurrent callers with room for k, exactly k are allowed.
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError>;
    /// Un-counts a permitted event or drops a reservation (for example a login whose
    /// password was right).
    async fn release(&self, permit: Permit) -> Result<(), StoreError>;
    /// Reserves room for one attempt on `key` at `now`, under `rules` that count failures.
    ///
    /// Per rule, with F counted failures and R unexpired reservations inside the window:
    /// F >= max is [`AttemptDecision::Limited`] (the wait counted from failures alone),
    /// else F + R >= max is [`AttemptDecision::Busy`], else a reservation is recorded,
    /// expiring at `now + hold`. A reservation past its expiry counts as a failure (its
    /// checker died before saying how the attempt ended: fail closed).
    ///
    /// While the answer would be `Busy`, the store waits a little (holding no connection or
    /// lock; the attempts it waits for take a password hash, some milliseconds) and asks
    /// again, for up to `patience` in all, with `now` moved on by the time waited; it answers
    /// `Busy` only when that runs out. The store, not the use case, waits, because it is the
    /// part that has a timer.
    ///
    /// # Errors
    /// MUST be atomic per key across every instance: of N concurrent callers with room for
    /// k, exactly k get a reservation.
    async fn reserve_attempt(
        &self,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
        hold: Duration,
        patience: Duration,
    ) -> Result<AttemptDecision, StoreError>;
    /// Turns a reservation into a failure counted from `at`, when the attempt failed (so a
    /// [`Change::ClearFailures`] committed meanwhile with an earlier `at` keeps it). A no-op
    /// for an unknown permit.
    async fn confirm_failure(&self, permit: Permit, at: Timestamp) -> Result<(), StoreError>;
    /// Deletes events older than `before` (housekeeping).
    async fn purge_rate_events(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// A limit's decision and the account it is for, in one call.
///
/// A login needs both before it can check a password: room under the account's
/// failed-attempt limit ([`RateLimiter::reserve_attempt`]) and the account's hash
/// ([`UserRepository::user_by_email`]). A registration or a resent code needs the
/// address's mail allowance ([`RateLimiter::acquire`]) and its account, if any. The
/// provided methods make those two calls; a store that can answer both at once overrides
/// them (the diesel store: one statement on PostgreSQL, one transaction on SQLite). A store
/// opts in with an empty `impl PasswordAttempts for MyStore {}`, which is always correct,
/// because the provided methods only call the store's own two ports: in a
/// [`ComposedStore`](super::ComposedStore) they reach whichever adapters fill those slots.
pub trait PasswordAttempts: RateLimiter + UserRepository {
    /// [`RateLimiter::reserve_attempt`] on `key`, then the account of `email`.
    ///
    /// # Errors
    /// MUST decide the reservation exactly as `reserve_attempt` does (atomic per key across
    /// every instance), and MUST return the account of `email` as `user_by_email` would
    /// when the answer is `Reserved` or `Limited` (a refused login is audited on it). With
    /// `Busy` nothing will be checked, and the account may be left unread (`None`). When the
    /// account cannot be read after a reservation was made, SHOULD release the reservation
    /// before returning the error: no password was checked, so it must not count.
    fn reserve_attempt_reading_user(
        &self,
        email: &Email,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
        hold: Duration,
        patience: Duration,
    ) -> impl Future<Output = Result<(AttemptDecision, Option<User>), StoreError>> + Send {
        async move {
            let decision = self.reserve_attempt(key, rules, now, hold, patience).await?;
            let user = match decision {
                AttemptDecision::Busy => None,
                AttemptDecision::Reserved(permit) => match self.user_by_email(email).await {
                    Ok(user) => user,
                    Err(e) => {
                        // Best effort: should this fail too, the reservation expires into one
                        // counted failure (fail closed).
                        let _ = self.release(permit).await;
                        return Err(e);
                    }
                },
                AttemptDecision::Limited { .. } => self.user_by_email(email).await?,
            };
            Ok((decision, user))
        }
    }

    /// [`RateLimiter::acquire`] on `key`, then the account of `email`, whatever the decision.
    ///
    /// # Errors
    /// MUST decide exactly as `acquire` does (atomic per key across every instance), and
    /// MUST return the account of `email` as `user_by_email` would, allowed or limited (a
    /// registration inserts the account in both cases when there is none). When the account
    /// cannot be read after the call was allowed, SHOULD release the permit before returning
    /// the error: the caller fails, so nothing the allowance stands for happens.
    fn acquire_reading_user(
        &self,
        email: &Email,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(RateDecision, Option<User>), StoreError>> + Send {
        async move {
            let decision = self.acquire(key, rules, now).await?;
            match self.user_by_email(email).await {
                Ok(user) => Ok((decision, user)),
                Err(e) => {
                    if let RateDecision::Allowed(permit) = decision {
                        // Best effort: should this fail too, the allowance stays used.
                        let _ = self.release(permit).await;
                    }
                    Err(e)
                }
            }
        }
    }
}

/// The durable mail queue, drained by a background worker.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait MailOutbox: Send + Sync + 'static {
    /// Leases up to `limit` due messages for `lease`; a leased message is not handed out again
    /// until the lease ends, so several workers never send the same message at once. Failed
    /// (abandoned) messages are never claimed.
    async fn claim_mail(&self, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<OutgoingMail>, StoreError>;
    /// Removes a delivered message (its body may hold a code).
    async fn mail_sent(&self, id: MailId) -> Result<(), StoreError>;
    /// Records a failed try and when to try again.
    async fn mail_failed(&self, id: MailId, next_attempt_at: Timestamp) -> Result<(), StoreError>;
    /// Records a last failed try and gives the message up: it stays in the outbox, marked
    /// failed at `at`, for operators to inspect (and count, see [`MailOutbox::outbox_failed_count`]).
    ///
    /// # Errors
    /// MUST keep the row and set its `failed_at`, and MUST never hand the message out from
    /// [`MailOutbox::claim_mail`] again. The try is counted in `attempts`. A no-op for an
    /// unknown id.
    async fn mail_abandoned(&self, id: MailId, at: Timestamp) -> Result<(), StoreError>;
    /// Messages waiting for delivery (due, leased or not), failed ones excluded.
    async fn outbox_depth(&self) -> Result<u64, StoreError>;
    /// Messages given up on and kept, marked failed.
    async fn outbox_failed_count(&self) -> Result<u64, StoreError>;
}

/// Reachability, for readiness probes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait StoreHealth: Send + Sync + 'static {
    /// Succeeds when the store answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Everything the use cases need from persistence.
pub trait Store:
    UnitOfWork
    + UserRepository
    + CodeRepository
    + SessionRepository
    + AuditRepository
    + NotificationRepository
    + FactorRepository
    + RateLimiter
    + PasswordAttempts
    + MailOutbox
    + StoreHealth
{
}

impl<T> Store for T where
    T: UnitOfWork
        + UserRepository
        + CodeRepository
        + SessionRepository
        + AuditRepository
        + NotificationRepository
        + FactorRepository
        + RateLimiter
        + PasswordAttempts
        + MailOutbox
        + StoreHealth
{
}
