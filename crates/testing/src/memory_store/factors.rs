//! Second factors, recovery codes and second-factor challenges: the read port.

use portcullis_domain::model::{
    CodePurpose, CredentialId, Factor, Passkey, SecretDigest, StoredCeremony, StoredCode, StoredRecoveryCode,
    Timestamp, UserId,
};
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

    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        // Oldest first, like the factors they belong to.
        let mut passkeys: Vec<(Option<&Factor>, Passkey)> = state
            .passkeys
            .iter()
            .filter(|p| p.user_id == user_id)
            .map(|p| (state.factors.iter().find(|f| f.id == p.factor_id), p.clone()))
            .collect();
        passkeys.sort_by(|(a, pa), (b, pb)| {
            a.map(|f| f.created_at).cmp(&b.map(|f| f.created_at)).then(pa.factor_id.cmp(&pb.factor_id))
        });
        Ok(passkeys.into_iter().map(|(_, p)| p).collect())
    }

    async fn passkey(&self, credential_id: CredentialId) -> Result<Option<Passkey>, StoreError> {
        self.enter().await?;
        Ok(self.lock().passkeys.iter().find(|p| p.credential_id == credential_id).cloned())
    }

    async fn take_ceremony(&self, digest: SecretDigest, now: Timestamp) -> Result<Option<StoredCeremony>, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let Some(index) = state.ceremonies.iter().position(|c| c.digest == digest) else { return Ok(None) };
        let ceremony = state.ceremonies.remove(index);
        Ok((ceremony.expires_at > now).then_some(ceremony))
    }

    async fn purge_expired_ceremonies(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let count = state.ceremonies.len();
        state.ceremonies.retain(|c| c.expires_at >= before);
        Ok((count - state.ceremonies.len()) as u64)
    }
}
