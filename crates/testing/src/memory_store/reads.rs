//! Users, codes, address changes, sessions and the audit log: the read ports and the
//! code-try counter.

use portcullis_domain::model::{
    AuditAction, AuditEntry, AuditQuery, CodeId, CodePurpose, Email, EmailChange, Page, RefreshHit, SecretDigest,
    Session, SessionId, StoredCode, Timestamp, User, UserId, UserQuery, UserStatusFilter,
};
use portcullis_domain::ports::{AuditRepository, CodeRepository, SessionRepository, StoreError, UserRepository};

use super::InMemoryStore;

impl UserRepository for InMemoryStore {
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.enter().await?;
        Ok(self.lock().users.iter().find(|u| &u.email == email).cloned())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.enter().await?;
        Ok(self.lock().users.iter().find(|u| u.id == id).cloned())
    }

    async fn search_users(&self, query: UserQuery) -> Result<Page<User>, StoreError> {
        self.enter().await?;
        let text = query.text.as_deref().map(str::to_lowercase);
        let state = self.lock();
        let mut matching: Vec<&User> = state
            .users
            .iter()
            .filter(|u| {
                text.as_deref()
                    .is_none_or(|t| u.email.as_str().contains(t) || u.name.as_str().to_lowercase().contains(t))
            })
            .filter(|u| match query.status {
                None => true,
                Some(UserStatusFilter::Deleted) => u.deleted_at.is_some(),
                Some(UserStatusFilter::Status(status)) => u.deleted_at.is_none() && u.status == status,
            })
            .collect();
        matching.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(page(matching, query.limit, query.offset))
    }

    async fn deleted_before(&self, before: Timestamp, limit: u32) -> Result<Vec<User>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let mut found: Vec<User> =
            state.users.iter().filter(|u| u.deleted_at.is_some_and(|at| at < before)).cloned().collect();
        found.sort_by_key(|u| (u.deleted_at, u.id));
        found.truncate(limit as usize);
        Ok(found)
    }
}

/// One page of `matching` (already in order) and the total.
fn page<T: Clone>(matching: Vec<&T>, limit: u32, offset: u64) -> Page<T> {
    let total_count = matching.len() as u64;
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let take = usize::try_from(limit).unwrap_or(usize::MAX);
    Page { items: matching.into_iter().skip(skip).take(take).cloned().collect(), total_count }
}

impl CodeRepository for InMemoryStore {
    async fn active_code(&self, user_id: UserId, purpose: CodePurpose) -> Result<Option<StoredCode>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let newest = state
            .codes
            .iter()
            .filter(|c| c.user_id == user_id && c.purpose == purpose && c.consumed_at.is_none())
            .max_by_key(|c| (c.created_at, c.id));
        Ok(newest.cloned())
    }

    async fn count_code_attempt(&self, id: CodeId, max_attempts: u32) -> Result<Option<u32>, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let code = state.codes.iter_mut().find(|c| c.id == id && c.consumed_at.is_none() && c.attempts < max_attempts);
        Ok(code.map(|c| {
            c.attempts += 1;
            c.attempts
        }))
    }

    async fn email_changes(&self, user_id: UserId) -> Result<Vec<EmailChange>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let mut changes: Vec<EmailChange> =
            state.email_changes.iter().filter(|c| c.user_id == user_id).cloned().collect();
        changes.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
        Ok(changes)
    }

    async fn email_change_by_revert(&self, digest: SecretDigest) -> Result<Option<EmailChange>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        Ok(state.email_changes.iter().find(|c| c.revert_digest.as_ref() == Some(&digest)).cloned())
    }

    async fn email_reserved_for_revert(&self, email: &Email, now: Timestamp) -> Result<bool, StoreError> {
        self.enter().await?;
        Ok(self.lock().email_changes.iter().any(|c| c.old_email == *email && c.revertible(now)))
    }
}

impl SessionRepository for InMemoryStore {
    async fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let Some(session) = state.sessions.iter().find(|s| s.id == id) else { return Ok(None) };
        // An inner join: a session without its user is no answer.
        Ok(state.users.iter().find(|u| u.id == session.user_id).map(|u| (session.clone(), u.clone())))
    }

    async fn live_sessions(&self, user_id: UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let mut live: Vec<Session> =
            state.sessions.iter().filter(|s| s.user_id == user_id && s.is_live(now)).cloned().collect();
        live.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(live)
    }

    async fn all_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let mut all: Vec<Session> = state.sessions.iter().filter(|s| s.user_id == user_id).cloned().collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    async fn session_by_refresh(
        &self,
        digest: SecretDigest,
    ) -> Result<Option<(Session, User, RefreshHit)>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let (session_id, hit) =
            if let Some(s) = state.sessions.iter().find(|s| s.refresh_token_hash.as_bytes() == digest.as_bytes()) {
                (s.id, RefreshHit::Current)
            } else if let Some(r) = state.spent_refresh.iter().find(|r| r.digest.as_bytes() == digest.as_bytes()) {
                (r.session_id, RefreshHit::Spent { spent_at: r.spent_at, successor: r.successor.clone() })
            } else {
                return Ok(None);
            };
        let Some(session) = state.sessions.iter().find(|s| s.id == session_id) else { return Ok(None) };
        Ok(state.users.iter().find(|u| u.id == session.user_id).map(|u| (session.clone(), u.clone(), hit)))
    }

    async fn purge_ended_sessions(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let ended = |s: &Session| s.expires_at < before || s.revoked_at.is_some_and(|r| r < before);
        let gone: Vec<SessionId> = state.sessions.iter().filter(|s| ended(s)).map(|s| s.id).collect();
        state.sessions.retain(|s| !gone.contains(&s.id));
        state.spent_refresh.retain(|r| !gone.contains(&r.session_id));
        Ok(gone.len() as u64)
    }

    async fn session_by_alert(&self, digest: SecretDigest) -> Result<Option<(Session, User)>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let found = state
            .sessions
            .iter()
            .find(|s| s.alert_token_hash.as_ref().is_some_and(|d| d.as_bytes() == digest.as_bytes()));
        let Some(session) = found else { return Ok(None) };
        Ok(state.users.iter().find(|u| u.id == session.user_id).map(|u| (session.clone(), u.clone())))
    }
}

impl AuditRepository for InMemoryStore {
    async fn audit_page(
        &self,
        user_id: UserId,
        actions: Vec<AuditAction>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.enter().await?;
        let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
        let state = self.lock();
        let mut matching: Vec<&AuditEntry> =
            state.audit.iter().filter(|e| e.user_id == Some(user_id) && names.contains(&e.action.as_str())).collect();
        matching.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(page(matching, limit, offset))
    }

    async fn search_audit(&self, query: AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let mut matching: Vec<&AuditEntry> = state
            .audit
            .iter()
            .filter(|e| query.user_id.is_none_or(|u| e.user_id == Some(u)))
            .filter(|e| query.action.is_none_or(|a| e.action == a.as_str()))
            .filter(|e| query.from.is_none_or(|from| e.created_at >= from))
            .filter(|e| query.to.is_none_or(|to| e.created_at < to))
            .collect();
        matching.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(page(matching, query.limit, query.offset))
    }
}
