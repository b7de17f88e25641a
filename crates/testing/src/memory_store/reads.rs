//! Users, codes, sessions and the audit log: the read ports and the code-try counter.

use portcullis_domain::model::{
    AuditAction, AuditEntry, CodeId, CodePurpose, Email, Page, Session, SessionId, StoredCode, Timestamp, User, UserId,
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
        let total_count = matching.len() as u64;
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        let items = matching.into_iter().skip(skip).take(take).cloned().collect();
        Ok(Page { items, total_count })
    }
}
