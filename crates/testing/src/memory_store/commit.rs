//! `UnitOfWork::commit`: apply every change to a copy of the tables, publish the copy only
//! when all of them succeeded. That is the all-or-nothing of a SQL transaction.

use portcullis_domain::model::{
    AuditEntry, Device, Email, EmailChangeId, NewAuditEntry, StoredRecoveryCode, Timestamp, UserId,
};
use portcullis_domain::ports::{Change, Committed, StoreError, UnitOfWork};

use super::{InMemoryStore, QueuedMail, SpentRefresh, State};

/// What a SQL store reports for a broken primary or foreign key.
fn constraint(what: &str) -> StoreError {
    StoreError::Other(format!("constraint violated: {what}").into())
}

impl State {
    /// Applies one change; the caller throws the whole copy away on error.
    pub(crate) fn apply(&mut self, change: Change) -> Result<Option<i64>, StoreError> {
        match change {
            Change::InsertUser(user) => {
                // The unique index is on the normalised email, soft-deleted rows included.
                if self.users.iter().any(|u| u.email == user.email) {
                    return Err(StoreError::DuplicateEmail);
                }
                if self.users.iter().any(|u| u.id == user.id) {
                    return Err(constraint("users primary key"));
                }
                self.users.push(user);
            }
            Change::ReplaceCode(code) => {
                if !self.users.iter().any(|u| u.id == code.user_id) {
                    return Err(constraint("codes.user_id references users"));
                }
                if self.codes.iter().any(|c| c.id == code.id) {
                    return Err(constraint("codes primary key"));
                }
                self.codes
                    .retain(|c| c.user_id != code.user_id || c.purpose != code.purpose || c.consumed_at.is_some());
                self.codes.push(code);
            }
            Change::ConsumeCode { id, at } => {
                let code = self.codes.iter_mut().find(|c| c.id == id && c.consumed_at.is_none());
                code.ok_or(StoreError::Conflict)?.consumed_at = Some(at);
            }
            Change::DiscardCodes { user_id, at } => {
                for code in self.codes.iter_mut().filter(|c| c.user_id == user_id && c.consumed_at.is_none()) {
                    code.consumed_at = Some(at);
                }
            }
            Change::MarkEmailVerified { user_id, at } => {
                // An UPDATE that matches no row changes nothing and is no error.
                if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id) {
                    user.email_verified_at = Some(at);
                    user.updated_at = at;
                }
            }
            Change::InsertSession(session) => {
                if !self.users.iter().any(|u| u.id == session.user_id) {
                    return Err(constraint("sessions.user_id references users"));
                }
                if self.sessions.iter().any(|s| s.id == session.id) {
                    return Err(constraint("sessions primary key"));
                }
                self.sessions.push(session);
            }
            Change::SetAlertToken { session_id, digest, expires_at } => {
                if let Some(session) = self.sessions.iter_mut().find(|s| s.id == session_id) {
                    session.alert_token_hash = Some(digest);
                    session.alert_expires_at = Some(expires_at);
                }
            }
            Change::ConsumeAlertToken { session_id, digest } => {
                let session = self.sessions.iter_mut().find(|s| {
                    s.id == session_id && s.alert_token_hash.as_ref().is_some_and(|d| d.as_bytes() == digest.as_bytes())
                });
                let session = session.ok_or(StoreError::Conflict)?;
                session.alert_token_hash = None;
                session.alert_expires_at = None;
            }
            Change::RotateRefreshToken { session_id, current, next, successor, at } => {
                let session = self.sessions.iter_mut().find(|s| {
                    s.id == session_id
                        && s.revoked_at.is_none()
                        && s.refresh_token_hash.as_bytes() == current.as_bytes()
                });
                session.ok_or(StoreError::Conflict)?.refresh_token_hash = next;
                if self.spent_refresh.iter().any(|r| r.digest.as_bytes() == current.as_bytes()) {
                    return Err(constraint("spent_refresh_tokens primary key"));
                }
                self.spent_refresh.push(SpentRefresh { digest: current, session_id, spent_at: at, successor });
            }
            Change::RevokeUserSessions { user_id, except, at } => {
                for session in self.sessions.iter_mut() {
                    if session.user_id == user_id && session.revoked_at.is_none() && Some(session.id) != except {
                        session.revoked_at = Some(at);
                    }
                }
            }
            Change::SetPassword { user_id, hash, at } => {
                if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id) {
                    user.password_hash = hash;
                    user.updated_at = at;
                }
            }
            Change::RehashPassword { user_id, previous, hash, at } => {
                if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id && u.password_hash == previous) {
                    user.password_hash = hash;
                    user.updated_at = at;
                }
            }
            Change::SetStatus { user_id, status, at } => {
                if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id) {
                    user.status = status;
                    user.updated_at = at;
                }
            }
            Change::SetDeleted { user_id, deleted_at, at } => {
                if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id) {
                    user.deleted_at = deleted_at;
                    user.updated_at = at;
                }
            }
            Change::DeleteUser { user_id, deleted_at } => {
                let before = self.users.len();
                self.users.retain(|u| !(u.id == user_id && u.deleted_at == Some(deleted_at)));
                if self.users.len() == before {
                    return Err(StoreError::Conflict);
                }
            }
            Change::EraseAccountData { user_id, email } => self.erase_account_data(user_id, email.as_ref()),
            Change::RestoreUser { user_id, deleted_at, at } => {
                let user = self.users.iter_mut().find(|u| u.id == user_id && u.deleted_at == Some(deleted_at));
                let user = user.ok_or(StoreError::Conflict)?;
                user.deleted_at = None;
                user.updated_at = at;
            }
            Change::ChangeEmail { user_id, from, to, at } => self.change_email(user_id, &from, to, at)?,
            Change::StartEmailChange(change) => {
                if !self.users.iter().any(|u| u.id == change.user_id) {
                    return Err(constraint("email_changes.user_id references users"));
                }
                if self.email_changes.iter().any(|c| c.id == change.id) {
                    return Err(constraint("email_changes primary key"));
                }
                self.email_changes.retain(|c| c.user_id != change.user_id || c.confirmed_at.is_some());
                self.email_changes.push(change);
            }
            Change::ConfirmEmailChange { id, revert_digest, revert_expires_at, at } => {
                let pending = self.email_changes.iter().position(|c| c.id == id && c.confirmed_at.is_none());
                let pending = pending.ok_or(StoreError::Conflict)?;
                if self.email_changes.iter().any(|c| c.revert_digest.as_ref() == Some(&revert_digest)) {
                    return Err(constraint("email_changes revert_token_hash unique"));
                }
                let change = &mut self.email_changes[pending];
                change.confirmed_at = Some(at);
                change.revert_digest = Some(revert_digest);
                change.revert_expires_at = Some(revert_expires_at);
            }
            Change::RevertEmailChange { id, user_id, at } => self.revert_email_change(id, user_id, at)?,
            Change::SetRoles { user_id, roles, at } => {
                if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id) {
                    user.roles = roles;
                    user.updated_at = at;
                }
            }
            Change::RevokeSession { session_id, at } => {
                if let Some(session) = self.sessions.iter_mut().find(|s| s.id == session_id && s.revoked_at.is_none()) {
                    session.revoked_at = Some(at);
                }
            }
            Change::TouchSession { session_id, at } => {
                // Guarded like the SQL update: only forward.
                if let Some(session) = self.sessions.iter_mut().find(|s| s.id == session_id && s.last_seen_at < at) {
                    session.last_seen_at = at;
                }
            }
            Change::UpdateProfile { user_id, name, profile_picture, at } => {
                if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id) {
                    if let Some(name) = name {
                        user.name = name;
                    }
                    if let Some(picture) = profile_picture {
                        user.profile_picture = picture;
                    }
                    user.updated_at = at;
                }
            }
            Change::AppendAudit(entry) => {
                self.next_audit_id += 1;
                let id = self.next_audit_id;
                let stored = stored_entry(id, entry);
                self.queue_webhooks(&stored);
                self.audit.push(stored);
                return Ok(Some(id));
            }
            Change::InsertNotification(notification) => {
                if !self.users.iter().any(|u| u.id == notification.user_id) {
                    return Err(constraint("notifications.user_id references users"));
                }
                if self.notifications.iter().any(|n| n.id == notification.id) {
                    return Err(constraint("notifications primary key"));
                }
                self.notifications.push(notification);
            }
            Change::EnqueueMail(mail) => {
                if self.mails.iter().any(|q| q.mail.id == mail.id) {
                    return Err(constraint("mail_outbox primary key"));
                }
                self.mails.push(QueuedMail { mail, leased_until: None, failed_at: None });
            }
            Change::ClearFailures { key, at } => {
                self.rate_events.retain(|e| e.key != key || e.at > at || e.pending_at(at));
            }
            Change::ReleasePermit(permit) => self.rate_events.retain(|e| e.id != permit.0),
            Change::InsertCode(code) => {
                if !self.users.iter().any(|u| u.id == code.user_id) {
                    return Err(constraint("codes.user_id references users"));
                }
                if self.codes.iter().any(|c| c.id == code.id) {
                    return Err(constraint("codes primary key"));
                }
                self.codes.push(code);
            }
            Change::InsertFactor(factor) => {
                if !self.users.iter().any(|u| u.id == factor.user_id) {
                    return Err(constraint("mfa_factors.user_id references users"));
                }
                if self.factors.iter().any(|f| f.id == factor.id) {
                    return Err(constraint("mfa_factors primary key"));
                }
                self.factors.push(factor);
            }
            Change::ConfirmFactor { factor_id, step, at } => {
                let factor = self.factors.iter_mut().find(|f| f.id == factor_id && f.confirmed_at.is_none());
                let factor = factor.ok_or(StoreError::Conflict)?;
                factor.confirmed_at = Some(at);
                factor.last_used_step = Some(step);
            }
            Change::ActivateFactor { factor_id, at } => {
                let factor = self.factors.iter_mut().find(|f| f.id == factor_id && f.confirmed_at.is_none());
                factor.ok_or(StoreError::Conflict)?.confirmed_at = Some(at);
            }
            Change::UseTotpStep { factor_id, step, at } => {
                let factor = self.factors.iter_mut().find(|f| {
                    f.id == factor_id && f.confirmed_at.is_some() && f.last_used_step.is_none_or(|last| last < step)
                });
                let factor = factor.ok_or(StoreError::Conflict)?;
                factor.last_used_step = Some(step);
                factor.last_used_at = Some(at);
            }
            Change::DeleteFactor { user_id, factor_id } => {
                self.factors.retain(|f| f.id != factor_id || f.user_id != user_id);
                self.drop_orphan_passkeys();
                if !self.factors.iter().any(|f| f.user_id == user_id && f.is_active()) {
                    self.recovery_codes.retain(|(owner, _)| *owner != user_id);
                }
            }
            Change::DeleteUserFactors { user_id } => {
                self.factors.retain(|f| f.user_id != user_id);
                self.drop_orphan_passkeys();
                self.recovery_codes.retain(|(owner, _)| *owner != user_id);
            }
            Change::ReplaceRecoveryCodes { user_id, digests, at: _ } => {
                if !self.users.iter().any(|u| u.id == user_id) {
                    return Err(constraint("recovery_codes.user_id references users"));
                }
                self.recovery_codes.retain(|(owner, _)| *owner != user_id);
                for digest in digests {
                    if self.recovery_codes.iter().any(|(owner, c)| *owner == user_id && c.digest == digest) {
                        return Err(constraint("recovery_codes primary key"));
                    }
                    self.recovery_codes.push((user_id, StoredRecoveryCode { digest, used_at: None }));
                }
            }
            Change::SpendRecoveryCode { user_id, digest, at } => {
                let code = self
                    .recovery_codes
                    .iter_mut()
                    .find(|(owner, c)| *owner == user_id && c.used_at.is_none() && c.digest == digest);
                code.ok_or(StoreError::Conflict)?.1.used_at = Some(at);
            }
            Change::ExpectNoSecondFactor { user_id } => {
                if self.factors.iter().any(|f| f.user_id == user_id && f.is_active()) {
                    return Err(StoreError::Conflict);
                }
            }
            Change::InsertCeremony(ceremony) => {
                if ceremony.user_id.is_some_and(|id| !self.users.iter().any(|u| u.id == id)) {
                    return Err(constraint("webauthn_challenges.user_id references users"));
                }
                if self.ceremonies.iter().any(|c| c.digest == ceremony.digest) {
                    return Err(constraint("webauthn_challenges primary key"));
                }
                self.ceremonies.push(ceremony);
            }
            Change::InsertPasskey(passkey) => {
                if !self.factors.iter().any(|f| f.id == passkey.factor_id && f.user_id == passkey.user_id) {
                    return Err(constraint("passkeys.factor_id references mfa_factors"));
                }
                if self.passkeys.iter().any(|p| p.factor_id == passkey.factor_id) {
                    return Err(constraint("passkeys primary key"));
                }
                if self.passkeys.iter().any(|p| p.credential_id == passkey.credential_id) {
                    return Err(StoreError::Conflict);
                }
                self.passkeys.push(passkey);
            }
            Change::UsePasskey { factor_id, seen_count, sign_count, credential, backed_up, at } => {
                let passkey = self
                    .passkeys
                    .iter_mut()
                    .find(|p| p.factor_id == factor_id && p.disabled_at.is_none() && p.sign_count == seen_count);
                let passkey = passkey.ok_or(StoreError::Conflict)?;
                passkey.sign_count = sign_count;
                passkey.credential = credential;
                passkey.backed_up = backed_up;
                if let Some(factor) = self.factors.iter_mut().find(|f| f.id == factor_id) {
                    factor.last_used_at = Some(at);
                }
            }
            Change::DisablePasskey { factor_id, at } => {
                if let Some(passkey) = self.passkeys.iter_mut().find(|p| p.factor_id == factor_id) {
                    passkey.disabled_at.get_or_insert(at);
                }
            }
        }
        Ok(None)
    }

    /// A passkey goes with its factor (`ON DELETE CASCADE` in SQL).
    fn drop_orphan_passkeys(&mut self) {
        let factors = &self.factors;
        self.passkeys.retain(|p| factors.iter().any(|f| f.id == p.factor_id));
    }
}

/// The row an appended entry becomes.
fn stored_entry(id: i64, entry: NewAuditEntry) -> AuditEntry {
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

impl UnitOfWork for InMemoryStore {
    async fn commit(&self, changes: Vec<Change>) -> Result<Committed, StoreError> {
        self.enter_commit().await?;
        let mut state = self.lock();
        let mut draft = state.clone();
        let mut done = Committed::default();
        for (index, change) in changes.into_iter().enumerate() {
            if let Some(id) = draft.apply(change)? {
                done.record_audit_id(index, id);
            }
        }
        *state = draft;
        Ok(done)
    }
}

impl State {
    /// [`Change::EraseAccountData`]: the rows hanging off an account go, its audit entries
    /// stay without what identifies the client.
    fn erase_account_data(&mut self, user_id: UserId, email: Option<&Email>) {
        let sessions: Vec<_> = self.sessions.iter().filter(|s| s.user_id == user_id).map(|s| s.id).collect();
        self.spent_refresh.retain(|spent| !sessions.contains(&spent.session_id));
        self.sessions.retain(|s| s.user_id != user_id);
        self.codes.retain(|c| c.user_id != user_id);
        self.notifications.retain(|n| n.user_id != user_id);
        self.passkeys.retain(|p| p.user_id != user_id);
        self.recovery_codes.retain(|(owner, _)| *owner != user_id);
        self.factors.retain(|f| f.user_id != user_id);
        self.ceremonies.retain(|c| c.user_id != Some(user_id));
        self.email_changes.retain(|c| c.user_id != user_id);
        if let Some(email) = email {
            self.mails.retain(|m| m.mail.to != *email);
        }
        for entry in self.audit.iter_mut().filter(|e| e.user_id == Some(user_id)) {
            entry.ip_address = None;
            entry.user_agent = None;
            entry.device = Device::default();
            entry.location = None;
            entry.fingerprint = None;
            entry.metadata.remove("name");
            entry.metadata.remove("fingerprint");
        }
    }
}

impl State {
    /// [`Change::ChangeEmail`]: guarded on the live account still at `from`; an address any
    /// other account has (deleted or not) is a conflict, as the unique index makes it in SQL.
    fn change_email(&mut self, user_id: UserId, from: &Email, to: Email, at: Timestamp) -> Result<(), StoreError> {
        if self.users.iter().any(|u| u.id != user_id && u.email == to) {
            return Err(StoreError::Conflict);
        }
        let user = self.users.iter_mut().find(|u| u.id == user_id && u.email == *from && u.deleted_at.is_none());
        let user = user.ok_or(StoreError::Conflict)?;
        user.email = to;
        user.email_verified_at = Some(at);
        user.updated_at = at;
        Ok(())
    }

    /// [`Change::RevertEmailChange`]: guarded on a confirmed, unreverted change of the
    /// account whose link still works at `at`; then the links of the account's changes confirmed after it, in
    /// `(confirmed_at, id)` order, end at `at`, and its pending changes go.
    fn revert_email_change(&mut self, id: EmailChangeId, user_id: UserId, at: Timestamp) -> Result<(), StoreError> {
        let change = self
            .email_changes
            .iter_mut()
            .find(|c| c.id == id && c.user_id == user_id && c.reverted_at.is_none() && c.revertible(at));
        let change = change.ok_or(StoreError::Conflict)?;
        change.reverted_at = Some(at);
        let reverted = (change.confirmed_at, id);
        for later in self.email_changes.iter_mut().filter(|c| {
            c.user_id == user_id
                && c.reverted_at.is_none()
                && c.confirmed_at.is_some()
                && (c.confirmed_at, c.id) > reverted
                && c.revert_expires_at.is_some_and(|t| t > at)
        }) {
            later.revert_expires_at = Some(at);
        }
        self.email_changes.retain(|c| c.user_id != user_id || c.confirmed_at.is_some());
        Ok(())
    }
}
