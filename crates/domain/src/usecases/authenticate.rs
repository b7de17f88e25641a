//! Authenticate a bearer token: a valid token of a live session of a usable account.

use crate::error::InfraError;
use crate::model::{SessionId, User};
use crate::ports::{Ports, SessionRepository, StoreError, TokenIssuer};
use crate::service::Portcullis;

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account.
    pub user: User,
    /// The session the token belongs to.
    pub session_id: SessionId,
}

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, expired or revoked token, or an account that may not sign in.
    #[error("unauthorized")]
    Unauthorized,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Checks the token, then (one store lookup) that its session is live and its account
    /// usable, so revocation and suspension act on the very next request on every instance.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let now = self.now();
        let claims = self.tokens.verify(token, now).map_err(|_| AuthError::Unauthorized)?;
        let Some((session, user)) = self.store.session_with_user(claims.session_id).await? else {
            return Err(AuthError::Unauthorized);
        };
        if session.user_id != claims.user_id
            || user.id != claims.user_id
            || !session.is_live(now)
            || user.sign_in_block().is_some()
        {
            return Err(AuthError::Unauthorized);
        }
        Ok(Principal { user, session_id: session.id })
    }
}
