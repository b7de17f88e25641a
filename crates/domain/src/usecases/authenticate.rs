//! Authenticate a bearer token: a valid token of a live session of a usable account.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{Aal, AuthMethod, Factor, Location, SessionId, User};
use crate::ports::{Change, Ports, SessionRepository, StoreError, TokenIssuer, UnitOfWork};
use crate::service::Portcullis;

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account.
    pub user: User,
    /// The session the token belongs to.
    pub session_id: SessionId,
    /// Where that session signed in, `None` when unknown.
    pub location: Option<Location>,
    /// How sure that session's sign-in was ([`Aal::Two`] after a second factor).
    pub aal: Aal,
    /// How its holder proved who they are.
    pub amr: Vec<AuthMethod>,
}

impl Principal {
    /// How the session began, which decides what a new-sign-in alert advises: a mailed
    /// code (its `amr` holds `email`), a passkey and no password (a key and no `pwd`), or a
    /// password.
    pub fn signed_in_with(&self) -> crate::mail_templates::SignedInWith {
        let key = self.amr.iter().any(|m| matches!(m, AuthMethod::HardwareKey | AuthMethod::SoftwareKey));
        if self.amr.contains(&AuthMethod::EmailCode) {
            crate::mail_templates::SignedInWith::EmailCode
        } else if key && !self.amr.contains(&AuthMethod::Password) {
            crate::mail_templates::SignedInWith::Passkey
        } else {
            crate::mail_templates::SignedInWith::Password
        }
    }

    /// Whether this session is below the level an account with `factors` is managed from:
    /// it did not use a second factor while one of them is active. Managing factors,
    /// exporting the account and moving its address all ask for that level.
    pub fn lacks_second_factor(&self, factors: &[Factor]) -> bool {
        self.aal < Aal::Two && factors.iter().any(Factor::is_active)
    }
}

/// How stale a session's `last_seen_at` may get before a request writes it again. Coarse on
/// purpose: it keeps the per-request check at one read, with a write at most once a minute.
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// let caller = auth.authenticate(&login.access_token).await.unwrap();
    /// assert_eq!((caller.user.id, caller.session_id), (me.user.id, me.session_id));
    /// assert!(matches!(auth.authenticate("v4.local.forged").await, Err(AuthError::Unauthorized)));
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
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
        if session.last_seen_at.plus(TOUCH_INTERVAL) <= now {
            // Best effort: a failed bookkeeping write must not refuse a valid token, and the
            // next request after it tries again.
            let _ = self.store.commit(vec![Change::TouchSession { session_id: session.id, at: now }]).await;
        }
        Ok(Principal { user, session_id: session.id, location: session.location, aal: session.aal, amr: session.amr })
    }
}
