//! Exchange a refresh token for a new token pair, with rotation, a grace window for parallel
//! tabs, and reuse detection.
//!
//! Each refresh token works once. Exchanging it stores its digest as *spent*, together with
//! the new pair sealed by the token issuer. Presented again within
//! [`crate::Policy::refresh_grace`] of that exchange (several tabs refreshing at once), and
//! while that new pair is still the session's current one, it gets the same pair back.
//! Presented later, it is treated as stolen: the whole session is revoked, the event audited
//! as `auth.token.reuse_detected`, and the user notified.

use std::time::Duration;

use crate::error::InfraError;
use crate::mail_templates::SignInFacts;
use crate::model::{AuditAction, Enrichment, RefreshHit, RequestContext, Session, Timestamp, User};
use crate::ports::{
    AccessClaims, Change, Ports, RandomSource, SecretHasher, SessionRepository, StoreError, TokenIssuer, UnitOfWork,
};
use crate::service::Portcullis;
use crate::usecases::common::{REFRESH_DIGEST, metadata};

/// A fresh token pair. Its `Debug` shows only the expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// PASETO access token.
    pub access_token: String,
    /// The next refresh token.
    pub refresh_token: String,
    /// When the access token expires.
    pub access_expires_at: Timestamp,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[REDACTED]")
            .field("refresh_token", &"[REDACTED]")
            .field("access_expires_at", &self.access_expires_at)
            .finish()
    }
}

impl TokenPair {
    /// Time the access token has left at `now`, for `expires_in`.
    pub fn expires_in(&self, now: Timestamp) -> Duration {
        now.until(self.access_expires_at)
    }
}

/// The plaintext that is sealed for the grace window: the pair as a JSON object.
fn pair_to_json(pair: &TokenPair) -> String {
    serde_json::json!({
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "access_expires_at_ms": pair.access_expires_at.unix_millis(),
    })
    .to_string()
}

/// Reads back what [`pair_to_json`] wrote.
fn pair_from_json(text: &str) -> Option<TokenPair> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(TokenPair {
        access_token: value.get("access_token")?.as_str()?.to_owned(),
        refresh_token: value.get("refresh_token")?.as_str()?.to_owned(),
        access_expires_at: Timestamp::from_unix_millis(value.get("access_expires_at_ms")?.as_i64()?),
    })
}

fn unexpected(message: &str) -> RefreshError {
    RefreshError::Infra(InfraError::Unexpected(message.into()))
}

/// Why a refresh was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Unknown, spent (after the grace window), revoked or expired token, or an account that
    /// may not sign in.
    #[error("invalid refresh token")]
    Unauthorized,
    /// Too many calls from this IP.
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for RefreshError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Rotates `refresh_token`: see the module documentation.
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
    /// let pair = auth.refresh(&login.refresh_token, &ctx).await.unwrap();
    /// assert_ne!(pair.refresh_token, login.refresh_token, "refresh tokens rotate");
    /// # let _ = me;
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn refresh(&self, refresh_token: &str, ctx: &RequestContext) -> Result<TokenPair, RefreshError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(RefreshError::RateLimited { retry_after });
        }
        let digest = self.secrets.digest(REFRESH_DIGEST, refresh_token);
        // Two rounds: a refresh that loses the rotation race finds the token spent on its
        // second look, with the winner's pair inside the grace window.
        for _ in 0..2 {
            let Some((session, user, hit)) = self.store.session_by_refresh(digest.clone()).await? else {
                return Err(RefreshError::Unauthorized);
            };
            if !session.is_live(now) || user.sign_in_block().is_some() {
                return Err(RefreshError::Unauthorized);
            }
            match hit {
                RefreshHit::Current => {
                    if let Some(pair) = self.rotate(&session, &user, refresh_token, now).await? {
                        return Ok(pair);
                    }
                }
                RefreshHit::Spent { spent_at, successor } if now < spent_at.plus(self.policy.refresh_grace) => {
                    let plain = self.tokens.unseal(refresh_token, &successor).map_err(InfraError::from)?;
                    let pair = pair_from_json(&plain).ok_or_else(|| unexpected("sealed token pair is malformed"))?;
                    // Only the token *just* replaced gets its pair again: once that pair's
                    // refresh token has itself been used, an older copy is a replay.
                    let next = self.secrets.digest(REFRESH_DIGEST, &pair.refresh_token);
                    if next.ct_eq(&session.refresh_token_hash) {
                        return Ok(pair);
                    }
                    self.revoke_for_reuse(&session, &user, ctx, now).await?;
                    return Err(RefreshError::Unauthorized);
                }
                RefreshHit::Spent { .. } => {
                    self.revoke_for_reuse(&session, &user, ctx, now).await?;
                    return Err(RefreshError::Unauthorized);
                }
            }
        }
        Err(RefreshError::Unauthorized)
    }

    /// Issues the next pair and swaps the session's refresh digest with a guarded write;
    /// `None` when a parallel refresh rotated first. The pair is kept sealed under the
    /// `presented` token, so only its holders can have it again.
    async fn rotate(
        &self,
        session: &Session,
        user: &User,
        presented: &str,
        now: Timestamp,
    ) -> Result<Option<TokenPair>, RefreshError> {
        let refresh_token = self.random.url_token();
        let expires_at = now.plus(self.policy.access_ttl);
        let claims = AccessClaims {
            user_id: user.id,
            session_id: session.id,
            issued_at: now,
            expires_at,
            aal: session.aal,
            amr: session.amr.clone(),
        };
        let pair = TokenPair {
            access_token: self.tokens.issue(&claims).map_err(InfraError::from)?,
            refresh_token,
            access_expires_at: expires_at,
        };
        let successor = self.tokens.seal(presented, &pair_to_json(&pair)).map_err(InfraError::from)?;
        let changes = vec![
            Change::RotateRefreshToken {
                session_id: session.id,
                current: session.refresh_token_hash.clone(),
                next: self.secrets.digest(REFRESH_DIGEST, &pair.refresh_token),
                successor,
                at: now,
            },
            Change::TouchSession { session_id: session.id, at: now },
        ];
        match self.store.commit(changes).await {
            Ok(_) => Ok(Some(pair)),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Revokes a session whose spent refresh token came back, audits it and tells the user
    /// in the app and by mail.
    async fn revoke_for_reuse(
        &self,
        session: &Session,
        user: &User,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<(), RefreshError> {
        let reuse = self.enrich(ctx);
        let signed_in = Enrichment {
            ip_address: session.ip_address.unwrap_or(reuse.ip_address),
            user_agent: session.user_agent.clone(),
            device: session.device.clone(),
            location: session.location.clone(),
        };
        let session_facts = SignInFacts { enrichment: &signed_in, at: session.created_at };
        let reuse_facts = SignInFacts { enrichment: &reuse, at: now };
        let text = self.templates.token_reuse(
            &self.policy.product_name,
            user.name.as_str(),
            &session_facts,
            &reuse_facts,
            self.base_url(),
        );
        let body = format!(
            "Your session from {} in {} was signed out because one of its tokens was used twice. \
             If you do not recognise this, change your password.",
            session_facts.device_line(),
            session_facts.location_line()
        );
        let data = serde_json::json!({
            "session_id": session.id.to_string(),
            "ip_address": reuse.ip_address.to_string(),
            "detected_at": now.to_rfc3339(),
        });
        let changes = vec![
            Change::RevokeSession { session_id: session.id, at: now },
            self.audit(
                user.id,
                AuditAction::TokenReuseDetected,
                ctx,
                metadata([("session_id", session.id.to_string().into())]),
                now,
            ),
            self.notify(user.id, "security.token_reuse", "A session was signed out", body, data, now),
            self.mail_to(user, text, now),
        ];
        self.store.commit(changes).await?;
        Ok(())
    }
}
