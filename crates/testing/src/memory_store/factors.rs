//! Second factors, recovery codes and second-factor challenges: the read port.

use portcullis_domain::model::{CodePurpose, Factor, SecretDigest, StoredCode, StoredRecoveryCode, Timestamp, UserId};
use portcullis_domain::ports::{FactorRepository, StoreError};

use super::InMemoryStore;

impl FactorRepository for InMemoryStore {
    async fn factors(&self, user_id: UserId) -> Result<Vec<Factor>, StoreError> {
        self.enter().await?;
        let mut factors: Vec<Factor> = self.lock().factors.iter().filter(|f| f.user_id == user_id).cloned().collect();
        factors.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(factors)
    }

    async fn recovery_codes(&self, user_id: UserId) -> Result<Vec<StoredRecoveryCode>, StoreError> {
        self.enter().await?;
        Ok(self.recovery_codes_of(user_id))
    }

    async fn mfa_challenge(&self, digest: SecretDigest) -> Result<Option<StoredCode>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let challenge = state.codes.iter().find(|c| c.purpose == CodePurpose::MfaChallenge && c.digest == digest);
        Ok(challenge.cloned())
    }

    async fn purge_pending_factors(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let count = state.factors.len();
        state.factors.retain(|f| f.is_active() || f.created_at >= before);
        Ok((count - state.factors.len()) as u64)
    }
}
